"""Deterministic train / val / test splits from a source's official sets (seeded, stratified).

The carving draws exactly what scikit-learn's ``train_test_split(..., random_state=seed, stratify=y)``
draws (1.x; the same ``RandomState`` calls in the same order), so runs and checkpoints made when vislab
called it keep their splits; in numpy alone, every run is spared scikit-learn's import (1.3 s on 2 idle
cores). tests/test_startup.py compares the two. One departure: a class of a single sample, which
scikit-learn answers by not stratifying at all, stays in train and the other classes are stratified
(:func:`split_off`; a note names the classes too small to reach val or test)."""

from __future__ import annotations

import dataclasses

import numpy as np

from vislab.config import DataConfig
from vislab.data.fingerprint import data_fingerprint
from vislab.data.limit_notes import limit_eval_above, limit_eval_note
from vislab.data.split_notes import (
    Carve,
    Left,
    empty_classes_note,
    missed_note,
    own_sets_notes,
    pooled_note,
    small_classes_note,
    untrained_note,
)
from vislab.data.types import OFFICIAL_SETS, ArraySet, SourceData, Splits
from vislab.errors import ConfigError, DataError, UserError, show_note
from vislab.words import counted, first_few


def _concat(sets: list[ArraySet]) -> ArraySet:
    """The sets one after another; their file names and origins too when every set has them."""
    joined = [
        np.concatenate(parts) if all(p is not None for p in parts) else None  # type: ignore[arg-type]
        for parts in ([s.names for s in sets], [s.origin for s in sets])
    ]
    return ArraySet(
        np.concatenate([s.x for s in sets]), np.concatenate([s.y for s in sets]), *joined
    )


def carve(data: ArraySet, n: int, seed: int) -> tuple[ArraySet, ArraySet]:
    """Split off ``n`` samples, stratified by label where :func:`_stratifies`, else shuffled: (rest,
    carved) — scikit-learn's draw (:func:`split_off` keeps classes of one sample out of it)."""
    if not 0 < n < len(data):
        raise UserError(
            f"cannot carve {n} samples out of a set of {len(data)}: choose smaller split sizes."
        )
    rest, carved = _draw(data.y, n, seed)
    return data.take(np.sort(rest)), data.take(np.sort(carved))


def split_off(data: ArraySet, n: int, seed: int) -> tuple[ArraySet, ArraySet]:
    """:func:`carve`, but a class of a single sample, which cannot be on both sides, stays in the rest
    and the other classes are carved (stratified): one such class does not turn stratifying off."""
    single = np.bincount(data.y)[data.y] == 1
    kept = np.flatnonzero(~single)
    if not single.any() or not 0 < n < len(kept):  # none to keep apart, or too few others
        return carve(data, n, seed)
    rest, carved = _draw(data.y[kept], n, seed)
    rest = np.concatenate([kept[rest], np.flatnonzero(single)])
    return data.take(np.sort(rest)), data.take(np.sort(kept[carved]))


def _draw(y: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rest, carved) indices of ``y``: stratified where :func:`_stratifies`, else shuffled."""
    stratify = _stratifies(np.bincount(y), n)
    return (stratified_split if stratify else shuffled_split)(y, n, seed)


def _stratifies(counts: np.ndarray, n: int) -> bool:
    """Whether a carve of ``n`` from classes of these sample ``counts`` is stratified: every class has ≥ 2
    samples and both sides can hold one of each (stratifying needs every class on both sides)."""
    present = counts[counts > 0]
    return len(present) > 0 and present.min() >= 2 and min(n, present.sum() - n) >= len(present)


def shuffled_split(y: np.ndarray, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rest, test) indices, unordered: scikit-learn's ``ShuffleSplit`` draw."""
    permutation = np.random.RandomState(seed).permutation(len(y))
    return permutation[n_test:], permutation[:n_test]


def _approximate_mode(counts: np.ndarray, n_draws: int, rng: np.random.RandomState) -> np.ndarray:
    """Samples per class of ``n_draws`` drawn in proportion to ``counts``: the floor of each share, then
    one more for the largest remainders, ties broken at random (scikit-learn's ``_approximate_mode``)."""
    continuous = counts / counts.sum() * n_draws
    floored = np.floor(continuous)
    need = int(n_draws - floored.sum())
    remainder = continuous - floored
    for value in np.sort(np.unique(remainder))[::-1]:
        if need <= 0:
            break
        (tied,) = np.where(remainder == value)
        add = min(len(tied), need)
        floored[rng.choice(tied, size=add, replace=False)] += 1
        need -= add
    return floored.astype(int)


def stratified_split(y: np.ndarray, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rest, test) indices, unordered, each class in proportion: scikit-learn's ``StratifiedShuffleSplit``
    draw (every class needs ≥ 2 samples and both sides ≥ one per class; ``carve`` checks)."""
    classes, y_indices, counts = np.unique(y, return_inverse=True, return_counts=True)
    by_class = np.split(np.argsort(y_indices, kind="stable"), np.cumsum(counts)[:-1])
    rng = np.random.RandomState(seed)
    n_rest = _approximate_mode(counts, len(y) - n_test, rng)
    n_out = _approximate_mode(counts - n_rest, n_test, rng)
    rest, test = [], []
    for i in range(len(classes)):
        members = by_class[i][rng.permutation(counts[i])]
        rest.append(members[: n_rest[i]])
        test.append(members[n_rest[i] : n_rest[i] + n_out[i]])
    return np.concatenate(rest), np.concatenate(test)


def make_splits(
    src: SourceData, cfg: DataConfig, seed: int, notes: bool = True, whole: bool = False
) -> Splits:
    """train/val/test, drawn with ``seed`` (the run's train.seed) unless ``data.split_seed`` is set: explicit
    ``data.split`` sizes from the pooled sets, else the official sets,
    carving from train the test set, if the source has none, with ``data.test_fraction``, then val with
    ``data.val_fraction`` — val too when ``data.official_val`` is false (the official val set then joins
    train). :class:`~vislab.errors.Note` notes name the classes a carved split has no sample of (too small
    or missed by the draw), those left without training images, those ``data.limit_eval``'s sample
    leaves out and those no split holds at all (:func:`empty_classes_note`), with the settings to blame
    — shown unless ``notes`` is false (eval drawing a run's splits again: training said them). ``whole``
    (eval's ``--split all``, which scores every sample, or a run's official test set alone): data too
    small to carve test or val from is not refused, the split it cannot carve left empty, and sets loaded
    without a train set (``data.use=[test]``) are the splits they are, train empty, not refused for
    lacking data.split's sizes."""
    if not src.sets:
        raise DataError(f"dataset '{src.name}' returned no data (data.use={cfg.use}).")
    seed = seed if cfg.split_seed is None else cfg.split_seed
    src = _traced(src)
    left: Left = {}
    if cfg.split is not None:
        pool, (train, val, test) = _sized(src, cfg, seed, left)
    else:
        pool, (train, val, test) = _official(src, cfg, seed, left, whole)
    carved_splits = Splits(train, val, test, list(src.class_names))
    said = [
        *own_sets_notes(src, cfg),
        small_classes_note(left, pool, carved_splits),
        missed_note(left, list(src.class_names), cfg, pool),
        untrained_note(carved_splits, cfg, pool, set(left)),
    ]
    train, val, test, limited = _limited(train, val, test, cfg, seed, list(src.class_names))
    splits = Splits(train, val, test, list(src.class_names), src.name, data_fingerprint(src))
    said += [
        limited,
        pooled_note(splits, src, cfg),
        empty_classes_note(carved_splits, splits, cfg, pool),
    ]
    for note in said if notes else []:
        if note:
            show_note(note)
    return splits


def _limited(
    train: ArraySet, val: ArraySet, test: ArraySet, cfg: DataConfig, seed: int, names: list[str]
) -> tuple[ArraySet, ArraySet, ArraySet, str | None]:
    """train, val and test cut to ``data.limit`` / ``data.limit_per_class`` (train) and
    ``data.limit_eval`` (val and test), and the note naming the classes a sample smaller than them
    leaves out (None if none)."""
    # data.limit is not stratified, and stays so: published runs depend on its draw (limit_note says
    # which classes it leaves without training samples, and when the train split holds fewer images)
    if cfg.limit is not None and cfg.limit < len(train):
        train = train.take(
            np.sort(np.random.default_rng(seed).permutation(len(train))[: cfg.limit])
        )
    if cfg.limit_per_class is not None:
        train = per_class(train, cfg.limit_per_class, seed, [val, test], names)
    if cfg.limit_eval is not None:
        held = {"val": len(val), "test": len(test)}
        left_out: dict[str, tuple[int, np.ndarray]] = {}
        val = _sampled(val, cfg.limit_eval, seed + 1, "val", left_out)
        test = _sampled(test, cfg.limit_eval, seed + 2, "test", left_out)
        note = limit_eval_note(cfg.limit_eval, left_out, names) or limit_eval_above(
            cfg.limit_eval, held
        )
        return train, val, test, note
    return train, val, test, None


def _traced(src: SourceData) -> SourceData:
    """``src`` with each sample of its official sets given its origin (:meth:`ArraySet.as_official`)."""
    sets = {
        k: s.as_official(k) if s.origin is None and k in OFFICIAL_SETS else s
        for k, s in src.sets.items()
    }
    return dataclasses.replace(src, sets=sets)


def _sized(
    src: SourceData, cfg: DataConfig, seed: int, left: Left
) -> tuple[np.ndarray, tuple[ArraySet, ArraySet, ArraySet]]:
    """The labels of the pooled sets and train, val and test of ``data.split``'s sizes carved from them;
    ``left``: the classes each held-out split drew none of (:func:`_held_out`)."""
    pool = _concat([src.sets[k] for k in ("train", "val", "test") if k in src.sets])
    n_train, n_val, n_test = cfg.split  # type: ignore[misc]
    if n_train + n_val + n_test > len(pool):
        raise UserError(
            f"data.split={cfg.split} asks for {n_train + n_val + n_test} samples but '{src.name}' "
            f"(sets {sorted(src.sets)}) has {len(pool)}. Use smaller sizes."
        )
    rest, test = _held_out(pool, n_test, seed, "test", left)
    rest, val = _held_out(rest, n_val, seed + 1, "val", left)
    train = rest if len(rest) == n_train else split_off(rest, len(rest) - n_train, seed + 2)[0]
    return pool.y, (train, val, test)


def _official(
    src: SourceData, cfg: DataConfig, seed: int, left: Left, whole: bool = False
) -> tuple[np.ndarray, tuple[ArraySet, ArraySet, ArraySet]]:
    """The labels of the train set (with the official val set where it joins train) and the official
    sets, test and val carved from train where the source has none (or ``data.official_val`` is false);
    ``left``: as :func:`_sized`'s; ``whole``: as :func:`make_splits`'s (with no train set loaded, an
    empty train split)."""
    if "train" not in src.sets and not whole:
        raise UserError(
            f"dataset '{src.name}' has no train set loaded (data.use={cfg.use}); "
            f"give data.split=[train,val,test] sizes to carve all three from what is loaded."
        )
    train = (
        src.sets["train"]
        if "train" in src.sets
        else next(iter(src.sets.values())).take(np.arange(0))
    )
    if not cfg.official_val and "val" in src.sets:  # the official val set becomes training data
        train = _concat([train, src.sets["val"]])
    pool, test = train.y, src.sets.get("test")
    if test is None:
        train, test = _carved(train, cfg.test_fraction, seed, "test", src, cfg, left, whole)
    val = src.sets.get("val") if cfg.official_val else None
    if val is None:
        train, val = _carved(train, cfg.val_fraction, seed + 1, "val", src, cfg, left, whole)
    return pool, (train, val, test)


def _carved(
    train: ArraySet,
    fraction: float,
    seed: int,
    split: str,
    src: SourceData,
    cfg: DataConfig,
    left: Left,
    whole: bool,
) -> tuple[ArraySet, ArraySet]:
    """``train`` less ``split`` (at least one sample, stratified: :func:`_held_out`), and ``split``;
    too few samples to keep one in train: refused (:func:`_check_fraction`), or, ``whole``, none carved."""
    n = max(1, round(len(train) * fraction))
    if whole and n >= len(train):
        return train, train.take(np.arange(0))
    _check_fraction(n, len(train), split, src, cfg)
    return _held_out(train, n, seed, split, left)


def _check_fraction(n: int, held: int, split: str, src: SourceData, cfg: DataConfig) -> None:
    """ConfigError where carving ``n`` of the ``held`` training samples into ``split`` leaves none to
    train on: it names the fraction(s) to blame, the counts by class, and values that fit."""
    if n < held:
        return
    counts = _class_counts(src, cfg)
    whole = sum(counts.values())
    carved_test = "test" not in src.sets
    of = (
        f"its {counted(whole, 'training sample')} "
        f"({first_few([f'{c!r}: {k}' for c, k in counts.items()], 5)})"
    )
    if split == "val" and carved_test:
        took = (
            f"data.test_fraction={cfg.test_fraction:g} carves {whole - held} of {of} into test, "
            f"leaving {held}, and data.val_fraction={cfg.val_fraction:g} asks for {n} of them"
        )
    else:
        fraction = cfg.val_fraction if split == "val" else cfg.test_fraction
        took = f"data.{split}_fraction={fraction:g} asks for {n} of {of}"
    names = ("test", "val") if carved_test else (split,)
    if whole <= len(names):  # each carved split takes one sample at least, whatever its fraction
        raise ConfigError(
            f"{_named(src)} cannot be split: {of} {'is' if whole == 1 else 'are'} too few to carve "
            f"{' and '.join(names)} from and keep one to train on, whatever data.{names[0]}_fraction. "
            f"Give it {len(names) + 1} samples at least (to score a few images with a trained run: "
            f"vislab eval RUN --split all --set data.root=DIR, which splits nothing; to classify them: "
            f"vislab predict RUN FILES)."
        )
    sets = [f"data.{s}_fraction=0.1" for s in names]
    raise ConfigError(
        f"{_named(src)} cannot be split: {took} for {split}, so nothing is left to train on. Lower "
        f"{' and '.join(f'data.{s}_fraction' for s in names)} so that train keeps images, e.g. "
        f"{' '.join(f'--set {s}' for s in sets)} / {', '.join(s.replace('data.', 'data__') for s in sets)}."
    )


def _named(src: SourceData) -> str:
    """The source as a message names it: 'folder' ('/data/photos') where it read one folder or file."""
    return f"'{src.name}'" + (f" ('{src.files[0]}')" if len(src.files) == 1 else "")


def _class_counts(src: SourceData, cfg: DataConfig) -> dict[str, int]:
    """Each class of the training samples (the official val set's too, where it joins train) and its
    count."""
    joins = ("val",) if not cfg.official_val else ()
    y = np.concatenate([src.sets[k].y for k in ("train", *joins) if k in src.sets])
    counts = np.bincount(y, minlength=len(src.class_names))
    return {name: int(k) for name, k in zip(src.class_names, counts) if k}


def _held_out(
    data: ArraySet, n: int, seed: int, split: str, left: Left
) -> tuple[ArraySet, ArraySet]:
    """:func:`split_off`, noting in ``left[split]`` how it carved: ``n``, the classes it drew none of for
    being too small, and the others it drew none of."""
    rest, carved = split_off(data, n, seed)
    small = _too_small(data.y, carved.y, n)
    counts = np.bincount(data.y)
    none = np.flatnonzero((counts > 0) & (np.bincount(carved.y, minlength=len(counts)) == 0))
    classes = int((counts > 0).sum())
    left[split] = Carve(n, len(data), classes, small, np.setdiff1d(none, small))
    return rest, carved


def _too_small(y: np.ndarray, carved: np.ndarray, n: int) -> np.ndarray:
    """The classes of ``y`` that a carve of ``n`` drew none of (``carved``: its labels) for their size: a
    class of one sample, or, where the draw was stratified, one whose share rounded to nothing — not
    those a shuffled draw missed."""
    counts = np.bincount(y)
    missing = (counts > 0) & (np.bincount(carved, minlength=len(counts)) == 0)
    if not _stratifies(np.where(counts >= 2, counts, 0), n):
        missing &= counts == 1
    return np.flatnonzero(missing)


def _sampled(
    data: ArraySet, n: int, seed: int, split: str, left_out: dict[str, tuple[int, np.ndarray]]
) -> ArraySet:
    """``n`` samples of ``data`` (all when ``n`` is not smaller): data.limit_eval's val and test, drawn as
    ``carve`` draws them (stratified where it can) — or, where that draw misses a class, one of each
    class (of ``n`` classes drawn at random where ``n`` is fewer) and the rest at random.
    ``left_out[split]``: the number of classes of ``data`` and those the sample has none of."""
    if n >= len(data):
        return data
    sample = carve(data, n, seed)[1]
    present = np.unique(data.y)
    if not np.isin(present, sample.y).all():
        sample = _one_of_each(data, n, seed)
    left_out[split] = (len(present), np.setdiff1d(present, sample.y))
    return sample


def _one_of_each(data: ArraySet, n: int, seed: int) -> ArraySet:
    """``n`` samples of ``data`` (in its order) holding one of each class — of the first ``n`` classes
    met where ``n`` is fewer —, all drawn at random with ``seed``: each class's first in a permutation,
    then the permutation's others."""
    order = np.random.RandomState(seed).permutation(len(data))
    first = order[np.sort(np.unique(data.y[order], return_index=True)[1])[:n]]
    others = order[~np.isin(order, first)]
    return data.take(np.sort(np.concatenate([first, others[: n - len(first)]])))


def per_class(
    train: ArraySet, n: int, seed: int, others: list[ArraySet], class_names: list[str]
) -> ArraySet:
    """``n`` samples of each class of ``train``, drawn with ``seed``, in the split's order:
    ``data.limit_per_class``. ConfigError naming each class (of train, or of ``others``: val and test)
    that has fewer training samples, rather than a subset that is not balanced."""
    counts = np.bincount(train.y, minlength=len(class_names))
    present = np.bincount(np.concatenate([train.y, *(o.y for o in others)]), minlength=len(counts))
    short = np.flatnonzero((counts < n) & (present[: len(counts)] > 0))
    if len(short):
        fewest = int(counts[short].min())
        which = first_few([f"{class_names[k]!r} ({counts[k]})" for k in short], 10)
        fix = (
            f"lower it to at most {fewest}: --set data.limit_per_class={fewest} / "
            f"data__limit_per_class={fewest}, or "
            if fewest > 0
            else ""
        )
        raise ConfigError(
            f"data.limit_per_class={n} keeps {n} training images of each class, but the train split holds "
            f"fewer of {which}: {fix}use data.limit for a total that is not balanced."
        )
    rng = np.random.default_rng(seed)
    kept = [rng.permutation(np.flatnonzero(train.y == k))[:n] for k in np.flatnonzero(counts)]
    return train.take(np.sort(np.concatenate(kept)))
