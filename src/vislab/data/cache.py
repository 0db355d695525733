"""Decoded arrays of a data source kept as ``.npy`` files, so that a source's files are decoded once.

Decoding Fashion-MNIST's four IDX ``.gz`` files takes ~0.7 s and CIFAR-10's six pickles ~1.1 s, in every
run, sweep trial and test; reading the same uint8 arrays back takes 0.03 s and 0.07 s (2 shared cores;
benchmarks/startup.py). Entries live in the user's cache folder, ``$VISLAB_CACHE_DIR`` or
``~/.cache/vislab/`` (``$XDG_CACHE_HOME/vislab``) — never beside the data, which may be a shared or
system folder (a course's dataset folder, a Debian package's); where it is not writable, nothing is
cached. Its key is a hash of each source file's name, size, mtime and the sha256 of its first and last
MiB (2 ms a file; a full sha256 of CIFAR-10's batches, 0.13 s, would take twice the cached read): a
source file replaced, grown, shrunk, touched or edited within its first or last MiB gets a new key (the
stale entry is deleted when the new one is written); an edit inside a larger file that keeps its size
and mtime is not seen. An entry is decoded again when it cannot be read, fails the source's own
checks, or one of its ``.npy`` files no longer has the size and mtime recorded when it was written
(its contents are not hashed). A source with too many files to read each one (an image folder) gives
its own facts for the key (:func:`keyed_arrays`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

from vislab.errors import DataError
from vislab.files import try_atomic_write

VERSION = 1  # bump when what a source caches changes
_MIB = 1 << 20

Arrays = dict[str, np.ndarray]


def user_cache_dir() -> Path:
    """The user's cache folder, where every entry goes (never beside the data): ``$VISLAB_CACHE_DIR``,
    else ``$XDG_CACHE_HOME/vislab`` (``~/.cache/vislab``)."""
    if os.environ.get("VISLAB_CACHE_DIR"):
        return Path(os.environ["VISLAB_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vislab"


def _fingerprint(path: Path) -> list:
    """Name, size, mtime and the sha256 of the first and last MiB of one file."""
    st = path.stat()
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read(_MIB))
        if st.st_size > 2 * _MIB:
            f.seek(st.st_size - _MIB)
        h.update(f.read(_MIB))
    return [path.name, st.st_size, st.st_mtime_ns, h.hexdigest()]


def _key(name: str, facts: object) -> str:
    """The entry's key: what is decoded (``name``) and the facts about its sources (their fingerprints)."""
    blob = json.dumps([VERSION, name, facts]).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def _entry(folder: Path, name: str, key: str, array: str) -> Path:
    """One array of an entry; ``array="index"``: its arrays, each with the size and mtime of its file
    as written (the index is written last: it completes the entry)."""
    return folder / f"{name}-{key}.{array}.{'json' if array == 'index' else 'npy'}"


def _stamp(path: Path) -> list[int]:
    """A file's size and mtime: what the index records of each array file, and checks."""
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _read(folder: Path, name: str, key: str) -> Arrays | None:
    """The entry's arrays, or None when it is absent, incomplete, unreadable or an array file is not
    the one written (another size or mtime than its index records)."""
    try:
        listed = json.loads(_entry(folder, name, key, "index").read_text())
        if not isinstance(listed, dict) or not all(
            isinstance(a, str) and a.isidentifier() for a in listed
        ):
            return None
        paths = {a: _entry(folder, name, key, a) for a in listed}
        if any(_stamp(p) != listed[a] for a, p in paths.items()):
            return None
        return {a: np.load(p, allow_pickle=False) for a, p in paths.items()}
    except (OSError, ValueError, TypeError, EOFError, MemoryError):
        return None  # absent or damaged: decoded again


def _write(folder: Path, name: str, key: str, found: Arrays) -> bool:
    """Write the entry (its arrays, then their index, which completes it) and drop this name's
    stale entries; False when the folder cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        stamps = {}
        for a, value in found.items():
            path = _entry(folder, name, key, a)
            if not try_atomic_write(path, lambda f, v=value: _save(f, v)):
                return False
            stamps[a] = _stamp(path)
        index = _entry(folder, name, key, "index")
        if not try_atomic_write(index, lambda f: f.write(json.dumps(stamps).encode())):
            return False
        entry = re.compile(rf"{re.escape(name)}-[0-9a-f]{{20}}\.\w+\.(npy|json)")
        for old in folder.glob(f"{name}-*"):
            if entry.fullmatch(old.name) and not old.name.startswith(f"{name}-{key}."):
                old.unlink(missing_ok=True)
    except OSError:
        return False
    return True


def _save(f: BinaryIO, value: np.ndarray) -> None:
    np.save(
        f, np.ascontiguousarray(value), allow_pickle=False
    )  # to a file: a path would get .npy added


def cached_arrays(
    name: str,
    files: Sequence[Path],
    decode: Callable[[], Arrays],
    check: Callable[[Arrays], object],
) -> Arrays:
    """``decode()``'s arrays, read from the cache while each of ``files`` keeps its name, size, mtime and
    first and last MiB (:func:`_fingerprint`), else decoded and cached.

    ``name`` says what is decoded (source, set, labels: one entry per name and folder); ``check`` raises
    DataError on arrays that a decode of valid files cannot return: a cached entry it rejects is decoded
    again."""
    return keyed_arrays(name, [_fingerprint(p) for p in files], decode, check)


def keyed_arrays(
    name: str, facts: object, decode: Callable[[], Arrays], check: Callable[[Arrays], object]
) -> Arrays:
    """:func:`cached_arrays` keyed by ``facts`` (JSON values that change whenever the decoded arrays
    would, e.g. each file's path, size and mtime) rather than by reading every file."""
    name = _safe(name)
    key = _key(name, facts)
    folder = user_cache_dir()
    found = _read(folder, name, key)
    if found is not None:
        # refused by the check, or without an array it reads: decoded again
        with contextlib.suppress(DataError, KeyError):
            check(found)
            return found
    found = decode()
    _write(folder, name, key, found)  # False where it cannot be written: decoded again next time
    return found


def _safe(name: str) -> str:
    """``name`` as a file-name part: runs of other characters than letters, digits, ``_.-`` as ``_``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
