"""The crop's geometry: the random crop with padding, the central window evaluation takes, and the
model's input shape that ``augment.crop.size`` sets.

:func:`crop_pad` is one strided-view gather, exact on any dtype, so the loader runs it on uint8 bytes
(``benchmarks/pipeline.py`` measures it). ``augment.crop.size`` (RandomCrop(28) of 32×32 images, as
RDFIA 1-cd) sets the model's input size: :func:`model_input_shape` says what the model is built for and
:func:`centre_crop` is the matching evaluation crop, the same window a sample skipped by the random crop
keeps.
"""

from __future__ import annotations

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


def centre_offsets(h: int, w: int, size: int) -> tuple[int, int]:
    """Top and left of the central ``size``×``size`` window of an h×w image: ⌊(H − size)/2⌋, ⌊(W − size)/2⌋
    (what evaluation crops, ZCA is fitted on and the export JSON states)."""
    return (h - size) // 2, (w - size) // 2


def centre_crop(x: torch.Tensor, size: int | None) -> torch.Tensor:
    """The central ``size``×``size`` window of N×C×H×W images (:func:`centre_offsets`), a view; ``x``
    itself when ``size`` is None or the images are that size already."""
    h, w = x.shape[-2:]
    if size is None or (h, w) == (size, size):
        return x
    top, left = centre_offsets(h, w, size)
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


class RandomCropPad(nn.Module):
    """Zero-pad by ``padding`` then crop ``size``×``size`` (default: back to H×W, i.e. translate) at a
    random offset per sample."""

    def __init__(self, padding: int, p: float = 1.0, size: int | None = None):
        super().__init__()
        self.padding, self.p, self.size = padding, p, size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return crop_pad(x, self.padding, self.p, self.size)
