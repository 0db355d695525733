"""Tests for behaviours a mutation could break unseen (mutation testing of the lr finder, the step log,
checkpoint notes and evaluation)."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import one_line, tiny_config
from test_resume import sigterm_at_step
from vislab.errors import TrainingInterrupted
from vislab.training.checkpoint import pick_checkpoint
from vislab.training.evaluate import predict_logits
from vislab.training.lr_curve import centred_mean, suggest, weak_suggestion
from vislab.training.lr_find import lr_range_test
from vislab.training.lr_finding import RangeTest
from vislab.training.step_log import StepTracker
from vislab.training.trainer import train


def _linear() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Linear(4, 3)


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(8, 4, generator=g), torch.randint(0, 3, (8,), generator=g)


def _scripted(values: list[float]):
    """A loss function returning ``values`` one call after another (a graph through the logits)."""
    it = iter(values)
    return lambda logits, y: logits.sum() * 0 + next(it)


# ------------------------------------------------------------------------------ the range test
@pytest.mark.parametrize("accumulate", [1, 2])
def test_each_step_is_one_plain_sgd_step_on_fresh_gradients(accumulate: int) -> None:
    """Three steps on one repeated batch are plain SGD at the test's lrs, whatever train.accumulate: the
    gradients are zeroed at each step and k accumulated losses are each scaled by 1/k."""
    model, (x, y) = _linear(), _batch()
    test = RangeTest(0.5, 5.0, steps=10)
    found = lr_range_test(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        [(x, y)] * (3 * accumulate),
        test,
        accumulate=accumulate,
    )
    assert found.stopped == "the batches ran out after 3 steps"
    by_hand, want = copy.deepcopy(model), []
    opt = torch.optim.SGD(by_hand.parameters(), lr=0.1)
    for i in range(3):
        opt.param_groups[0]["lr"] = test.lr(i)
        opt.zero_grad()
        loss = F.cross_entropy(by_hand(x), y)
        loss.backward()
        opt.step()
        want.append(loss.item())
    assert found.losses == pytest.approx(want, rel=1e-5)
    assert want[2] < want[1] < want[0]  # the steps did move the weights


def test_the_sweep_runs_from_start_lr_to_end_lr() -> None:
    model = _linear()
    test = RangeTest(1e-3, 1.0, steps=10)
    found = lr_range_test(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        [_batch()] * 10,
        test,
        loss_fn=_scripted([1.0] * 10),
    )
    assert found.stopped == "" and len(found.lrs) == 10
    assert found.lrs[0] == pytest.approx(1e-3) and found.lrs[-1] == pytest.approx(1.0)


def test_one_low_step_loss_does_not_stop_the_test() -> None:
    """The stop rule compares the smoothed loss with its own minimum, not with a single step's dip."""
    model = _linear()
    losses = [1.0] * 3 + [0.1] + [1.0] * 16
    found = lr_range_test(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        [_batch()] * 20,
        RangeTest(1e-3, 1.0, steps=20),
        loss_fn=_scripted(losses),
    )
    assert found.stopped == "" and found.losses == pytest.approx(losses)


def test_min_loss_lr_is_the_lowest_point_of_the_smoothed_curve() -> None:
    """A lone low step (raw minimum, step 2) and a broad low stretch (smoothed minimum, step 11)."""
    model = _linear()
    losses = [1.0] * 20
    losses[2] = 0.1
    losses[10:14] = [0.5] * 4
    test = RangeTest(1e-3, 1.0, steps=20)
    assert test.half_window == 1
    found = lr_range_test(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        [_batch()] * 20,
        test,
        loss_fn=_scripted(losses),
    )
    assert int(np.argmin(found.smoothed)) == 11
    assert found.min_loss_lr == pytest.approx(found.lrs[11])


# ------------------------------------------------------------------------------ the curve
def test_the_suggestion_is_never_past_the_curves_minimum() -> None:
    """A gentle fall to the minimum at 1e-3, then a jump and a steeper fall that stays above it."""
    lrs = list(np.logspace(-6, 0, 61))
    before = 2 - 0.5 * (1 + np.tanh(2 * (np.log10(lrs[:31]) + 4.5)))  # steepest at 10^-4.5
    after = 5 - 0.12 * np.arange(30)  # 5 → 1.52, steeper per decade than any fall before
    smoothed = list(np.concatenate([before, after]))
    assert int(np.argmin(smoothed)) == 30
    assert suggest(lrs, smoothed) <= lrs[30]
    assert suggest(lrs, smoothed) == pytest.approx(10**-4.5)


def test_a_fall_of_two_noise_sigmas_is_warned_weak() -> None:
    """Smoothed 1.0 → 0.9 (10 %, past the 5 % test) with step losses ±0.05 around it: σ 0.05, fall 2σ."""
    smoothed = np.concatenate([np.linspace(1.0, 0.9, 20), [0.95, 1.0]])
    noise = 0.05 * np.array([1, -1] * 11)
    said = weak_suggestion(list(smoothed + noise), list(smoothed))
    assert "less than 3× the noise" in said, said
    # a fall of 4σ is a real descent
    assert weak_suggestion(list(smoothed + noise / 2), list(smoothed)) == ""


def test_the_centred_mean_smooths_both_ends() -> None:
    assert centred_mean([1.0, 2.0, 3.0], 1) == pytest.approx([1.5, 2.0, 2.5])
    assert centred_mean([4.0, 0.0, 0.0, 0.0, 8.0], 1)[-1] == pytest.approx(4.0)


# ------------------------------------------------------------------------------ the step log
def test_a_short_last_window_is_the_mean_of_its_own_steps() -> None:
    """log_every 4 over a 9-step epoch: rows of 4, 4 and 1 steps, whose weighted mean is the epoch's."""
    tracker = StepTracker(torch.nn.Linear(1, 1), torch.device("cpu"), log_every=4, grads=False)
    losses = [float(v) for v in range(1, 10)]
    for step, loss in enumerate(losses, 1):
        tracker.after_step(torch.tensor(loss), step, 1, 0.1)
    rows, _ = tracker.end_epoch(9, 1, 0.1)
    assert [r["step"] for r in rows] == [4, 8, 9]
    assert [r["loss"] for r in rows] == pytest.approx([2.5, 6.5, 9.0])
    weighted = (4 * rows[0]["loss"] + 4 * rows[1]["loss"] + rows[2]["loss"]) / 9
    assert weighted == pytest.approx(np.mean(losses))


# ------------------------------------------------------------------------------ checkpoint notes
EMA = ("train.ema.decay=0.9", "train.epochs=1")


def test_a_mid_epoch_average_is_not_called_what_best_pt_would_hold(tmp_path, monkeypatch) -> None:
    """An EMA run stopped mid-epoch 1 (no best.pt yet): its last.pt average is of a step, not an epoch
    best.pt could hold; at an epoch's end (best.pt deleted) it is."""
    cut = tmp_path / "cut"
    with sigterm_at_step(monkeypatch, lambda n: 2), pytest.raises(TrainingInterrupted):
        train(tiny_config(*EMA), cut, quiet=True)
    assert not (cut / "checkpoints" / "best.pt").exists()
    said = one_line(pick_checkpoint(cut).note or "")
    assert "the train.ema average of its weights at epoch 1, step" in said, said
    assert "what best.pt would hold" not in said, said

    done = tmp_path / "done"
    train(tiny_config(*EMA), done, quiet=True)
    (done / "checkpoints" / "best.pt").unlink()
    said = one_line(pick_checkpoint(done).note or "")
    assert "average of its weights at the end of epoch 1, what best.pt would hold" in said, said


# ------------------------------------------------------------------------------ evaluation
class _Loader:
    """Two batches of one split, as DeviceLoader.epoch yields them."""

    def epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        x, y = _batch()
        yield from [(x[:4], y[:4]), (x[4:], y[4:])]


@pytest.mark.parametrize("training", [False, True])
def test_predicting_leaves_the_models_mode_as_it_was(training: bool) -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 3))
    model.train(training)
    logits, labels = predict_logits(model, _Loader())
    assert logits.shape == (8, 3) and torch.equal(labels, _batch()[1])
    assert model.training is training
    assert all(m.training is training for m in model.modules())
