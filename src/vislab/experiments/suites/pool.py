"""A suite's runs trained: one after another in this process, or in ``--jobs`` spawned processes, each
given a run as soon as it is free (each run's outcome from jobs.py, never raising for the run's own
failure). A job process dies with the suite's process and stops (saving its run) on a Ctrl-C or SIGTERM to
the suite's process; one killed by another signal fails its run alone (one killed as it starts, before it
trained a run, fails none: the runs in flight go on in a new pool — once in a row)."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import time
import warnings
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path

from vislab.errors import Note
from vislab.experiments.records import RunOutcome
from vislab.experiments.suites.job_signals import (
    ctrl_c_held,
    stop_jobs,
    take_held_ctrl_c,
    wake_manager,
)
from vislab.experiments.suites.jobs import KILLED, _execute, finished, halts, started, unreported
from vislab.experiments.suites.plan import PlannedRun, plan_run
from vislab.interrupts import on_parent_death
from vislab.training.rundir import RunDir

_parent: int | None = None  # in a --jobs process: the suite's process, whose death ends this one
_said = None  # in a --jobs process: the queue that hears which run it starts (_job_start)


def _job_start(parent: int, said=None) -> None:
    """Initialiser of a ``--jobs`` process: it gets SIGTERM when ``parent`` (the suite's process) dies, even
    by SIGKILL — its run in flight then saves a resumable checkpoint, as on Ctrl-C, and :func:`_worker`
    exits after it — instead of training on as an orphan that holds its run folder's lock. Its runs are
    quiet: their notes (:class:`~vislab.errors.Note` warnings) go back with each outcome (:func:`_worker`).
    ``said`` (a queue) hears which run it starts (pid, run folder): the suite's process names the run
    whose process died."""
    global _parent, _said
    _parent, _said = parent, said
    # SIGTERM when the thread that started this process ends (the one that calls pool.submit); where the
    # kernel offers no such signal, only _worker's check after its run
    on_parent_death(signal.SIGTERM)
    if os.getppid() != parent:  # it died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)
    take_held_ctrl_c()


_stopped = False  # in a --jobs process: a run of it was interrupted (Ctrl-C): the suite is stopping


def _worker(
    cfg_dict: dict, run_dir: str, resume: bool, threads: int | None, trust_code: bool = False
) -> RunOutcome:
    """Train one run in a ``--jobs`` process (``trust_code``: as :func:`_execute`'s); after an
    interrupted one, start none (the suite stops: a process whose neighbour was still starting may have
    been handed the next run already)."""
    global _stopped
    if _stopped:
        return unreported("interrupted", _NOT_STARTED)
    if _said is not None:
        _said.put((os.getpid(), run_dir))
    with warnings.catch_warnings(record=True) as caught:  # shown by the suite's process (finished)
        warnings.simplefilter("always", Note)
        outcome = _execute(cfg_dict, run_dir, resume, True, threads, trust_code)
    notes = dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, Note))
    outcome = replace(outcome, notes=list(notes) or None)
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
        """The first run still to train that is :meth:`ready`; None while none is (others train)."""
        i = next((i for i, p in enumerate(self.todo) if self.ready(p)), None)
        return None if i is None else self.todo.pop(i)

    def ready(self, p: PlannedRun) -> bool:
        """Whether ``p`` may train now (here: always)."""
        return True

    def finished(self) -> bool:
        return not self.todo


def run_all(source, jobs: int, quiet: bool, log: Callable[[str], None], trust_code: bool = False):
    """Yield (name, outcome) as runs finish: in this process (jobs=1) or in ``jobs`` spawned processes;
    ``trust_code``: a resumed run imports its own model file even if changed since (:func:`_execute`).

    ``source`` hands out the runs: ``next()`` a PlannedRun to train now (None: none now), ``finished()``
    whether none will come any more (else ask again after ``poll_s`` seconds) — a ListSource, or a suite's
    claims in a shared database (shared/runner.py)."""
    if jobs <= 1 or (isinstance(source, ListSource) and len(source.todo) <= 1):
        while (p := source.next()) is not None or not source.finished():
            if p is None:
                time.sleep(source.poll_s)
                continue
            started(p, log)
            resume = p.action == "resume"
            outcome = _execute(p.config.to_dict(), str(p.run_dir), resume, quiet, None, trust_code)
            yield finished(p, outcome, log)
            if halts(outcome):
                return
        return
    yield from _run_pool(source, jobs, log, trust_code)


def _run_pool(source, jobs: int, log: Callable[[str], None], trust_code: bool = False):
    """run_all with ``jobs`` spawned processes, each given a run as soon as it is free. A job process killed
    by a signal the suite did not send (the OOM killer, ``kill -9``) fails its run and breaks the pool,
    whose other processes stop (each saves its run, as on SIGTERM): a new pool goes on with those runs —
    also where the one killed trained none of them (still starting: each run in flight goes on), but not
    twice in a row, no run ending between (_pool_broken)."""
    again: list[PlannedRun] | None = []
    blind = 0  # pools broken in a row by a job process that trained none of the runs in flight
    while again is not None:
        again, blind = yield from _one_pool(_First(again, source), jobs, log, blind, trust_code)


class _First:
    """``source``, handing out the runs ``first`` before its own."""

    def __init__(self, first: list[PlannedRun], source):
        self.first, self.source, self.poll_s = list(first), source, source.poll_s

    def next(self) -> PlannedRun | None:
        return self.first.pop(0) if self.first else self.source.next()

    def finished(self) -> bool:
        return not self.first and self.source.finished()


def _one_pool(source, jobs: int, log: Callable[[str], None], blind: int, trust_code: bool):
    """_run_pool's work in one pool: returns (None, or the runs to go on with in another: this one broke;
    the pools broken in a row by a job process that trained none of the runs in flight, ``blind`` before)."""
    threads = max(1, (os.cpu_count() or 1) // jobs)
    # (pid, run folder) of each run a job process starts: whose run a process that died was training
    said = mp.get_context("spawn").SimpleQueue()
    with ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=mp.get_context("spawn"),
        initializer=_job_start,
        initargs=(os.getpid(), said),
    ) as pool:
        futures: dict = {}
        procs: dict[int, mp.process.BaseProcess] = {}  # the job processes: their exit codes
        try:
            while True:
                while len(futures) < jobs and (p := source.next()) is not None:
                    started(p, log)
                    args = (p.config.to_dict(), str(p.run_dir), p.action == "resume")
                    own = None if p.config.train.threads else threads
                    with ctrl_c_held():  # submit may start a process
                        futures[pool.submit(_worker, *args, own, trust_code)] = p
                    wake_manager(pool)
                    procs.update((c.pid, c) for c in mp.active_children())
                if not futures:
                    if source.finished():
                        return None, blind
                    time.sleep(source.poll_s)
                    continue
                done, _ = wait(futures, timeout=source.poll_s or None, return_when=FIRST_COMPLETED)
                if any(isinstance(f.exception(), BrokenProcessPool) for f in done):
                    return (yield from _pool_broken(futures, procs, said, log, blind, source))
                for f in done:
                    blind = 0  # a run ended: the pool works
                    yield finished(futures.pop(f), f.result(), log)
        except KeyboardInterrupt:
            # Ctrl-C (or SIGTERM) reached this process: the workers each save their run and end it
            # "interrupted" — told here, whether or not the signal came to them too
            stop_jobs()
            for f in futures:
                f.cancel()
            for f, p in futures.items():
                yield finished(p, _outcome_when_stopped(f), log)
            raise
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def _pool_broken(
    futures: dict[Future, PlannedRun],
    procs: dict,
    said,
    log: Callable[[str], None],
    blind: int = 0,
    source=None,
):
    """A job process died outright, which breaks the pool: its other processes are stopped (SIGTERM: each
    saves its run). Died by a signal the suite did not send (SIGKILL: the OOM killer, ``kill -9``), its run
    fails and the others go on in a new pool. Where none of the runs in flight was its own (it was still
    starting: it had not said that it started one), each goes on (resumed or started) — unless that
    happened in the pool before too (``blind``: pools broken so in a row), then the suite stops: each run
    in flight, and each of ``source`` not reached, ends "failed" saying so and what a re-run does (None).
    Returns (the runs to go on with in a new pool, or None; ``blind`` now)."""
    for f in futures:
        f.cancel()
    ours = _end_jobs([p.run_dir for p in futures.values()], grace_s=20.0)
    for c in procs.values():
        c.join(5)
    killed = _killed_outright(procs, ours)
    runs = _runs_started(said)
    lost = {runs[pid]: sig for pid, sig in killed.items() if pid in runs}
    if not any(str(p.run_dir) in lost for p in futures.values()):  # its own run unknown
        if blind:
            yield from _stop_blind(futures, source, killed, log)
            return None, blind + 1
        blind += 1
        log(f"{_unsaid(killed)}; the runs in flight go on in new --jobs processes")
    again = []
    for f, p in list(futures.items()):
        outcome, q = _after_the_break(p, lost.get(str(p.run_dir)))
        if outcome is None:
            log(f"{p.name}: stopped with the other --jobs processes (one was killed); going on")
            again.append(q)
        else:
            yield finished(p, outcome, log)
            del futures[f]  # recorded: a Ctrl-C from now on ends only the others "interrupted"
    return again, blind


def _killed_outright(procs: dict, ours: set[int]) -> dict[int, int]:
    """{pid: signal} of the job processes ``procs`` killed by a signal this process did not send (the
    pool's SIGTERM, _end_jobs's SIGKILL to the pids ``ours``)."""
    return {
        pid: -c.exitcode
        for pid, c in procs.items()
        if c.exitcode is not None
        and c.exitcode < 0
        and c.exitcode != -signal.SIGTERM
        and pid not in ours
    }


def _unsaid(killed: dict[int, int]) -> str:
    """What broke a pool whose dead job process trained none of the runs in flight (still starting, or
    between two runs): killed (by which signal), or ended so."""
    sigs = sorted(set(killed.values()))
    how = "ended" if not sigs else "was killed"
    if sigs:
        how += f" ({' and '.join(_signal_name(s) for s in sigs)}: e.g. out of memory, or kill -9)"
    return (
        f"a --jobs process {how} while it trained none of the runs in flight (still starting, or "
        f"between two runs)"
    )


def _stop_blind(futures: dict[Future, PlannedRun], source, killed: dict[int, int], log):
    """Stop the suite after a second pool in a row broke by :func:`_unsaid`: each run in flight ends
    failed (or complete, if it finished as its process stopped), then each run of ``source`` not reached
    (a ListSource's: a shared suite's stay in its database for the other workers), saying so and what a
    re-run does."""
    why = f"{_unsaid(killed)}, a second time before any run ended, so the suite stopped"
    for p in futures.values():
        outcome, q = _after_the_break(p, None)
        if outcome is None:
            saved = q.action == "resume"
            then = "resumes it from its last saved epoch" if saved else "starts it"
            outcome = unreported("failed", f"not finished: {why}; a re-run of the suite {then}")
        yield finished(p, outcome, log)
    for p in _not_reached(source):
        yield finished(
            p, unreported("failed", f"not started: {why}; a re-run of the suite trains it"), log
        )


def _not_reached(source) -> list[PlannedRun]:
    """The runs ``source`` (a :class:`_First`) would still hand out, taken from it: those to go on with,
    then a ListSource's list (none of a source that is not one)."""
    if not isinstance(source, _First):
        return []
    runs, source.first = source.first, []
    inner = source.source
    if isinstance(inner, ListSource):
        runs, inner.todo = runs + inner.todo, []
    return runs


def _after_the_break(
    p: PlannedRun, signum: int | None
) -> tuple[RunOutcome | None, PlannedRun | None]:
    """What became of run ``p``, in flight when its pool broke (``signum``: the signal that killed its own
    process): (its outcome, None), or (None, the run to go on with: resume or start)."""
    if signum:
        return unreported("failed", _killed(signum, p.run_dir)), None
    q = plan_run(p.name, p.run_dir, lambda: p.config)
    if q.action == "done":  # it ended as its process was stopped
        return unreported("complete"), None
    if q.action in ("resume", "start"):
        return None, q
    return unreported("failed", q.message), None


def _runs_started(said) -> dict[int, str]:
    """{job process's pid: the run folder it started last}, from the queue its runs write to (_worker)."""
    runs = {}
    while not said.empty():
        pid, run_dir = said.get()
        runs[pid] = run_dir
    return runs


def _killed(signum: int, run_dir: Path) -> str:
    """A failed run's message: its job process was killed by ``signum``, a signal the suite did not send."""
    saved = (Path(run_dir) / "checkpoints" / "last.pt").is_file()
    then = "resumes it from its last saved epoch" if saved else "starts it anew"
    return (
        f"{KILLED} {signum} ({_name(signum)}: e.g. out of memory, or kill -9); a re-run of the suite "
        f"{then}"
    )


def _name(signum: int) -> str:
    """``signum``'s name: "SIGKILL" ("?" for a number that is no signal here)."""
    return signal.Signals(signum).name if signum in signal.valid_signals() else "?"


def _signal_name(signum: int) -> str:
    """``signum`` in words: "SIGKILL, signal 9"."""
    return f"{_name(signum)}, signal {signum}"


def _end_jobs(run_dirs: list[Path], grace_s: float) -> set[int]:
    """After a broken pool: the job processes still alive (the pool sent them SIGTERM: each saves its run
    and ends it) get up to ``grace_s`` seconds to let go of ``run_dirs``, then SIGKILL — one that saved but
    waits for work the broken pool will never send must not keep the suite (and the pool's shutdown)
    waiting. Returns the pids it killed."""
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and (
        mp.active_children()  # reaps the ended
        and any(RunDir(d).live_holder() is not None for d in run_dirs)
    ):
        time.sleep(0.05)
    left = mp.active_children()
    for child in left:
        child.kill()
    return {child.pid for child in left}


#: a run handed to a ``--jobs`` process that the suite stopped before it started it
_NOT_STARTED = "stopped before it started"
#: a run in flight whose ``--jobs`` process ended with the Ctrl-C that stopped the suite
_ENDED_WITH_ITS_PROCESS = (
    "interrupted (Ctrl-C), its --jobs process ending with it: resumable from its last saved epoch (a "
    "re-run resumes it, or starts it anew if none was saved)"
)


def _outcome_when_stopped(f: Future) -> RunOutcome:
    """The outcome of a run in flight when Ctrl-C stopped the suite: its worker's (it ends the run
    "interrupted", resumable), or "interrupted" when it never started or its worker process was lost."""
    if f.cancel():
        return unreported("interrupted", _NOT_STARTED)
    try:
        return f.result()
    # its worker process died (BrokenProcessPool): the Ctrl-C ended it, or came with its end
    except Exception:
        return unreported("interrupted", _ENDED_WITH_ITS_PROCESS)
