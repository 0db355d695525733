"""Signals and a suite's ``--jobs`` processes: a Ctrl-C held while one starts (remembered once it can take
it), a Ctrl-C passed on to each when only the suite's process got it, and the pool's manager woken to
watch a process just started (pool.py)."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, suppress
from multiprocessing import resource_tracker

from vislab.interrupts import remember_ctrl_c


def take_held_ctrl_c() -> None:
    """In a ``--jobs`` process, once it has started: Ctrl-C remembered from now on, and SIGINT unblocked
    (:func:`ctrl_c_held` started the process with it blocked), so that one pressed during its start-up is
    remembered now. Ctrl-C reaches every process: a worker raises nothing (the parent stops the pool), and
    a run still setting up stops at its first step; during training the trainer's own handler saves a
    resumable checkpoint and the run ends "interrupted"."""
    remember_ctrl_c()
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@contextmanager
def ctrl_c_held() -> Iterator[None]:
    """While inside (the suite's process starting a ``--jobs`` process), SIGINT is blocked in this thread.
    The process started meanwhile begins with it blocked (a signal mask survives fork and exec), so a
    Ctrl-C during its seconds of start-up (importing torch) waits for :func:`take_held_ctrl_c` instead of
    ending it with a KeyboardInterrupt traceback (and a broken pool). One that reaches this thread
    meanwhile is raised on leaving. Where threads have no signal mask (Windows), nothing changes."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    # multiprocessing starts its resource tracker with the first process, and unblocks SIGINT after it:
    # started first, it leaves the mask as set here
    resource_tracker.ensure_running()
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def stop_jobs() -> None:
    """Ctrl-C for every job process: a signal to the suite's process alone (``kill -INT PID``, ``timeout
    -s INT``, a scheduler's SIGTERM) stops its runs as one to the whole process group does (a Ctrl-C at
    the terminal), which already reached them: a second one changes nothing."""
    for child in mp.active_children():
        with suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGINT)


def wake_manager(pool: ProcessPoolExecutor) -> None:
    """Make the pool's manager thread look at its processes again, now that ``submit`` has started one.
    Python 3.11's ``submit`` wakes it before starting the process: it may list its processes without the
    new one and never see that process die (a SIGKILLed job: the suite waited forever, 1 time in ~5)."""
    wakeup = getattr(
        pool, "_executor_manager_thread_wakeup", None
    )  # private: absent, nothing to do
    if wakeup is not None:
        wakeup.wakeup()
