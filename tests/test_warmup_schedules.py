"""schedule.warmup_epochs: one rule for every schedule — a linear warm-up of W epochs, then the schedule from
its own beginning (exponential's γ^k and step's decays count epochs from the warm-up's end; onecycle's own
rise is replaced by the warm-up). Values of ``lr_factor`` against the formulas by hand, and one run."""

from __future__ import annotations

import json
import math

import pytest

from conftest import tiny_config
from vislab.config import ScheduleConfig
from vislab.training.optim import lr_factor
from vislab.training.trainer import train

SPE = 4  # optimizer steps per epoch in the hand-computed cases


def factors(cfg: ScheduleConfig, total: int, steps_per_epoch: int = SPE) -> list[float]:
    return [lr_factor(cfg, s, steps_per_epoch, total) for s in range(total)]


def cosine(p: float) -> float:
    return 0.5 * (1 + math.cos(math.pi * p))


# ------------------------------------------------------- without warm-up: the numbers of before
@pytest.mark.parametrize(
    "cfg, want",
    [
        (ScheduleConfig(name="none"), lambda s: 1.0),
        (ScheduleConfig(name="exponential", gamma=0.5), lambda s: 0.5 ** (s // SPE)),
        (ScheduleConfig(name="step", gamma=0.1, step_size=3), lambda s: 0.1 ** (s // SPE // 3)),
        (ScheduleConfig(name="cosine"), lambda s: cosine(s / 40)),
        (ScheduleConfig(name="cosine", min_lr=0.25), lambda s: 0.25 + 0.75 * cosine(s / 40)),
        (
            ScheduleConfig(name="onecycle"),
            # up to step round(0.25·39) = 10, down to the floor at the last step, 39
            lambda s: 0.04 + 0.96 * s / 10 if s < 10 else 1e-4 + (1 - 1e-4) * cosine((s - 10) / 29),
        ),
    ],
    ids=["none", "exponential", "step", "cosine", "cosine-min_lr", "onecycle"],
)
def test_without_warmup_each_schedule_is_unchanged(cfg, want):
    assert factors(cfg, 40) == pytest.approx([want(s) for s in range(40)])


# ---------------------------------------------------------------------------- with warm-up
def test_exponential_starts_at_the_full_lr_after_its_warmup():
    """W=2, γ=0.5: the lr rises to 1 over epochs 1-2, stays 1 in epoch 3, then halves each epoch
    (before: γ² = 0.25 in epoch 3, the full lr held for a single step)."""
    f = factors(ScheduleConfig(name="exponential", gamma=0.5, warmup_epochs=2), 5 * SPE)
    want = [(s + 1) / 8 for s in range(8)] + [1.0] * 4 + [0.5] * 4 + [0.25] * 4
    assert f == pytest.approx(want)


def test_step_decays_every_step_size_epochs_from_the_warmups_end():
    """W=3, step_size=3, γ=0.1: epochs 4-6 at the full lr, 7-9 at 0.1 (before: 0.1 from epoch 4 on)."""
    f = factors(ScheduleConfig(name="step", gamma=0.1, step_size=3, warmup_epochs=3), 9 * SPE)
    want = [(s + 1) / 12 for s in range(12)] + [1.0] * 12 + [0.1] * 12
    assert f == pytest.approx(want)


def test_onecycle_warmup_replaces_its_own_rise():
    """onecycle with W=1 of 10 epochs: the warm-up rises to 1, then one cosine down over the 36 steps
    left, to its floor at the last — no drop to 0.04 and second rise (before: 1.0 → 0.04 → 1.0)."""
    f = factors(ScheduleConfig(name="onecycle", warmup_epochs=1), 40)
    want = [(s + 1) / 4 for s in range(4)] + [1e-4 + (1 - 1e-4) * cosine(t / 35) for t in range(36)]
    assert f == pytest.approx(want)
    assert max(f) == pytest.approx(1.0) and all(a >= b for a, b in zip(f[4:], f[5:]))


def test_every_schedule_after_a_warmup_is_itself_on_a_run_that_much_shorter():
    """The one rule: after W warm-up epochs, step W·spe + t of a T-step run has the factor of step t of
    the same schedule without warm-up on a run of T - W·spe steps (onecycle: less its rise, above)."""
    for name in ("none", "exponential", "step", "cosine"):
        plain = ScheduleConfig(name=name, gamma=0.5, step_size=2, min_lr=0.1)
        warm = plain.model_copy(update=dict(warmup_epochs=2))
        assert factors(warm, 40)[8:] == pytest.approx(factors(plain, 32)), name


def test_a_fractional_warmup_is_whole_steps_and_never_passes_the_full_lr():
    """W=0.5 of 3 steps an epoch: 2 warm-up steps (0.5, 1.0), then cosine from 1 (before: 1.5 steps,
    the second at 1.33× the lr)."""
    f = factors(ScheduleConfig(name="cosine", warmup_epochs=0.5), 12, steps_per_epoch=3)
    assert f == pytest.approx([0.5, 1.0] + [cosine(t / 10) for t in range(10)])


# ------------------------------------------------------------------------------- one run
def test_a_run_with_exponential_warmup_logs_the_full_lr_after_the_warmup(tmp_path):
    """The user's check: optim.lr=0.01, γ=0.5, 2 warm-up epochs of 5 — steps.jsonl's lr reaches 0.01 at
    the end of epoch 2, stays there through epoch 3, then 0.005 and 0.0025 (before: 0.0025 in epoch 3)."""
    over = ("optim.lr=0.01", "schedule.name=exponential", "schedule.gamma=0.5")
    over += (
        "schedule.warmup_epochs=2",
        "train.epochs=5",
        "train.log_every=1",
        "train.figures=false",
    )
    train(tiny_config(*over, "data.limit=96"), tmp_path / "r", quiet=True)
    rows = [json.loads(x) for x in (tmp_path / "r" / "steps.jsonl").read_text().splitlines()]
    per_epoch = {e: [r["lr"] for r in rows if r["epoch"] == e] for e in range(1, 6)}
    n = len(per_epoch[1])
    assert n >= 2 and all(len(v) == n for v in per_epoch.values())
    warmup = per_epoch[1] + per_epoch[2]
    assert warmup == pytest.approx([0.01 * (s + 1) / (2 * n) for s in range(2 * n)])
    assert per_epoch[3] == pytest.approx([0.01] * n)
    assert per_epoch[4] == pytest.approx([0.005] * n)
    assert per_epoch[5] == pytest.approx([0.0025] * n)
