"""``vislab suite``, ``vislab sweep`` (run / show) and ``vislab report``.

Commands import the layers they drive when they run ("on use" below): those load torch,
scikit-learn, matplotlib and optuna (~3 s here), which `vislab --help`, tab completion and usage
errors should not wait for.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from typer.core import TyperGroup

from vislab.cli.options import TrustRunsOpt, check_flags_and_sets
from vislab.cli.terminal import RichDisplay, print_results, print_table
from vislab.errors import SuiteFailed, TrainingInterrupted

if TYPE_CHECKING:
    import optuna

console = Console(stderr=True, highlight=False, emoji=False)
SetOpt = typer.Option(
    None, "--set", "-s", help="Override a config key in every run: key.sub=value (repeatable)."
)
DataOpt = typer.Option(
    None, "--data", help="Set data.name for every run (e.g. mnist, cifar10, digits)."
)
EpochsOpt = typer.Option(None, "--epochs", min=1, help="Set train.epochs for every run.")
NoReportOpt = typer.Option(False, "--no-report", help="Skip report.html (tables only).")


def _log(line: str) -> None:
    console.print(line, soft_wrap=True, markup=False)


class _DefaultRun(TyperGroup):
    """``vislab sweep FILE ...`` means ``vislab sweep run FILE ...``."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


sweep_app = typer.Typer(
    cls=_DefaultRun,
    no_args_is_help=True,
    help="Optuna sweeps: `vislab sweep FILE` runs (or joins) one; "
    "`vislab sweep show DIR` reports it; `vislab sweep list` names the built-in ones.",
)


SuiteNameArg = typer.Argument(
    None,
    help="Built-in suite name or suite YAML file (none, or `list`: list the built-in suites).",
)
JobsOpt = typer.Option(
    1,
    "--jobs",
    "-j",
    min=1,
    help="Runs trained at once, each in its own process (which starts its own Python and torch, and "
    "shares the cores: it pays for runs of many seconds; short runs finish sooner with 1).",
)
SuiteOutOpt = typer.Option(None, "--out", "-o", help="Suite folder (default runs/suite-<name>).")
QuietOpt = typer.Option(False, "--quiet", "-q", help="No progress bars.")
SuiteOverwriteOpt = typer.Option(
    False,
    "--overwrite",
    help="Delete an earlier suite in its folder first: every run trains afresh (not with --only: to "
    "train one run afresh, delete its folder).",
)
SuiteTrustOpt = typer.Option(
    False,
    "--trust-code",
    help="A run resumed imports its own model code (model.name=file.py:Net) even if the file changed "
    "since it trained (fixed after it failed). Only for code you trust: importing runs it.",
)
SuiteStorageOpt = typer.Option(
    None,
    "--storage",
    help="PostgreSQL URL (postgresql://user:pass@host/db) shared by the machines working through "
    "this suite together: each run is claimed by one; the last to finish writes the tables. "
    "Give them one --out on a shared file system, or each gets the others' results from the "
    "database. Default: this machine alone.",
)
SeedsOpt = typer.Option(
    None,
    "--seeds",
    help="Train each run N times (DIR/<run>-s0 … with train.seed + 0 … N-1); the tables and the report "
    "give each run's mean ± std over its seeds. Default: the suite file's seeds: N, else as the suite in "
    "DIR was run, else once.",
)
HeartbeatOpt = typer.Option(
    None, "--heartbeat", help="With --storage: seconds between a worker's heartbeats (20)."
)
HeartbeatLapseOpt = typer.Option(
    None,
    "--heartbeat-lapse",
    help="With --storage: a run whose worker sent no heartbeat for this many seconds is taken "
    "over by another (90, or 4 heartbeats if longer).",
)
DryRunOpt = typer.Option(
    False,
    "--dry-run",
    help="Say what each run would do (start, resume, already complete, retrain, failed; busy: another "
    "vislab process holds its folder), its model and "
    "the settings it changes; check everything a run checks, but train and write nothing. With "
    "--storage: each run's state in the shared database instead (done, failed, claimed by which "
    "worker and its last heartbeat, waiting), read only.",
)

SuiteOnlyOpt = typer.Option(
    None,
    "--only",
    metavar="RUN",
    help="Train (or resume) only this run of the suite, or row of seeds (all its seeds); repeat for "
    "several. The others are listed as not trained yet (or, trained with other settings, as not trained "
    "with these, in no table): the same command without --only trains them.",
)


def suite(
    name: str | None = SuiteNameArg,
    data: str | None = DataOpt,
    set_: list[str] | None = SetOpt,
    epochs: int | None = EpochsOpt,
    jobs: int = JobsOpt,
    out: Path | None = SuiteOutOpt,
    quiet: bool = QuietOpt,
    no_report: bool = NoReportOpt,
    storage: str | None = SuiteStorageOpt,
    heartbeat: float | None = HeartbeatOpt,
    heartbeat_lapse: float | None = HeartbeatLapseOpt,
    overwrite: bool = SuiteOverwriteOpt,
    seeds: int | None = SeedsOpt,
    dry_run: bool = DryRunOpt,
    only: list[str] | None = SuiteOnlyOpt,
    trust_code: bool = SuiteTrustOpt,
) -> None:
    """Run a suite: each run into DIR/<run>; finished runs are skipped, interrupted ones resumed;
    then DIR/results.csv, results.md and report.html. Failed runs are listed at the end (exit 1); a
    run whose data cannot be read stops the suite with that error (exit 2). A re-run whose runs differ from
    those DIR holds (another --set or suite file) is refused (exit 2): --overwrite starts it over. With
    --storage, run the same command on several machines to share the runs. --only RUN trains just that
    run (a later run without --only trains the rest). --dry-run prints the plan instead (exit 0, a run
    that would fail as it starts listed failed; 2 for what a run would refuse); with --storage, each run's
    state in the shared database. `vislab suite list` (or no NAME) lists the built-in suites."""
    if name is None or name == "list":
        _list_suites()
        return
    # on use: torch & co. take seconds to load (module docstring)
    from vislab.api import resolve_suite, run_suite

    check_flags_and_sets(set_, epochs=epochs, data=data)
    _, folder = resolve_suite(name, out)
    common = dict(out=folder, data=data, epochs=epochs, overrides=set_ or [], storage=storage,
                  heartbeat=heartbeat, heartbeat_lapse=heartbeat_lapse, overwrite=overwrite, seeds=seeds,
                  only=only or None, trust_code=trust_code)  # fmt: skip
    if dry_run:  # the plan (a shared suite's: its progress) is the output: on stdout, line by line
        _dry_run(name, common)
        return
    try:
        run_suite(name, jobs=jobs, quiet=quiet, report=not no_report, log=_log, **common)
    except SuiteFailed:
        with _printing(folder, "suite"):
            print_results(folder)
        raise
    with _printing(folder, "suite"):
        print_results(folder)


def _dry_run(name: str, common: dict) -> None:
    """What `vislab suite NAME --dry-run` prints: the plan of each run (``common``: run_suite's other
    arguments); with --storage, each run's state in the shared suite's database instead (read only)."""
    from vislab.api import run_suite  # on use (module docstring)

    run_suite(name, log=print, dry_run=True, **common)


@contextmanager
def _printing(folder: Path, what: str) -> Iterator[None]:
    """Within: the table of a suite or sweep (``what``) that has ended printed; a Ctrl-C in it ends the
    command (exit 130) saying that it stopped nothing: every file is written."""
    try:
        yield
    except KeyboardInterrupt:
        raise TrainingInterrupted(
            f"Ctrl-C while the {what}'s table was printed, once the {what} had ended: it stopped nothing, "
            f"every file is written (the table: {folder / 'results.md'})."
        ) from None


def _list_suites() -> None:
    """The built-in suites, one line each: name and description; then where their files are, and how to
    run a suite file named ``list`` when one is here (``vislab suite list`` lists)."""
    # on use (module docstring); the suites' files alone load no torch (tests/test_s26_lazy_imports.py)
    from vislab.experiments.suites.spec import SUITE_DIR, builtin_suites

    for key, desc in builtin_suites().items():
        print(f"{key:14s} {desc}")
    print(f"(files in {SUITE_DIR})")
    if Path("list").is_file():
        print("(to run the suite file 'list' here: vislab suite ./list)")


TrialsOpt = typer.Option(
    None,
    "--trials",
    "-n",
    min=1,
    help="Trials the study should hold, failed ones too, repeated ones not (all workers together).",
)
StorageOpt = typer.Option(
    None, "--storage", help="Optuna storage URL shared by workers (default sqlite:///DIR/study.db)."
)
NarrowOpt = typer.Option(
    None, "--narrow", min=1, help="Then a second stage over the ranges of the best TOPK trials."
)
CurvesOpt = typer.Option(
    None,
    "--curves",
    min=1,
    help="The report draws the training curves of the best K trials (default: the file's curves:, 30).",
)


SweepFileArg = typer.Argument(
    ...,
    help="Sweep YAML (base:, space:, metric:, direction:, sampler:, pruner: ...), a Weights & Biases "
    "sweep YAML as it is (method:, metric:, parameters: ...) or a built-in sweep name (`vislab sweep list`).",
)
TimeoutOpt = typer.Option(None, "--timeout", min=1, help="Start no new trial after S seconds.")
SweepOutOpt = typer.Option(None, "--out", "-o", help="Sweep folder (default runs/sweep-<name>).")
NarrowTrialsOpt = typer.Option(
    None, "--narrow-trials", min=1, help="Trials of the second stage (default: --trials)."
)
VerboseOpt = typer.Option(False, "--verbose", "-v", help="Show each trial's training progress.")
SweepQuietOpt = typer.Option(
    False, "--quiet", "-q", help="No progress bars (with --verbose: each trial's as plain lines)."
)
SweepOverwriteOpt = typer.Option(
    False,
    "--overwrite",
    help="Delete an earlier sweep in its folder first (its trials and DIR/study.db): a new study.",
)
SweepDryRunOpt = typer.Option(
    False,
    "--dry-run",
    help="Print the plan: the sweep folder, study and storage, metric, sampler and pruner, the trials the "
    "study holds (read only) and how many would train, the search space, the base config's settings and "
    "the trials' notes; check everything the sweep checks before its first trial, but train and write "
    "nothing.",
)


@sweep_app.command("run")
def sweep_run(
    file: str = SweepFileArg,
    trials: int | None = TrialsOpt,
    timeout: float | None = TimeoutOpt,
    storage: str | None = StorageOpt,
    out: Path | None = SweepOutOpt,
    narrow: int | None = NarrowOpt,
    narrow_trials: int | None = NarrowTrialsOpt,
    data: str | None = DataOpt,
    set_: list[str] | None = SetOpt,
    epochs: int | None = EpochsOpt,
    verbose: bool = VerboseOpt,
    quiet: bool = SweepQuietOpt,
    no_report: bool = NoReportOpt,
    curves: int | None = CurvesOpt,
    overwrite: bool = SweepOverwriteOpt,
    dry_run: bool = SweepDryRunOpt,
) -> None:
    """Run (or join) a sweep: each trial trains DIR/trials/<number>; pruned on the validation metric.
    --trials is the total the study should hold: a re-run trains only what is missing. DIR/sweep.yaml is
    the sweep as run (with --data/--epochs/--set; DIR/narrow/sweep.yaml: the narrowed stage, its study
    and trials): `vislab sweep DIR/sweep.yaml --out DIR` goes on. A folder holding another sweep's trials
    is refused (exit 2). --dry-run prints the plan instead (exit 0; 2 for what the sweep would refuse)."""
    # on use: torch & co. take seconds to load (module docstring)
    from vislab.api import resolve_sweep, sweep
    from vislab.experiments.suites.spec import suite_overrides
    from vislab.experiments.sweeps.results import stage_storage
    from vislab.experiments.sweeps.study import load_existing_study
    from vislab.reporting import use_display

    check_flags_and_sets(set_, epochs=epochs, data=data)
    if dry_run:  # the plan is the output: on stdout, line by line
        plan = sweep(file, out=out, trials=trials, storage=storage, data=data, epochs=epochs,
                     overrides=set_ or [], narrow=narrow, overwrite=overwrite, dry_run=True)  # fmt: skip
        print("\n".join(plan.lines()))
        return
    _, folder = resolve_sweep(file, out, overrides=suite_overrides(data, epochs, set_ or []))
    with use_display(RichDisplay(bars=False)) if quiet else nullcontext():
        study = sweep(file, out=folder, trials=trials, timeout=timeout, storage=storage, data=data,
                      epochs=epochs, overrides=set_ or [], narrow=narrow, narrow_trials=narrow_trials,
                      curves=curves, quiet=not verbose, report=not no_report, log=_log,
                      overwrite=overwrite)  # fmt: skip
    with _printing(folder, "sweep"):
        _print_best(study, 5, folder)
        if narrow:
            second = load_existing_study(
                stage_storage(folder, storage), f"{study.study_name}-narrow"
            )
            _print_best(second, 5, folder / "narrow")


def _print_best(study: optuna.Study, top: int, folder: Path | None) -> None:
    """The ``top`` best trials of a sweep stage (in ``folder``), and how to train the best one again."""
    # on use (module docstring)
    from vislab.experiments.sweeps.trials import best_table, retrain_line

    print_table(best_table(study, top))
    line = retrain_line(study, folder)
    if line:
        print(line)


@sweep_app.command("list")
def sweep_list() -> None:
    """The built-in sweeps: run one with `vislab sweep NAME` (copy its YAML to change it)."""
    # on use (module docstring); the files alone load no torch (tests/test_s26_lazy_imports.py)
    from vislab.experiments.sweeps.builtin_files import SWEEP_DIR, sweep_descriptions

    for name, description in sweep_descriptions().items():
        print(f"{name:12s} {description}")
    print(f"(files in {SWEEP_DIR})")


@sweep_app.command("show")
def sweep_show(
    folder: Path | None = typer.Argument(None, help="Sweep folder (holds sweep.json)."),
    storage: str | None = typer.Option(
        None, "--storage", help="Storage URL (instead of, or overriding, DIR's)."
    ),
    study: str | None = typer.Option(None, "--study", help="Study name (with --storage)."),
    top: int = typer.Option(10, "--top", min=1, help="How many best trials to print."),
    curves: int | None = CurvesOpt,
    no_report: bool = NoReportOpt,
) -> None:
    """Print a sweep's best trials, the command that trains the best one again, and write its report
    (DIR/report.html; with --storage and --study but no DIR: runs/sweep-<study>/; --no-report: its
    tables only)."""
    # on use: torch & co. take seconds to load (module docstring)
    from vislab.api import report_hook
    from vislab.experiments.sweeps.results import show_sweep

    show_sweep(
        folder,
        storage,
        study,
        log=_log,
        on_results=None if no_report else report_hook(_log),  # prints each stage's report path
        curves=curves,
        on_study=lambda loaded, stage: _print_best(loaded, top, stage),
    )


def report(
    folder: Path = typer.Argument(..., help="A run, suite or sweep folder, or any folder of runs."),
    title: str | None = typer.Option(None, "--title", help="Page title."),
    trust_code: bool = TrustRunsOpt,
) -> None:
    """Write FOLDER/report.html: comparison table, curves, confusion / per-class / ROC, data previews. A
    suite's run finished since the suite recorded it (vislab train --resume): its suite.json and
    results.csv/.md are updated first; a sweep's results.csv/.md and trials.csv are written from its
    study first, as `vislab sweep show` writes them. Built again, it keeps each figure whose inputs did
    not change; delete FOLDER/figures/ to draw them all anew."""
    # on use: torch & co. take seconds to load (module docstring)
    from vislab.api import write_report
    from vislab.cli.stopped import kept_on_ctrl_c

    page = folder / "report.html"
    with kept_on_ctrl_c("report", [page, folder / "figures"], page):
        _log(f"report: {write_report(folder, title=title, trust_code=trust_code, log=_log)}")


def register(app: typer.Typer) -> None:
    """Mount these commands on the main ``vislab`` app."""
    app.command("suite")(suite)
    app.command("report")(report)
    app.add_typer(sweep_app, name="sweep")
