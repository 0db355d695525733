"""Running a suite: its runs one after another or in N spawned processes, finished runs skipped,
interrupted ones resumed, failures recorded (the suite goes on) — but a run whose data cannot be read
stops it (no further run starts: each would fail the same way); then results.csv/.md (and a hook, the
CLI's report)."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import torch

from vislab.config import build_config
from vislab.errors import DataError, TrainingInterrupted, VislabError
from vislab.experiments.results.provenance import suite_info
from vislab.experiments.results.reported import as_block
from vislab.experiments.results.table import write_tables
from vislab.experiments.suites.ending import data_errors, raise_unfinished, raised_by_the_data
from vislab.experiments.suites.folders import make_room, seed_zero_of_before
from vislab.experiments.suites.plan import PlannedRun, check_plan
from vislab.experiments.suites.spec import Suite
from vislab.interrupts import on_parent_death, remember_ctrl_c
from vislab.training.checkpoint import atomic_write_text
from vislab.training.rundir import RunDir, check_writable, is_complete
from vislab.training.trainer import train


def _execute(cfg_dict: dict, run_dir: str, resume: bool, quiet: bool, threads: int | None) -> dict:
    """Train one run; never raises for a run's own failure (returns status + message instead;
    ``data_error``: its data files are missing or unreadable, see ``ending.raised_by_the_data``)."""
    if threads:
        torch.set_num_threads(threads)
    t0 = time.perf_counter()
    data_error = False
    try:
        train(build_config(cfg_dict), run_dir, resume=resume, quiet=quiet)
        status, message, tb = "complete", "", ""
    except TrainingInterrupted as e:
        status, message, tb = "interrupted", str(e), ""
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
    )


_parent: int | None = None  # in a --jobs process: the suite's process, whose death ends this one


def _job_start(parent: int) -> None:
    """Initialiser of a ``--jobs`` process: it gets SIGTERM when ``parent`` (the suite's process) dies, even
    by SIGKILL — its run in flight then saves a resumable checkpoint, as on Ctrl-C, and :func:`_worker`
    exits after it — instead of training on as an orphan that holds its run folder's lock."""
    global _parent
    _parent = parent
    # SIGTERM when the thread that started this process ends (the one that calls pool.submit); where the
    # kernel offers no such signal, only _worker's check after its run
    on_parent_death(signal.SIGTERM)
    if os.getppid() != parent:  # it died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _worker(cfg_dict: dict, run_dir: str, resume: bool, threads: int | None) -> dict:
    # Ctrl-C reaches every process: a worker raises nothing (the parent stops the pool) and remembers it,
    # so that a run still setting up stops at its first step; during training the trainer's own handler
    # saves a resumable checkpoint and the run ends "interrupted".
    remember_ctrl_c()
    outcome = _execute(cfg_dict, run_dir, resume, True, threads)
    if _parent is not None and os.getppid() != _parent:
        # orphaned: nobody reads the outcome, and the pool's queue would keep it waiting forever
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)
    return outcome


class SuiteState:
    """DIR/suite.json: what the suite is, and each run's last outcome."""

    def __init__(self, out: Path, suite: Suite, overrides: list[str]):
        self.path = Path(out) / "suite.json"
        old = suite_info(out)
        names = suite.run_names()
        self.data = dict(
            name=suite.name,
            source=str(suite.path),
            description=suite.description,
            overrides=list(overrides),
            groups=suite.groups,
            compare=suite.compare,
            reported=as_block(suite.reported),  # the reports' figures, beside the table's
            order=list(names),
            runs={k: v for k, v in (old.get("runs") or {}).items() if k in names},
        )
        if suite.seeds > 1:  # the table's rows: each the mean ± std of its seeds' runs
            self.data.update(seeds=suite.seeds, rows=suite.rows())

    def record(self, name: str, outcome: dict) -> None:
        self.data["runs"][name] = {k: v for k, v in outcome.items() if v not in ("", None)}
        self.save()

    def save(self) -> None:
        atomic_write_text(self.path, json.dumps(self.data, indent=2))


def run_suite(
    suite: Suite,
    out: Path,
    overrides: list[str] | tuple = (),
    jobs: int = 1,
    quiet: bool = False,
    log: Callable[[str], None] = print,
    on_results: Callable[[Path], None] | None = None,
) -> dict[str, dict]:
    """Run every run of ``suite`` into ``out/<run>``; return {run: outcome}. Raises SuiteFailed at the end
    if any run failed, TrainingInterrupted if stopped by a signal (re-running continues where it stopped).

    A run whose data cannot be read (a DataError of the data layer: missing or corrupt files) stops the
    suite: no further run starts (those under way finish), and that DataError is raised, its message
    once (exit 2 on the command line), naming the runs left untrained.

    results.csv/.md are written however it ends — but for a table of nothing, when it stopped on its data
    with no run finished; then ``on_results(out)`` unless it was interrupted (the CLI passes one that builds
    report.html)."""
    out = Path(out)
    plan = check_plan(suite, out, overrides)
    check_writable(out, "the suite's runs")
    out.mkdir(parents=True, exist_ok=True)
    plan = [seed_zero_of_before(p, suite, log) for p in plan]
    state = SuiteState(out, suite, list(overrides))
    state.save()
    outcomes, todo = _settled(plan, state, log)
    source = ListSource(todo)
    interrupted: dict[str, str] = {}  # run → how it was stopped
    untrained: list[str] = []

    def take(name: str, outcome: dict) -> None:
        outcomes[name] = outcome
        state.record(name, outcome)
        if outcome["status"] == "interrupted":
            interrupted[name] = outcome["message"]
        if outcome.get("data_error"):  # each run on that data would fail alike: start no more
            untrained.extend(p.name for p in source.todo)
            source.todo.clear()

    stopped = False
    try:
        stopped = run_to_end(source, jobs, quiet, log, take)
    finally:
        if any(o["status"] == "complete" for o in outcomes.values()) or not data_errors(outcomes):
            ended = not (stopped or interrupted)
            write_results(out, state.data, log=log, on_results=on_results if ended else None)
    raise_unfinished(suite, out, outcomes, interruption(interrupted, stopped), untrained)
    return outcomes


def interruption(interrupted: dict[str, str], stopped: bool) -> str | None:
    """What stopped the suite (None: nothing did): the runs it interrupted (run → message), and
    ``stopped``, whether Ctrl-C stopped it (also between runs)."""
    if len(interrupted) == 1:
        [(name, message)] = interrupted.items()
        return f"{name}: {message}"
    if interrupted:
        lines = "".join(f"\n  - {name}: {message}" for name, message in interrupted.items())
        return f"the suite was interrupted, and with it {len(interrupted)} runs:{lines}"
    return "the suite was interrupted" if stopped else None


def _settled(
    plan: list[PlannedRun], state: SuiteState, log: Callable[[str], None]
) -> tuple[dict[str, dict], list[PlannedRun]]:
    """Outcomes of the runs settled before training (complete already, or a bad config; recorded in
    suite.json), and the runs still to train."""
    outcomes: dict[str, dict] = {}
    todo: list[PlannedRun] = []
    for p in plan:
        p = make_room(p, log) if p.action == "retrain" else p
        if p.action in ("done", "failed"):
            outcomes[p.name] = settled_outcome(p, log)
            state.record(p.name, outcomes[p.name])
        else:
            todo.append(p)
    return outcomes, todo


def settled_outcome(p: PlannedRun, log: Callable[[str], None]) -> dict:
    """The outcome of a run settled without training: ``done`` (complete already) or ``failed``."""
    if p.action == "done":
        log(f"{p.name}: already complete, skipped")
        return dict(status="complete", skipped=True)
    log(f"{p.name}: FAILED — {p.message}")
    return dict(status="failed", message=p.message)


class ListSource:
    """The runs to train, from a list: all known up front (one machine)."""

    poll_s = 0.0

    def __init__(self, todo: list[PlannedRun]):
        self.todo = list(todo)

    def next(self) -> PlannedRun | None:
        return self.todo.pop(0) if self.todo else None

    def finished(self) -> bool:
        return not self.todo


def run_to_end(
    source, jobs: int, quiet: bool, log: Callable[[str], None], take: Callable[[str, dict], None]
) -> bool:
    """Train what ``source`` hands out (run_all), passing each (run, outcome) to ``take`` as it ends;
    True if Ctrl-C stopped it — then the runs in flight are passed on too, each ended "interrupted"."""
    runs = run_all(source, jobs, quiet, log)
    try:
        for name, outcome in runs:
            take(name, outcome)
    except KeyboardInterrupt:
        for name, outcome in _still_in_flight(runs):
            take(name, outcome)
        return True
    return False


def _still_in_flight(runs: Iterator[tuple[str, dict]]) -> Iterator[tuple[str, dict]]:
    """After a Ctrl-C that landed outside ``runs`` (a run_all generator, paused where it yielded): the
    outcomes of its runs in flight. One that landed inside has ended it (its runs in flight yielded)."""
    try:
        got = runs.throw(KeyboardInterrupt())
        while True:
            yield got
            got = next(runs)
    except (KeyboardInterrupt, StopIteration):
        return


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
            if outcome["status"] == "interrupted":
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


def _outcome_when_stopped(f: Future) -> dict:
    """The outcome of a run in flight when Ctrl-C stopped the suite: its worker's (it ends the run
    "interrupted", resumable), or "interrupted" when it never started or its worker process was lost."""
    if f.cancel():
        return dict(status="interrupted", message="stopped before it started", seconds=0.0)
    try:
        return f.result()
    except Exception as e:  # its worker process died (BrokenProcessPool)
        return dict(status="interrupted", message=f"its worker process ended ({e})", seconds=0.0)


def _started(p: PlannedRun, log: Callable[[str], None]) -> None:
    log(f"{p.name}: {'resuming' if p.action == 'resume' else 'starting'} → {p.run_dir}")


def _finished(p: PlannedRun, o: dict, log: Callable[[str], None]) -> tuple[str, dict]:
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


def write_results(
    out: Path,
    state: dict,
    log: Callable[[str], None] = print,
    on_results: Callable[[Path], None] | None = None,
) -> None:
    """results.csv, results.md from the run folders named in ``state``; then ``on_results(out)``."""
    summaries = {}
    for name in state["order"]:
        s = RunDir(Path(out) / name).read_summary()
        if is_complete(s):
            summaries[name] = s
    failures = {
        k: v.get("message", v.get("status"))
        for k, v in state["runs"].items()
        if v.get("status") not in ("complete",)
    }
    write_tables(
        out,
        summaries,
        failures,
        title=f"suite {state['name']}",
        reported=state.get("reported"),
        rows=state.get("rows"),
        groups=state.get("groups"),
        compare=state.get("compare") or "previous",
    )
    log(f"results: {out / 'results.md'}")
    if on_results is not None:
        on_results(out)
