"""Deterministic train / val / test splits from a source's official sets (seeded, stratified)."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from vislab.config import DataConfig
from vislab.data.types import ArraySet, SourceData, Splits
from vislab.errors import DataError, UserError


def _concat(sets: list[ArraySet]) -> ArraySet:
    return ArraySet(np.concatenate([s.x for s in sets]), np.concatenate([s.y for s in sets]))


def carve(data: ArraySet, n: int, seed: int) -> tuple[ArraySet, ArraySet]:
    """Split off ``n`` samples, stratified by label when every class has ≥ 2 samples: (rest, carved)."""
    if not 0 < n < len(data):
        raise UserError(
            f"cannot carve {n} samples out of a set of {len(data)}: choose smaller split sizes."
        )
    idx = np.arange(len(data))
    counts = np.bincount(data.y)
    classes = np.count_nonzero(counts)  # stratifying needs every class on both sides
    stratify = (
        data.y if counts[counts > 0].min() >= 2 and min(n, len(data) - n) >= classes else None
    )
    rest, carved = train_test_split(idx, test_size=n, random_state=seed, stratify=stratify)
    return data.take(np.sort(rest)), data.take(np.sort(carved))


def make_splits(src: SourceData, cfg: DataConfig, seed: int) -> Splits:
    """train/val/test: explicit ``data.split`` sizes from the pooled sets, else the official sets,
    carving val (and test, if the source has none) from train with ``data.val_fraction`` — val too when
    ``data.official_val`` is false (the official val set then joins train)."""
    if not src.sets:
        raise DataError(f"dataset '{src.name}' returned no data (data.use={cfg.use}).")
    if cfg.split is not None:
        pool = _concat([src.sets[k] for k in ("train", "val", "test") if k in src.sets])
        n_train, n_val, n_test = cfg.split
        if n_train + n_val + n_test > len(pool):
            raise UserError(
                f"data.split={cfg.split} asks for {n_train + n_val + n_test} samples but '{src.name}' "
                f"(sets {sorted(src.sets)}) has {len(pool)}. Use smaller sizes."
            )
        rest, test = carve(pool, n_test, seed)
        rest, val = carve(rest, n_val, seed + 1)
        train = rest if len(rest) == n_train else carve(rest, len(rest) - n_train, seed + 2)[0]
    else:
        if "train" not in src.sets:
            raise UserError(
                f"dataset '{src.name}' has no train set loaded (data.use={cfg.use}); "
                f"give data.split=[train,val,test] sizes to carve all three from what is loaded."
            )
        train = src.sets["train"]
        if not cfg.official_val and "val" in src.sets:  # the official val set becomes training data
            train = _concat([train, src.sets["val"]])
        test = src.sets.get("test")
        if test is None:
            train, test = carve(train, max(1, round(len(train) * cfg.val_fraction)), seed)
        val = src.sets.get("val") if cfg.official_val else None
        if val is None:
            train, val = carve(train, max(1, round(len(train) * cfg.val_fraction)), seed + 1)
    if cfg.limit is not None and cfg.limit < len(train):
        train = train.take(
            np.sort(np.random.default_rng(seed).permutation(len(train))[: cfg.limit])
        )
    return Splits(train, val, test, list(src.class_names), name=src.name)
