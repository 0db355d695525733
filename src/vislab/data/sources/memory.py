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
  Given class names may include classes without samples (a subset of a dataset's classes). Training
  labels of a single class are refused: a classifier needs two at least.
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

from collections.abc import Sequence
from typing import Any

import numpy as np

from vislab.arguments import users_frames
from vislab.config import DataConfig
from vislab.data.images import RAW_IMAGES, low_range, to_uint8
from vislab.data.sources.memory_dict import FORM, split_dict
from vislab.data.sources.memory_labels import (
    as_labels,
    labels_and_names,
    numeric_array,
    same_kind,
    text_labels,
    text_of,
)
from vislab.data.sources.memory_name import data_name
from vislab.data.sources.registry import register_source_prefix
from vislab.data.types import ArraySet, SourceData
from vislab.errors import DataError, show_note

PREFIX = "memory"
_REGISTERED: dict[str, SourceData] = {}


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


def _held_out_set(
    key: str, x: Any, y: Any, train: ArraySet, names: list[str], train_text: bool
) -> ArraySet:
    """The given arrays of set ``key`` (test, val), converted as train's and checked against them
    (DataError if not)."""
    try:
        xs = as_inputs(x)
        text = text_of(y)  # text labels: named by train's class names
        same_kind(key, text is not None, train_text, names)
        ys = as_labels(y, len(xs)) if text is None else text_labels(text, names, len(xs))[0]
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
    import torch  # on use: this module loads with every data source (vislab.data.sources)

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
    ys, names = labels_and_names(y, class_names, len(xs))
    sets = {"train": ArraySet(xs, ys)}
    for key, (x_set, y_set) in held.items():
        sets[key] = _held_out_set(key, x_set, y_set, sets["train"], names, text_of(y) is not None)
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
