"""What a data source returns, and the three splits the rest of vislab consumes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vislab.errors import DataError

#: the official sets of a source, by the code :attr:`ArraySet.origin` gives each
OFFICIAL_SETS = ("train", "val", "test")


@dataclass
class ArraySet:
    """One set of samples: ``x`` is uint8 N×H×W×C images, or float32 N×D features (e.g. `circles`);
    ``names``: each sample's source file (an image folder's), else None; ``origin``: each sample's
    official set (its code in :data:`OFFICIAL_SETS`) and index in that set, an N×2 int64 array that
    splits carry along (:func:`vislab.data.split.make_splits` gives it), else None."""

    x: np.ndarray
    y: np.ndarray  # int64 labels in [0, n_classes)
    names: np.ndarray | None = None  # str paths (object array), as the files were read
    origin: np.ndarray | None = None  # N×2 int64: (official set's code, index in that set)

    def __post_init__(self) -> None:
        self.y = np.asarray(self.y, dtype=np.int64)
        if len(self.x) != len(self.y):
            raise DataError(
                f"{len(self.x)} samples but {len(self.y)} labels: the data files do not match."
            )
        if self.names is not None and len(self.names) != len(self.y):
            raise DataError(f"{len(self.y)} samples but {len(self.names)} file names.")
        if self.origin is not None and self.origin.shape != (len(self.y), 2):
            raise DataError(f"{len(self.y)} samples but origins of shape {self.origin.shape}.")
        if self.x.dtype == np.uint8:
            if self.x.ndim != 4:
                raise DataError(f"images must be N×H×W×C uint8, got shape {self.x.shape}.")
        elif self.x.ndim != 2:
            raise DataError(
                f"features must be N×D float, got shape {self.x.shape} ({self.x.dtype})."
            )

    def __len__(self) -> int:
        return len(self.y)

    @property
    def is_image(self) -> bool:
        return self.x.dtype == np.uint8

    def take(self, idx: np.ndarray) -> ArraySet:
        """The samples at ``idx``, with their file names and origins."""
        names = None if self.names is None else self.names[idx]
        origin = None if self.origin is None else self.origin[idx]
        return ArraySet(self.x[idx], self.y[idx], names, origin)

    def as_official(self, official: str) -> ArraySet:
        """This set with each sample's origin: its index in the source's ``official`` set (this set is
        that set as the source returned it)."""
        origin = np.stack(
            [np.full(len(self), OFFICIAL_SETS.index(official)), np.arange(len(self))], 1
        )
        return ArraySet(self.x, self.y, self.names, origin.astype(np.int64))

    def sources(self, idx: np.ndarray | None = None) -> list[str]:
        """Where the samples at ``idx`` (None: all) come from, e.g. ``test[425]``: the index in the
        source's official test set; '' each where origins are not known, and for an image folder's
        samples, which their file names (:attr:`names`: a folder without split folders has no official
        set, vislab carves its splits)."""
        if self.names is not None or self.origin is None:
            return [""] * (len(self) if idx is None else len(idx))
        origin = self.origin if idx is None else self.origin[idx]
        return [f"{OFFICIAL_SETS[s]}[{i}]" for s, i in origin.tolist()]


@dataclass
class SourceData:
    """A source's official sets, by name (any of 'train', 'val', 'test'), and its class names."""

    sets: dict[str, ArraySet]
    class_names: list[str]
    name: str = ""
    files: list[str] = field(default_factory=list)  # the files read (for messages and `data info`)
    # the source's own identity of its data (an image folder's files), if it has one
    digest: str | None = None


@dataclass
class Splits:
    train: ArraySet
    val: ArraySet
    test: ArraySet
    class_names: list[str]
    name: str = ""
    fingerprint: dict | None = None  # what the splits came from (vislab.data.fingerprint)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Model input shape: (C, H, W) for images, (D,) for features."""
        x = self.train.x
        return (x.shape[3], x.shape[1], x.shape[2]) if self.train.is_image else (x.shape[1],)

    def items(self):
        return (("train", self.train), ("val", self.val), ("test", self.test))
