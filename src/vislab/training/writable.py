"""Where a command may save what it makes: a folder that is, or can be made, writable — checked before any
work (:func:`check_writable`), so that nothing is computed for a place it cannot be saved. A run folder's
own files are refused apart (``training.rundir.refuse_run_file``)."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from vislab.errors import UserError


def check_writable(
    out: str | Path,
    what: str,
    option: str = "--out",
    undone: str = "nothing was started",
    is_file: bool = False,
) -> None:
    """UserError unless ``option`` ``out`` is, or can be made, a writable folder (``is_file``: a file in
    one) — checked before any work, so that nothing is computed (or claimed from a shared database) for a
    place it cannot be saved. ``what``: what would be saved there; ``undone``: what the refusal spared, for
    the message. Writing is tried (a temporary file): ``os.access`` says yes to root where the file system
    says no (/sys, a read-only mount)."""
    to_make = Path(os.path.abspath(out))
    to_make = to_make.parent if is_file else to_make
    folder = to_make
    while not folder.exists() and folder != folder.parent:
        # the first folder that is there: the others (the first of them to_make) will be made in it
        to_make, folder = folder, folder.parent
    if not folder.is_dir():
        raise UserError(
            f"{option} '{out}': '{folder}' is a file, not a folder, so {what} cannot be saved there; "
            f"{undone}. Choose another {_both_ways(option)}."
        )
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".vislab-probe.", suffix=".tmp")
    except OSError as e:
        raise UserError(
            f"{option} '{out}': {_cannot_create(to_make, folder, e)}, so {what} cannot be saved "
            f"there; {undone}. Choose a writable {_both_ways(option)}."
        ) from None
    os.close(fd)
    os.unlink(probe)


def _both_ways(option: str) -> str:
    """``--out`` as the command and the Python API name it: ``--out (Python: out=)``."""
    return (
        f"{option} (Python: {option.removeprefix('--').replace('-', '_')}=)"
        if option == "--out"
        else option
    )


def _cannot_create(to_make: Path, folder: Path, e: OSError) -> str:
    """What a failed probe in ``folder`` means, in the system's words: the folder to make (when it is not
    there yet) cannot be created, and why; "not writable" only where that is the reason (permissions, a
    read-only file system) — /proc is there and refuses /proc/x with "No such file or directory"."""
    unwritable = e.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
    said = "is not writable" if unwritable else "lets nothing be created in it"
    if to_make != folder:
        return f"cannot create '{to_make}' ({e.strerror}): the folder '{folder}' {said}"
    if unwritable:
        return f"the folder '{folder}' is not writable ({e.strerror})"
    return f"nothing can be created in the folder '{folder}' ({e.strerror})"
