"""What a run records of its learning rate: figures/lr.png drawn per optimizer step as the schedule set it
(a warm-up inside epoch 1 too, which metrics.jsonl's per-epoch ``lr`` — the epoch's last step's — hides),
onecycle's peak at exactly optim.lr, and the notes for schedules a warm-up leaves nothing to do."""

from __future__ import annotations

import json
import warnings

import pytest

from conftest import tiny_config
from vislab.config import ScheduleConfig, build_config, config_notes
from vislab.errors import Note
from vislab.experiments.results.settings import differing_settings, flat_settings
from vislab.plotting.steps import lr_changes, lr_figure
from vislab.training.optim import ONECYCLE_FLOOR, lr_factor, lr_per_step
from vislab.training.trainer import train

SPE = 5  # optimizer steps per epoch in the hand-made cases


def schedule(cfg: ScheduleConfig, epochs: int, lr: float = 0.1):
    """The lr at each step of a run of ``epochs`` of :data:`SPE` steps, as the trainer's ``lr_at``."""
    return lambda step: lr * lr_factor(cfg, step, SPE, epochs * SPE, lr)


# ------------------------------------------------------------------------------ the lr figure
def test_a_warmup_of_one_epoch_is_drawn_step_by_step_though_each_epoch_ends_at_the_full_lr():
    """The user's run: optim.lr=0.1, one warm-up epoch of 3. metrics.jsonl says 0.1 for every epoch (its
    last step's); the figure's line rises 0.02, 0.04, ... 0.1 over epoch 1."""
    rows = [{"epoch": e, "lr": 0.1} for e in (1, 2, 3)]
    points = lr_per_step(schedule(ScheduleConfig(warmup_epochs=1), 3), SPE, rows)
    assert len(points) == 3 * SPE
    assert [x for x, _ in points[:SPE]] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert [lr for _, lr in points[:SPE]] == pytest.approx([0.02, 0.04, 0.06, 0.08, 0.1])
    assert not lr_changes(rows) and lr_changes(rows, schedule=points)
    ax = lr_figure(rows, schedule=points).axes[0]
    line = {line.get_label(): line for line in ax.lines}["at each optimizer step"]
    assert list(line.get_ydata()) == pytest.approx([lr for _, lr in points])


def test_the_per_step_lr_keeps_each_epochs_plateau_cuts():
    """plateau cut the lr after epochs 1 and 2 (rows 0.1, 0.01, 0.001): ``lr_at`` has the cuts of now,
    each epoch's steps are drawn at its own row's rate."""
    rows = [{"epoch": 0, "lr": 0.0}] + [{"epoch": e, "lr": lr} for e, lr in ((1, 0.1), (2, 0.01))]
    rows.append({"epoch": 3, "lr": 0.001})
    now = schedule(ScheduleConfig(name="plateau"), 3, lr=0.001)
    lrs = [lr for _, lr in lr_per_step(now, SPE, rows)]
    assert lrs == pytest.approx([0.1] * SPE + [0.01] * SPE + [0.001] * SPE)


def test_a_run_with_a_warmup_of_one_epoch_draws_its_learning_rate(tmp_path):
    sgd = ("optim.name=sgd", "optim.lr=0.1", "schedule.warmup_epochs=1", "train.epochs=3")
    cfg = tiny_config(*sgd, "train.figures=true")
    train(cfg, tmp_path / "r", quiet=True)
    rows = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert [r["lr"] for r in rows] == pytest.approx([0.1, 0.1, 0.1])  # each epoch's last step's
    assert (tmp_path / "r" / "figures" / "lr.png").is_file()


# ------------------------------------------------------------------------------------- onecycle
def test_onecycle_peaks_at_exactly_optim_lr_and_ends_at_its_floor():
    cfg = ScheduleConfig(name="onecycle")
    f = [lr_factor(cfg, s, 10, 100) for s in range(101)]
    assert max(f) == pytest.approx(1.0, abs=1e-12) and f[0] == pytest.approx(0.04)
    assert f[100] == pytest.approx(ONECYCLE_FLOOR, abs=1e-15) and min(f) == f[100]
    warm = [lr_factor(cfg.model_copy(update=dict(warmup_epochs=1)), s, 10, 100) for s in range(100)]
    assert max(warm) == pytest.approx(1.0, abs=1e-12)


# ---------------------------------------------------------------------------------------- notes
STEP_AFTER_WARMUP = (
    "schedule.name=step",
    "schedule.step_size=3",
    "schedule.gamma=0.1",
    "schedule.warmup_epochs=2",
    "train.epochs=4",
)


def test_a_step_schedule_a_warmup_pushes_past_the_run_gets_a_note_and_no_table_column():
    """step counts its epochs from the warm-up's end: 2 + 3 ≥ 4, the lr never drops."""
    cfg = build_config({}, list(STEP_AFTER_WARMUP))
    (note,) = config_notes(cfg)
    assert note.startswith(
        "schedule.name=step, schedule.gamma=0.1 and schedule.step_size=3 do nothing"
    )
    assert "schedule.step_size=3 ≥ train.epochs=4 - schedule.warmup_epochs=2" in note
    plain = build_config({}, ["schedule.warmup_epochs=2", "train.epochs=4"])
    runs = [(flat_settings(c.to_dict()), "optimizer") for c in (cfg, plain)]
    assert differing_settings(runs) == [{}, {}]
    lrs = [lr_factor(cfg.schedule, s, SPE, 4 * SPE) for s in range(4 * SPE)]
    assert lrs[2 * SPE :] == [1.0] * 2 * SPE  # what the note says


def test_an_exponential_schedule_with_one_epoch_after_its_warmup_gets_a_note():
    over = ["schedule.name=exponential", "schedule.warmup_epochs=1", "train.epochs=2"]
    (note,) = config_notes(build_config({}, over))
    assert "one epoch after the warm-up" in note
    assert not config_notes(build_config({}, [*over[:2], "train.epochs=3"]))


def test_a_plateau_schedule_whose_patience_outlasts_the_evaluations_after_its_warmup_gets_a_note():
    """Evaluations of the warm-up do not count: of 4, the 3rd and 4th do; a cut at the 2nd of them comes
    after the last epoch."""
    over = [
        "schedule.name=plateau",
        "schedule.patience=2",
        "schedule.warmup_epochs=3",
        "train.epochs=4",
    ]
    (note,) = config_notes(build_config({}, over))
    assert "the run's 4 evaluations (2 counted after schedule.warmup_epochs=3)" in note
    assert not config_notes(build_config({}, [*over[:2], "schedule.warmup_epochs=2", over[3]]))


def test_a_warmup_of_at_most_one_step_is_noted_at_the_run_start(tmp_path, capsys):
    """300 digits in batches of 32: 9 steps an epoch; 0.1 epochs rounds to 1 step, which is at optim.lr."""
    with pytest.warns(Note) as caught:
        train(tiny_config("schedule.warmup_epochs=0.1", "train.epochs=1", "train.figures=false"),
              tmp_path / "short")  # fmt: skip
    assert (
        "schedule.warmup_epochs=0.1 does nothing with 9 optimizer steps per epoch: it rounds to 1 "
        "warm-up step, which is at optim.lr, so the lr is optim.lr from the first step, as with "
        "schedule.warmup_epochs=0. Give schedule.warmup_epochs=0.22 or more (2 steps) for a warm-up."
    ) in [str(w.message) for w in caught]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(tiny_config("schedule.warmup_epochs=0.22", "train.epochs=1", "train.figures=false"),
              tmp_path / "two")  # fmt: skip
    assert not [w for w in caught if "schedule.warmup_epochs" in str(w.message)]
