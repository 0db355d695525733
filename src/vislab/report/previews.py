"""Sample grids: originals and augmented copies, as uint8 images."""

from __future__ import annotations

import numpy as np
import torch

from vislab.config import AugmentConfig
from vislab.data.augment import build_augment
from vislab.data.types import ArraySet
from vislab.errors import UserError


def preview_indices(y: np.ndarray, n: int) -> np.ndarray:
    """``n`` sample indices: the first image of each class (in class order), then the next ones."""
    _, first = np.unique(y, return_index=True)
    return np.concatenate([first, np.setdiff1d(np.arange(len(y)), first)])[:n]


def augmentation_rows(
    data: ArraySet, cfg: AugmentConfig, n: int, copies: int, seed: int = 0
) -> tuple[list[np.ndarray], list[str]]:
    """First row: ``n`` training images (one per class first); then ``copies`` augmented versions."""
    if not data.is_image:
        raise UserError(
            "this dataset holds feature vectors, not images: there is nothing to preview."
        )
    originals = data.x[preview_indices(data.y, n)]
    aug = build_augment(cfg, (originals.shape[3], originals.shape[1], originals.shape[2]))
    rows, titles = [originals], ["originals"]
    torch.manual_seed(seed)
    x = torch.from_numpy(originals).permute(0, 3, 1, 2).float().div(255)
    for i in range(copies):
        y = aug(x) if aug is not None else x
        rows.append((y.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy())
        titles.append(
            f"augmented #{i + 1}"
            if aug is not None
            else "no augmentation configured (augment.*.p = 0)"
        )
    return rows, titles
