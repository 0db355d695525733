"""The learning-rate range test's loss curve (:mod:`vislab.training.lr_find`): how it is smoothed, when
the test stops, where its suggestion lies, and when that suggestion is weak.

Two smoothings of the loss, for two jobs:

- the stop rule must decide at each step, so it reads a causal average: the exponential moving average
  with bias correction (as Adam corrects its moments), s_i = a_i / (1 − β^(i+1)),
  a_i = β·a_(i−1) + (1 − β)·loss_i, β = 0.9 (about 10 steps). The test stops once s_i exceeds 4× its lowest
  value so far (fastai's rule), or, once 10 steps are taken, 1.2× its start — the mean loss of those 10,
  at learning rates too small to change it — and 3 σ of their noise above it (the loss diverges:
  cross-entropy saturates near ln K, a model guessing wildly, so that 4× its minimum is rarely reached),
  or a loss is not finite;
- the curve that is drawn and searched is the centred mean of each step's loss and its neighbours within
  0.2 decade of learning rate on either side (5 steps at the default 25 steps per decade; none at fewer
  than 2.5 steps per decade). A causal average lags (it shows each loss ~β/(1 − β) steps late, at a
  larger lr: 0.4 decade at 25 steps per decade; fastai's β = 0.98 over 100 steps: 4 decades), and an
  average run forwards then backwards would smear the last, exploding losses over the whole curve; a
  centred window has neither fault. Its width is set in decades, not steps, so that a short test (30
  steps over 8 decades) does not smear the explosion a decade back down the curve.

**The suggestion** is the learning rate at which the centred curve falls fastest per decade of learning
rate (the most negative slope against log10 lr), looked for only up to the curve's minimum: past the
minimum the loss is climbing towards divergence. It lies well inside the stable range, where learning is
quickest; the lowest-loss learning rate itself is already at the edge of divergence.

**The warning** (:func:`weak_suggestion`): the suggestion is weak when the smoothed loss never fell from
its start by 5 % of it, or by 3 times the noise of the step losses (the standard deviation of each loss
minus the smoothed curve, up to its minimum): a curve that stays flat within its noise has dips of the
noise as steep as any descent, and the steepest of them is no learning rate to train with.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RULE = "steepest descent of the smoothed loss per decade of lr, before its minimum"
WEAK_DESCENT = 0.05  # a smoothed loss that never fell 5 % below its start tells little
NOISE_MULTIPLE = 3.0  # ... nor one whose fall is within 3 σ of the step losses' noise
START_STEPS = 10  # the stop rule's start: the mean loss of the first steps (module docstring)


def causal_mean(losses: list[float], beta: float) -> list[float]:
    """The bias-corrected exponential moving average (the stop rule's) (β = ``beta``)."""
    out, avg = [], 0.0
    for i, value in enumerate(losses):
        avg = beta * avg + (1 - beta) * value
        out.append(avg / (1 - beta ** (i + 1)))
    return out


def centred_mean(losses: list[float], half: int) -> list[float]:
    """The mean of each loss and its ``half`` neighbours on either side (fewer at the ends)."""
    return [float(np.mean(losses[max(0, i - half) : i + half + 1])) for i in range(len(losses))]


def suggest(lrs: list[float], smoothed: list[float]) -> float:
    """The lr where the ``smoothed`` curve falls fastest per decade, before its minimum (``RULE``); the lr
    of the minimum when fewer than 3 steps precede it."""
    lowest = int(np.argmin(smoothed))
    if lowest < 2:
        return lrs[lowest]
    slope = np.gradient(np.asarray(smoothed[: lowest + 1]), np.log10(lrs[: lowest + 1]))
    # the minimum's own slope (the last step into it, one-sided) is left out: on a short test that step
    # is often the steepest, and the minimum is the edge of divergence, not a learning rate to train with
    return lrs[int(np.argmin(slope[:lowest]))]


def weak_suggestion(losses: Sequence[float], smoothed: Sequence[float]) -> str:
    """Why the suggestion of a curve (each step's loss, the smoothed curve) is weak, or "": the smoothed
    loss never fell below its start by ``WEAK_DESCENT`` of it, or by ``NOISE_MULTIPLE`` × the noise of
    the steps (the standard deviation of loss − smoothed, up to the smoothed minimum)."""
    s, raw = np.asarray(smoothed, dtype=float), np.asarray(losses, dtype=float)
    lowest = int(np.argmin(s))
    start, low = s[0], s[lowest]
    fall, noise = start - low, float(np.std((raw - s)[: lowest + 1]))
    tries = "Try more steps, a larger train.batch_size, or another optimizer."
    if start > 0 and fall < WEAK_DESCENT * start:
        return (
            f"the smoothed loss never fell {WEAK_DESCENT:.0%} below its start ({start:.4g} → {low:.4g}): "
            f"the model barely learned at any lr, so the suggestion is weak. {tries}"
        )
    if fall < NOISE_MULTIPLE * noise:
        return (
            f"the smoothed loss fell only {fall:.3g} below its start ({start:.4g} → {low:.4g}), less than "
            f"{NOISE_MULTIPLE:g}× the noise of the step losses (σ {noise:.3g}): the curve is flat within "
            f"its noise, so the suggestion may be a dip of the noise. {tries}"
        )
    return ""


def stop_reason(
    losses: list[float], best: float, beta: float, diverge: float, rise: float
) -> tuple[float, str]:
    """(the stop rule's smoothed loss after the last of ``losses``, why the test stops there: "" to go
    on): the causal average above ``diverge`` × its lowest value so far (``best``), or, from step
    ``START_STEPS`` on, above the start — the mean of those first steps' losses — by more than ``rise``
    − 1 of it and ``NOISE_MULTIPLE`` × their noise (module docstring)."""
    smooth = causal_mean(losses, beta)[-1]  # the causal average: the rule decides now
    if smooth > diverge * best:
        return smooth, f"the smoothed loss passed {diverge:g}× its minimum"
    if len(losses) >= START_STEPS:
        first = np.asarray(losses[:START_STEPS])
        start, noise = float(first.mean()), float(first.std())
        bound = start + max((rise - 1) * start, NOISE_MULTIPLE * noise)
        if smooth > bound:
            return smooth, (
                f"the smoothed loss passed {bound:.4g}: its start ({start:.4g}, the mean of its first "
                f"{START_STEPS} steps) by more than {rise - 1:.0%} of it and {NOISE_MULTIPLE:g}× their noise"
            )
    return smooth, ""


def diverged_at_start(start_lr: float, default: float, stopped: str, losses: list[float]) -> str:
    """Why a test from ``start_lr`` whose loss diverged rising from its first step (``losses``, none as
    low after it; ``stopped``: where it diverged) suggests no lr, and the lower start to run it from:
    the ``default`` start, or 1000× lower than one at or below it."""
    lower = default if start_lr > default else start_lr / 1000
    how = (
        f"from its first step (loss {losses[0]:.4g} at lr {start_lr:.3g}) and never fell below it"
        if losses
        else "at its first step"
    )
    return (
        f"the LR range test diverged {how}: {stopped}. The range starts above any lr this model "
        f"trains at, so no lr is suggested and nothing was written. Start it lower: --start-lr "
        f"{lower:g} (Python: start_lr={lower:g})."
    )
