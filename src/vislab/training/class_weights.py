"""``train.class_weights``: the training loss's weight of each class (torch's ``cross_entropy(weight=)``),
from the train split the run trains on: ``balanced`` (sklearn's ``compute_class_weight`` rule) or one
weight per class as given. Val and test losses stay plain cross-entropy."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vislab.errors import ConfigError
from vislab.words import first_few


def class_weights(
    setting: str | Sequence[float] | None,
    train_y: np.ndarray,
    class_names: Sequence[str],
    used: bool = True,
) -> list[float] | None:
    """The weights ``setting`` gives the classes ``class_names`` of a train split labelled ``train_y``:
    None for none, or where no loss of vislab's uses them (``used`` False: a fitted model, a model's own
    step); ``balanced``: n_train / (n_classes × the class's count); a list as it is. ConfigError for a
    list of another length than the classes, or ``balanced`` with a class the split has no images of
    (its weight would be infinite)."""
    if setting is None or not used:
        return None
    k = len(class_names)
    if setting != "balanced":
        if len(setting) != k:
            raise ConfigError(_other_length(list(setting), class_names))
        return [float(w) for w in setting]
    counts = np.bincount(np.asarray(train_y), minlength=k)[:k]
    empty = np.flatnonzero(counts == 0)
    if len(empty):
        which = first_few([repr(class_names[c]) for c in empty], 10)
        raise ConfigError(
            f"train.class_weights=balanced weighs each class by n_train / (n_classes × its train images), "
            f"but the train split holds no images of {which}: give one weight per class instead "
            f"(--set 'train.class_weights=[...]' / train__class_weights=[...], {k} of them in class "
            f"order), or add images of {'it' if len(empty) == 1 else 'them'} to the train split."
        )
    return [float(w) for w in len(train_y) / (k * counts)]


def _other_length(weights: list[float], class_names: Sequence[str]) -> str:
    """Why a list of ``weights`` does not fit the data's classes, and what would."""
    k, n = len(class_names), len(weights)
    ones = ", ".join(["1"] * k) if k <= 10 else "..."
    return (
        f"train.class_weights gives {n} weight{'s' if n != 1 else ''} but the data has {k} classes "
        f"({first_few([repr(c) for c in class_names], 10)}): give one per class, in that order "
        f"(--set 'train.class_weights=[{ones}]' / train__class_weights=[{ones}]), or "
        f"train.class_weights=balanced to weigh them by their train images."
    )
