"""Batched, per-sample random augmentation of float N×C×H×W batches in [0, 1], on the batch's device.

Random crop with padding and horizontal flip — the reports' everyday pair and the hot path — are
written here as one strided-view gather and one ``index_select``, exact on any dtype, so the loader
runs the same ops on uint8 bytes (``benchmarks/pipeline.py`` measures it); the rest come from
kornia. Every op draws its parameters per sample from torch's global RNG, so a seed fixes them;
crop and flip draw on the batch's device and never read a value back (no host sync on a GPU).
``augment.p`` gates whole samples: a sample not selected passes through untouched (centre-cropped
when ``augment.crop.size`` makes the model's input smaller than the images).

``augment.crop.size`` (RandomCrop(28) of 32×32 images, as RDFIA 1-cd) sets the model's input size;
:func:`model_input_shape` says what the model is built for and :func:`centre_crop` is the matching
evaluation crop, the same window a sample skipped by the random crop keeps.
"""

from __future__ import annotations

import kornia.augmentation as K
import torch
import torch.nn as nn
import torch.nn.functional as F

from vislab.config import AugmentConfig, Crop
from vislab.errors import ConfigError


def crop_pad(
    x: torch.Tensor, padding: int, p: float = 1.0, size: int | None = None
) -> torch.Tensor:
    """Zero-pad by ``padding`` and crop ``size``×``size`` (default: back to H×W) at a random offset per
    sample, on any dtype (the loader runs it on uint8 bytes): each sample's window is picked from a
    strided view of all windows. A sample skipped (probability 1 − ``p``) keeps the centred window: the
    image itself, or its :func:`centre_crop`."""
    n, _, h, w = x.shape
    sh, sw = (size, size) if size else (h, w)
    ry, rx = h + 2 * padding - sh, w + 2 * padding - sw  # offsets 0..ry, 0..rx
    dy = torch.randint(0, ry + 1, (n,), device=x.device)
    dx = torch.randint(0, rx + 1, (n,), device=x.device)
    keep = torch.rand(n, device=x.device) >= p
    # ry // 2 = padding + (h - sh) // 2: the centre_crop window (padding is whole on both sides)
    dy, dx = torch.where(keep, ry // 2, dy), torch.where(keep, rx // 2, dx)
    padded = F.pad(x, (padding, padding, padding, padding))
    windows = padded.unfold(2, sh, 1).unfold(3, sw, 1)  # N×C×(ry+1)×(rx+1)×sh×sw view
    return windows[torch.arange(n, device=x.device), :, dy, dx]


def centre_crop(x: torch.Tensor, size: int | None) -> torch.Tensor:
    """The central ``size``×``size`` window of N×C×H×W images (rows and columns from ⌊(H − size)/2⌋),
    a view; ``x`` itself when ``size`` is None or the images are that size already."""
    h, w = x.shape[-2:]
    if size is None or (h, w) == (size, size):
        return x
    top, left = (h - size) // 2, (w - size) // 2
    return x[..., top : top + size, left : left + size]


def crop_padding(crop: Crop, image_side: int) -> int:
    """``augment.crop.padding``, or its automatic value: none around a ``size`` crop (RandomCrop(28) of
    32×32 pads nothing), else an eighth of the image side (4 px on 32×32 and 28×28, 1 on 8×8 digits)."""
    if crop.padding is not None:
        return crop.padding
    return 0 if crop.size else max(1, round(image_side / 8))


def model_input_shape(cfg: AugmentConfig, sample_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape the model is built for: the samples' (C, H, W), or (C, size, size) with
    ``augment.crop.size``. ConfigError when that crop cannot be taken from these samples."""
    size = cfg.crop.size
    if size is None:
        return tuple(sample_shape)
    if len(sample_shape) != 3:
        raise ConfigError(
            f"augment.crop.size={size} crops images, but this data holds {sample_shape[0]}-D feature "
            f"vectors. Remove augment.crop.size."
        )
    c, h, w = sample_shape
    if size > min(h, w):
        raise ConfigError(
            f"augment.crop.size={size} is larger than the {h}×{w} images of this data: the evaluation "
            f"crop (the centre {size}×{size}) cannot be taken. Use a size of at most {min(h, w)}, or "
            f"up-sample the images with data.resize."
        )
    return (c, size, size)


def flip_where(x: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """Mirror left-right the samples where ``flip`` is true: rows of [x; mirrored x] picked by
    index_select (several times faster on CPU than a broadcast ``torch.where``; no host sync on GPU)."""
    n = x.shape[0]
    both = torch.cat([x, x.flip(-1)])
    return both.index_select(0, torch.arange(n, device=x.device) + flip.long() * n)


class RandomCropPad(nn.Module):
    """Zero-pad by ``padding`` then crop ``size``×``size`` (default: back to H×W, i.e. translate) at a
    random offset per sample."""

    def __init__(self, padding: int, p: float = 1.0, size: int | None = None):
        super().__init__()
        self.padding, self.p, self.size = padding, p, size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return crop_pad(x, self.padding, self.p, self.size)


class RandomFlip(nn.Module):
    """Mirror left-right with probability ``p`` per sample (any dtype)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return flip_where(x, torch.rand(x.shape[0], device=x.device) < self.p)


class BatchAugment(nn.Module):
    """The configured ops in a fixed order; ``p`` is the probability that a sample is augmented at all.
    ``size``: the ops crop to size×size (``augment.crop.size``); a sample left alone is centre-cropped."""

    def __init__(self, ops: list[nn.Module], p: float = 1.0, size: int | None = None):
        super().__init__()
        self.ops = nn.ModuleList(ops)
        self.p, self.size = p, size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.ops or self.p == 0:
            return centre_crop(x, self.size)
        if self.p >= 1:
            return self._apply_ops(x)
        # Every sample goes through the ops and `where` keeps the originals of those not chosen: augmenting
        # only the chosen subset needs its size on the host — a GPU sync every step — to save work on CPU only.
        chosen = torch.rand(x.shape[0], device=x.device) < self.p
        return torch.where(
            chosen[:, None, None, None], self._apply_ops(x), centre_crop(x, self.size)
        )

    def _apply_ops(self, x: torch.Tensor) -> torch.Tensor:
        for op in self.ops:
            x = op(x)
        return x.clamp(0, 1)


def build_augment(cfg: AugmentConfig, sample_shape: tuple[int, ...]) -> BatchAugment | None:
    """The augmentation pipeline for images of ``sample_shape`` (C, H, W), or None when nothing is on."""
    if len(sample_shape) != 3:
        return None  # feature vectors are never augmented
    model_input_shape(cfg, sample_shape)  # a crop size these images allow
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
    if cfg.crop.p > 0 or cfg.crop.size:  # with a size the crop always runs: p = 0 centre-crops
        ops.append(RandomCropPad(crop_padding(cfg.crop, min(h, w)), cfg.crop.p, cfg.crop.size))
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
    return BatchAugment(ops, cfg.p, cfg.crop.size) if ops else None
