"""Your own data, in memory: numpy arrays or a torch Dataset given to the Python API.

:func:`register_arrays` checks and converts the arrays once and registers them in this process as
``data.name=memory:<name>`` (``<name>`` is the given name, else a short hash of the content, so the same
arrays always get the same name and a run records which data it saw). From there they go through split,
normalisation and augmentation exactly as a built-in source: the source has one official set, 'train';
test and val are carved from it with ``data.test_fraction`` and ``data.val_fraction`` (or all three with
``data.split``). Given as ``{"train": (x, y[, class_names]), "test": (x_test, y_test)}``, it has two, as
mnist has: the test split is exactly the given test arrays and val is carved from train alone. A ``"val":
(x_val, y_val)`` set too (either or both) is the val split as given, as CIFAR-10's data_batch_5 is (with
``data.official_val`` false it joins train, and val is carved from train with ``data.val_fraction``);
each held-out set is converted and checked as the test set is. Registering a name again replaces its
arrays (re-running a notebook cell).

Conversion (anything else is refused with a DataError naming the culprit and the fix):

- ``x`` N×D (2-D) → float32 feature vectors; N×H×W → grayscale images N×H×W×1; N×H×W×C with C ≤ 4 →
  images as they are; N×C×H×W with C ≤ 4 (a torch-style batch) → transposed to N×H×W×C.
- image values: uint8 as they are; uint16 (16-bit images) divided by 257, as ``vislab predict`` and image
  folders do (``vislab.data.images.to_uint8``); other integers must lie in 0..255; floats in [0, 1] are scaled
  by 255 and floats in [0, 255] rounded (already-normalised floats, e.g. negative values, are refused:
  give raw images, vislab normalises with ``data.normalize``), the array as a whole, as ``Run.predict``
  reads it; floats or integers past 1 but within 16 get a note (near-black, likely on a scale of their
  own: ``images.low_range``). NaN and ±inf are refused.
- ``y``: N integer labels (an N×1 column is flattened; whole-valued floats are accepted) in
  0..K-1, with K = ``len(class_names)`` when given, else max(y)+1 and names "0".."K-1". Without
  class names every label 0..max(y) must have a sample: labels 1..10 would make a class "0" that is
  never seen (its accuracy undefined), so they are refused, naming the labels present and the fix.
  Given class names may include classes without samples (a subset of a dataset's classes).
- ``y`` as text (``["cat", "dog", ...]``: numpy strings, a list, an object array of str): the class names
  are the distinct labels sorted (``np.unique(y)``), each label its index among them; with class names
  given, each label must be one of them and is its index there. A test or val set's labels are of the
  kind of train's (text with text, numbers with numbers: a mix is refused); its text labels are named by
  train's class names.

The arrays live only in this process: a run trained on them cannot reload them elsewhere. In another
process, :func:`register_arrays` (public as ``vislab.register_arrays``) registers the same arrays
again under the run's name first (the error of :func:`load_memory` gives the call).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

from vislab.arguments import users_frames
from vislab.config import DataConfig
from vislab.data.images import RAW_IMAGES, low_range, to_uint8
from vislab.data.sources.memory_dict import FORM, split_dict
from vislab.data.sources.memory_name import data_name
from vislab.data.sources.registry import register_source_prefix
from vislab.data.types import ArraySet, SourceData
from vislab.errors import DataError, show_note

PREFIX = "memory"
_REGISTERED: dict[str, SourceData] = {}


def numeric_array(value: Any, what: str) -> np.ndarray:
    """A numpy view of an array-like (numpy, torch tensor, nested lists); DataError naming ``what`` unless
    it holds numbers."""
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


def _channels_last(x: np.ndarray) -> np.ndarray:
    """N×H×W → N×H×W×1; N×H×W×C stays; N×C×H×W (C ≤ 4, last axis > 4) → N×H×W×C."""
    if x.ndim == 3:
        return x[..., None]
    if x.shape[3] <= 4:
        return x
    if x.shape[1] <= 4:
        return x.transpose(0, 2, 3, 1)
    raise DataError(
        f"x has shape {x.shape}: cannot tell the channel axis. Give images as N×H×W×C or N×C×H×W "
        f"with 1 to 4 channels (or N×H×W for grayscale)."
    )


def _to_uint8(x: np.ndarray) -> np.ndarray:
    """Image values as uint8 (rules in the module docstring): :func:`~vislab.data.images.to_uint8`'s, but
    values past 0..255 are refused rather than stretched, and integers are kept as they are (0/1 too)."""
    if x.dtype not in (np.uint8, np.uint16) and x.dtype.kind != "b":
        lo, hi = (x.min(), x.max()) if x.size else (0, 0)
        if lo < 0 or hi > 255:
            kind = "float" if x.dtype.kind == "f" else "integer"
            raise DataError(
                f"x holds {kind} images with values in [{lo:.4g}, {hi:.4g}]: {RAW_IMAGES}. Give the "
                f"images before normalisation, in 0..255."
            )
        if x.dtype.kind in "iu":
            x = x.astype(np.uint8)
    return to_uint8(x)


def as_inputs(x: Any) -> np.ndarray:
    """``x`` as vislab's inputs: uint8 N×H×W×C images or float32 N×D features (DataError if not)."""
    arr = numeric_array(x, "x")
    if arr.ndim < 2 or arr.ndim > 4:
        raise DataError(
            f"x has shape {arr.shape}: give one row per sample — N×D feature vectors (a single "
            f"feature: x.reshape(-1, 1)), N×H×W grayscale images, or N×H×W×C / N×C×H×W images."
        )
    if len(arr) == 0:
        raise DataError("x holds no samples (its first axis has length 0).")
    given = arr
    if arr.ndim == 2:  # features are stored as float32: a float64 past its range becomes inf
        with np.errstate(over="ignore"):
            arr = np.ascontiguousarray(arr, dtype=np.float32)
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad = int(np.flatnonzero(~np.isfinite(arr).reshape(len(arr), -1).all(axis=1))[0])
        why = (
            "NaN or infinite values"
            if given is arr or not np.isfinite(given[bad]).all()
            else ("values past float32's range (±3.4e38; vislab stores features as float32)")
        )
        raise DataError(f"x holds {why} (first in sample {bad}): remove, fix or rescale them.")
    if arr.ndim == 2:
        return arr
    return np.ascontiguousarray(_to_uint8(_channels_last(arr)))


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


def _text(y: Any) -> np.ndarray | None:
    """``y`` as a str array if it holds text labels (numpy strings or bytes, a list or object array of
    str), else None (numbers, a tensor, no array: :func:`as_labels` judges them)."""
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


def _labels_and_names(y: Any, names: Sequence[Any] | None, n: int) -> tuple[np.ndarray, list[str]]:
    """``y`` as int64 labels, one per sample of ``x``, and the class names (rules in the module
    docstring: numbers name classes by ``names`` or "0".."K-1"; text by ``names`` or sorted)."""
    if (text := _text(y)) is None:
        labels = as_labels(y, n)
        return labels, _class_names(names, labels)
    return _text_labels(text, None if names is None else _given_names(names), n)


def _text_labels(text: np.ndarray, names: list[str] | None, n: int) -> tuple[np.ndarray, list[str]]:
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


def _same_kind(key: str, text: bool, train_text: bool, names: list[str]) -> None:
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


def _held_out_set(
    key: str, x: Any, y: Any, train: ArraySet, names: list[str], train_text: bool
) -> ArraySet:
    """The given arrays of set ``key`` (test, val), converted as train's and checked against them
    (DataError if not)."""
    try:
        xs = as_inputs(x)
        text = _text(y)  # text labels: named by train's class names
        _same_kind(key, text is not None, train_text, names)
        ys = as_labels(y, len(xs)) if text is None else _text_labels(text, names, len(xs))[0]
    except DataError as e:
        raise DataError(f"data['{key}']: {e}") from None
    if xs.shape[1:] != train.x.shape[1:] or xs.dtype != train.x.dtype:
        raise DataError(
            f"data['{key}'] holds samples of shape {xs.shape[1:]} ({xs.dtype}) but data['train'] "
            f"holds {train.x.shape[1:]} ({train.x.dtype}): give {key} samples shaped as the "
            f"training ones (resize or convert them the same way)."
        )
    if (outside := np.setdiff1d(ys, np.arange(len(names)))).size:
        raise DataError(
            f"data['{key}'] holds the label{'s' if outside.size > 1 else ''} "
            f"{', '.join(map(str, outside[:12]))}, outside the {len(names)} classes of data['train'] "
            f"(0..{len(names) - 1}): number the {key} labels as the train's, or name every class in "
            f"class_names, (x, y, class_names) in data['train']."
        )
    return ArraySet(xs, ys)


@users_frames
def register_arrays(
    x: Any, y: Any = None, class_names: Sequence[Any] | None = None, *, name: str | None = None
) -> str:
    """Check and register arrays as a dataset of this process; return its ``data.name``.

    >>> register_arrays(np.zeros((10, 8, 8), np.uint8), np.arange(10) % 2, ["even", "odd"])
    'memory:...'

    ``x`` may instead be a torch Dataset of (image, label) pairs (read once, as ``vislab.train(data=ds)``
    reads it), or a dict ``{"train": (x, y[, class_names]), "test": (x_test, y_test)}`` (``y``
    and ``class_names`` left out): a test set of one's own; ``"val": (x_val, y_val)`` too (or instead):
    a val set of one's own, not carved from train. Rules of conversion: the module docstring.
    ``name`` (letters, digits, ``_.-``) names the data (``memory:<name>``); without it the name is a
    hash of the content (a name of that form is refused for arrays of another hash).
    """
    held: dict[str, tuple[Any, Any]] = {}
    if isinstance(x, torch.utils.data.Dataset) and y is None and class_names is None:
        from vislab.data.sources.dataset_arrays import (
            arrays_from_dataset,  # on use: it imports this
        )

        x, y, class_names = arrays_from_dataset(x)
    elif isinstance(x, dict) and y is None and class_names is None:
        x, y, class_names, held = split_dict(x)
    elif isinstance(x, dict) or y is None:
        raise DataError(
            f"give register_arrays(x, y[, class_names]), register_arrays(dataset) (a torch Dataset) "
            f"or register_arrays({FORM[5:]})."
        )
    xs = as_inputs(x)
    images = [x, *(s[0] for s in held.values())] if held else x
    if xs.ndim == 4 and (why := low_range(images)) is not None:
        show_note(why)  # the words predict has for the same arrays
    ys, names = _labels_and_names(y, class_names, len(xs))
    sets = {"train": ArraySet(xs, ys)}
    for key, (x_set, y_set) in held.items():
        sets[key] = _held_out_set(key, x_set, y_set, sets["train"], names, _text(y) is not None)
    name = data_name(name, sets, names)
    _REGISTERED[name] = SourceData(sets, names, files=[])
    return f"{PREFIX}:{name}"


@register_source_prefix(PREFIX)
def load_memory(name: str, cfg: DataConfig) -> SourceData:
    """The arrays registered as ``memory:<name>`` in this process (DataError if not registered here)."""
    if name not in _REGISTERED:
        raise DataError(
            f"data.name='{PREFIX}:{name}' names arrays given to vislab in another Python process "
            f"(vislab.train(data=(x, y)) or vislab.register_arrays); they are not on disk, so they "
            f"cannot be loaded here. In Python, register the same arrays again first: "
            f"vislab.register_arrays(x, y, name='{name}') (with class_names as the third argument if "
            f"the run was given (x, y, class_names); vislab.register_arrays({{'train': (x, y), "
            f"'test': (x_test, y_test)}}, name='{name}') if it was given a test set, and a 'val' "
            f"set likewise; vislab.register_arrays(dataset, name='{name}') if it was given a torch "
            f"Dataset); or evaluate it on a dataset on disk with the command: vislab eval RUN "
            f"--set data.name=..."
        )
    src = _REGISTERED[name]
    if "train" not in cfg.use and "test" not in src.sets:
        raise DataError(
            f"in-memory data has a single set, 'train', but data.use={list(cfg.use)}. Add train to "
            f"data.use (the val/test splits are carved from it)."
        )
    # a val set given goes with train, as CIFAR-10's does
    wanted = {*cfg.use, *(("val",) if "train" in cfg.use else ())}
    sets = {key: s for key, s in src.sets.items() if key in wanted}
    return SourceData(sets, list(src.class_names), files=[])
