"""How a data-parallel worker process ends: ``python -m vislab`` under torchrun (``vislab train --nproc N``
starts N of them) leaves through :func:`leave`, skipping the interpreter's shutdown; and an error every rank
meets is printed once (:func:`said_by_rank_0`, :func:`record_said`: the rule is in ``cli._outcome``).

Why: once DDP has wrapped a model, torch keeps the gloo process group, and its worker threads, alive after
``destroy_process_group``. The thread that ran a rank's last collective (evaluation's broadcast of rank 0's
metrics) drops that work's tensors a moment after the rank moves on; those tensors own Python objects, so
dropping them takes the GIL. A rank with nothing left to do (rank 0 writes the results alone) can reach the
interpreter's shutdown first, and Python ends a thread that asks for the GIL then with ``pthread_exit``
inside a C++ destructor: "terminate called without an active exception", SIGABRT, after a complete run
(#22: 1 run in 8 under load). A barrier before leaving does not help: gloo's barrier keeps the works still
in flight alive, and is dropped in turn by the same kind of thread.

When the command returns, everything a run writes is written and closed (atomic writes; the trainer closes
the trackers); the worker flushes its output and ends with ``os._exit``, so no thread meets a finalizing
interpreter.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

from vislab.errors import TrainingInterrupted, VislabError


def is_worker() -> bool:
    """True in a process torchrun started as one of several ranks (WORLD_SIZE > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def leave(code: int) -> None:
    """End this process now with ``code``: stdout and stderr flushed, the interpreter's shutdown skipped."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


# How long a rank other than the first waits for the first's record of its error (_outcome)
_WAIT_S = 5.0


def said_by_rank_0(e: VislabError | TrainingInterrupted) -> bool:
    """Under torchrun, in a rank other than its machine's first: whether the first printed ``e`` too."""
    mark = _said_mark()
    if mark is None or _first_rank():
        return False
    # under --nproc this rank prints into a log file, which the launcher shows only if rank 0 said nothing
    deadline = time.monotonic() + (0.0 if os.environ.get("VISLAB_RANK0_SAID") else _WAIT_S)
    while True:
        with contextlib.suppress(OSError):
            return mark.read_text() == _gist(e)
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)  # torchrun stops the others soon after rank 0 ends


def record_said(e: VislabError | TrainingInterrupted) -> None:
    """In the first rank of a torchrun job's machine: record that it printed ``e``, for the other ranks
    and for the launcher of ``--nproc`` (training/launch.py). Written whole (renamed into place)."""
    mark = _said_mark()
    if mark is None or not _first_rank():
        return
    with contextlib.suppress(OSError):
        part = mark.with_name(f".{mark.name}.{os.getpid()}.tmp")
        part.write_text(_gist(e))
        part.replace(mark)


def _said_mark() -> Path | None:
    """The file in which the first rank records its error: the one ``--nproc``'s launcher names, else one
    in torchrun's folder for this attempt of the job on this machine; None outside torchrun."""
    if os.environ.get("VISLAB_RANK0_SAID"):
        return Path(os.environ["VISLAB_RANK0_SAID"])
    # torchrun's <log dir>/<run>/attempt_<n>/<local rank>/error.json
    error_file = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if not (error_file and "RANK" in os.environ):
        return None
    return Path(error_file).parent.parent / "vislab-rank0-said"


def _first_rank() -> bool:
    return os.environ.get("LOCAL_RANK", os.environ.get("RANK", "0")) == "0"


def _gist(e: VislabError | TrainingInterrupted) -> str:
    """What makes two ranks' errors the same: type and text; every interruption is one."""
    return "interrupted" if isinstance(e, TrainingInterrupted) else f"{type(e).__name__}: {e}"
