"""``vislab quickstart``: the built-in `quickstart` suite into one folder, its results.md on the terminal
as `vislab suite` prints a suite's, then its report.

Commands import the layers they drive when they run ("on use" below): those load torch, matplotlib and
pandas (seconds), which `vislab --help`, tab completion and usage errors should not wait for.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

import typer
from rich.console import Console

from vislab.cli.terminal import print_results
from vislab.errors import SuiteFailed, TrainingInterrupted, show_note

err = Console(stderr=True, emoji=False)


def quickstart(
    out: Path = typer.Option(
        Path("runs/quickstart"),
        "--out",
        "-o",
        help="The suite's folder: a sub-folder per run, results.csv, results.md and report.html. "
        "Run again: finished runs are skipped, interrupted ones resumed.",
    ),
    epochs: int | None = typer.Option(
        None,
        "--epochs",
        min=1,
        help="train.epochs of each trained run (default 15; the majority baseline has none).",
    ),
    quiet: bool = typer.Option(
        False,
        "--quiet",
        "-q",
        help="A line as each run starts and ends: no progress bars, no epoch lines.",
    ),
) -> None:
    """Train the majority baseline, an MLP and a CNN on the bundled `digits` data and compare them:
    results.md's table on the terminal (each row's model, seed and changed settings), OUT/results.csv,
    results.md and report.html."""
    # on use: torch & co. take seconds to load (module docstring)
    from vislab.api.folders import check_new
    from vislab.experiments.suites.jobs import NOTHING_STOPPED, stopped_nothing
    from vislab.experiments.suites.quickstart import run_quickstart

    def log(line: str) -> None:
        err.print(line, soft_wrap=True, markup=False, highlight=False)

    # a run's or a project's folder: the suite's files would mix with its own
    check_new(out, "suite")
    try:
        run_quickstart(out, epochs=epochs, quiet=quiet, log=log)
    except SuiteFailed:  # the finished runs' table still says what they did
        print_results(out)
        raise
    except TrainingInterrupted as e:
        if not stopped_nothing(out):  # the suite's words name `vislab suite`: this command was run
            raise _interrupted(e, out, epochs) from None
        show_note(NOTHING_STOPPED)  # complete: its table and report, as when nothing came
    print_results(out)
    _report(Path(out), log)


def _report(out: Path, log: Callable[[str], None]) -> None:
    """The quickstart's report.html, its runs and tables kept if a Ctrl-C cuts it short."""
    # on use (module docstring)
    from vislab.api import report_hook
    from vislab.cli.stopped import kept_on_ctrl_c

    page, done = out / "report.html", "its runs and tables are complete"
    with kept_on_ctrl_c("quickstart", [page, out / "figures"], page, done, "write the report"):
        report_hook(log)(out)


def _interrupted(e: TrainingInterrupted, out: Path, epochs: int | None) -> TrainingInterrupted:
    """The suite's interruption ``e``, saying how to go on with the command that was run: its way on
    (re-running the suite: :data:`~vislab.experiments.suites.ending.RERUN`) given as this command's."""
    # on use (module docstring)
    from vislab.experiments.suites.ending import RERUN

    what = str(e).partition("\nRe-run the same `vislab suite` command")[0]
    again = f"vislab quickstart --out {shlex.quote(str(out))}"
    again += f" --epochs {epochs}" if epochs is not None else ""
    if RERUN in what:  # a Ctrl-C as the tables were written: the way on is in its sentence
        return TrainingInterrupted(what.replace(RERUN, f"run `{again}` again"))
    return TrainingInterrupted(
        f"{what}\nRun `{again}` again to continue: finished runs are skipped and interrupted ones "
        f"resume."
    )


def register(app: typer.Typer) -> None:
    """Mount ``vislab quickstart`` on the main app."""
    app.command("quickstart")(quickstart)
