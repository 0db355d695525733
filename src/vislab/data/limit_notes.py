"""What ``data.limit`` and ``data.limit_eval`` did that a user would not expect, each said in a note with its
fix: a limit above the split's size (all kept), classes a random train limit drew none of, val or test
samples that leave classes out."""

from __future__ import annotations

import numpy as np

from vislab.data.types import Splits
from vislab.words import and_list, first_few


def limit_note(splits: Splits, limit: int | None) -> str | None:
    """What ``data.limit`` did that a user would not expect, and the fix, or None: nothing where the train
    split holds fewer images (:func:`_limit_above`), or classes left without training samples (present
    in val or test). The limit draws its samples at random from the whole train split, not per class; it
    stays so (published runs depend on its selection): this note says what it did
    (``data.limit_per_class`` draws per class)."""
    if limit is None:
        return None
    if len(splits.train) < limit:
        return _limit_above(limit, len(splits.train))
    if len(splits.train) != limit:  # the train split was no larger
        return None
    trained = np.bincount(splits.train.y, minlength=splits.num_classes) > 0
    elsewhere = np.bincount(np.concatenate([splits.val.y, splits.test.y]), minlength=len(trained))
    missing = [
        splits.class_names[k] for k in np.flatnonzero(~trained & (elsewhere[: len(trained)] > 0))
    ]
    if not missing:
        return None
    bigger = max(10 * splits.num_classes, 2 * limit)
    per_class = " (about 10 per class)" if bigger == 10 * splits.num_classes else ""
    which = "that class" if len(missing) == 1 else "those classes"
    return (
        f"data.limit={limit} draws the training images at random, not per class, and drew none of "
        f"{', '.join(repr(c) for c in missing)}: the model never trains on {which}, which val and test "
        f"still score. Raise the limit, e.g. to {bigger}{per_class}: --set data.limit={bigger} / "
        f"data__limit={bigger}, or keep N of each class with data.limit_per_class."
    )


def _limit_above(limit: int, held: int) -> str:
    """The note for a ``data.limit`` above the ``held`` images of the train split, which are all kept (a
    note, not an error: one limit given to a suite's datasets of several sizes caps the larger ones)."""
    return (
        f"data.limit={limit} asks for more training images than the train split holds ({held:,}): all "
        f"{held:,} are used, not {limit:,}. Give at most {held}: --set data.limit={held} / "
        f"data__limit={held}, or leave data.limit unset (null) for the whole split."
    )


def limit_eval_above(limit: int, held: dict[str, int]) -> str | None:
    """The note for a ``data.limit_eval`` above the samples that each of val and test holds (``held``:
    each split → its size; an empty one not counted), which are all kept; None where it samples one."""
    sizes = {k: n for k, n in held.items() if n}
    if limit <= (most := max(sizes.values(), default=limit)):
        return None
    return (
        f"data.limit_eval={limit} asks for more samples than {' and '.join(sizes)} hold"
        f"{'' if len(sizes) > 1 else 's'} ({', '.join(f'{k} {n:,}' for k, n in sizes.items())}): "
        f"all are scored, not {limit:,}. Give at most {most}: --set data.limit_eval={most} / "
        f"data__limit_eval={most}, or leave data.limit_eval unset (null) for the whole splits."
    )


def limit_eval_note(
    limit: int, left_out: dict[str, tuple[int, np.ndarray]], names: list[str]
) -> str | None:
    """The note for ``data.limit_eval`` sampling val or test with fewer samples than the classes they
    hold (``left_out``: each such split → its number of classes and those its sample has none of): the
    classes its scores leave out and the limit that keeps one of each; None where none is left out."""
    told = {k: v for k, v in left_out.items() if len(v[1])}
    if not told:
        return None
    need = max(classes for classes, _ in told.values())
    parts = and_list(
        [
            f"{split} holds none of {first_few([repr(names[k]) for k in missed], 5)}"
            for split, (_, missed) in told.items()
        ]
    )
    return (
        f"data.limit_eval={limit} samples val and test with fewer samples than the {need} classes "
        f"they hold, so {parts}: {'its' if len(told) == 1 else 'their'} scores (per-class accuracy "
        f"too) leave them out. To keep one of each class: --set data.limit_eval={need} / "
        f"data__limit_eval={need}."
    )
