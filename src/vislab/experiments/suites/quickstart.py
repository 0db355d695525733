"""``vislab quickstart``: the built-in `quickstart` suite run like any suite (finished runs skipped,
interrupted ones resumed, results.csv/.md and suite.json written); the command then prints its
results.md and writes the report, which sit above this layer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from vislab.experiments.suites.runner import run_suite
from vislab.experiments.suites.spec import load_suite, suite_overrides


def run_quickstart(
    out: Path,
    epochs: int | None = None,
    quiet: bool = False,
    log: Callable[[str], None] = print,
) -> None:
    """Train the quickstart runs into ``out/<run>`` and write ``out/results.md``. Raises SuiteFailed
    (tables written) if a run failed."""
    run_suite(
        load_suite("quickstart"), Path(out), suite_overrides(epochs=epochs), quiet=quiet, log=log
    )
