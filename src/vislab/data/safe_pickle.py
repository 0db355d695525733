"""Load pickled numpy data without letting the file run code.

A pickle names the callables it needs ("globals") and the unpickler imports and calls them, so a
crafted file can run ``os.system``. :func:`load_pickle` admits only the globals that rebuild numpy
arrays and plain containers; anything else is refused with a :class:`DataError` naming the file.
"""

from __future__ import annotations

import importlib
import io
import pickle
from pathlib import Path
from typing import Any

from vislab.errors import DataError

# Python 2 pickles (the official CIFAR-10 batches) spell some modules the old way.
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}

_BUILTINS = {"list", "dict", "tuple", "set", "frozenset", "bytes", "bytearray", "str", "int", "float",
             "complex", "bool"}

# What numpy needs to rebuild an array or a scalar, under the numpy 1.x and 2.x module names.
_NUMPY = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),  # protocol-5 pickles of arrays
    ("numpy._core.numeric", "_frombuffer"),
}


def _latin1_encode(obj: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """Stand-in for ``_codecs.encode``, which Python 3 protocol-2 pickles use to store bytes (latin-1 only)."""
    if encoding not in ("latin1", "latin-1") or not isinstance(obj, str):
        raise pickle.UnpicklingError(f"refused _codecs.encode(..., {encoding!r})")
    return obj.encode("latin-1")


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BufferedIOBase, path: Path, **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        module = _PY2_MODULES.get(module, module)
        if module == "builtins" and name in _BUILTINS:
            return getattr(__import__("builtins"), name)
        if (module, name) == ("_codecs", "encode"):
            return _latin1_encode
        if (module, name) in _NUMPY:
            return _numpy_global(module, name)
        raise DataError(
            f"Refused to load '{self._path}': it is a pickle that asks to call '{module}.{name}', which a "
            f"data file never needs (a crafted pickle can run any code this way). Delete the file and get the "
            f"official one from its publisher."
        )


def _numpy_global(module: str, name: str) -> Any:
    """Import ``module.name``, preferring the numpy-2 spelling (``numpy._core``) when it exists."""
    candidates = [module]
    if module.startswith("numpy.core."):
        candidates.insert(0, "numpy._core." + module[len("numpy.core."):])
    elif module.startswith("numpy._core."):
        candidates.append("numpy.core." + module[len("numpy._core."):])
    for mod in candidates:
        try:
            return getattr(importlib.import_module(mod), name)
        except (ImportError, AttributeError):
            continue
    raise DataError(f"numpy has no '{module}.{name}' (needed to read a pickled array); upgrade numpy.")


def loads_pickle(data: bytes, path: str | Path = "<bytes>", encoding: str = "bytes") -> Any:
    """Unpickle ``data`` with the restricted unpickler; any failure is a DataError naming ``path``.

    ``encoding='bytes'`` reads Python 2 strings as ``bytes`` (what the CIFAR-10 batches need).
    """
    path = Path(path)
    try:
        return _RestrictedUnpickler(io.BytesIO(data), path, encoding=encoding).load()
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 - any failure to parse untrusted bytes is the file's fault
        raise DataError(
            f"'{path}' is not a readable pickle file ({type(e).__name__}: {e}); it is truncated or corrupt. "
            f"Delete it and download the official file again."
        ) from None


def load_pickle(path: str | Path, encoding: str = "bytes") -> Any:
    """Read a pickle file that may only contain numpy arrays and plain Python containers."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read '{path}': {e.strerror or e}. Check that the file exists and is readable.") from None
    return loads_pickle(data, path, encoding)
