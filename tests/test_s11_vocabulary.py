"""Training settings checked against what torch does with them: fast's own weight average once per
optimizer step under accumulation, the dropped last batch said, step's gamma as torch's StepLR, the head's
schedule floor absolute (torch's per-group eta_min / min_lr), onecycle reaching its end, train.ema on a
model that averages itself, and the messages for a mistyped train.ema or optim.betas."""

from __future__ import annotations

import json
import math
import warnings

import pytest
import torch

import vislab.training.trainer as trainer_mod
from conftest import cli, one_line, tiny_config
from vislab.config import ScheduleConfig, build_config
from vislab.training.checkpoint import load_checkpoint
from vislab.training.optim import ONECYCLE_FLOOR, lr_factor
from vislab.training.trainer import train

FAST = (
    "model.name=fast", "model.widths=[8,8,8]", "model.alternate_flip=false", "data.resize=16",
    "data.limit=192", "train.batch_size=32", "train.epochs=1", "train.figures=false",
)  # fmt: skip


def _rows(run) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _notes(cfg, out) -> list[str]:
    """The ``note:`` lines a run of ``cfg`` into ``out`` gives."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(cfg, out, quiet=True)
    return [one_line(str(w.message)) for w in caught if type(w.message).__name__ == "Note"]


# ------------------------------------------------------------- 1. fast's average under accumulation
def test_fast_averages_its_weights_once_per_optimizer_step_under_accumulation(tmp_path):
    """6 batches in windows of 3: Adam steps twice, and fast's own weight average counts 2 updates."""
    train(tiny_config(*FAST, "train.accumulate=3", "optim.name=adam"), tmp_path / "r", quiet=True)
    ckpt = load_checkpoint(tmp_path / "r" / "checkpoints" / "last.pt")
    adam_steps = {int(s["step"]) for s in ckpt.resume.optimizer["state"].values()}
    assert adam_steps == {2}
    assert int(ckpt.state_dict["ema_steps"]) == 2


# ------------------------------------------------------------------- 2. the dropped last batch
def test_a_dropped_last_batch_of_a_third_of_the_images_gets_a_note(tmp_path):
    """100 images in batches of 64: each epoch trains on 64; the note says so and offers 50."""
    cfg = tiny_config(
        "data.limit=100", "train.batch_size=64", "train.epochs=1", "train.figures=false"
    )
    (note,) = [n for n in _notes(cfg, tmp_path / "r") if "batch_size" in n]
    assert "each epoch trains on 64 of the 100 train images (36% left out)" in note
    assert "Give a train.batch_size that divides 100 (e.g. 50), or more data." in note
    fits = tiny_config(
        "data.limit=100", "train.batch_size=50", "train.epochs=1", "train.figures=false"
    )
    assert not [n for n in _notes(fits, tmp_path / "f") if "batch_size" in n]


# ------------------------------------------------------------------ 3. step's gamma, as StepLR's
def test_the_step_schedule_decays_by_ten_by_default_and_exponential_keeps_095():
    step, exponential = ScheduleConfig(name="step", step_size=1), ScheduleConfig(name="exponential")
    assert [lr_factor(step, s, 1, 3) for s in range(3)] == pytest.approx([1, 0.1, 0.01])
    assert [lr_factor(exponential, s, 1, 3) for s in range(3)] == pytest.approx([1, 0.95, 0.95**2])
    ref = torch.optim.lr_scheduler.StepLR(torch.optim.SGD([torch.zeros(1)], lr=1.0), step_size=1)
    assert ref.gamma == 0.1


def test_a_run_recording_gamma_resumes_with_it_and_a_new_run_records_null(tmp_path):
    """config.yaml records gamma as given: null (the schedule's own) for a new run; an older run's
    recorded 0.95 stays 0.95 when it trains on. Epoch 2's lr after an extension by --resume."""
    step = ("optim.name=sgd", "optim.lr=0.1", "schedule.name=step", "schedule.step_size=1")
    for name, extra, second in (("new", (), 0.01), ("old", ("schedule.gamma=0.95",), 0.095)):
        run = tmp_path / name
        # one epoch: the step schedule is idle (its note caught here), epoch 2 is where it steps
        _notes(tiny_config(*step, *extra, "train.epochs=1", "train.figures=false"), run)
        recorded = (run / "config.yaml").read_text()
        assert ("gamma: null" in recorded) == (name == "new")
        train(None, run, resume=True, quiet=True, epochs=2)
        assert [r["lr"] for r in _rows(run)] == pytest.approx([0.1, second])


# ---------------------------------------------------------------- 4. the head's floor is absolute
def _group_lrs(monkeypatch) -> list[list[float]]:
    """Every parameter group's lr at each optimizer step the trainer takes."""
    seen, real = [], trainer_mod.set_lr

    def spy(opt, lr):
        real(opt, lr)
        seen.append([g["lr"] for g in opt.param_groups])

    monkeypatch.setattr(trainer_mod, "set_lr", spy)
    return seen


def test_cosine_takes_the_head_to_the_same_absolute_min_lr_as_torch(tmp_path, monkeypatch):
    """optim.lr 0.1, head_lr 0.01, min_lr 0.005: each group runs torch's CosineAnnealingLR(eta_min) from
    its own lr (before: the head's floor was 0.005 × 0.01/0.1 = 0.0005)."""
    seen = _group_lrs(monkeypatch)
    over = ("optim.name=sgd", "optim.lr=0.1", "optim.head_lr=0.01", "schedule.name=cosine")
    train(
        tiny_config(*over, "schedule.min_lr=0.005", "train.figures=false"),
        tmp_path / "r",
        quiet=True,
    )
    total = len(seen)
    opt = torch.optim.SGD(
        [{"params": [torch.zeros(1)]}, {"params": [torch.zeros(1)], "lr": 0.01}], lr=0.1
    )
    ref = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total, eta_min=0.005)
    want = []
    for _ in range(total):
        want.append([g["lr"] for g in opt.param_groups])
        opt.step()
        ref.step()
    assert seen == [pytest.approx(w) for w in want]


def test_plateau_cuts_each_group_down_to_min_lr_itself(tmp_path, monkeypatch):
    """lr 0.1, head 0.2, halved after every evaluation (nothing improves by min_delta=10), floor 0.03:
    as torch's ReduceLROnPlateau, each group stops at 0.03 (before: the head stopped at 0.06)."""
    seen = _group_lrs(monkeypatch)
    over = ("optim.name=sgd", "optim.lr=0.1", "optim.head_lr=0.2", "schedule.name=plateau")
    over += ("schedule.factor=0.5", "schedule.patience=1", "schedule.min_lr=0.03")
    over += (
        "train.select_metric=val_loss",
        "train.min_delta=10",
        "train.epochs=5",
        "train.figures=false",
    )
    train(tiny_config(*over), tmp_path / "r", quiet=True)
    per_epoch = len(seen) // 5
    ends = [seen[(e + 1) * per_epoch - 1] for e in range(5)]
    assert ends == [
        pytest.approx(g) for g in ([0.1, 0.2], [0.1, 0.2], [0.05, 0.1], [0.03, 0.05], [0.03, 0.03])
    ]


# --------------------------------------------------------------------- 5. onecycle reaches its end
@pytest.mark.parametrize("total", [10, 40, 101])
def test_onecycle_starts_peaks_and_ends_where_it_says(total):
    """0.04 at step 0, exactly 1 at step round(0.25·(T − 1)), the floor 1e-4 at the last step T − 1."""
    f = [lr_factor(ScheduleConfig(name="onecycle"), s, 10, total) for s in range(total)]
    peak = round(0.25 * (total - 1))
    assert f[0] == pytest.approx(0.04) and f[peak] == 1.0 and max(f) == 1.0
    assert f[-1] == pytest.approx(ONECYCLE_FLOOR, abs=1e-15)
    rise = [0.04 + 0.96 * s / peak for s in range(peak + 1)]
    down = [ONECYCLE_FLOOR + (1 - ONECYCLE_FLOOR) * 0.5 * (1 + math.cos(math.pi * t / (total - 1 - peak)))
            for t in range(total - peak)]  # fmt: skip
    assert f == pytest.approx(rise[:-1] + down)


# ----------------------------------------------------------- 6. train.ema on fast, which averages
def test_train_ema_on_fast_notes_the_average_of_an_average(tmp_path):
    notes = _notes(tiny_config(*FAST, "train.ema.decay=0.9"), tmp_path / "r")
    (note,) = [n for n in notes if "train.ema.decay=0.9" in n]
    assert "model.ema_decay=0.98" in note and "an average of an average" in note
    assert "--set train.ema.decay=0" in note and "--set model.ema_decay=0" in note
    alone = _notes(tiny_config(*FAST, "train.ema.decay=0.9", "model.ema_decay=0"), tmp_path / "a")
    assert not [n for n in alone if "train.ema" in n]


# ----------------------------------------------------------------------------------- 7. messages
@pytest.mark.parametrize(
    "assignment, says",
    [
        ("train.ema=0.999", "give its decay, --set train.ema.decay=0.999"),
        ("optim.betas=[0.9]", "optim.betas takes two numbers"),
    ],
)
def test_a_mistyped_ema_or_betas_says_what_to_write(capsys, tmp_path, assignment, says):
    code, text = cli(capsys, "train", "--set", assignment, "--out", tmp_path / "r")
    assert code != 0 and says in one_line(text)
    if "betas" in assignment:
        assert "[0.9, 0.999]" in text and "missing" not in text
    assert not (tmp_path / "r").exists()


def test_a_config_file_with_gamma_keeps_it():
    """An older run's config.yaml records gamma: 0.95 for its step schedule: that is the gamma it read."""
    cfg = build_config({"schedule": {"name": "step", "gamma": 0.95, "step_size": 1}}, [])
    assert lr_factor(cfg.schedule, 1, 1, 3) == pytest.approx(0.95)
