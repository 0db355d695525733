"""Sample grids: originals, augmented copies and normalised (standardised or ZCA-whitened) versions, as uint8
images."""

from __future__ import annotations

import numpy as np
import torch

from vislab.config import AugmentConfig
from vislab.data.augment import build_augment
from vislab.data.preprocess import apply_stats
from vislab.data.types import ArraySet
from vislab.errors import UserError
from vislab.plotting.images import SIGNED_DISPLAY, signed_to_display


def preview_indices(y: np.ndarray, n: int) -> np.ndarray:
    """``n`` sample indices: the first image of each class (in class order), then the next ones."""
    _, first = np.unique(y, return_index=True)
    return np.concatenate([first, np.setdiff1d(np.arange(len(y)), first)])[:n]


def augmentation_rows(
    data: ArraySet, cfg: AugmentConfig, n: int, copies: int, seed: int = 0
) -> tuple[list[np.ndarray], list[str]]:
    """First row: ``n`` training images (one per class first); then ``copies`` augmented versions."""
    originals = _originals(data, n)
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


def normalization_rows(data: ArraySet, stats: dict, n: int) -> tuple[list[np.ndarray], list[str]]:
    """First row: ``n`` training images (one per class first); second: the same images after the fitted
    normalisation ``stats`` (data/preprocess.py), the values the model sees, mapped to grey levels by
    :func:`vislab.plotting.images.signed_to_display` (the row title says how)."""
    if stats["mode"] == "none":
        raise UserError(
            "data.normalize is none: the model sees the images as they are. To preview a normalisation, "
            "add --set data.normalize=standard or --set data.normalize=zca."
        )
    originals = _originals(data, n)
    x = torch.from_numpy(originals).permute(0, 3, 1, 2).float().div(255)  # as the loader feeds it
    z = apply_stats(x, stats).permute(0, 2, 3, 1).numpy()
    return [originals, signed_to_display(z)], [
        "originals",
        f"{_normalization_name(stats)}, {SIGNED_DISPLAY}",
    ]


def _normalization_name(stats: dict) -> str:
    if stats["mode"] == "zca":
        return f"ZCA-whitened (fitted on train, ε={stats['epsilon']:g})"
    if stats.get("fixed") == "imagenet":
        return "standardised with the ImageNet mean and std"
    return "standardised (per-channel mean and std of train)"


def _originals(data: ArraySet, n: int) -> np.ndarray:
    """``n`` training images (one per class first); UserError for feature vectors."""
    if not data.is_image:
        raise UserError(
            "this dataset holds feature vectors, not images: there is nothing to preview."
        )
    return data.x[preview_indices(data.y, n)]
