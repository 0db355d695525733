"""The notes of a split eval draws again, otherwise than the run drew it: one holding no sample of some
classes (:func:`absent_note`), or samples the run trained on (:func:`redrawn_note`)."""

from __future__ import annotations

import numpy as np

from vislab.config import DataConfig
from vislab.data.types import OFFICIAL_SETS, ArraySet, Splits
from vislab.words import and_list


def absent_note(splits: Splits, data: DataConfig, split: str) -> str | None:
    """The note naming the classes of the sets ``split`` is drawn from that it holds no sample of (a
    carve or data.limit_eval's sample missed them), with the limit that keeps one of each where
    data.limit_eval is the cause; None where it holds every class, or where the data tell no sets."""
    scored = dict(splits.items())[split]
    if scored.origin is None or splits.fingerprint is None or not len(scored):
        return None
    counts = splits.fingerprint["counts"]
    sets = [OFFICIAL_SETS[k] for k in np.unique(scored.origin[:, 0]) if OFFICIAL_SETS[k] in counts]
    held = np.sum([counts[s] for s in sets], axis=0) > 0
    missing = np.flatnonzero(held & (np.bincount(scored.y, minlength=len(held)) == 0))
    if not len(missing):
        return None
    n, classes = len(missing), int(held.sum())
    fix = ""
    if data.limit_eval is not None and len(scored) == data.limit_eval < classes:
        fix = (
            f" data.limit_eval={data.limit_eval} samples fewer than its {classes} classes: "
            f"--set data.limit_eval={classes} / data__limit_eval={classes} keeps one of each."
        )
    names = ", ".join(repr(splits.class_names[k]) for k in missing[:10])
    return (
        f"the {split} split scored holds no sample of {n} of the {classes} classes it is drawn from "
        f"({names}{' …' if n > 10 else ''}): its scores (per-class accuracy too) leave "
        f"{'it' if n == 1 else 'them'} out.{fix}"
    )


def redrawn_note(split: str, scored: ArraySet, own: Splits, drawn: list[str]) -> str | None:
    """The note for the ``scored`` samples of ``split`` drawn with the settings ``drawn`` (``key=value``)
    holding samples that a run's ``own`` draw of the same data trained on (train) or picked its best
    checkpoint by (val) — for train, ones it did not train on —, how many, and the fix; None where it
    holds none, or where the samples' origins are unknown (nothing to count them by)."""
    if any(s.origin is None for s in (scored, own.train, own.val)):
        return None
    trained, picked = (int(np.isin(_ids(scored), _ids(s)).sum()) for s in (own.train, own.val))
    picked, n = picked if split == "test" else 0, len(scored)
    if split == "train":
        if trained == n:
            return None
        told = f"{n - trained} are ones it did not train on, so these are not its training scores"
    elif trained + picked == 0:
        return None
    else:
        told = f"{trained} are ones it trained on (train)" + (
            f" and {picked} ones it picked its best checkpoint by (val)" if picked else ""
        )
        told += ", so these are not held-out scores"
    keys = [o.split("=", 1)[0].strip() for o in drawn]
    return (
        f"{and_list(drawn)} draw{'s' if len(drawn) == 1 else ''} the {split} split otherwise than the "
        f"run did: of the {n} samples scored, {told}. To score the run's own {split} split (its "
        f"{len(getattr(own, split))} samples), leave "
        f"{and_list(keys)} out (Python: drop {and_list([k.replace('.', '__') for k in keys])}); to "
        f"score new images, every one of them: --split all --set data.root=OTHER (Python: "
        f'evaluate(split="all", data__root=OTHER)).'
    )


def _ids(data: ArraySet) -> np.ndarray:
    """Each sample's origin (:attr:`ArraySet.origin`) as one number: its official set, its index there."""
    assert data.origin is not None
    return data.origin[:, 0] * (1 << 40) + data.origin[:, 1]
