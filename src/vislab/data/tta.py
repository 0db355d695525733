"""Test-time augmentation (``train.tta``): a model's logits averaged over views of each image — part of
a run's evaluation transform (``InputSpec.tta``), used by training-time evaluation, eval, predict and
export alike."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

TTA_MODES = ("none", "flip", "flip-translate")


class TTA(nn.Module):
    """``model``'s logits averaged over views of each image: itself and its mirror (``flip``), and each of
    those shifted by one pixel up-left and down-right with reflected borders (``flip-translate``)."""

    def __init__(self, model: nn.Module, mode: str):
        super().__init__()
        if mode not in TTA_MODES[1:]:
            raise ValueError(f"test-time augmentation mode {mode!r} is not one of {TTA_MODES[1:]}")
        self.model, self.translate = model, mode == "flip-translate"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        views = [x, x.flip(-1)]
        if self.translate:
            views += [_shift(v, d) for v in views[:2] for d in (-1, 1)]
        return torch.stack([self.model(v) for v in views]).mean(0)


def _shift(x: torch.Tensor, d: int) -> torch.Tensor:
    """N×C×H×W images moved by ``d`` pixels down and right (up and left for d < 0), borders reflected."""
    h, w = x.shape[-2:]
    padded = F.pad(x, (1, 1, 1, 1), mode="reflect")
    top = 1 - d
    return padded[..., top : top + h, top : top + w]


def with_tta(model: nn.Module, mode: str) -> nn.Module:
    """``model`` wrapped in :class:`TTA`, or itself for ``mode="none"``."""
    return model if mode == "none" else TTA(model, mode)
