"""``vislab compare RUN_OR_FOLDER...``: the comparison table of finished runs on the terminal, as a suite
prints its own at its end (its results.md), and as results.csv / results.md files with ``--csv`` /
``--md`` (``-``: on stdout; the logic: ``vislab.api.comparison``, which ``vislab.compare`` shares: its
DataFrame is the ``--csv`` table).

Commands import the layers they drive when they run ("on use" below): the tables load pandas, matplotlib
and optuna, which `vislab --help` and usage errors should not wait for.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from vislab.cli.options import is_stdout
from vislab.cli.terminal import print_markdown
from vislab.errors import UserError

err = Console(stderr=True, emoji=False)


def compare(
    targets: list[Path] = typer.Argument(
        ...,
        metavar="RUN_OR_FOLDER",
        help="Run folders, or folders of runs: a suite's, a sweep's, any folder with runs at any depth "
        "below it (named by their path below it; of several folders, <folder>/<run>).",
        show_default=False,
    ),
    sort: str | None = typer.Option(
        None,
        "--sort",
        metavar="COLUMN",
        help="Order the rows by this column of results.csv (val_acc, test_loss, optim.lr, ...), or by "
        "a metric runs are selected by (train.select_metric: val_loss too, from summary.json): best "
        "first for an accuracy, AUC or loss, else ascending; rows without a value last.",
    ),
    csv: Path | None = typer.Option(
        None,
        "--csv",
        help="Also write the table here as results.csv holds it (every figure in full, the test_set each "
        "row was scored on, numbered in the order given). --csv -: the CSV on stdout, the table on "
        "stderr.",
    ),
    md: Path | None = typer.Option(
        None,
        "--md",
        help="Also write the table here as results.md holds it (what is printed; --md -: on stdout only).",
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Replace a file already at --csv or --md (never a run's own config.yaml, summary.json, ...).",
    ),
) -> None:
    """Print the comparison table of finished runs, as a suite prints its own: after each run its model,
    seed and the settings that differ (as its checkpoint recorded them), the best accuracy and loss of
    each column in bold — never a row whose test set is unknown or whose summary.json figures disagree
    with its own predictions_test.npz or metrics.jsonl (the notes name it). Runs that have
    not finished, or whose summary.json cannot be read, are left out and listed under the table with the
    fix (exit code 0); a path that is missing, a file, a folder holding no run, or no finished run: exit
    code 2."""
    # on use: pandas & co. take seconds to load (module docstring)
    from vislab.api.comparison import comparison_texts

    files = _table_files(csv, md)
    check_table_files(files, force)  # before anything is read
    csv_text, markdown, _ = comparison_texts(targets, sort)
    _put_tables(csv_text, markdown, is_stdout(csv), files)


def _table_files(csv: Path | None, md: Path | None) -> dict[str, Path]:
    """The files ``--csv`` and ``--md`` name (option → path), without ``-`` (stdout); UserError where both
    name stdout."""
    if is_stdout(csv) and is_stdout(md):
        raise UserError(
            "--csv - and --md - both name stdout: give one of them a file, e.g. --md results.md."
        )
    given = (("--csv", csv), ("--md", md))
    return {option: path for option, path in given if path is not None and not is_stdout(path)}


def _put_tables(csv_text: str, markdown: str, csv_out: bool, files: dict[str, Path]) -> None:
    """The table on stdout (``csv_out``: the CSV there, and the table with its notes on stderr), then
    into ``files``, each named on stderr."""
    from vislab.files import atomic_write_text  # on use (module docstring)

    if csv_out:
        sys.stdout.write(csv_text)
        sys.stdout.flush()
        err.print(markdown, markup=False, highlight=False, emoji=False, soft_wrap=True)
    else:
        print_markdown(markdown)
    for option, path in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, csv_text if option == "--csv" else markdown, option)
        err.print(escape(f"{option[2:]}: {path}"), highlight=False, soft_wrap=True)


def check_table_files(files: dict[str, Path], force: bool) -> None:
    """UserError (before any run is read) for a file of ``files`` (option → path) that cannot be written:
    a folder, a run's own file (``training.rundir.RUN_OWN``, even with ``force``), one in a folder that
    cannot be written, one already there (without ``force``), or both options naming one file."""
    from vislab.plotting.files import check_new_files  # on use (module docstring)
    from vislab.training.rundir import refuse_run_file
    from vislab.training.writable import check_writable

    if len({p.resolve() for p in files.values()}) < len(files):
        raise UserError(f"--csv and --md both name '{files['--csv']}': give each its own file.")
    for option, path in files.items():
        refuse_run_file(path, option)
        if path.is_dir():
            example = os.path.join(path, f"results.{option[2:]}")
            raise UserError(f"{option} '{path}' is a folder: give a file, e.g. {option} {example}.")
        check_writable(path, "the table", option, "nothing was compared", is_file=True)
        check_new_files([path], force, option)


def register(app: typer.Typer) -> None:
    """Mount ``vislab compare`` on the main app."""
    app.command("compare")(compare)
