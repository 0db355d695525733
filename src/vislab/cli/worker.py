"""How a data-parallel worker process ends: ``python -m vislab`` under torchrun (``vislab train --nproc N``
starts N of them) leaves through :func:`leave`, skipping the interpreter's shutdown.

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

import os
import sys


def is_worker() -> bool:
    """True in a process torchrun started as one of several ranks (WORLD_SIZE > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def leave(code: int) -> None:
    """End this process now with ``code``: stdout and stderr flushed, the interpreter's shutdown skipped."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
