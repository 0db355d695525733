"""In-memory data given as a dict of sets, ``data={"train": (x, y[, class_names]), "test": (x_test,
y_test), "val": (x_val, y_val)}`` ('test' and 'val' optional): its sets as given, each checked to be a
tuple of the right length, before :mod:`vislab.data.sources.memory` converts and checks their arrays."""

from __future__ import annotations

from typing import Any

from vislab.errors import DataError

FORM = (
    "data={'train': (x, y) or (x, y, class_names), 'test': (x_test, y_test), 'val': (x_val, y_val)}"
)
HELD_OUT = ("test", "val")  # the sets a dict may give besides train, each (x, y)


def _set_tuple(data: dict[Any, Any], key: str) -> tuple[Any, ...]:
    """``data[key]`` as a tuple (x, y) — or (x, y, class_names) for train (DataError if not)."""
    value, most = data[key], 3 if key == "train" else 2
    if not isinstance(value, (tuple, list)) or not 2 <= len(value) <= most:
        what = (
            f"{len(value)} items"
            if isinstance(value, (tuple, list))
            else f"a {type(value).__name__}"
        )
        raise DataError(f"data['{key}'] holds {what}: give {FORM} (class names go in train's).")
    return tuple(value)


def split_dict(data: dict[Any, Any]) -> tuple[Any, Any, Any, dict[str, tuple[Any, Any]]]:
    """(x, y, class_names, {"test": (x_test, y_test), "val": (x_val, y_val)} of those given) of the dict
    form (DataError naming a bad key)."""
    if unknown := [k for k in data if k not in ("train", *HELD_OUT)]:
        raise DataError(
            f"data has the key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}: give "
            f"{FORM} ('test' and 'val' optional: without 'val', val is carved from train with "
            f"data.val_fraction)."
        )
    if "train" not in data:
        raise DataError(f"data has no 'train' key: give {FORM}.")
    x, y, *rest = _set_tuple(data, "train")
    held = {key: _set_tuple(data, key) for key in HELD_OUT if key in data}
    return x, y, rest[0] if rest else None, held
