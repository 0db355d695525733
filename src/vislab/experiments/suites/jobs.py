"""A suite's runs trained: one after another in this process, or in ``--jobs`` spawned processes, each
given a run as soon as it is free; each run's outcome (status, message, seconds) never raises for the
run's own failure. A job process dies with the suite's process and stops (saving its run) on Ctrl-C."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from multiprocessing import resource_tracker

import torch

from vislab.config import build_config
from vislab.errors import DataError, Note, TrainingInterrupted, VislabError, show_note
from vislab.experiments.suites.ending import raised_by_the_data
from vislab.experiments.suites.plan import PlannedRun
from vislab.interrupts import on_parent_death, remember_ctrl_c
from vislab.training.rundir import RunDir, is_complete
from vislab.training.trainer import train


def _execute(cfg_dict: dict, run_dir: str, resume: bool, quiet: bool, threads: int | None) -> dict:
    """Train one run; never raises for a run's own failure (returns status + message instead;
    ``data_error``: its data files are missing or unreadable, see ``ending.raised_by_the_data``)."""
    if threads:
        torch.set_num_threads(threads)
    t0 = time.perf_counter()
    data_error = halted = False
    try:
        train(build_config(cfg_dict), run_dir, resume=resume, quiet=quiet)
        status, message, tb = "complete", "", ""
    except TrainingInterrupted as e:
        # a signal in its final scoring, which finished first: the run is complete, the suite stops
        done = is_complete(RunDir(run_dir).read_summary())
        status, message, tb = ("complete" if done else "interrupted"), str(e), ""
        halted = True
    except VislabError as e:
        status, message, tb = "failed", str(e), ""
        data_error = isinstance(e, DataError) and raised_by_the_data(e)
    except Exception as e:  # a bug or runtime failure in this run: keep the others going
        status, message, tb = "failed", f"{type(e).__name__}: {e}", traceback.format_exc()
    return dict(
        status=status,
        message=message,
        traceback=tb,
        seconds=round(time.perf_counter() - t0, 2),
        data_error=data_error or None,  # None: left out of suite.json
        halted=halted or None,  # a signal stopped it: the suite stops (halts)
    )


def halts(outcome: dict) -> bool:
    """Whether a run's ``outcome`` stops the suite: a signal ended the run, resumable ("interrupted"), or
    came as it was scored, which finished first (complete, ``halted``)."""
    return outcome["status"] == "interrupted" or bool(outcome.get("halted"))


_parent: int | None = None  # in a --jobs process: the suite's process, whose death ends this one


def _job_start(parent: int) -> None:
    """Initialiser of a ``--jobs`` process: it gets SIGTERM when ``parent`` (the suite's process) dies, even
    by SIGKILL — its run in flight then saves a resumable checkpoint, as on Ctrl-C, and :func:`_worker`
    exits after it — instead of training on as an orphan that holds its run folder's lock. Its runs are
    quiet: their notes (:class:`~vislab.errors.Note` warnings) go back with each outcome (:func:`_worker`)."""
    global _parent
    _parent = parent
    # SIGTERM when the thread that started this process ends (the one that calls pool.submit); where the
    # kernel offers no such signal, only _worker's check after its run
    on_parent_death(signal.SIGTERM)
    if os.getppid() != parent:  # it died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)
    take_held_ctrl_c()


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


_stopped = False  # in a --jobs process: a run of it was interrupted (Ctrl-C): the suite is stopping


def _worker(cfg_dict: dict, run_dir: str, resume: bool, threads: int | None) -> dict:
    """Train one run in a ``--jobs`` process; after an interrupted one, start none (the suite stops: a
    process whose neighbour was still starting may have been handed the next run already)."""
    global _stopped
    if _stopped:
        return dict(status="interrupted", message="stopped before it started", seconds=0.0)
    with warnings.catch_warnings(record=True) as caught:  # shown by the suite's process (_finished)
        warnings.simplefilter("always", Note)
        outcome = _execute(cfg_dict, run_dir, resume, True, threads)
    notes = dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, Note))
    outcome["notes"] = list(notes) or None
    _stopped = halts(outcome)
    if _parent is not None and os.getppid() != _parent:
        # orphaned: nobody reads the outcome, and the pool's queue would keep it waiting forever
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)
    return outcome


class ListSource:
    """The runs to train, from a list: all known up front (one machine)."""

    poll_s = 0.0

    def __init__(self, todo: list[PlannedRun]):
        self.todo = list(todo)

    def next(self) -> PlannedRun | None:
        return self.todo.pop(0) if self.todo else None

    def finished(self) -> bool:
        return not self.todo


def run_all(source, jobs: int, quiet: bool, log: Callable[[str], None]):
    """Yield (name, outcome) as runs finish: in this process (jobs=1) or in ``jobs`` spawned processes.

    ``source`` hands out the runs: ``next()`` a PlannedRun to train now (None: none now), ``finished()``
    whether none will come any more (else ask again after ``poll_s`` seconds) — a ListSource, or a suite's
    claims in a shared database (shared/runner.py)."""
    if jobs <= 1 or (isinstance(source, ListSource) and len(source.todo) <= 1):
        while (p := source.next()) is not None or not source.finished():
            if p is None:
                time.sleep(source.poll_s)
                continue
            _started(p, log)
            outcome = _execute(
                p.config.to_dict(), str(p.run_dir), p.action == "resume", quiet, None
            )
            yield _finished(p, outcome, log)
            if halts(outcome):
                return
        return
    yield from _run_pool(source, jobs, log)


def _run_pool(source, jobs: int, log: Callable[[str], None]):
    """run_all with ``jobs`` spawned processes, each given a run as soon as it is free."""
    threads = max(1, (os.cpu_count() or 1) // jobs)
    with ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=mp.get_context("spawn"),
        initializer=_job_start,
        initargs=(os.getpid(),),
    ) as pool:
        futures: dict = {}
        try:
            while True:
                while len(futures) < jobs and (p := source.next()) is not None:
                    _started(p, log)
                    args = (p.config.to_dict(), str(p.run_dir), p.action == "resume")
                    own = None if p.config.train.threads else threads
                    with ctrl_c_held():  # submit may start a process
                        futures[pool.submit(_worker, *args, own)] = p
                    _wake_manager(pool)
                if not futures:
                    if source.finished():
                        return
                    time.sleep(source.poll_s)
                    continue
                done, _ = wait(futures, timeout=source.poll_s or None, return_when=FIRST_COMPLETED)
                if any(isinstance(f.exception(), BrokenProcessPool) for f in done):
                    yield from _pool_broken(futures, log)  # no job can start any more
                    return
                for f in done:
                    yield _finished(futures.pop(f), f.result(), log)
        except KeyboardInterrupt:
            # Ctrl-C reached the workers too: each saves its run and ends it "interrupted"
            for f in futures:
                f.cancel()
            for f, p in futures.items():
                yield _finished(p, _outcome_when_stopped(f), log)
            raise
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def _wake_manager(pool: ProcessPoolExecutor) -> None:
    """Make the pool's manager thread look at its processes again, now that ``submit`` has started one.
    Python 3.11's ``submit`` wakes it before starting the process: it may list its processes without the
    new one and never see that process die (a SIGKILLed job: the suite waited forever, 1 time in ~5)."""
    wakeup = getattr(
        pool, "_executor_manager_thread_wakeup", None
    )  # private: absent, nothing to do
    if wakeup is not None:
        wakeup.wakeup()


def _pool_broken(futures: dict[Future, PlannedRun], log: Callable[[str], None]):
    """A job process was killed outright (SIGKILL: the OOM killer, ``kill -9``), which breaks the pool:
    its other processes are stopped too (each saves its run, as on Ctrl-C). The runs in flight end
    "interrupted", resumable; the suite stops as if interrupted, and a re-run resumes them."""
    for f, p in futures.items():
        f.cancel()
        why = (
            "a --jobs process was killed (SIGKILL: out of memory, or kill -9), which stops every job "
            "process: resumable from its last saved epoch"
        )
        yield _finished(p, dict(status="interrupted", message=why, seconds=0.0), log)
    _end_jobs(grace_s=20.0)


def _end_jobs(grace_s: float) -> None:
    """After a broken pool: the job processes still alive (the pool sent them SIGTERM: each saves its run
    and ends) get ``grace_s`` seconds, then SIGKILL — one that saved but waits for work the broken pool
    will never send must not keep the suite (and the pool's shutdown) waiting."""
    deadline = time.monotonic() + grace_s
    while mp.active_children() and time.monotonic() < deadline:  # active_children reaps the ended
        time.sleep(0.2)
    for child in mp.active_children():
        child.kill()


#: a run in flight whose ``--jobs`` process ended with the Ctrl-C that stopped the suite
_ENDED_WITH_ITS_PROCESS = (
    "interrupted (Ctrl-C), its --jobs process ending with it: resumable from its last saved epoch (a "
    "re-run resumes it, or starts it anew if none was saved)"
)


def _outcome_when_stopped(f: Future) -> dict:
    """The outcome of a run in flight when Ctrl-C stopped the suite: its worker's (it ends the run
    "interrupted", resumable), or "interrupted" when it never started or its worker process was lost."""
    if f.cancel():
        return dict(status="interrupted", message="stopped before it started", seconds=0.0)
    try:
        return f.result()
    # its worker process died (BrokenProcessPool): the Ctrl-C ended it, or came with its end
    except Exception:
        return dict(status="interrupted", message=_ENDED_WITH_ITS_PROCESS, seconds=0.0)


def _started(p: PlannedRun, log: Callable[[str], None]) -> None:
    log(f"{p.name}: {'resuming' if p.action == 'resume' else 'starting'} → {p.run_dir}")


def _finished(p: PlannedRun, o: dict, log: Callable[[str], None]) -> tuple[str, dict]:
    for note in o.pop("notes", None) or ():  # a --jobs process's: shown here, once per text
        show_note(note)
    if o["status"] == "complete":
        msg = f"done in {o['seconds']:.1f}s"
    elif o.get("data_error"):  # the suite's error says it, once
        msg = "FAILED — its data cannot be read (the error, at the end, says why)"
    else:
        msg = f"{o['status'].upper()} — {o['message']}"
    log(f"{p.name}: {msg}")
    if o.get("traceback"):
        log(o["traceback"].rstrip())
    return p.name, o
