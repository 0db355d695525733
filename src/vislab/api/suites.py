"""Running a suite: its folder, its seeds, its shared storage and its results."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vislab.api.experiments import (
    Log,
    ReportCutShort,
    check_counts,
    every_run_sets,
    lines_to,
    report_hook,
    report_kept_on_ctrl_c,
)
from vislab.api.folders import check_new, start_over
from vislab.api.side_by_side import compare
from vislab.api.sweeps import DataName, check_file_settings
from vislab.arguments import Folder, checked
from vislab.errors import TrainingInterrupted, UserError, each_note_once, show_note
from vislab.experiments.suites.refusals import refuse_together
from vislab.run import Run
from vislab.training.progress import in_notebook
from vislab.training.rundir import RunDir

# The suite runners, their shared storage and the tables are imported by the functions that use them
# ("on use" below): they load matplotlib, pandas and SQLAlchemy, which `import vislab.api` should not
# wait for (see its __init__).
if TYPE_CHECKING:
    import pandas as pd

    from vislab.experiments.shared.postgres import SharedStorage
    from vislab.experiments.suites.foresee import Foreseen
    from vislab.experiments.suites.spec import Suite


@dataclass
class SuiteResult:
    """What ``vislab.run_suite`` returns: the comparison ``table`` (one row per suite run, columns as
    results.csv) and each finished run folder by name (with seeds ``cnn-s0``, ``cnn-s1``, ...)."""

    path: Path
    table: pd.DataFrame
    runs: dict[str, Run] = field(default_factory=dict)

    def __fspath__(self) -> str:
        """Its folder, which a suite's result stands for (``vislab.compare(res)``, ``write_report(res)``)."""
        return str(self.path)

    def _repr_html_(self) -> str:
        return f"<div><b>suite</b> <code>{html.escape(str(self.path))}</code>{self.table.to_html()}</div>"


def resolve_suite(name_or_file: str | Path, out: str | Path | None = None) -> tuple[Suite, Path]:
    """The loaded suite and its folder (``out``, default ``runs/suite-<name>``)."""
    from vislab.experiments.suites.spec import load_suite  # on use (see the imports)

    suite = load_suite(name_or_file)
    return suite, Path(out) if out is not None else Path("runs") / f"suite-{suite.name}"


def _seeded_suite(
    name_or_file: str | Path,
    out: str | Path | None,
    overwrite: bool,
    storage: str | None,
    seeds: int | None,
    only: str | Sequence[str] | None = None,
    sets: Sequence[str] = (),
    jobs: int = 1,
) -> tuple[Suite, Path, list[str] | None]:
    """The suite, each run ``seeds`` times (None: as its file's ``seeds:``, else as the suite in the
    folder was run, else once), its folder (started over with ``overwrite``) and the runs ``only`` names
    (None: all); an unknown name, fewer seeds than the folder's suite was run with (without
    ``overwrite``: its other seeds would drop out of every table), or a model or arrays of this Python
    process for ``jobs`` processes to train (each run's config with ``sets``, every run's --set
    assignments; the runs the folder's plan trains or resumes), is refused before the folder is touched."""
    from vislab.experiments.records import SuiteInfo  # on use (see the imports)
    from vislab.experiments.suites.in_process import refuse_what_workers_lack, runs_to_train
    from vislab.experiments.suites.spec import only_runs, with_seeds

    suite, folder = resolve_suite(name_or_file, out)
    before = SuiteInfo.read(folder).seeds
    before = 1 if before is None else before
    from_file = seeds is None and suite.file_seeds is not None
    if seeds is None:
        seeds = suite.file_seeds or (1 if overwrite else before)
    suite = with_seeds(suite, seeds)
    if isinstance(before, int) and seeds < before and not overwrite:
        raise UserError(_fewer_seeds(suite, folder, before, from_file))
    chosen = None if only is None else only_runs(suite, _only_names(only, storage))
    if jobs > 1:  # the runs its plan trains (a folder started over: every one)
        kept = folder if not overwrite and storage is None else None
        refuse_what_workers_lack(runs_to_train(suite, chosen, sets, kept), jobs)
    if overwrite:
        start_over(folder, "suite", storage=storage)
    check_new(folder, "suite")
    return suite, folder, chosen


def _fewer_seeds(suite: Suite, folder: Path, before: int, from_file: bool) -> str:
    """Why ``suite`` is not run into ``folder``, run there with ``before`` seeds, with fewer (its
    file's ``seeds:`` where ``from_file``, else --seeds), and the ways on."""
    name, seeds = suite.name, suite.seeds
    dropped = list(range(seeds, before))
    which = f"seed {dropped[0]}" if len(dropped) == 1 else f"seeds {dropped[0]}–{dropped[-1]}"
    given = (
        f"its file's seeds: {seeds} ({suite.path})"
        if from_file
        else f"--seeds {seeds} (Python: seeds={seeds})"
    )
    keep = f"Give --seeds {before} (Python: seeds={before})"
    if from_file:
        keep += f" or write seeds: {before} in the file"
    elif (suite.file_seeds or before) >= before:
        keep = f"Leave out --seeds (Python: seeds=None) or g{keep[1:]}"
    return (
        f"suite '{name}' was run into '{folder}' with --seeds {before} (suite.json): {given} "
        f"would leave each run's {which} out of every table, so nothing was trained or written. "
        f"{keep} to keep them all, or add --overwrite (Python: overwrite=True) to start the suite "
        f"over with {seeds} seed{'s' * (seeds > 1)} (deletes its runs)."
    )


def _only_names(only: str | Sequence[str], storage: str | None) -> list[str]:
    """``only`` as a list of names (one name: a string); UserError with ``storage`` or for no name."""
    names = [only] if isinstance(only, str) else list(only)
    if storage is not None:
        raise UserError(
            "only some runs of a shared suite cannot be chosen: its runs go to whichever machine claims "
            "them. Leave out --only (Python: only=...), or --storage (Python: storage=...)."
        )
    if not names:
        raise UserError("only= names no run: give a run's (or row's) name, or leave it out.")
    return names


# how a suite whose report was cut short writes it (report_kept_on_ctrl_c)
_AGAIN = (
    "re-run the same `vislab suite` command (Python: the same vislab.run_suite call), which skips the "
    "finished runs and writes it"
)


@checked
def run_suite(
    name_or_file: str | Path,
    *,
    out: Folder | None = None,
    data: DataName = None,
    epochs: int | None = None,
    overrides: str | Sequence[str] | Mapping[str, Any] = (),
    jobs: int = 1,
    quiet: bool | None = None,
    report: bool = False,
    log: Log | None = None,
    storage: str | None = None,
    heartbeat: float | None = None,
    heartbeat_lapse: float | None = None,
    overwrite: bool = False,
    seeds: int | None = None,
    dry_run: bool = False,
    only: str | Sequence[str] | None = None,
    trust_code: bool = False,
    **settings: Any,
) -> SuiteResult | pd.DataFrame:
    """Run a built-in suite (``vislab suite`` lists them) or a suite YAML into ``out/<run>`` (default
    ``runs/suite-<name>``): finished runs skipped, interrupted ones resumed; results.csv/.md, report.html if
    ``report``. SuiteFailed if a run failed, DataError if a run's data cannot be read, UserError before any
    training if ``out`` holds its runs with another config (but ``epochs``: retrained; or ``overwrite=True``).
    ``data``, ``epochs``, ``overrides`` (``["data.limit=300"]``) and ``settings`` (``data__limit=300``) set
    every run's config as ``vislab suite --set`` does; a key given twice: UserError. ``quiet``: None prints the
    progress in a notebook only (``log`` receives it). ``seeds``: each run trained that many times (``<run>-s0``
    …; None: the file's ``seeds:``, else as in ``out``; fewer: UserError unless ``overwrite``). ``storage``: a
    PostgreSQL URL shared by the machines running the suite, each run claimed by one (a claim silent for
    ``heartbeat_lapse`` s, 90, is taken over; ``heartbeat`` every 20 s). ``dry_run``: checked as a run is, nothing
    written; the plan as a DataFrame (with ``storage``: each run's state in its database). ``only``: those runs
    alone (a row: all its seeds). ``trust_code``: as ``vislab.train``'s, for a resumed run (model file changed).
    >>> res = vislab.run_suite("quickstart", epochs=1, data__limit=300)  # res.table, res.runs["cnn"]
    """
    check_counts("run_suite", jobs=jobs, epochs=epochs)  # seeds: checked with the suite
    refuse_together(dry_run, overwrite, storage, trust_code, only)
    check_file_settings("run_suite", settings, overrides)
    sets = every_run_sets("run_suite", data, epochs, overrides, settings)
    suite, folder, chosen = _seeded_suite(
        name_or_file, out, overwrite, storage, seeds, only, sets, jobs
    )
    shared = _shared_storage(storage, heartbeat, heartbeat_lapse)
    log = lines_to(log, quiet := not in_notebook() if quiet is None else quiet)
    if dry_run:
        return _dry_run(suite, folder, sets, log, chosen, shared)
    hook = report_kept_on_ctrl_c(report_hook(log), "runs", _AGAIN) if report else None
    kw = dict(jobs=jobs, quiet=quiet, on_results=hook)
    _train_runs(suite, folder, shared, sets, log=log, only=chosen, trust_code=trust_code, **kw)
    return _suite_result(suite, folder)


def _dry_run(
    suite: Suite,
    folder: Path,
    sets: list[str],
    log: Log,
    only: list[str] | None,
    shared: SharedStorage | None = None,
) -> pd.DataFrame:
    """What running ``suite`` into ``folder`` would do (``only``: to those runs): a line per run, between
    the suite's line (its runs, seeds and epochs) and a count of each action; returned as
    :func:`_plan_table`. A suite ``shared`` through a database: each run's state there
    (:func:`_shared_dry_run`)."""
    if shared is not None:
        return _shared_dry_run(suite, shared, log)
    from vislab.experiments.results.for_people import setting_text  # on use (see the imports)
    from vislab.experiments.suites.foresee import foresee_suite, foreseen_notes

    foreseen = foresee_suite(suite, folder, sets, only)
    said = _runs_said(suite, only)
    log(f"suite {suite.name}: {said}, {_epochs_said(foreseen)} → {folder} (dry run)")
    for f in foreseen:
        changes = "".join(f", {k}={setting_text(v)}" for k, v in f.changed.items())
        log(f"  {f.name}: {f.said} — model {f.config.model.name}{changes}")
    for note in foreseen_notes(foreseen):  # what the runs would note as they start
        log(f"  {note}")
    counts = {a: sum(f.action == a for f in foreseen) for a in _ACTIONS}
    told = ", ".join(f"{n} {_ACTIONS[a]}" for a, n in counts.items() if n)
    log(f"dry run: {told}; nothing was trained or written")
    return _plan_table(foreseen)


def _shared_dry_run(suite: Suite, storage: SharedStorage, log: Log) -> pd.DataFrame:
    """``vislab suite FILE --storage URL --dry-run``: each run's state in the shared suite's database
    (:func:`shared_progress`: read only) told to ``log``, and a row per run: ``run``, ``state`` (done,
    failed, running, waiting), ``what`` (the state in words)."""
    import pandas as pd  # on use (see the imports)

    from vislab.experiments.shared.progress import shared_progress

    progress = shared_progress(storage, suite.name)
    for line in progress.lines():
        log(line)
    rows = [dict(run=r.run, state=r.state, what=r.what) for r in progress.runs]
    return pd.DataFrame(rows, columns=["run", "state", "what"])


def _runs_said(suite: Suite, only: list[str] | None) -> str:
    """The suite's runs, as its first line says them: "3 runs × 2 seeds"; with ``only``, "1 of its 3
    runs (cnn)"."""
    each = f" × {suite.seeds} seeds" if suite.seeds > 1 else ""
    if only is None:
        return f"{len(suite.runs)} runs{each}"
    return f"{len(only)} of its {len(suite.run_names())} runs ({', '.join(only)})"


def _epochs_said(foreseen: list[Foreseen]) -> str:
    """The runs' epochs, as the dry run's first line says them ("10 epochs each (majority: fitted)"): a
    fitted baseline's models named apart, since they have no epochs."""
    fitted = sorted({f.config.model.name for f in foreseen if f.trained_by == "fit_arrays"})
    epochs = sorted({f.config.train.epochs for f in foreseen if f.trained_by != "fit_arrays"})
    if not epochs:
        return "each fitted, no epochs"
    said = (
        f"{epochs[0]}–{epochs[-1]} epochs"
        if len(epochs) > 1
        else f"{epochs[0]} epoch{'s' * (epochs[0] > 1)} each"
    )
    return said + (f" ({', '.join(fitted)}: fitted)" if fitted else "")


_ACTIONS = {  # a planned action, as the dry run's last line counts it
    "start": "to start",
    "resume": "to resume",
    "retrain": "to retrain",
    "busy": "busy (another vislab process holds its folder: the suite is refused while it does)",
    "done": "already complete",
    "failed": "failed",
    "left out": "left out of every table (--only, trained with other settings)",
}


def _plan_table(foreseen: list[Foreseen]) -> pd.DataFrame:
    """A dry run's plan: a row per run — ``run``, ``action`` (start, resume, done, retrain, busy, failed, or left out:
    ``only`` leaves out a run its folder holds trained with other settings),
    ``what`` (in the words its line says), ``model``, ``epochs`` (train.epochs), then a column per setting
    that differs between the runs (a run without that key: None)."""
    import pandas as pd  # on use (see the imports)

    keys = sorted({k for f in foreseen for k in f.settings})
    rows = [
        dict(run=f.name, action=f.action, what=f.said, model=f.config.model.name,
             epochs=f.config.train.epochs, **{k: f.settings.get(k) for k in keys})
        for f in foreseen
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["run", "action", "what", "model", "epochs", *keys])


def _train_runs(
    suite: Suite,
    folder: Path,
    shared: SharedStorage | None,
    sets: list[str],
    *,
    log: Log,
    only: list[str] | None = None,
    trust_code: bool = False,
    **kw: Any,
) -> None:
    """The suite's runs (``only``: those; never with ``shared`` storage, nor ``trust_code``: a resumed
    run's changed model file imported), on this machine alone or shared with others through ``shared``
    storage; each note said once (``errors.each_note_once``)."""
    from vislab.experiments.shared.runner import run_shared_suite  # on use (see the imports)
    from vislab.experiments.suites.ending import TablesCutShort
    from vislab.experiments.suites.jobs import NOTHING_STOPPED, stopped_nothing
    from vislab.experiments.suites.runner import run_suite

    log(f"suite {suite.name}: {_runs_said(suite, only)} → {folder}")
    try:
        with each_note_once():
            if shared is None:
                run_suite(suite, folder, sets, log=log, only=only, trust_code=trust_code, **kw)
            else:
                run_shared_suite(suite, folder, shared, sets, log=log, **kw)
    except (ReportCutShort, TablesCutShort):
        raise  # every run ended: its tables or report were cut short (not a run's scoring)
    except TrainingInterrupted:
        if not stopped_nothing(folder):
            raise
        show_note(NOTHING_STOPPED)  # the suite is complete: its report, as when nothing came
        if kw.get("on_results") is not None:
            kw["on_results"](folder)


def _suite_result(suite: Suite, folder: Path) -> SuiteResult:
    """The runs of ``suite`` in ``folder`` with their scores (finished, or stopped as their figures were
    drawn: ``RunSummary.holds_scores``, as its results.md) and their table (a seeded suite's:
    :func:`_seed_table`)."""
    from vislab.experiments.records import SuiteInfo  # on use (see the imports)

    other = SuiteInfo.read(folder).trained_otherwise()  # run before with other settings: no table
    names = [n for n in suite.run_names() if n not in other]
    summaries = {n: RunDir(folder / n).read_summary() for n in names}
    done = [n for n, s in summaries.items() if s is not None and s.holds_scores]
    finished = {name: Run(folder / name) for name in done}
    table = compare(finished, suite.reported) if suite.seeds == 1 else _seed_table(suite, finished)
    return SuiteResult(path=folder, table=table, runs=finished)


def _seed_table(suite: Suite, finished: dict[str, Run]) -> pd.DataFrame:
    """A seeded suite's table as results.csv holds it: a row per suite run, its model and the settings
    the rows changed, mean, std and N."""
    import pandas as pd  # on use (see the imports)

    from vislab.api.comparison import as_read_back
    from vislab.experiments.results.settings import table_settings
    from vislab.experiments.results.table import csv_table
    from vislab.experiments.results.texts import own_splits

    summaries = {name: run.summary for name, run in finished.items()}
    folders = {name: run.path for name, run in finished.items()}
    settings = table_settings(summaries, folders, suite.rows())
    splits = own_splits(summaries, suite.rows(), folders)  # test_set, as results.csv has it
    rows, cols = csv_table(summaries, settings, suite.reported, suite.rows(), splits=splits)
    return pd.DataFrame(as_read_back(rows), columns=[k for k, _ in cols]).astype({"seeds": int})


def _shared_storage(
    url: str | None, heartbeat: float | None, lapse: float | None
) -> SharedStorage | None:
    """run_suite's storage options as a SharedStorage (None: this machine alone)."""
    if url is None:
        if heartbeat is not None or lapse is not None:
            raise UserError(
                "--heartbeat and --heartbeat-lapse (Python: heartbeat=, heartbeat_lapse=) time the claims "
                "of a shared suite: give --storage postgresql://... (Python: storage=) too, or leave them "
                "out."
            )
        return None
    from vislab.experiments.shared.postgres import SharedStorage  # on use (see the imports)

    return SharedStorage.timed(url, heartbeat, lapse)
