"""``vislab quickstart``: the built-in `quickstart` suite into one folder, its results.md on the terminal
as `vislab suite` prints a suite's, then its report.

Commands import the layers they drive when they run ("on use" below): those load torch, matplotlib and
pandas (seconds), which `vislab --help`, tab completion and usage errors should not wait for.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from vislab.cli.terminal import print_results
from vislab.errors import SuiteFailed

err = Console(stderr=True)


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
    from vislab.api import report_hook
    from vislab.experiments.suites.quickstart import run_quickstart

    def log(line: str) -> None:
        err.print(line, soft_wrap=True, markup=False, highlight=False)

    try:
        run_quickstart(out, epochs=epochs, quiet=quiet, log=log)
    except SuiteFailed:  # the finished runs' table still says what they did
        print_results(out)
        raise
    print_results(out)
    report_hook(log)(Path(out))


def register(app: typer.Typer) -> None:
    """Mount ``vislab quickstart`` on the main app."""
    app.command("quickstart")(quickstart)
