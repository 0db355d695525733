"""Session 25, training vocabulary: the comparison table's schedule.gamma as each run used it, onecycle's
peak rounded as the warm-up is, steps.jsonl's step counted in optimizer steps, and the note of an EMA
run's last.pt naming best.pt's epoch."""

from __future__ import annotations

import json
import math
import warnings

import pytest
import torch

import vislab
from conftest import cli, table_run, tiny_config
from test_resume import sigterm_at_step
from vislab.config import ScheduleConfig
from vislab.errors import CheckpointNote, TrainingInterrupted
from vislab.training.checkpoint import load_checkpoint
from vislab.training.optim import lr_factor, onecycle, scheduled_lr, warmup_steps
from vislab.training.step_log import StepTracker
from vislab.training.trainer import train

EXP = ("schedule.name=exponential",)
EXPG = ("schedule.name=exponential", "schedule.gamma=0.5")
WSTEP = ("schedule.name=step", "schedule.step_size=1")
COS = ("schedule.name=cosine",)


def _gammas(table) -> dict[str, object]:
    return {r["run"]: r.get("schedule.gamma") for r in table.to_dict("records")}


# ------------------------------------------------------------------ C1: the gamma each run used
def test_a_gamma_left_to_the_schedule_shows_as_the_value_it_used(tmp_path, capsys):
    """The explorer's `vislab compare runs/exp runs/expg runs/wstep`: exp's 0.95 and wstep's 0.1, not "-"."""
    runs = [table_run(tmp_path, n, *s) for n, s in (("exp", EXP), ("expg", EXPG), ("wstep", WSTEP))]
    assert _gammas(vislab.compare(runs)) == {"exp": 0.95, "expg": 0.5, "wstep": 0.1}
    code, text = cli(capsys, "compare", *runs)
    assert code == 0, text
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("|")}
    assert "| 0.95 |" in rows["exp"] and "| 0.1 |" in rows["wstep"], text


def test_the_gamma_column_shows_where_the_schedules_own_values_differ(tmp_path):
    """cosine, exponential and step, none giving gamma: the rates differ (0.95, 0.1), so the column shows."""
    runs = [table_run(tmp_path, n, *s) for n, s in (("cos", COS), ("exp", EXP), ("wstep", WSTEP))]
    gammas = _gammas(vislab.compare(runs))
    assert (gammas["exp"], gammas["wstep"]) == (0.95, 0.1)
    assert gammas["cos"] is None or math.isnan(gammas["cos"])  # cosine has no gamma


def test_a_gamma_given_as_the_schedules_own_is_no_difference(tmp_path):
    runs = [
        table_run(tmp_path, "own", *EXP),
        table_run(tmp_path, "given", *EXP, "schedule.gamma=0.95"),
    ]
    assert "schedule.gamma" not in vislab.compare(runs).columns


def test_an_early_stop_metric_left_to_select_metric_is_that_metric(tmp_path):
    on = ("train.early_stop=3", "train.select_metric=val_acc")
    runs = [
        table_run(tmp_path, "own", *on),
        table_run(tmp_path, "given", *on, "train.early_stop_metric=val_acc"),
    ]
    assert "train.early_stop_metric" not in vislab.compare(runs).columns


# ------------------------------------------------------------------ C3: one rounding, half up
def test_onecycle_peaks_at_a_quarter_of_the_steps_rounded_half_up():
    """T = 11: 0.25·10 = 2.5 → step 3 (Python's round() gave 2), as the warm-up rounds 2.5 steps to 3."""
    factors = [onecycle(s, 11) for s in range(11)]
    assert factors.index(max(factors)) == 3 and factors[3] == 1.0
    assert factors[2] < 1.0
    assert warmup_steps(ScheduleConfig(warmup_epochs=2.5), 1) == 3
    assert lr_factor(ScheduleConfig(name="onecycle"), 3, 11, 11) == 1.0


def test_a_two_step_onecycle_starts_at_full_lr():
    """As its docstring says: p = round-half-up(0.25) = 0, so step 0 is the peak and step 1 the floor."""
    assert onecycle(0, 2) == 1.0 and onecycle(1, 2) == pytest.approx(1e-4)


# ------------------------------------------------------------------ C4: steps.jsonl in optimizer steps
def test_a_log_window_counts_optimizer_steps_not_batches():
    """accumulate 2, log_every 2, 7 batches (4 optimizer steps, the last of one batch): rows at optimizer
    steps 2 and 4, each the mean loss of its window's batches."""
    tracker = StepTracker(torch.nn.Linear(1, 1), torch.device("cpu"), log_every=2, grads=False)
    for batch in range(7):
        stepped = batch % 2 == 1 or batch == 6
        tracker.after_step(
            torch.tensor(float(batch)), batch // 2 + 1, 1, 0.1 * (batch // 2), stepped
        )
    rows, _ = tracker.end_epoch(4, 1, 0.3)
    assert [r["step"] for r in rows] == [2, 4]
    assert [r["loss"] for r in rows] == pytest.approx([1.5, 5.0])
    assert [r["lr"] for r in rows] == pytest.approx([0.1, 0.3])


# ------------------------------------------------------------------ C2: the note of an EMA run's last.pt
def test_last_pt_of_an_ema_run_gives_its_own_average_not_best_pts(tmp_path):
    """best.pt at epoch 2, last.pt at epoch 3 (lr 0.8: epoch 3's val loss is worse): last.pt asked for
    scores epoch 3's average, which it holds, with no note (session 26: no longer its live weights)."""
    run = tmp_path / "run"
    over = ("train.ema.decay=0.5", "train.epochs=3", "optim.lr=0.8", "train.select_metric=val_loss")
    with pytest.warns(UserWarning):  # the loss blows up in epoch 1: a note says so
        train(tiny_config(*over), run, quiet=True)
    assert load_checkpoint(run / "checkpoints" / "best.pt").epoch == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error", CheckpointNote)
        model = vislab.load_run(run).model(checkpoint="last")
    ema = load_checkpoint(run / "checkpoints" / "last.pt").resume.ema
    assert all(torch.equal(v, ema[k]) for k, v in model.state_dict().items())


def test_last_pt_of_an_ema_run_whose_best_epoch_is_its_last_scores_as_best_pt(tmp_path):
    run = tmp_path / "run"
    train(tiny_config("train.ema.decay=0.9", "train.epochs=1"), run, quiet=True)
    loaded = vislab.load_run(run)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CheckpointNote)
        assert loaded.evaluate("val", checkpoint="last") == loaded.evaluate("val")


def test_steps_jsonl_counts_optimizer_steps_with_accumulate(tmp_path):
    """train.accumulate=4, log_every=1: one row per optimizer step, numbered 1, 2, ..., each with the lr
    the closed formula gives at that step (0-based step - 1), not one row per batch."""
    cfg = tiny_config(
        "train.accumulate=4", "train.log_every=1", "schedule.name=cosine", "train.epochs=2"
    )
    train(cfg, tmp_path / "r", quiet=True)
    lines = (tmp_path / "r" / "steps.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["step"] for r in rows] == list(range(1, len(rows) + 1))
    per_epoch = len(rows) // 2
    assert [r["lr"] for r in rows] == [scheduled_lr(cfg, r["step"] - 1, per_epoch) for r in rows]


def test_an_accumulating_run_resumed_mid_epoch_logs_the_same_rows(tmp_path, monkeypatch):
    over = ("train.accumulate=2", "train.log_every=2", "train.epochs=2", "train.batch_size=16")
    train(tiny_config(*over), tmp_path / "ref", quiet=True)
    with sigterm_at_step(monkeypatch, lambda n: n + 3), pytest.raises(TrainingInterrupted):
        train(tiny_config(*over), tmp_path / "cut", quiet=True)
    train(tiny_config(), tmp_path / "cut", resume=True, quiet=True)
    cut, ref = (tmp_path / d / "steps.jsonl" for d in ("cut", "ref"))
    assert cut.read_text() == ref.read_text()


@pytest.mark.parametrize("name", ["onecycle", "exponential", "cosine"])
def test_a_warm_up_that_rounds_to_one_step_is_none(name):
    """The note said so, but the one step shifted the schedule's clock: onecycle lost its rise (1e-3 at
    the first step instead of 4e-5), exponential's first cut came a step late."""
    one = ScheduleConfig(name=name, warmup_epochs=0.05)  # 0.55 of 11 steps: rounds to 1
    none = ScheduleConfig(name=name)
    assert warmup_steps(one, 11) == 1
    factors = [[lr_factor(c, step, 11, 22) for step in range(22)] for c in (one, none)]
    assert factors[0] == factors[1]
