"""Mixup and cutmix (``augment.mixup`` / ``augment.cutmix``): each sample of a batch mixed with its
neighbour, labels included. The loader applies them to the normalised batch, with draws it makes once
per epoch (``data/loader.py``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from vislab.config import AugmentConfig, CutMix, Mixup

MIXUP, CUTMIX = 1.0, 2.0  # a draw's kind (first column); 0: the sample is left as it is


class BatchMix:
    """Mixup and cutmix (``augment.mixup`` / ``augment.cutmix``) of each sample of a batch with its
    neighbour (the previous sample of the shuffled batch), labels included: (x, class indices N) →
    (x, targets N×K whose rows sum to 1), which ``F.cross_entropy`` takes as they are — with
    ``train.label_smoothing`` it smooths the mixed targets. With both on, a sample is offered one or the
    other with equal odds, then mixed with that one's ``p``. The draws are made on the host for a whole
    epoch by a seeded generator (:meth:`draws`) and sliced per batch: a batch reads nothing back."""

    def __init__(self, mixup: Mixup, cutmix: CutMix, num_classes: int):
        self.mixup, self.cutmix, self.num_classes = mixup, cutmix, num_classes

    def draws(self, n: int, seed: Sequence[int]) -> torch.Tensor:
        """``n`` samples' draws, host float32 n×4: kind (0, ``MIXUP`` or ``CUTMIX``), λ ~ Beta(α, α) of
        that kind, and the centre (row, column) of the cutmix box as fractions of the image."""
        rng = np.random.default_rng([s % 2**63 for s in seed])
        mixup, cutmix = self.mixup, self.cutmix
        cut = rng.random(n) < (0.5 if mixup.p > 0 and cutmix.p > 0 else float(cutmix.p > 0))
        mixed = rng.random(n) < np.where(cut, cutmix.p, mixup.p)
        lam = np.where(
            cut, rng.beta(cutmix.alpha, cutmix.alpha, n), rng.beta(mixup.alpha, mixup.alpha, n)
        )
        kind = np.where(mixed, np.where(cut, CUTMIX, MIXUP), 0.0)
        return torch.from_numpy(np.column_stack([kind, lam, rng.random((n, 2))]).astype(np.float32))

    def __call__(
        self, x: torch.Tensor, y: torch.Tensor, draws: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The mixed batch and its targets (see :meth:`mix`)."""
        x, targets, _ = self.mix(x, y, draws)
        return x, targets

    def mix(
        self, x: torch.Tensor, y: torch.Tensor, draws: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mix images N×C×H×W and labels ``y`` by ``draws`` (n×4, on x's device); (images, targets N×K,
        λ N: the weight of each sample's own label — 1 untouched, 1 − the pasted area's share after
        cutmix, whose box is clipped to the image)."""
        kind, lam, cy, cx = draws.unbind(1)
        box, kept = cutmix_boxes(lam, cy, cx, x.shape[-2], x.shape[-1])
        is_cut = kind == CUTMIX
        lam = torch.where(is_cut, kept, torch.where(kind == MIXUP, lam, 1.0))
        other = x.roll(1, 0)
        mixed = torch.lerp(other, x, lam.to(x.dtype).view(-1, 1, 1, 1))  # exactly x where λ = 1
        x = torch.where(is_cut.view(-1, 1, 1, 1), torch.where(box[:, None], other, x), mixed)
        own = torch.zeros(len(y), self.num_classes, device=y.device).scatter_(1, y[:, None], 1.0)
        return x, torch.lerp(own.roll(1, 0), own, lam[:, None]), lam


def cutmix_boxes(
    lam: torch.Tensor, cy: torch.Tensor, cx: torch.Tensor, h: int, w: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """CutMix's boxes (Yun et al. 2019): sides ⌊H·√(1−λ)⌋ × ⌊W·√(1−λ)⌋ centred at (cy·H, cx·W), clipped
    to the image; (masks N×H×W, the share of each image outside its box)."""
    r = (1 - lam).sqrt()
    rows = _span(torch.arange(h, device=lam.device), (cy * h).floor(), (r * h).floor())
    cols = _span(torch.arange(w, device=lam.device), (cx * w).floor(), (r * w).floor())
    kept = 1 - rows.sum(1) * cols.sum(1) / (h * w)
    return rows[:, :, None] & cols[:, None, :], kept


def _span(index: torch.Tensor, centre: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
    """N × len(index) masks: the ``size`` positions from ``centre − ⌊size/2⌋`` (clipped to ``index``)."""
    start = centre - (size / 2).floor()
    return (index >= start[:, None]) & (index < (start + size)[:, None])


def build_mix(
    cfg: AugmentConfig, sample_shape: tuple[int, ...], num_classes: int
) -> BatchMix | None:
    """Mixup/cutmix of images of ``sample_shape``, or None when neither is on (or the samples are
    feature vectors, which are never augmented)."""
    if len(sample_shape) != 3 or (cfg.mixup.p == 0 and cfg.cutmix.p == 0):
        return None
    return BatchMix(cfg.mixup, cfg.cutmix, num_classes)
