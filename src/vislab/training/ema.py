"""An exponential moving average of the weights (``train.ema``), which evaluation, best.pt and export use.

EMA (Polyak averaging): after every optimizer step t (0-based),

    avg ← d·avg + (1 − d)·w,   d = min(decay, (1 + t) / (10 + t)) with warm-up, else decay.

The warm-up is TensorFlow's ``ExponentialMovingAverage(num_updates=t)`` rule (d = 0.1 at the first step,
0.5 at t = 8, 0.9 at t = 80; decay 0.999 from t = 8,990): not timm's ModelEmaV3 warm-up,
1 − (1 + t)^(−2/3). Without warm-up (``train.ema.warmup=false``) d is ``decay`` from the first step, as
in timm's ModelEmaV3 by default (``use_warmup=False``).

for every parameter and floating buffer (batch-norm statistics are averaged too; integer buffers are
copied). One fused ``_foreach_lerp_`` on the device; t is the host's step counter, so no host sync.
``torch.optim.swa_utils.AveragedModel`` reads its device-side counter in a Python branch every update
(a host sync per step), hence this small class.
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn


class WeightEMA:
    """The running average of ``model``'s weights, kept in ``average`` (a copy in eval mode)."""

    def __init__(self, model: nn.Module, decay: float, warmup: bool = True):
        self.decay, self.warmup = decay, warmup
        self.average = copy.deepcopy(model).eval().requires_grad_(False)
        live, avg = _state(model), _state(self.average)
        self._live = [t for t in live if t.is_floating_point()]
        self._avg = [t for t in avg if t.is_floating_point()]
        self._live_int = [t for t in live if not t.is_floating_point()]
        self._avg_int = [t for t in avg if not t.is_floating_point()]

    def decay_at(self, step: int) -> float:
        return min(self.decay, (1 + step) / (10 + step)) if self.warmup else self.decay

    @torch.no_grad()
    def update(self, step: int) -> None:
        """Average in the weights after optimizer step ``step`` (0-based)."""
        torch._foreach_lerp_(self._avg, self._live, 1.0 - self.decay_at(step))
        for a, w in zip(self._avg_int, self._live_int):
            a.copy_(w)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.average.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.average.load_state_dict(state)


def _state(model: nn.Module) -> list[torch.Tensor]:
    """Parameters then buffers, in a fixed order (the same for a model and its deep copy)."""
    return [*model.parameters(), *model.buffers()]
