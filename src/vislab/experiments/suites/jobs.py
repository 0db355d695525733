"""A suite's run trained, and its outcome (:class:`~vislab.experiments.records.RunOutcome`): built here,
whether the run trained (:func:`_execute`, which never raises for the run's own failure), was settled
without training, or was ended by its ``--jobs`` process (pool.py); said as it ends (:func:`finished`)."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch

from vislab.config import build_config
from vislab.errors import DataError, TrainingInterrupted, UserError, VislabError, show_note
from vislab.experiments.records import OTHER_SETTINGS, RunOutcome, SuiteInfo
from vislab.experiments.suites.ending import raised_by_the_data
from vislab.experiments.suites.plan import PlannedRun, not_with_these
from vislab.experiments.suites.tables import tables_missing, trained_since_tables
from vislab.training.rundir import RunDir
from vislab.training.trainer import train


def _execute(
    cfg_dict: dict,
    run_dir: str,
    resume: bool,
    quiet: bool,
    threads: int | None,
    trust_code: bool = False,
) -> RunOutcome:
    """Train one run; never raises for a run's own failure (returns status + message instead;
    ``data_error``: its data files are missing or unreadable, see ``ending.raised_by_the_data``).
    ``trust_code``: a resume imports the run's own model file even if changed since (``vislab.train``'s)."""
    if threads:
        torch.set_num_threads(threads)
    t0 = time.perf_counter()
    data_error = halted = False
    try:
        train(build_config(cfg_dict), run_dir, resume=resume, quiet=quiet, trust_code=trust_code)
        status, message, tb = "complete", "", ""
    except TrainingInterrupted as e:
        # a signal in its final scoring, which finished first: the run is complete, the suite stops
        # (the last run's: nothing is left to stop, :func:`stopped_nothing`)
        summary = RunDir(run_dir).read_summary()
        done = summary is not None and summary.complete
        status, message, tb = ("complete" if done else "interrupted"), in_suite(e), ""
        halted = True
    except VislabError as e:
        status, message, tb = "failed", str(e), ""
        data_error = isinstance(e, DataError) and raised_by_the_data(e)
    except Exception as e:  # a bug or runtime failure in this run: keep the others going
        status, message, tb = "failed", f"{type(e).__name__}: {e}", traceback.format_exc()
    return RunOutcome(
        status=status,
        message=message,
        traceback=tb,
        seconds=round(time.perf_counter() - t0, 2),
        data_error=data_error,  # False: left out of suite.json
        halted=halted,  # a signal stopped it: the suite stops (halts)
    )


def in_suite(stopped: TrainingInterrupted) -> str:
    """The message of a run's interruption as the suite says it: the run's own advice (a ``vislab train``
    command, a resume) replaced by what re-running the suite does with the run."""
    if not stopped.rerun:
        return str(stopped)
    return f"{stopped.what_happened.rstrip(' .;:')}; re-running the suite {stopped.rerun}."


def halts(outcome: RunOutcome) -> bool:
    """Whether a run's ``outcome`` stops the suite: a signal ended the run, resumable ("interrupted"), or
    came as it was scored, which finished first (complete, ``halted``)."""
    return outcome.status == "interrupted" or outcome.halted


def stopped_nothing(out: Path) -> bool:
    """Whether the interruption of the suite in ``out`` stopped nothing: its suite.json records every run
    of the suite complete (the signal came as its last run was scored, which finished first) and its
    results.csv/.md were written after them (not cut short by the signal). The suite is then complete: a
    note, and it ends as one that was not interrupted (``vislab train`` alike)."""
    try:
        info = SuiteInfo.read(out)
    except UserError:
        return False
    runs = info.runs or {}
    every = bool(info.order) and all(n in runs and runs[n].status == "complete" for n in info.order)
    return every and not tables_missing(out) and not trained_since_tables(out, info)


#: the note of a suite whose interruption stopped nothing (:func:`stopped_nothing`)
NOTHING_STOPPED = (
    "the Ctrl-C came as the suite's last run was scored, which finished first: every run is complete, "
    "nothing was stopped."
)


def unreported(status: str, message: str = "") -> RunOutcome:
    """The outcome of a run that its ``--jobs`` process did not report (pool.py): stopped before it
    started, ended with its process, or killed; no seconds counted (0)."""
    return RunOutcome(status=status, message=message, seconds=0.0)


#: how the message of a run whose ``--jobs`` process was killed outright begins (pool.py's ``_killed``):
#: a failure of its process, not of its training or its folder — resumable from its last checkpoint
KILLED = "its --jobs process was killed by signal"


def killed_outright(outcome: RunOutcome) -> bool:
    """Whether ``outcome`` is that of a run failed because its ``--jobs`` process was killed by a signal
    the suite did not send (the OOM killer, ``kill -9``): its folder holds this run, to resume."""
    return outcome.status == "failed" and outcome.message.startswith(KILLED)


def settled_outcome(p: PlannedRun, log: Callable[[str], None]) -> RunOutcome:
    """The outcome of a run settled without training: ``done`` (complete already) or ``failed``."""
    if p.action == "done":
        log(f"{p.name}: already complete, skipped")
        return RunOutcome(status="complete", skipped=True)
    log(f"{p.name}: FAILED — {p.message}")
    return RunOutcome(status="failed", message=p.message)


def with_other_settings(p: PlannedRun) -> RunOutcome:
    """The record of run ``p`` whose folder holds it trained with other settings than the suite's now
    (:data:`~vislab.experiments.records.OTHER_SETTINGS`): not reached yet, or left out by ``--only``."""
    return RunOutcome(status=OTHER_SETTINGS, message=not_with_these(p))


def started(p: PlannedRun, log: Callable[[str], None]) -> None:
    """Say that run ``p`` starts (or resumes), and where."""
    log(f"{p.name}: {'resuming' if p.action == 'resume' else 'starting'} → {p.run_dir}")


def finished(p: PlannedRun, o: RunOutcome, log: Callable[[str], None]) -> tuple[str, RunOutcome]:
    """Say how run ``p`` ended (``o``; a ``--jobs`` process's notes shown here); (its name, its outcome
    without the notes)."""
    for note in o.notes or ():  # a --jobs process's: shown here, once per text
        show_note(note)
    if o.status == "complete":
        msg = f"done in {o.seconds:.1f}s"
    elif o.data_error:  # the suite's error says it, once
        msg = "FAILED — its data cannot be read (the error, at the end, says why)"
    else:
        msg = f"{o.status.upper()} — {o.message}"
    log(f"{p.name}: {msg}")
    if o.traceback:
        log(o.traceback.rstrip())
    return p.name, replace(o, notes=None)
