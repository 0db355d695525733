"""``vislab quickstart``: the built-in `quickstart` suite run like any suite (finished runs skipped,
interrupted ones resumed, results.csv/.md and suite.json written); the command then shows its table
(:func:`quickstart_table`) and writes the report, which sit above this layer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from vislab.experiments.results.data_used import data_line, titled
from vislab.experiments.results.table import TextTable, table_rows, text_table
from vislab.experiments.suites.runner import run_suite
from vislab.experiments.suites.spec import load_suite, suite_overrides
from vislab.training.rundir import RunDir


def run_quickstart(
    out: Path,
    epochs: int | None = None,
    quiet: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, dict]:
    """Train the quickstart runs into ``out/<run>``; return the runs' summaries. Raises SuiteFailed
    (tables written) if a run failed."""
    suite = load_suite("quickstart")
    run_suite(suite, Path(out), suite_overrides(epochs=epochs), quiet=quiet, log=log)
    return {name: RunDir(Path(out) / name).read_summary() for name in suite.runs}


def quickstart_table(out: Path, summaries: dict[str, dict]) -> TextTable:
    """The comparison table of the runs in ``out``, titled with the data they used."""
    title = f"{titled('quickstart', summaries)} ({out})"
    return text_table(table_rows(summaries), title=title, caption=data_line(summaries))
