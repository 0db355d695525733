"""How a command that ends early ends: the message and exit code for each expected way (vislab's errors,
a Ctrl-C, a usage error, a full disk or an unwritable path, running out of memory, a data-parallel peer
gone); ``main`` (``vislab/cli/__init__.py``) maps what a command raised to them."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from vislab.cli.worker import is_worker, record_said, said_by_rank_0
from vislab.errors import TrainingInterrupted, VislabError
from vislab.files import DISK_FULL, ELSEWHERE

err = Console(stderr=True, emoji=False)

HOST_MEMORY = (
    "[bold red]error:[/] out of host memory: this command needed more RAM than is free (when "
    "training: use a smaller train.batch_size{eval} or data.limit; elsewhere: smaller inputs)."
)


#: a Ctrl-C that Python swallowed (in a finaliser) while the command went on to its end: all was done
DONE_THEN_CTRL_C = (
    "[bold yellow]interrupted:[/] a Ctrl-C came while the command ran, but it went on to its end: all it "
    "does is done (exit 130 says the Ctrl-C)."
)


def peer_gone(e: RuntimeError) -> bool:
    """In a data-parallel worker: whether its collective failed because another rank died. It then ends
    quietly, 130, with no traceback: the launcher (or torchrun's failure summary) names the rank that
    died, and the run keeps its last epoch end."""
    if not is_worker():
        return False
    from vislab.training.runtime import lost_peer  # on use: torch (module docstring)

    return lost_peer(e)


def outcome(e: BaseException) -> int:
    """The message and exit code of an expected way for a command to end early.

    Under torchrun, an error of vislab's that every rank meets (a config error, a data error before
    training, an interruption) is printed once per machine: by its first rank (LOCAL_RANK 0, rank 0 on
    rank 0's machine), which records it (``worker.said_by_rank_0``). Another rank prints its own error only if
    it differs (another type or text; all interruptions count as one) or if none was recorded within
    ``worker._WAIT_S`` seconds (rank 0 had none, or is slow to meet it): a rank's own error is never lost. Under
    ``--nproc`` ranks 1.. print into log files, and the launcher shows one only if rank 0 said nothing.
    """
    # the exit code follows the type (errors.py); a signal that came as a run was scored, which finished
    # first (``complete``), stopped nothing: a note, 0
    if isinstance(e, (VislabError, TrainingInterrupted)):
        complete = getattr(e, "complete", False)
        if not said_by_rank_0(e):
            stopped = isinstance(e, TrainingInterrupted)
            kind = "[bold yellow]interrupted:[/]" if stopped else "[bold red]error:[/]"
            # text may hold [/x]
            err.print(
                f"{'note:' if complete else kind} {escape(str(e))}", highlight=False, soft_wrap=True
            )
            record_said(e)
        return 0 if complete else e.exit_code
    if isinstance(e, typer.Exit):
        return e.exit_code
    if isinstance(e, typer.Abort):
        err.print("aborted.")
        return 130
    if isinstance(e, KeyboardInterrupt):
        err.print("interrupted.")
        return 130
    e.show()  # a usage error: unknown option, missing or extra argument
    return 2


def environment_error(e: OSError, takes_out: bool) -> int | None:
    """Print what to do about a full disk or an unwritable path, and return the exit code (errors.py: a
    path the user chose that cannot be written 2, as ``UserError``; a full disk or an I/O error 1, as
    ``RunFailed``); None for any other OSError (a bug). ``takes_out``: the command has an --out, the
    fix to name."""
    elsewhere = "choose another --out" if takes_out else ELSEWHERE
    if e.errno in DISK_FULL:
        fix, code = f"Free space, or {elsewhere}.", 1
    elif e.errno == errno.EIO:
        fix, code = f"Check the disk, or {elsewhere}.", 1
    elif e.errno in (
        errno.EROFS,
        errno.EACCES,
        errno.EPERM,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.EEXIST,  # a file where a folder should be made
        errno.ENAMETOOLONG,
    ):
        fix, code = f"Check the path and its permissions, or {elsewhere}.", 2
    elif e.errno == errno.ENOENT:  # a folder that cannot be made where it is asked for (/proc/x)
        fix, code = f"Check the path, or {elsewhere}.", 2
    else:
        return None
    where = f" '{escape(str(_shown_path(e.filename)))}'" if e.filename else ""
    verb = "use" if e.errno == errno.ENOENT else "write"  # it may be a file read, too
    err.print(
        f"[bold red]error:[/] cannot {verb}{where}: {e.strerror}. {fix}",
        highlight=False,
        soft_wrap=True,
    )
    return code


def _shown_path(filename: str | bytes | int) -> str | Path:
    """The path to name: an atomic write's temporary file (``.tmp-…``, ``.x.tmp``) as its folder."""
    path = Path(os.fsdecode(filename)) if not isinstance(filename, int) else Path(str(filename))
    temporary = path.name.startswith(".tmp-") or (
        path.name.startswith(".") and path.suffix == ".tmp"
    )
    return f"{path.parent}{os.sep}" if temporary else path


def out_of_memory(e: RuntimeError) -> bool:
    """Print what to do when torch ran out of host or GPU memory; False for any other RuntimeError."""
    if "can't allocate memory" in str(e):  # torch's CPU allocator
        err.print(HOST_MEMORY.format(eval=", train.eval_batch_size"), soft_wrap=True)
        return True
    if "out of memory" in str(e).lower():
        err.print(
            "[bold red]error:[/] the GPU ran out of memory. Use a smaller train.batch_size "
            "(or train.eval_batch_size), or data.device=cpu to keep the data on the host.",
            soft_wrap=True,
        )
        return True
    return False
