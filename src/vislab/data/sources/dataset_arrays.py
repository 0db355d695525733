"""A torch ``Dataset`` of (image, label) pairs read once into the arrays :func:`register_arrays` takes:
``vislab.train(data=dataset)`` from Python, and torchvision's datasets (``data.name=torchvision:<Class>``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from PIL import Image

from vislab.data.sources.memory import as_inputs
from vislab.data.sources.memory_labels import numeric_array
from vislab.errors import DataError, show_note

# the first items read a second time to tell random transforms (a flip at p=0.5 agrees with 1/2 odds each)
_REREAD = 8


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
    import torch  # on use: this module loads with every data source (vislab.data.sources)

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


def _random_transforms_note(dataset: Any, images: list[np.ndarray]) -> None:
    """A note when the dataset gives another image for an index read again (random transforms, which
    reading once draws once); datasets without indexing are not read again."""
    if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
        return
    for i in range(min(_REREAD, len(images))):
        again = dataset[i]
        again = _sample_array(again[0], i) if isinstance(again, (tuple, list)) and again else None
        if again is None or again.shape != images[i].shape or not np.array_equal(again, images[i]):
            show_note(
                f"dataset[{i}] gave another image when read again: its transforms are random "
                f"(RandomCrop, RandomHorizontalFlip, ...). vislab reads a Dataset once into arrays, so "
                f"each image keeps the one random draw it got, the same in every epoch, and the val and "
                f"test images are drawn at random too. Give the Dataset deterministic transforms only "
                f"(ToTensor, Resize, CenterCrop) and augment with vislab's options, drawn anew each "
                f"epoch on the train split alone: augment__crop__p=0.5, augment__hflip__p=0.5 "
                f"(--set augment.crop.p=0.5 --set augment.hflip.p=0.5)."
            )
            return


def arrays_from_dataset(dataset: Any) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """Read a torch Dataset of (image, label) pairs once into (x, y, class names or None).

    Images may be PIL images, H×W(×C) or C×H×W arrays or tensors, uint8 or floats in [0, 1]; all must
    have one shape. ``x`` comes back converted as :func:`register_arrays` does; class names come from
    ``dataset.classes`` when present. A dataset whose first items read again differ (random
    transforms) gets a note.
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
    _random_transforms_note(dataset, images)
    return (
        as_inputs(np.stack(images)),
        np.asarray(labels, dtype=np.int64),
        _dataset_classes(dataset),
    )
