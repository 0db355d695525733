"""Sample grids: originals, augmented (and mixup/cutmix-mixed) copies and normalised (standardised or
ZCA-whitened) versions, as uint8 images; 2-D feature data (``circles``) as a scatter of its points.
:func:`preview_drawer` is what ``vislab data preview`` and ``vislab.preview_data`` draw."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vislab.config import AugmentConfig, Config
from vislab.data import load_splits, prepare_data
from vislab.data.augment import BatchAugment, build_augment
from vislab.data.crop import centre_crop
from vislab.data.mix import CUTMIX, MIXUP, BatchMix, build_mix
from vislab.data.preprocess import NormStats, apply_stats
from vislab.data.types import ArraySet
from vislab.errors import UserError
from vislab.plotting.images import SIGNED_DISPLAY, signed_to_display

SHOWS = ("augmented", "normalized")  # what a preview draws under the originals
MAX_PER_ROW, MAX_COPIES = 64, 8


@dataclass
class Preview:
    """A sample grid as :func:`vislab.plotting.images.plot_image_grid` draws it: uint8 N×H×W×C ``rows``,
    a title per row, and the label under each image: the class of each column's original (under every
    row), or where mixup or cutmix mixed them one list per row (a mixed image: its two classes and
    shares, :func:`mix_label`)."""

    rows: list[np.ndarray]
    titles: list[str]
    labels: list[str] | list[list[str]]


def preview_drawer(
    cfg: Config, show: str = "augmented", n: int | None = None, copies: int | None = None
) -> Callable[[Path], Path]:
    """What writes the preview of ``cfg``'s data to a path: :func:`preview_grid`'s sample grid, or for
    2-D feature data (``circles``, two-column arrays) the train split's points coloured by class, as a
    report's samples figure draws them (every point: ``n`` does not apply)."""
    from vislab.plotting import images  # read when called: a test's spy stands in for its functions

    if show != "augmented":  # normalized: images only (preview_grid says so)
        grid = preview_grid(cfg, show, n, copies)
        return lambda path: images.plot_image_grid(grid.rows, path, grid.titles, grid.labels)
    _check_preview(show, n, copies)
    splits = load_splits(cfg.data, cfg.train.seed)
    train = splits.train
    if _is_plane(train):
        if copies is not None:
            raise UserError(
                "copies sets the number of augmented rows, but 2-D feature data is previewed as a "
                "scatter of its train points, with no augmented rows. Drop --copies / copies=."
            )
        name = "the arrays given" if cfg.data.name.startswith("memory:") else cfg.data.name
        title = f"{name}: train split, {len(train)} points"
        return lambda path: images.plot_feature_scatter(
            train.x, train.y, splits.class_names, path, title=title
        )
    per_row = n or per_class_row(splits.num_classes)
    grid = augmentation_preview(
        train, cfg.augment, per_row, copies or 3, cfg.train.seed, splits.class_names
    )
    return lambda path: images.plot_image_grid(grid.rows, path, grid.titles, grid.labels)


def _is_plane(data: ArraySet) -> bool:
    """Whether ``data`` holds 2-D feature vectors (circles' points), which a preview scatters."""
    return not data.is_image and data.x.ndim == 2 and data.x.shape[1] == 2


def per_class_row(classes: int) -> int:
    """A preview row's images where none is asked for: one of each class, 8 at least, 20 at most."""
    return min(max(8, classes), 20)


def preview_grid(
    cfg: Config, show: str = "augmented", n: int | None = None, copies: int | None = None
) -> Preview:
    """``n`` training images of ``cfg``'s data (:func:`preview_indices`; None: :func:`per_class_row`,
    one of each class), then ``copies`` (default 3)
    rows of augmented copies (``augment.*``, mixup and cutmix included), or with ``show="normalized"``
    the same images after ``data.normalize`` (fitted on train, as for training)."""
    _check_preview(show, n, copies)
    if show == "normalized":
        size = cfg.augment.crop.size  # as for training: ZCA fitted on the centre crops
        splits, stats = prepare_data(cfg.data, cfg.train.seed, crop_size=size)
        n = n or per_class_row(splits.num_classes)
        rows, titles = normalization_rows(splits.train, stats, n, size, cfg.train.seed)
    else:
        splits = load_splits(cfg.data, cfg.train.seed)
        n = n or per_class_row(splits.num_classes)
        return augmentation_preview(
            splits.train, cfg.augment, n, copies or 3, cfg.train.seed, splits.class_names
        )
    shown = preview_indices(splits.train.y, n, cfg.train.seed)
    labels = [splits.class_names[k] for k in splits.train.y[shown]]
    return Preview(rows, titles, labels)


def _check_preview(show: str, n: int | None, copies: int | None) -> None:
    """UserError naming the setting a preview cannot draw."""
    if show not in SHOWS:
        raise UserError(f"show '{show}' is unknown: use one of {', '.join(SHOWS)}.")
    if n is not None and (
        isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_PER_ROW
    ):
        raise UserError(
            f"n={n!r}: give the images per row as a whole number from 1 to {MAX_PER_ROW}."
        )
    if copies is not None and show == "normalized":
        raise UserError(
            "copies sets the number of augmented rows, but show normalized draws no augmented rows. "
            "Drop --copies / copies=, or show them (--show augmented / show='augmented')."
        )
    if copies is not None and (
        isinstance(copies, bool) or not isinstance(copies, int) or not 1 <= copies <= MAX_COPIES
    ):
        raise UserError(
            f"copies={copies!r}: give the augmented rows as a whole number from 1 to {MAX_COPIES}."
        )


def preview_indices(y: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` sample indices: the first image of each class (in class order), then a random sample of the
    others (drawn with ``seed``: the same each time), so that the preview shows the data's mix of classes
    and not the order of its files (an image folder's train split is ordered by class)."""
    _, first = np.unique(y, return_index=True)
    rest = np.setdiff1d(np.arange(len(y)), first)
    drawn = np.random.default_rng(seed).permutation(rest)[: max(n - len(first), 0)]
    return np.concatenate([first, drawn])[:n]


def augmentation_preview(
    data: ArraySet,
    cfg: AugmentConfig,
    n: int,
    copies: int,
    seed: int = 0,
    class_names: list[str] | None = None,
) -> Preview:
    """First row: ``n`` training images (:func:`preview_indices` with ``seed``); then ``copies`` rows
    of what training feeds the model: the images through ``augment.*`` (each with probability
    ``augment.p``), then mixed by ``augment.mixup`` / ``augment.cutmix`` with the image to their left
    (the first with the last), by the trainer's own :class:`~vislab.data.mix.BatchMix`. Each row's
    title says what was done to it (the ``augment.*`` ops that changed each image, in order); under
    each image its class (``class_names``, default the label's number), under a mixed one both classes
    with their shares (:func:`mix_label`)."""
    originals = _originals(data, n, seed)
    shape = (originals.shape[3], originals.shape[1], originals.shape[2])
    aug = build_augment(cfg, shape)
    mix = build_mix(cfg, shape, int(data.y.max()) + 1)
    labels = torch.from_numpy(data.y[preview_indices(data.y, n, seed)].astype(np.int64))
    names = [str(class_names[k]) if class_names else str(k) for k in labels.tolist()]
    rows, titles, under = [originals], ["originals"], [names]
    torch.manual_seed(seed)
    x = torch.from_numpy(originals).permute(0, 3, 1, 2).float().div(255)
    for i in range(1, copies + 1):
        got: list[list[str]] = []
        shown = aug(x, got) if aug is not None else x
        shares = None
        # training mixes the normalised batch: the same images, as a per-channel standardisation keeps
        # both mixes (ZCA, which spreads a pixel over the image, keeps mixup's blend, not cutmix's box)
        if mix is not None:
            shown, shares, own = _mixed(mix, shown, labels, (seed, i))
            under.append([mix_label(names, j, lam) for j, lam in enumerate(own)])
        else:
            under.append(names)
        rows.append((shown.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy())
        titles.append(_row_title(aug, i, shares, got))
    return Preview(rows, titles, under if mix is not None else names)


def mix_label(names: list[str], j: int, own: float | None) -> str:
    """The label of image ``j`` of a mixed row (classes ``names``, each mixed with the one to its left):
    'A ·0.72 / B ·0.28', its own class and share, then its left neighbour's (on two lines when long);
    its class alone when not mixed (``own`` None)."""
    if own is None:
        return names[j]
    mine, left = f"{names[j]} ·{own:.2f}", f"{names[j - 1]} ·{1 - own:.2f}"
    return f"{mine} / {left}" if len(mine) + len(left) <= 16 else f"{mine}\n{left}"


def _mixed(
    mix: BatchMix, x: torch.Tensor, y: torch.Tensor, seed: tuple[int, int]
) -> tuple[torch.Tensor, str, list[float | None]]:
    """``x`` mixed as the trainer mixes a batch (``mix``'s draws for ``seed``), each image's own share in
    words: 'mixup 0.72' (its weight), 'cutmix 0.55' (its area left), 'kept' (not mixed), and as a
    number (None: kept)."""
    draws = mix.draws(len(x), seed)
    mixed, _, own = mix.mix(x, y, draws)
    kinds = {MIXUP: "mixup ", CUTMIX: "cutmix "}
    shares = [lam if k in kinds else None for k, lam in zip(draws[:, 0].tolist(), own.tolist())]
    words = [
        f"{kinds[k]}{lam:.2f}" if k in kinds else "kept"
        for k, lam in zip(draws[:, 0].tolist(), own.tolist(), strict=True)
    ]
    return mixed, ", ".join(words), shares


def _row_title(aug: BatchAugment | None, i: int, shares: str | None, got: list[list[str]]) -> str:
    """What row ``i`` shows: augmented (and with which ``augment.p``), with the ops that changed each
    image (``got``, 'none' for an image left as it was), or not and why; mixed, with each image's own
    share (``shares``), when mixup or cutmix is on (under each image: both classes, each with its
    share)."""
    mixing = f"each with the image to its left (own share: {shares})"
    if aug is None:
        return f"mixed #{i}, {mixing}" if shares else "not augmented (no augment.* image op is on)"
    if not aug.varies:  # augment.p=0, or augment.crop.size alone: every image centre-cropped
        size = f" (the centre {aug.size}×{aug.size} crop)" if aug.size else ""
        why = "augment.p=0" if aug.p == 0 else "augment.crop.p=0, no other augment.* image op is on"
        done = f"not augmented: {why}{size}"
    else:
        some = f" (each image with probability augment.p={aug.p:g})" if aug.p < 1 else ""
        each = ", ".join("+".join(names) or "none" for names in got)
        done = f"augmented #{i}{some}, ops per image: {each}"
    return f"{done}, then mixed {mixing}" if shares else done


def normalization_rows(
    data: ArraySet, stats: NormStats, n: int, crop_size: int | None = None, seed: int = 0
) -> tuple[list[np.ndarray], list[str]]:
    """First row: ``n`` training images (:func:`preview_indices`), their centre ``crop_size``×``crop_size``
    crops where given (``augment.crop.size``: the model's input, as evaluation crops it); second: the
    same after the fitted normalisation ``stats`` (data/preprocess.py), the values the model sees, mapped
    to grey levels by :func:`vislab.plotting.images.signed_to_display` (the row title says how)."""
    if stats.mode == "none":
        raise UserError(
            "data.normalize is none: the model sees the images as they are. To preview a normalisation, "
            "set it to standard or zca (--set data.normalize=zca / data__normalize='zca')."
        )
    originals = _originals(data, n, seed)
    x = torch.from_numpy(originals).permute(0, 3, 1, 2)
    cropped = crop_size is not None and crop_size < min(x.shape[-2:])
    if cropped:
        x = centre_crop(x, crop_size)
        originals = np.ascontiguousarray(x.permute(0, 2, 3, 1).numpy())
    z = apply_stats(x.float().div(255), stats).permute(0, 2, 3, 1).numpy()  # as the loader feeds it
    window = f"centre {crop_size}×{crop_size} crops" if cropped else ""
    return [originals, signed_to_display(z)], [
        f"originals, {window} (augment.crop.size: the model's input)" if cropped else "originals",
        f"{_normalization_name(stats, window)}, {SIGNED_DISPLAY}",
    ]


def _normalization_name(stats: NormStats, window: str = "") -> str:
    """What the normalisation is; ``window``: the crops a ZCA matrix was fitted on (not whole images)."""
    if stats.mode == "zca":
        on = f"train's {window}" if window else "train"
        return f"ZCA-whitened (fitted on {on}, ε={stats.epsilon:g})"
    if stats.fixed == "imagenet":
        return "standardised with the ImageNet mean and std"
    return "standardised (per-channel mean and std of train)"


def _originals(data: ArraySet, n: int, seed: int = 0) -> np.ndarray:
    """``n`` training images (:func:`preview_indices`); UserError for feature vectors."""
    if not data.is_image:
        raise UserError(
            (
                "--show normalized / show='normalized' draws images after normalisation; 2-D points "
                "have none: drop --show (its points are previewed as a scatter, coloured by class)."
            )
            if _is_plane(data)
            else "this dataset holds feature vectors, not images: there is nothing to preview."
        )
    return data.x[preview_indices(data.y, n, seed)]
