"""The name in-memory arrays are registered under (``data.name=memory:<name>``): the one given, else a
hash of their content, so that the same arrays always get the same name and a run records which data it
saw; a name of the hash's form given to other arrays is refused."""

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
            f"values, labels, order or class names), and a run trained on those would score other "
            f"data on these. Register the arrays the run trained on, as it was given them, or give these "
            f"arrays a name of your own (name='my_data')."
        )
    return name
