"""``train.class_weights``: the training loss's weight of each class (torch's ``cross_entropy(weight=)``),
from the train split the run trains on: ``balanced`` (sklearn's ``compute_class_weight`` rule) or one
weight per class as given; and the weighted mean of mixup/cutmix's soft targets that torch's
cross_entropy takes of hard labels (:func:`soft_cross_entropy`). Val and test losses stay plain cross-entropy."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from vislab.data.types import Splits
from vislab.errors import ConfigError
from vislab.words import first_few


def class_weights(
    setting: str | Sequence[float] | None,
    splits: Splits,
    used: bool = True,
    limit: int | None = None,
) -> list[float] | None:
    """The weights ``setting`` gives the classes of ``splits``, from its train split's labels: None for
    none, or where no loss of vislab's uses them (``used`` False: a fitted model, a model's own step);
    ``balanced``: n_train / (n_classes × the class's count); a list as it is. ConfigError for a list of
    another length than the classes, or ``balanced`` with a class the split has no images of (its
    weight would be infinite; ``limit``: data.limit, named as the cause where it cut the split)."""
    if setting is None or not used:
        return None
    train_y, class_names = splits.train.y, splits.class_names
    k = len(class_names)
    if setting != "balanced":
        if len(setting) != k:
            raise ConfigError(_other_length(list(setting), class_names))
        return [float(w) for w in setting]
    counts = np.bincount(np.asarray(train_y), minlength=k)[:k]
    empty = np.flatnonzero(counts == 0)
    if len(empty):
        raise ConfigError(
            _empty_classes(class_names, empty, limit if limit == len(train_y) else None)
        )
    return [float(w) for w in len(train_y) / (k * counts)]


def _empty_classes(class_names: Sequence[str], empty: np.ndarray, limit: int | None) -> str:
    """Why ``balanced`` cannot weigh the classes ``empty`` (no train images), and the fixes: where
    data.limit (``limit``) cut the train split, it drew none of them: data.limit_per_class keeps some of
    each (1 at least; how many the split holds of them is not known here), a larger limit may; else one
    weight per class, or images of them."""
    k, which = len(class_names), first_few([repr(class_names[c]) for c in empty], 10)
    said = (
        f"train.class_weights=balanced weighs each class by n_train / (n_classes × its train images), "
        f"but the train split holds no images of {which}"
    )
    weights = (
        f"give one weight per class (--set 'train.class_weights=[...]' / train__class_weights=[...], "
        f"{k} of them in class order)"
    )
    them = "it" if len(empty) == 1 else "them"
    if limit is None:
        return f"{said}: {weights} instead, or add images of {them} to the train split."
    bigger = max(10 * k, 2 * limit)
    return (
        f"{said}: data.limit={limit} draws the training images at random, not per class, and drew "
        f"none of {them}. Keep some of each class instead: --set data.limit=null --set "
        f"data.limit_per_class=1 / data__limit=None, data__limit_per_class=1, or as many as the "
        f"rarest class holds (a data.limit_per_class above it says how many); raise the limit until "
        f"it draws some (e.g. --set data.limit={bigger} / data__limit={bigger}); or {weights}."
    )


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


def soft_cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    weight: torch.Tensor | None = None,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """The training loss of ``logits`` (N×K) against soft targets (N×K, rows summing to 1: mixup and
    cutmix) weighted by class (``weight``: train.class_weights) and smoothed (train.label_smoothing):
    the weighted mean that torch's cross_entropy takes of hard labels. (Torch's of soft targets is the
    mean over N, so that the weights' overall scale would multiply the loss, and so the learning rate;
    without weights the two are the same.) :func:`uses_soft_loss` says when the trainer calls it."""
    # torch's hard-label loss at smoothing ε over K classes, label y_i weighted w_y:
    #   Σ_i [(1 − ε) w_(y_i) (−log p_(i,y_i)) + ε/K Σ_c w_c (−log p_ic)] / Σ_i w_(y_i)
    # which, y_i as a one-hot row t_i, is Σ_i Σ_c t'_ic w_c (−log p_ic) / Σ_i Σ_c t_ic w_c with the
    # smoothed t' = (1 − ε) t + ε/K. The same sums for any t (a mix of two one-hot rows: their weighted
    # mean), so a one-hot row gives torch's number and the weights' scale cancels as for hard labels.
    # (Sums of products rather than a matrix product, which autocast would take in bf16.)
    if weight is None:  # each class 1: torch's mean over N
        weight = torch.ones(logits.shape[1], device=logits.device)
    log_p = F.log_softmax(logits, 1)
    smoothed = targets * (1 - label_smoothing) + label_smoothing / logits.shape[1]
    return -(smoothed * weight * log_p).sum() / (targets * weight).sum()


def uses_soft_loss(targets: torch.Tensor, weight: torch.Tensor | None) -> bool:
    """Whether a batch's loss is :func:`soft_cross_entropy` (soft targets weighted by class) rather than
    torch's cross_entropy (class indices, or soft targets unweighted: torch's mean is then the same)."""
    return targets.ndim == 2 and weight is not None


def balanced_twice_note(sampler: str, setting: object, weights: list[float] | None) -> str:
    """For train.sampler=balanced (``sampler``) with train.class_weights=balanced (``setting``), where
    the loss uses the ``weights``: the sampler already draws each class equally often, so the weights
    then favour the rare classes by as much again; else ''."""
    if sampler != "balanced" or setting != "balanced":
        return ""
    if weights is None:  # a fitted model, a model's own step: no loss of vislab's weighs
        return ""
    return (
        "train.sampler=balanced and train.class_weights=balanced both correct the class imbalance: the "
        "sampler draws each class equally often, so the weights then favour the rare classes as much "
        "again (a class with 10× fewer train images counts 10× more). Keep one: --set "
        "train.class_weights=null / train__class_weights=None, or --set train.sampler=shuffle / "
        "train__sampler='shuffle'."
    )
