"""Batched, per-sample random augmentation of float N×C×H×W batches in [0, 1], on the batch's device.

Random crop with padding and horizontal flip — the reports' everyday pair and the hot path — are
written here as one strided-view gather and one ``index_select``, exact on any dtype, so the loader
runs the same ops on uint8 bytes (``benchmarks/pipeline.py`` measures it); the rest come from
kornia. Every op draws its parameters per sample from torch's global RNG, so a seed fixes them.
``augment.p`` gates whole samples: a sample not selected passes through untouched.
"""

from __future__ import annotations

import kornia.augmentation as K
import torch
import torch.nn as nn
import torch.nn.functional as F

from vislab.config import AugmentConfig


def crop_pad(x: torch.Tensor, padding: int, p: float = 1.0) -> torch.Tensor:
    """Zero-pad by ``padding`` and crop back to H×W at a random offset per sample, on any dtype (the
    loader runs it on uint8 bytes): each sample's window is picked from a strided view of all windows.
    A sample skipped (probability 1 − ``p``) keeps the centred window, i.e. stays as it is."""
    n, _, h, w = x.shape
    dy = torch.randint(0, 2 * padding + 1, (n,), device=x.device)
    dx = torch.randint(0, 2 * padding + 1, (n,), device=x.device)
    keep = torch.rand(n, device=x.device) >= p
    dy, dx = torch.where(keep, padding, dy), torch.where(keep, padding, dx)
    padded = F.pad(x, (padding, padding, padding, padding))
    windows = padded.unfold(2, h, 1).unfold(3, w, 1)  # N×C×(2p+1)×(2p+1)×H×W view
    return windows[torch.arange(n, device=x.device), :, dy, dx]


def flip_where(x: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """Mirror left-right the samples where ``flip`` is true: rows of [x; mirrored x] picked by
    index_select (several times faster on CPU than a broadcast ``torch.where``; no host sync on GPU)."""
    n = x.shape[0]
    both = torch.cat([x, x.flip(-1)])
    return both.index_select(0, torch.arange(n, device=x.device) + flip.long() * n)


class RandomCropPad(nn.Module):
    """Zero-pad by ``padding`` then crop back to H×W at a random offset per sample (i.e. translate)."""

    def __init__(self, padding: int, p: float = 1.0):
        super().__init__()
        self.padding, self.p = padding, p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return crop_pad(x, self.padding, self.p)


class RandomFlip(nn.Module):
    """Mirror left-right with probability ``p`` per sample (any dtype)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return flip_where(x, torch.rand(x.shape[0], device=x.device) < self.p)


class BatchAugment(nn.Module):
    """The configured ops in a fixed order; ``p`` is the probability that a sample is augmented at all."""

    def __init__(self, ops: list[nn.Module], p: float = 1.0):
        super().__init__()
        self.ops = nn.ModuleList(ops)
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.ops or self.p == 0:
            return x
        if self.p >= 1:
            return self._apply_ops(x)
        # Every sample goes through the ops and `where` keeps the originals of those not chosen: augmenting
        # only the chosen subset needs its size on the host — a GPU sync every step — to save work on CPU only.
        chosen = torch.rand(x.shape[0], device=x.device) < self.p
        return torch.where(chosen[:, None, None, None], self._apply_ops(x), x)

    def _apply_ops(self, x: torch.Tensor) -> torch.Tensor:
        for op in self.ops:
            x = op(x)
        return x.clamp(0, 1)


def build_augment(cfg: AugmentConfig, sample_shape: tuple[int, ...]) -> BatchAugment | None:
    """The augmentation pipeline for images of ``sample_shape`` (C, H, W), or None when nothing is on."""
    if len(sample_shape) != 3:
        return None  # feature vectors are never augmented
    c, h, w = sample_shape
    ops: list[nn.Module] = []
    if cfg.resized_crop.p > 0:
        ops.append(
            K.RandomResizedCrop(
                (h, w),
                scale=cfg.resized_crop.scale,
                ratio=cfg.resized_crop.ratio,
                p=cfg.resized_crop.p,
            )
        )
    if cfg.crop.p > 0:
        ops.append(RandomCropPad(cfg.crop.padding, cfg.crop.p))
    if cfg.hflip.p > 0:
        ops.append(RandomFlip(cfg.hflip.p))
    if cfg.rotation.p > 0:
        ops.append(K.RandomRotation(cfg.rotation.degrees, p=cfg.rotation.p))
    if cfg.affine.p > 0:
        a = cfg.affine
        ops.append(
            K.RandomAffine(a.degrees, translate=a.translate, scale=a.scale, shear=a.shear, p=a.p)
        )
    if cfg.color_jitter.p > 0:
        j = cfg.color_jitter
        colour = c == 3  # saturation and hue only exist for RGB
        ops.append(
            K.ColorJitter(
                j.brightness,
                j.contrast,
                j.saturation if colour else 0.0,
                j.hue if colour else 0.0,
                p=j.p,
            )
        )
    if cfg.blur.p > 0:
        k = cfg.blur.kernel_size | 1  # odd kernel
        ops.append(K.RandomGaussianBlur((k, k), cfg.blur.sigma, p=cfg.blur.p))
    if cfg.erasing.p > 0:
        ops.append(
            K.RandomErasing(scale=cfg.erasing.scale, ratio=cfg.erasing.ratio, p=cfg.erasing.p)
        )
    return BatchAugment(ops, cfg.p) if ops else None
