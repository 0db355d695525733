"""Atomic file writes (a temp file in the same folder, fsync, rename), so that a crash leaves the old file
or the new one, never half of one: a run's files, tables, reports, exports (:func:`atomic_write`), and
cache entries and memos that may be skipped (:func:`try_atomic_write`)."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from vislab.errors import WriteFailed

_UMASK = os.umask(0o022)
os.umask(_UMASK)

#: the errors of a full disk (or a full quota): "free space" is their fix
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
#: the disk's own failures, which no other file written there would escape (full, failing, read-only)
DISK_FAILURES = (*DISK_FULL, errno.EIO, errno.EROFS)

#: the way out of an unwritable or full place that a command chose itself (no option names it: ``vislab
#: report FOLDER`` writes FOLDER/report.html)
ELSEWHERE = "copy the folder somewhere writable and run the command on the copy"


def atomic_write(
    path: Path, write: Callable[[BinaryIO], object], option: str | None = "--out"
) -> None:
    """Write via ``write(file_obj)`` to a temp file in the same folder, fsync, then rename over ``path``.

    A crash at any moment leaves either the old file or the new one, never half of one (a killed process
    may leave a ``.<name>.*.tmp`` file behind, which nothing reads). ``option``: the command's option that
    chose the place (``--out``, ``--csv``), named as the fix when it cannot be written (WriteFailed); None
    where no option chose it (:data:`ELSEWHERE` is the fix).
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        fix = f"Choose a writable {option}" if option else _capital(ELSEWHERE)
        raise WriteFailed(f"cannot write to '{path.parent}': {e.strerror}. {fix}.") from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            # mkstemp makes 0600 files; give the usual permissions
            os.fchmod(f.fileno(), 0o666 & ~_UMASK)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise WriteFailed(_not_written(path, e, option)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _not_written(path: Path, e: OSError, option: str | None) -> str:
    """Why :func:`atomic_write` could not put its file at ``path`` (``e``), and the fix: free space for a
    full disk, the folder in the way where one is, else the system's reason; another ``option`` (None:
    :data:`ELSEWHERE`); that an earlier file there is kept only where there is one."""
    kept = "; the previous file there is intact" if path.is_file() else ""
    elsewhere = f"choose another {option}" if option else ELSEWHERE
    if e.errno in DISK_FULL:
        return f"could not write '{path}': the disk is full. Free space or {elsewhere}{kept}."
    if path.is_dir():  # os.replace onto a folder: EISDIR (or, on some systems, EEXIST or ENOTEMPTY)
        return f"could not write '{path}': a folder of that name is in the way. Move or rename it."
    return f"could not write '{path}': {e.strerror}. {_capital(elsewhere)}{kept}."


def _capital(text: str) -> str:
    """``text`` as a sentence starts: its first letter in capitals."""
    return text[:1].upper() + text[1:]


def atomic_write_text(path: Path, text: str, option: str | None = "--out") -> None:
    """``text`` into ``path`` by :func:`atomic_write` (``option``: as there)."""
    atomic_write(path, lambda f: f.write(text.encode()), option)


def try_atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> bool:
    """:func:`atomic_write` for a file that may be skipped (a cache entry, a memo): creates the folder;
    False, with nothing written, where it cannot be written (a read-only or full folder)."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, write)
    except (OSError, WriteFailed):
        return False
    return True
