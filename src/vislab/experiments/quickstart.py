"""``vislab quickstart``: the built-in `quickstart` suite, then the comparison table."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from vislab.experiments.suite import load_suite, run_configs
from vislab.experiments.table import table_rows, to_rich
from vislab.training.rundir import RunDir, is_complete
from vislab.training.trainer import train


def run_quickstart(out: Path, epochs: int | None = None, quiet: bool = False) -> dict[str, dict]:
    overrides = [f"train.epochs={epochs}"] if epochs else []
    summaries = {}
    for name, cfg in run_configs(load_suite("quickstart"), overrides).items():
        run_dir = Path(out) / name
        if not is_complete(RunDir(run_dir).read_summary()):
            train(cfg, run_dir, quiet=quiet)
        summaries[name] = RunDir(run_dir).read_summary()
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    console.print(to_rich(table_rows(summaries), title=f"quickstart on digits ({out})"))
    return summaries
