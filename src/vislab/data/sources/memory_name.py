"""The name in-memory arrays are registered under (``data.name=memory:<name>``): the one given, else a
hash of their content, so that the same arrays always get the same name and a run records which data it
saw; a name of the hash's form given to other arrays is refused, and so are arrays registered again
for a run without a val or test set it was given (:func:`sets_left_out`)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from vislab.data.types import ArraySet
from vislab.errors import DataError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_HASH = re.compile(r"[0-9a-f]{12}")  # the form of :func:`content_name`


def content_name(sets: dict[str, ArraySet], names: list[str]) -> str:
    """A hash of the sets and class names (train alone hashes as before test sets existed)."""
    h = hashlib.sha256()
    for key, s in sets.items():
        if key != "train":
            h.update(f"\0{key}".encode())
        for part in (str(s.x.shape).encode(), str(s.x.dtype).encode(), s.x, s.y):  # C-contiguous
            h.update(part)
        if key == "train":
            h.update("\0".join(names).encode())
    return h.hexdigest()[:12]


def data_name(name: Any, sets: dict[str, ArraySet], names: list[str]) -> str:
    """The name the arrays are registered under: ``name``, else their content's hash. DataError for a
    malformed name, or one of the hash's form that these arrays do not hash to (a run's recorded name
    given to other arrays: evaluated on them, the run would score other data)."""
    if name is None:
        return content_name(sets, names)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise DataError(
            f"name={name!r}: give 1 to 64 letters, digits, '_', '.' or '-' (starting with a letter "
            f"or digit)."
        )
    if _HASH.fullmatch(name) and name != (content := content_name(sets, names)):
        raise DataError(
            f"name='{name}' has the form of vislab's own name for arrays, the hash of their content, "
            f"but these arrays hash to '{content}': they are not the arrays named '{name}' (other "
            f"values, labels, order or class names, or a val/test set left out), and a run trained on "
            f"those would score other data on these. Register the arrays the run trained on, as it was "
            f"given them, or give these arrays a name of your own (name='my_data')."
        )
    return name


def sets_left_out(data_name: str, recorded: dict | None, now: dict | None, split: str) -> None:
    """DataError where the arrays registered as ``data_name`` (``memory:<name>``) lack a val or test set
    that a run was given (``recorded``: its data fingerprint, counts by set; ``now``: that of the arrays
    registered; None: none recorded) and ``split`` is not that set given as it is: it would be carved
    from train, other samples than the run's, and train with it."""
    if not data_name.startswith("memory:") or not (recorded and now):
        return
    was, has = recorded["counts"], now["counts"]
    missing = [k for k in ("val", "test") if k in was and k not in has]
    if not missing or (split in has and split != "train"):
        return
    sets = " and ".join(missing)
    one = f"{sets} set" if len(missing) == 1 else f"{sets} sets"
    given = {"train": "(x, y, class_names)", "val": "(x_val, y_val)", "test": "(x_test, y_test)"}
    form = ", ".join(f"'{k}': {v}" for k, v in given.items() if k in was)
    counts = ", ".join(f"{sum(was[k])} {k}" for k in missing)
    raise DataError(
        f"the arrays registered as data.name={data_name} have no {one}, but the run was given "
        f"{'one' if len(missing) == 1 else 'both'} ({counts} samples): its {split} split would be "
        f"carved from train, other samples than the run's. Register them with the run's {one}: "
        f"vislab.register_arrays({{{form}}}, name='{data_name.partition(':')[2]}')."
    )
