"""``vislab quickstart``: the built-in `quickstart` suite run like any suite (finished runs skipped,
interrupted ones resumed, results.csv/.md and suite.json written), its table on the terminal, then the
report (``report``: the caller's report writer, since reports sit above this layer)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from vislab.experiments.results.table import data_line, table_rows, titled, to_rich
from vislab.experiments.suites.runner import run_suite
from vislab.experiments.suites.spec import load_suite, suite_overrides
from vislab.training.rundir import RunDir


def run_quickstart(
    out: Path,
    epochs: int | None = None,
    quiet: bool = False,
    log: Callable[[str], None] = print,
    report: Callable[[Path], None] | None = None,
) -> dict[str, dict]:
    """Train the quickstart runs into ``out/<run>``, print the comparison table, then ``report(out)``;
    return the runs' summaries. Raises SuiteFailed (tables written) if a run failed."""
    suite = load_suite("quickstart")
    run_suite(suite, Path(out), suite_overrides(epochs=epochs), quiet=quiet, log=log)
    summaries = {name: RunDir(Path(out) / name).read_summary() for name in suite.runs}
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    table = to_rich(table_rows(summaries), title=f"{titled('quickstart', summaries)} ({out})")
    table.caption = data_line(summaries)
    console.print(table)
    if report is not None:
        report(Path(out))
    return summaries
