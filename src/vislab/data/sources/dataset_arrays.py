"""A torch ``Dataset`` of (image, label) pairs read once into the arrays :func:`register_arrays` takes:
``vislab.train(data=dataset)`` from Python, and torchvision's datasets (``data.name=torchvision:<Class>``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from PIL import Image

from vislab.data.sources.memory import as_inputs, numeric_array
from vislab.errors import DataError


def _sample_array(value: Any, index: int) -> np.ndarray:
    """One image of a dataset as a numpy array (PIL images converted: palette → RGB)."""
    if isinstance(value, Image.Image):
        if value.mode not in ("L", "RGB", "RGBA", "1"):
            value = value.convert("RGB")
        return np.asarray(value)
    try:
        return numeric_array(value, f"the image of dataset[{index}]")
    except DataError as e:
        raise DataError(f"{e} Give the dataset PIL images, arrays or tensors.") from None


def _sample_label(value: Any, index: int) -> int:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataError(
            f"dataset[{index}] has the label {value!r} ({type(value).__name__}): a dataset must "
            f"give (image, integer label) pairs (use a target_transform to map labels to 0..K-1)."
        )
    return value


def _dataset_classes(dataset: Any) -> list[str] | None:
    for d in (dataset, getattr(dataset, "dataset", None)):  # a Subset wraps the dataset
        classes = getattr(d, "classes", None)
        if isinstance(classes, (list, tuple)) and classes:
            return [str(c) for c in classes]
    return None


def _samples(dataset: Any) -> Iterable[Any]:
    if hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__"):
        return (dataset[i] for i in range(len(dataset)))
    if isinstance(dataset, Iterable):
        return iter(dataset)
    raise DataError(
        f"data is a {type(dataset).__name__}, not a torch Dataset: give a Dataset of (image, label) "
        f"pairs, or numpy arrays (x, y)."
    )


def arrays_from_dataset(dataset: Any) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """Read a torch Dataset of (image, label) pairs once into (x, y, class names or None).

    Images may be PIL images, H×W(×C) or C×H×W arrays or tensors, uint8 or floats in [0, 1]; all must
    have one shape. ``x`` comes back converted as :func:`register_arrays` does; class names come from
    ``dataset.classes`` when present.
    """
    images, labels, first = [], [], None
    for i, item in enumerate(_samples(dataset)):
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise DataError(
                f"dataset[{i}] is a {type(item).__name__}, not an (image, label) pair: a dataset "
                f"must return (image, label)."
            )
        img = _sample_array(item[0], i)
        if first is None:
            first = img.shape
        elif img.shape != first:
            raise DataError(
                f"dataset[{i}] has an image of shape {img.shape} but dataset[0] has {first}: all "
                f"images must have one size (give the dataset a transform such as "
                f"torchvision.transforms.Resize)."
            )
        images.append(img)
        labels.append(_sample_label(item[1], i))
    if not images:
        raise DataError("the dataset is empty: it has no (image, label) pairs.")
    return (
        as_inputs(np.stack(images)),
        np.asarray(labels, dtype=np.int64),
        _dataset_classes(dataset),
    )
