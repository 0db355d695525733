"""The notes a split may give: a fraction of a split the source's own set is instead, classes too small
to be split, classes the splits leave untrained, what ``data.limit`` and ``data.limit_eval`` did that a
user would not expect, ``data.split`` pooling the official test set into train and val — each with the
numbers and the settings that fix it. They are said where the splits are drawn for training (and
``vislab data info``), not where eval draws a run's splits again: its own note says what its scores
depend on (``data/redrawn_notes.py``)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Sequence, Sized

import numpy as np

from vislab.config import DataConfig
from vislab.config.reads import OWN_SETS_BY_NAME
from vislab.config.sections import given
from vislab.data.types import OFFICIAL_SETS, SourceData, Splits
from vislab.words import and_list, first_few


@dataclasses.dataclass(frozen=True)
class Carve:
    """A held-out split carved from ``held`` samples of ``classes`` classes: its size ``n``, the classes
    it drew none of for being too small (``small``) and the others it drew none of (``missed``)."""

    n: int
    held: int
    classes: int
    small: np.ndarray
    missed: np.ndarray


#: each held-out split carved → how it was carved
Left = dict[str, Carve]


# per held-out split: the setting that carves it instead of the source's own set, as --set and Python spell it
_CARVE_OWN = {
    "test": "--set data.use=[train] / data__use=['train']",
    "val": "--set data.official_val=false / data__official_val=False (the own val set then joins train)",
}


def own_sets_notes(src: SourceData, cfg: DataConfig) -> list[str]:
    """A note per fraction given for a split that the source's own set is instead (an image folder's or
    in-memory arrays' test or val set): the fraction does nothing. Sources whose sets their name tells
    (mnist, cifar10) are noted by the config's own notes (``config.reads``), not here."""
    if cfg.split is not None or cfg.name in OWN_SETS_BY_NAME:
        return []
    own = {"test": "test" in src.sets, "val": "val" in src.sets and cfg.official_val}
    return [
        f"data.{split}_fraction={getattr(cfg, f'{split}_fraction'):g} does nothing on a source with "
        f"its own {split} set (data.name={cfg.name}): that set is the {split} split. Leave "
        f"data.{split}_fraction out, or carve {split} from train with it instead: {_CARVE_OWN[split]}."
        for split in ("test", "val")
        if own[split] and given(cfg, f"{split}_fraction")
    ]


def small_classes_note(left: Left, pool: np.ndarray, splits: Splits) -> str | None:
    """The note naming the classes that a held-out split drew none of (``left``, of a ``pool`` of these
    labels) for being too small, the split(s) they have no samples in and where their samples are;
    None where there are none."""
    missing: dict[int, list[str]] = {}
    for split, carve in left.items():
        for k in carve.small:
            missing.setdefault(int(k), []).append(split)
    if not missing:
        return None
    counts = np.bincount(pool, minlength=len(splits.class_names))
    listed = "; ".join(
        f"{splits.class_names[k]!r} ({counts[k]} sample{'s' if counts[k] != 1 else ''}) has no "
        f"{' or '.join(sorted(names, reverse=True))} samples ({_where(splits, left, k)})"
        for k, names in sorted(missing.items())
    )
    need = int(np.ceil(len(pool) / min(c.n for c in left.values())))
    one = len(missing) == 1
    it = "it" if one else "them"
    return (
        f"{'a class is' if one else f'{len(missing)} classes are'} too small to be split: {listed}. "
        f"The val and test scores (per-class accuracy too) leave {it} out where "
        f"{'it has' if one else 'they have'} none. At these split sizes a class needs about {need} "
        f"samples to have one in each split: add samples of {it}, or remove {it} from the data."
    )


def _where(splits: Splits, left: Left, k: int) -> str:
    """Where the samples of class ``k`` are: '1 in train, 1 in test' (train and the carved splits)."""
    held = [(s, int((getattr(splits, s).y == k).sum())) for s in ("train", "val", "test")]
    held = [(s, n) for s, n in held if n and (s == "train" or s in left)]
    return ", ".join(f"{n} in {s}" for s, n in held)


def missed_note(
    left: Left, class_names: list[str], cfg: DataConfig, pool: np.ndarray | None = None
) -> str | None:
    """The note naming the classes that a carved val or test split drew no sample of though it was
    carved from some (not for being too small: :func:`small_classes_note`), that its per-class scores
    leave them out, and a size that draws one of each class (``pool``: the data's labels, whose class
    sizes it fits); None where every carve holds them all."""
    parts, fixes = [], []
    for split, carve in left.items():
        if not len(carve.missed):
            continue
        n = len(carve.missed)
        names = first_few([repr(class_names[k]) for k in carve.missed], 5)
        parts.append(
            f"the carved {split} split ({carve.n} of {carve.held} samples) has no sample of {n} of "
            f"the {carve.classes} classes it was carved from ({names}): its scores (per-class "
            f"accuracy too) leave {'it' if n == 1 else 'them'} out"
        )
        if cfg.split is None:
            fixes.append(_carve_fix(split, carve, cfg))
    if not parts:
        return None
    if cfg.split is not None:  # one data.split for every split, not one per split
        classes = max(c.classes for c in left.values())
        counts = (
            np.bincount(pool) if pool is not None else None
        )  # the data's labels: its class sizes
        fixes = [
            f"To draw one of each class in every split: {_split_fix(cfg.split, classes, counts)}."
        ]
    return "; ".join(parts) + ". " + " ".join(fixes)


def _split_fix(split: Sequence[int], classes: int, counts: np.ndarray | None = None) -> str:
    """``data.split`` sizes (each at least the one ``split`` gives) that leave room for one sample of each
    of the ``classes`` in every split, about 10 in train: '--set data.split=[100,10,10] / data__split=…';
    with the data's class ``counts``, sizes whose stratified share of the rarest class is one or more,
    or, where the data is too small for that, what to do instead."""
    n_train, n_val, n_test = split
    least = classes
    if counts is not None and (held := counts[counts > 0]).size:
        least = max(classes, math.ceil(held.sum() / held.min()))  # the rarest class's share ≥ 1
    sizes = [max(n_train, 10 * classes, least), max(n_val, least), max(n_test, least)]
    if counts is not None and sum(sizes) > counts.sum():
        return (
            f"the data's {int(counts.sum())} samples are too few for that at these proportions: add "
            f"samples of the rarest classes, or leave data.split unset to split by fractions"
        )
    return f"--set data.split=[{','.join(map(str, sizes))}] / data__split={sizes}"


def _carve_fix(split: str, carve: Carve, cfg: DataConfig) -> str:
    """The fraction that carves ``split`` with at least one sample of each class (stratified)."""
    fraction = np.ceil(100 * carve.classes / carve.held) / 100
    while round(carve.held * fraction) < carve.classes:
        fraction += 0.01
    if carve.held - round(carve.held * fraction) < carve.classes:
        return f"To draw one of each class in {split}, add images (it needs {carve.classes})."
    f = f"{fraction:.2f}".rstrip("0")
    return (
        f"To draw one of each class in {split}, carve at least {carve.classes}: "
        f"--set data.{split}_fraction={f} / data__{split}_fraction={f}."
    )


def untrained_note(
    splits: Splits, cfg: DataConfig, pool: np.ndarray, carved: Collection[str] = ()
) -> str | None:
    """The note naming the classes (a few, then how many more) that the split sizes leave with no training
    images though val or test (``data.split``'s: the data, ``pool``) hold some, and the fix: sizes with
    room for every class, the ``carved`` splits' fractions, or adding images; None where train has all."""
    trained = np.bincount(splits.train.y, minlength=splits.num_classes) > 0
    scored = np.bincount(np.concatenate([splits.val.y, splits.test.y]), minlength=len(trained))
    scored = scored[: len(trained)] > 0
    held = np.bincount(pool, minlength=len(trained))[: len(trained)] > 0 if cfg.split else scored
    missing = np.flatnonzero(~trained & held)
    if not len(missing):
        return None
    names = first_few([repr(splits.class_names[k]) for k in missing], 5)
    nowhere = [repr(splits.class_names[k]) for k in missing if not scored[k]]
    where = f" and no split holds {first_few(nowhere, 5)} at all" if nowhere else ""
    where = where or ", which val and test still score"
    if cfg.split is None:
        fix = f": {_fraction_fix(splits, cfg, missing, carved)}"
    else:
        fix = (
            f". data.split={list(cfg.split)} draws too few samples for the {int(held.sum())} "
            f"classes: give each split room for one of each class, about 10 per class in train: "
            f"{_split_fix(cfg.split, int(held.sum()), np.bincount(pool))}"
        )
    return (
        f"the splits leave {len(missing)} class{'es' if len(missing) != 1 else ''} with no training "
        f"images: {names} (train holds {len(splits.train)}). The model never trains on "
        f"{_them(missing)}{where}{fix}."
    )


def _fraction_fix(
    splits: Splits, cfg: DataConfig, missing: np.ndarray, carved: Collection[str]
) -> str:
    """The fix for the ``missing`` classes: lower the fractions of the carved splits holding their
    images that are above 0.1 (to 0.1), or add images where none is."""
    frac = {"val": cfg.val_fraction, "test": cfg.test_fraction}
    culprits = [
        s for s in ("test", "val") if s in carved and np.isin(getattr(splits, s).y, missing).any()
    ]
    if not culprits:
        return "add training images of them"
    big = [s for s in culprits if frac[s] > 0.1] or culprits
    named = and_list([f"data.{s}_fraction (now {frac[s]:g})" for s in big])
    carve = "carves" if len(big) == 1 else "carve"
    sets = [f"data.{s}_fraction=0.1" for s in big if frac[s] > 0.1]
    if not sets:
        return (
            f"{named} {carve} their images out of train, taking at least one image each: add "
            f"training images of them"
        )
    return (
        f"lower {named}, which {carve} their images out of train, e.g. "
        f"{' '.join(f'--set {s}' for s in sets)} / {', '.join(s.replace('data.', 'data__') for s in sets)}"
    )


def empty_classes_note(
    drawn: Splits, kept: Splits, cfg: DataConfig, pool: np.ndarray
) -> str | None:
    """The note naming the classes that no split holds a sample of, for each of which the model has an
    output that nothing trains or scores: those ``data.limit`` drew none of (held in the ``drawn`` splits,
    not in the ``kept`` ones), and those the data (``pool``: the labels the splits are drawn from) has
    none of. None where every class is held somewhere."""
    held = [
        np.bincount(np.concatenate([s.y for _, s in d.items()]), minlength=d.num_classes)
        for d in (drawn, kept)
    ]
    names = kept.class_names
    dropped = [repr(names[k]) for k in np.flatnonzero((held[1] == 0) & (held[0] > 0))]
    pooled = np.bincount(pool, minlength=len(held[0]))[: len(held[0])]
    never = [repr(names[k]) for k in np.flatnonzero((held[0] == 0) & (pooled == 0))]
    said = [_dropped(dropped, len(drawn.train), cfg.limit, kept.num_classes) if dropped else ""]
    said.append(_never_held(never, kept) if never else "")
    return " ".join(s for s in said if s) or None


def _dropped(dropped: list[str], held: int, limit: int | None, classes: int) -> str:
    """The note for the ``dropped`` classes (of ``classes``), of which ``data.limit`` drew no training
    image of the ``held`` ones, and which val and test hold none of."""
    more = max(10 * classes, 2 * (limit or 0))
    fix = (
        f"Raise the limit, e.g. --set data.limit={more} / data__limit={more}"
        if more < held
        else f"Leave data.limit unset (null) to keep all {held} training images"
    )
    return (
        f"data.limit={limit} draws the training images at random, not per class, and drew none of "
        f"{first_few(dropped, 5)}, of which val and test hold none either: no split holds "
        f"{_them(dropped)}, so the model neither trains on nor scores {_them(dropped)}. {fix}, or add "
        f"images of {_them(dropped)}."
    )


def _never_held(never: list[str], kept: Splits) -> str:
    """The note for the ``never`` classes, named but held by no sample of the data (``kept``)."""
    arrays = kept.name.startswith("memory:")  # the names given from Python
    listed = "class_names" if arrays else "the class names"
    name, hold = ("names", "y holds") if arrays else ("name", "the labels hold")
    return (
        f"{listed} {name} {kept.num_classes} classes but {hold} {kept.num_classes - len(never)} of them: "
        f"no split holds {first_few(never, 5)}, for which the model has an output that nothing trains "
        f"or scores. Leave {_them(never)} out of {listed}, or give samples of {_them(never)}."
    )


def _them(names: Sized) -> str:
    return "it" if len(names) == 1 else "them"


def pooled_note(splits: Splits, src: SourceData, cfg: DataConfig) -> str | None:
    """The note for ``data.split`` drawing train or val samples from the source's official test set,
    which it pools with the others: how many train and val hold, how many of test are official test
    samples, and the settings that keep the official test set (:func:`_official_fix`); None else."""
    if cfg.split is None or not {"train", "test"} <= set(src.sets):
        return None
    code = OFFICIAL_SETS.index("test")
    held = {
        k: int((s.origin[:, 0] == code).sum()) for k, s in splits.items() if s.origin is not None
    }
    if held.get("train", 0) + held.get("val", 0) == 0:
        return None
    what = "images" if splits.train.is_image else "samples"
    pooled = and_list([k for k in OFFICIAL_SETS if k in src.sets])
    n_pool, n_test = sum(len(s) for s in src.sets.values()), len(splits.test)
    return (
        f"data.split={list(cfg.split)} draws train, val and test at random (stratified) from {src.name}'s official "
        f"{pooled} sets pooled ({n_pool:,} {what}): train holds {held['train']:,} and val "
        f"{held.get('val', 0):,} of the {len(src.sets['test']):,} official test {what}, and "
        f"{held.get('test', 0):,} of the {n_test:,} test {what} "
        f"({held.get('test', 0) / n_test:.1%}) are official test {what}, so its test scores are not "
        f"scores on the official test set. {_official_fix(splits, src, cfg, what)}"
    )


def _official_fix(splits: Splits, src: SourceData, cfg: DataConfig, what: str) -> str:
    """The settings that give train, val and test of ``splits``' sizes from the official sets, test
    being the official test set (sampled by ``data.limit_eval`` where smaller), and the sizes they
    give: val carved from train by ``data.val_fraction`` (or the official val set), train capped by
    ``data.limit`` (or by ``data.limit_per_class`` where given)."""
    n_train, n_val, n_test = (len(s) for _, s in splits.items())
    own_val = cfg.official_val and "val" in src.sets
    train = len(src.sets["train"]) + (
        len(src.sets["val"]) if "val" in src.sets and not own_val else 0
    )
    sets, val = ["data.split=null"], len(src.sets["val"]) if own_val else 0
    if not own_val:
        fraction = _fraction(n_val, train) if n_val < train else cfg.val_fraction
        val = max(1, round(train * fraction))
        train -= val
        sets.append(f"data.val_fraction={fraction}")
    if n_train < train:  # data.limit_per_class, where given, keeps its own n per class
        train = n_train
        sets += [] if cfg.limit_per_class is not None else [f"data.limit={n_train}"]
    limit_eval, test = cfg.limit_eval, len(src.sets["test"])
    if n_test < test and n_test != limit_eval:
        limit_eval = n_test
        sets.append(f"data.limit_eval={n_test}")
    if limit_eval is not None:
        val, test = min(val, limit_eval), min(test, limit_eval)
    python = ", ".join(s.replace("data.", "data__").replace("=null", "=None") for s in sets)
    where = (
        f"train {train:,} {what} of the official train set, val {val:,} of its val set"
        if own_val
        else f"train {train:,} and val {val:,} {what} of the official "
        f"{'train and val sets' if 'val' in src.sets else 'train set'}"
    )
    return (
        f"To keep the official test set as test: {' '.join(f'--set {s}' for s in sets)} / {python} "
        f"({where}, test {test:,} of the official test set's {len(src.sets['test']):,})."
    )


def _fraction(n: int, total: int) -> float:
    """The shortest decimal ``f`` for which ``round(total * f)`` is ``n`` (``data.val_fraction`` carving
    ``n`` of ``total``)."""
    for digits in range(2, 12):
        if round(total * (f := round(n / total, digits))) == n and 0 < f < 1:
            return f
    return n / total
