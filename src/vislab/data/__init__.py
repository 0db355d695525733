"""Data flow up to the loader: source → split → (resize) → statistics fitted on train only."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vislab.config import DataConfig
from vislab.data.duplicates import duplicates_note
from vislab.data.sources import load_source
from vislab.data.sources.folder import load_folder
from vislab.data.split import make_splits
from vislab.data.types import ArraySet, Splits
from vislab.errors import show_note

if TYPE_CHECKING:
    from vislab.data.preprocess import NormStats

# torch, and the modules that need it (preprocess, crop), are imported by the functions that use them:
# every vislab.data.* import runs this file, and listing suites or reading a dataset's sizes needs no torch


def resize_images(data: ArraySet, size: int) -> ArraySet:
    """Bilinear (antialiased) resize of uint8 N×H×W×C images to size×size."""
    if not data.is_image or data.x.shape[1:3] == (size, size):
        return data
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(data.x).permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    out = x.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return ArraySet(np.ascontiguousarray(out), data.y, data.names, data.origin)


def load_splits(
    cfg: DataConfig, seed: int, channels: int | None = None, notes: bool = True, whole: bool = False
) -> Splits:
    """The three splits of ``cfg.name`` (deterministic for a seed), resized if ``data.resize`` is set (an
    image folder is decoded straight to that size). ``channels`` (1 or 3; other sources ignore it): an
    image folder decoded to that many channels whatever its images are, as ``vislab predict`` decodes a
    file for a model of those inputs. ``notes``: whether the split notes are shown; ``whole``: data too
    small to carve val or test from is kept whole (both: :func:`~vislab.data.split.make_splits`). With the
    notes, an image folder's copies in two splits or under two classes
    (:func:`~vislab.data.duplicates.duplicates_note`)."""
    own = cfg.name == "folder" and channels in (1, 3)
    source = load_folder(cfg, channels) if own else load_source(cfg)
    splits = make_splits(source, cfg, seed, notes, whole)
    if notes and cfg.name == "folder":  # copies between the splits as carved, not the folder's sets
        _note_copies(splits, Path(source.files[0]))
    if cfg.resize:
        splits.train, splits.val, splits.test = (
            resize_images(s, cfg.resize) for _, s in splits.items()
        )
    return splits


def _note_copies(splits: Splits, root: Path) -> None:
    """The note for image folder ``root``'s copies in two splits or under two classes, if any."""
    if note := duplicates_note(dict(splits.items()), splits.class_names, root):
        show_note(note)


def prepare_data(
    cfg: DataConfig,
    seed: int,
    stats: NormStats | None = None,
    crop_size: int | None = None,
    channels: int | None = None,
    notes: bool = True,
    whole: bool = False,
) -> tuple[Splits, NormStats]:
    """Splits plus normalisation statistics — fitted on the train split only, unless given (eval/predict);
    ``channels``, ``notes`` and ``whole``: as :func:`load_splits` says.

    ``crop_size`` (``augment.crop.size``): the model sees size×size crops, so a ZCA matrix, which acts on
    whole samples, is fitted on the train images' centre crops. Per-channel standardisation is fitted on
    the whole images (the random training crops range over all of them), so evaluation's centre crops
    are not exactly zero-mean, unit-std: on Fashion-MNIST with 16×16 crops, whole images have mean
    0.286, std 0.353; their centre crops mean 0.485, std 0.344."""
    from vislab.data.crop import centre_offsets
    from vislab.data.preprocess import fit_stats

    splits = load_splits(cfg, seed, channels, notes, whole)
    if stats is None:
        x = splits.train.x
        if cfg.normalize == "zca" and crop_size and x.ndim == 4:
            top, left = centre_offsets(x.shape[1], x.shape[2], crop_size)
            x = x[:, top : top + crop_size, left : left + crop_size]  # N×H×W×C
        stats = fit_stats(x, cfg.normalize, cfg.zca_epsilon)
    return splits, stats
