"""Load pickled numpy data without letting the file run code (or crash the interpreter).

A pickle names the callables it needs ("globals") and the unpickler calls them, so a crafted file can
run ``os.system``. :func:`load_pickle` admits only what rebuilds plain numpy arrays and containers,
each behind a wrapper that checks its arguments, and checks every ``__setstate__`` state too:
numpy's own ``dtype.__setstate__`` segfaults on malformed states (found by the fuzz tests).
Anything else is refused with a :class:`DataError` naming the file and the refused global.
"""

from __future__ import annotations

import importlib
import io
import math
import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np

from vislab.errors import DataError

# Python 2 pickles (the official CIFAR-10 batches) spell some modules the old way.
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}
_BUILTINS = {
    "list",
    "dict",
    "tuple",
    "set",
    "frozenset",
    "bytes",
    "bytearray",
    "str",
    "int",
    "float",
    "complex",
    "bool",
}


class Refused(pickle.UnpicklingError):
    """A pickle asked for something a plain data file never needs."""


def _numpy_global(module: str, name: str) -> Any:
    """``numpy[._]core.<sub>.<name>``, preferring the numpy-2 spelling where it exists."""
    sub = module.split(".", 2)[2]
    for mod in (f"numpy._core.{sub}", f"numpy.core.{sub}"):
        try:
            return getattr(importlib.import_module(mod), name)
        except (ImportError, AttributeError):
            continue
    raise Refused(f"numpy has no {module}.{name}")


class _NdarrayToken:
    """Stands for numpy.ndarray: usable as _reconstruct's argument, but not callable (no ndarray(...))."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise Refused("a direct numpy.ndarray(...) call")


_NDARRAY = _NdarrayToken()


def _plain_dtype(d: Any) -> np.dtype:
    if not isinstance(d, np.dtype) or d.hasobject or d.fields is not None or d.subdtype is not None:
        raise Refused(f"unsupported dtype {d!r} (only plain numeric dtypes are read)")
    return d


def _make_dtype(spec: Any, align: Any = False, copy: Any = False) -> np.dtype:
    """``numpy.dtype('u1', 0, 1)``: only type strings such as 'u1', '<f4'."""
    if isinstance(spec, bytes):
        spec = spec.decode("ascii")
    if not isinstance(spec, str) or len(spec) > 8:
        raise Refused(f"unsupported dtype spec {spec!r}")
    return _plain_dtype(np.dtype(spec, align=bool(align), copy=bool(copy)))


def _reconstruct(subtype: Any, shape: Any, typecode: Any) -> np.ndarray:
    """The empty array that ``ndarray.__setstate__`` then fills (numpy pickles use shape (0,))."""
    if subtype is not _NDARRAY or not isinstance(shape, tuple) or shape != (0,):
        raise Refused("unexpected arguments to numpy _reconstruct")
    return _numpy_global("numpy.core.multiarray", "_reconstruct")(np.ndarray, (0,), b"b")


def _scalar(dtype: Any, data: Any = None) -> Any:
    dtype = _plain_dtype(dtype)
    if not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise Refused("malformed numpy scalar")
    return _numpy_global("numpy.core.multiarray", "scalar")(dtype, data)


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    """Protocol-5 arrays: ``numpy._core.numeric._frombuffer``."""
    if not isinstance(buf, (bytes, bytearray)) or order not in ("C", "F") or not _is_shape(shape):
        raise Refused("malformed protocol-5 numpy array")
    return np.frombuffer(buf, _plain_dtype(dtype)).reshape(shape, order=order)


def _latin1_encode(obj: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """``_codecs.encode``, which Python 3 protocol-2 pickles use to store bytes (latin-1 only)."""
    if encoding not in ("latin1", "latin-1") or not isinstance(obj, str):
        raise Refused(f"refused _codecs.encode(..., {encoding!r})")
    return obj.encode("latin-1")


def _sized(kind: type) -> Any:
    """``bytes``/``bytearray`` without the ``bytes(n)`` form: a tiny file must not allocate n bytes."""

    def make(*args: Any) -> Any:
        # no size / __index__
        if not all(isinstance(a, (str, bytes, bytearray, list, tuple)) for a in args):
            raise Refused(f"{kind.__name__}(<size>)")
        return kind(*args)

    return make


_SAFE_BUILTINS = {name: getattr(__import__("builtins"), name) for name in _BUILTINS}
_SAFE_BUILTINS.update(bytes=_sized(bytes), bytearray=_sized(bytearray))

_NUMPY = {
    "multiarray._reconstruct": _reconstruct,
    "multiarray.scalar": _scalar,
    "numeric._frombuffer": _frombuffer,
}


def _is_shape(shape: Any) -> bool:
    return isinstance(shape, tuple) and all(type(n) is int and 0 <= n < 2**40 for n in shape)


def _check_dtype_state(inst: np.dtype, state: Any) -> None:
    """Only the state numpy itself writes for this plain dtype, apart from the byte-order character."""
    canonical = inst.__reduce__()[2]
    ok = (
        isinstance(state, tuple)
        and len(state) == len(canonical)
        and state[0] == canonical[0]
        and state[1] in ("<", ">", "|", "=", b"<", b">", b"|", b"=")
        and all(a is b or (type(a) is type(b) and a == b) for a, b in zip(state[2:], canonical[2:]))
    )
    if not ok:
        # no repr: it may be huge
        raise Refused(f"a malformed dtype state ({type(state).__name__})")


def _check_array_state(state: Any) -> None:
    """(version, shape, dtype, fortran, raw bytes) with exactly the bytes the shape needs."""
    if not (
        isinstance(state, tuple)
        and len(state) == 5
        and state[0] == 1
        and _is_shape(state[1])
        and isinstance(state[3], (bool, int))
        and isinstance(state[4], (bytes, str))
    ):
        raise Refused("malformed ndarray state")
    if len(state[4]) != math.prod(state[1]) * _plain_dtype(state[2]).itemsize:
        raise Refused(f"ndarray state of shape {state[1]} has {len(state[4])} bytes")


class _RestrictedUnpickler(pickle._Unpickler):  # the pure-Python unpickler, so BUILD can be checked
    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, data: bytes, encoding: str) -> None:
        super().__init__(io.BytesIO(data), encoding=encoding)
        self.max_size = len(data)

    def find_class(self, module: str, name: str) -> Any:
        module = _PY2_MODULES.get(module, module)
        if module == "builtins" and name in _SAFE_BUILTINS:
            return _SAFE_BUILTINS[name]
        if (module, name) == ("numpy", "ndarray"):
            return _NDARRAY
        if (module, name) == ("numpy", "dtype"):
            return _make_dtype
        if (module, name) == ("_codecs", "encode"):
            return _latin1_encode
        if (
            module
            in (
                "numpy.core.multiarray",
                "numpy._core.multiarray",
                "numpy.core.numeric",
                "numpy._core.numeric",
            )
            and f"{module.rsplit('.', 1)[1]}.{name}" in _NUMPY
        ):
            return _NUMPY[f"{module.rsplit('.', 1)[1]}.{name}"]
        raise Refused(f"global '{module}.{name}'")

    def load_build(self) -> None:
        state, inst = self.stack[-1], self.stack[-2]
        if type(inst) is np.ndarray:
            _check_array_state(state)
        elif isinstance(inst, np.dtype):
            _check_dtype_state(inst, state)
        else:
            raise Refused(f"setting the state of a {type(inst).__name__}")
        pickle._Unpickler.load_build(self)

    dispatch[pickle.BUILD[0]] = load_build

    def load_bytearray8(self) -> None:
        """As pickle's, but a claimed length beyond the file's own size is refused before allocating."""
        (size,) = struct.unpack("<Q", self.read(8))
        if size > self.max_size:
            raise pickle.UnpicklingError(
                f"BYTEARRAY8 of {size} bytes in a {self.max_size}-byte file"
            )
        self.stack.append(bytearray(self.read(size)))

    dispatch[pickle.BYTEARRAY8[0]] = load_bytearray8


def loads_pickle(data: bytes, path: str | Path = "<bytes>", encoding: str = "bytes") -> Any:
    """Unpickle ``data`` with the restricted unpickler; any failure is a DataError naming ``path``.

    ``encoding='bytes'`` reads Python 2 strings as ``bytes`` (what the CIFAR-10 batches need).
    """
    try:
        return _RestrictedUnpickler(data, encoding).load()
    except Refused as e:
        raise DataError(
            f"Refused to load '{path}': it is a pickle that asks for {e}, which a plain data file never needs "
            f"(a crafted pickle can run any code this way). Delete the file and get the official one."
        ) from None
    except Exception as e:  # noqa: BLE001 - any failure to parse untrusted bytes is the file's fault
        raise DataError(
            f"'{path}' is not a readable pickle file ({type(e).__name__}: {e}); it is truncated or corrupt. "
            f"Delete it and download the official file again."
        ) from None


def load_pickle(path: str | Path, encoding: str = "bytes") -> Any:
    """Read a pickle file that may only contain plain numpy arrays and Python containers."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise DataError(
            f"cannot read '{path}': {e.strerror or e}. Check that the file exists and is readable."
        ) from None
    return loads_pickle(data, path, encoding)
