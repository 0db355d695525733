"""The labels of in-memory data (:mod:`vislab.data.sources.memory`; the rules: its docstring's ``y``): numbers
or text, one per sample, checked and numbered 0..K-1 with their class names — and :func:`numeric_array`, the
numpy view of an array-like that reads both ``x`` and ``y``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from vislab.errors import DataError

# torch is imported by the functions that use it: this module loads with every data source, which
# reading a built-in dataset or listing suites needs without torch


def numeric_array(value: Any, what: str) -> np.ndarray:
    """A numpy view of an array-like (numpy, torch tensor, nested lists); DataError naming ``what`` unless
    it holds numbers."""
    import torch

    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype in (torch.float16, torch.bfloat16):  # numpy has no bfloat16
            value = value.float()
        value = value.numpy()
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as e:
        raise DataError(f"{what} is not an array ({type(value).__name__}: {e}).") from None
    if arr.dtype.kind not in "biuf":
        raise DataError(
            f"{what} must hold numbers, but its values are {arr.dtype} "
            f"({type(value).__name__}). Give a numeric numpy array or torch tensor."
        )
    return arr


def _one_per_sample(arr: np.ndarray, n: int) -> np.ndarray:
    """Labels ``arr`` as a 1-D array (an N×1 column flattened), DataError unless one per sample of ``x``."""
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise DataError(f"y has shape {arr.shape}: give one label per sample (shape (N,)).")
    if len(arr) != n:
        raise DataError(
            f"x has {n} samples but y has {len(arr)} labels: give one label per sample."
        )
    return arr


def as_labels(y: Any, n: int) -> np.ndarray:
    """``y`` as int64 labels ≥ 0, one per sample of ``x`` (DataError if not)."""
    arr = _one_per_sample(numeric_array(y, "y"), n)
    if arr.dtype.kind == "f":
        whole = np.isfinite(arr) & (arr == np.round(arr))
        if not whole.all():
            i = int(np.flatnonzero(~whole)[0])
            raise DataError(
                f"y must hold integer class labels, but y[{i}] = {arr[i]}. Give labels 0..K-1 (for "
                f"one-hot rows: y.argmax(1))."
            )
    labels = arr.astype(np.int64)
    if labels.min() < 0:
        raise DataError(
            f"y holds the negative label {labels.min()}: labels must be 0..K-1 "
            f"(e.g. np.unique(y, return_inverse=True)[1])."
        )
    return labels


def _labels_present(y: np.ndarray) -> str:
    """The distinct labels of ``y`` in a few characters: "1..10" when they run without a gap, else a
    list ("0, 1, 3, 7", the first 12)."""
    present = np.unique(y)
    if present[-1] - present[0] + 1 == len(present):
        return f"{present[0]}..{present[-1]}"
    return ", ".join(map(str, present[:12])) + (", ..." if len(present) > 12 else "")


def _empty_classes(y: np.ndarray) -> DataError | None:
    """The DataError for labels that leave a class of 0..max(y) without a sample (None if none is empty)."""
    k = int(y.max()) + 1
    empty = np.setdiff1d(np.arange(k), y)
    if len(empty) == 0:
        return None
    present, low = _labels_present(y), int(y.min())
    if len(empty) == low:  # counted from 1 (or more): 1..10
        what = f"run {present}, so {'class 0' if low == 1 else f'classes 0..{low - 1}'}"
        fix = f"Subtract {low} (y - {low}) so that the labels run from 0"
    else:
        shown = ", ".join(map(str, empty[:12])) + (", ..." if len(empty) > 12 else "")
        what = f"are {present}, so class{'es' if len(empty) > 1 else ''} {shown}"
        fix = (
            "Number the classes 0..K-1 (names, labels = np.unique(y, return_inverse=True), then "
            "data=(x, labels, names))"
        )
    return DataError(
        f"y's labels {what} would have no sample: without class_names the classes are 0..max(y) "
        f"({k} here), and a class without samples is trained and scored on nothing. {fix}, or give "
        f"class_names naming all {k} classes (data=(x, y, class_names)) if some have no sample on "
        f"purpose."
    )


def _given_names(names: Any) -> list[str]:
    """The class names given, as strings (DataError unless a list of distinct names)."""
    if isinstance(names, (str, bytes)) or not isinstance(names, Iterable):
        raise DataError(f"class_names must be a list of names, not {type(names).__name__}.")
    names = [str(n) for n in names]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise DataError(f"class_names repeats '{dup}': give each class a distinct name.")
    return names


def _class_names(names: Sequence[Any] | None, y: np.ndarray) -> list[str]:
    k = int(y.max()) + 1
    if names is None:
        if (empty := _empty_classes(y)) is not None:
            raise empty
        return [str(i) for i in range(k)]
    names = _given_names(names)
    if len(names) < k:
        low = int(y.min())
        counted = f" (the labels run {_labels_present(y)}: subtract {low} if they count from {low})"
        raise DataError(
            f"y holds label {k - 1} but class_names has only {len(names)} names: give one name per "
            f"class, label i naming class_names[i]{counted if low > 0 else ''}."
        )
    return names


def text_of(y: Any) -> np.ndarray | None:
    """``y`` as a str array if it holds text labels (numpy strings or bytes, a list or object array of
    str), else None (numbers, a tensor, no array: :func:`as_labels` judges them)."""
    import torch

    if isinstance(y, torch.Tensor):
        return None
    try:
        arr = np.asarray(y)
    except (ValueError, TypeError):
        return None
    if arr.dtype.kind in "US":
        return arr.astype(str)
    if arr.dtype.kind != "O" or not any(isinstance(v, str) for v in arr.flat):
        return None
    if others := [i for i, v in enumerate(arr.ravel()) if not isinstance(v, str)]:
        raise DataError(
            f"y mixes text labels with other values (y[{others[0]}] = {arr.ravel()[others[0]]!r}): "
            f"give every label as text (class names), or every label as a number."
        )
    return arr.astype(str)


def labels_and_names(y: Any, names: Sequence[Any] | None, n: int) -> tuple[np.ndarray, list[str]]:
    """``y`` as int64 labels, one per sample of ``x``, and the class names (rules in the module
    docstring: numbers name classes by ``names`` or "0".."K-1"; text by ``names`` or sorted); DataError
    for labels of a single class, which a classifier cannot learn from."""
    if (text := text_of(y)) is None:
        labels = as_labels(y, n)
        _two_classes(labels, str(labels[0]))
        return labels, _class_names(names, labels)
    labels, names = text_labels(text, None if names is None else _given_names(names), n)
    _two_classes(labels, repr(names[labels[0]]))
    return labels, names


def _two_classes(labels: np.ndarray, first: str) -> None:
    """DataError unless ``labels`` (whose first is ``first``, as given) hold two classes or more."""
    if (labels == labels[0]).all():
        raise DataError(
            f"the training labels hold a single class, {first} (all {len(labels)} samples): a "
            f"classifier needs at least two classes (with one, every prediction is right and nothing "
            f"is learnt). Give samples of two classes or more, labelled 0..K-1 (y of data=(x, y), or "
            f"the labels a Dataset gives)."
        )


def text_labels(text: np.ndarray, names: list[str] | None, n: int) -> tuple[np.ndarray, list[str]]:
    """Text labels as their indices among ``names`` (None: the distinct labels, sorted), and the names."""
    text = _one_per_sample(text, n)
    names = sorted(set(text.tolist())) if names is None else names
    index = {name: i for i, name in enumerate(names)}
    if unknown := [t for t in dict.fromkeys(text.tolist()) if t not in index]:
        shown = ", ".join(map(repr, unknown[:12])) + (", ..." if len(unknown) > 12 else "")
        raise DataError(
            f"y holds the label{'s' if len(unknown) > 1 else ''} {shown}, not among the class names "
            f"({', '.join(names)}): name every class in class_names, (x, y, class_names) (a test "
            f"set's labels are named by data['train']'s), or leave class_names out."
        )
    return np.array([index[t] for t in text.tolist()], dtype=np.int64), names


def same_kind(key: str, text: bool, train_text: bool, names: list[str]) -> None:
    """DataError unless set ``key``'s labels (test, val) are text exactly when train's are (a number is no
    class name)."""
    if text == train_text:
        return
    if train_text:
        shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
        what, theirs = "numbers", "text (class names)"
        fix = f"give the {key} labels as text too, each one of {shown} (or both sets' labels as "
        fix += "numbers, with the names as (x, y, class_names) in data['train'])"
    else:
        what, theirs = "text", "numbers"
        fix = (
            f"give the {key} labels as numbers too, numbered as the train's (or both sets' as text)"
        )
    raise DataError(f"its labels are {what} but data['train']'s are {theirs}: {fix}.")
