"""What a report (and the paper) reads of each run folder: summary.json, config.yaml and metrics.jsonl.

A file that is there but cannot be read (cut short, edited by hand) gives a note naming it, what the
report leaves out because of it, and what writes it again; the page's and the paper's notes list these
first and the command says them on the terminal, so that no run is left out of a table silently.
"""

from __future__ import annotations

from pathlib import Path

from vislab.config import Config
from vislab.errors import UserError
from vislab.training.rundir import RunDir


def read_summaries(runs: dict[str, Path]) -> tuple[dict[str, dict | None], list[str]]:
    """Each run's summary.json ({} where it is absent, None where it is there but cannot be read), and a
    note for each that cannot be read: that run is left out of the tables and figures."""
    summaries: dict[str, dict | None] = {}
    unread = []
    for name, run_dir in runs.items():
        try:
            summaries[name] = RunDir(run_dir).load_summary() or {}
        except UserError as e:
            summaries[name] = None
            unread.append(f"{name}: left out of the tables and figures: {e}")
    return summaries, unread


def read_configs(runs: dict[str, Path], names: list[str]) -> tuple[dict[str, Config], list[str]]:
    """The config.yaml of each run of ``names``, read once for the whole report (a run without one is
    left out), and a note for each that is there but cannot be read or is no valid config (its settings
    and the figures that need it are left out)."""
    configs: dict[str, Config] = {}
    unread = []
    for name in names:
        run = RunDir(runs[name])
        try:
            cfg = run.load_config()
        except UserError as e:
            # YAML's message: on lines, pointing at the place
            why = " ".join(str(e).split()).rstrip(".")
            unread.append(
                f"{name}: its settings and the figures needing its config are left out: {why}. "
                f"{run.rewrite_fix()}"
            )
            continue
        if cfg is not None:
            configs[name] = cfg
    return configs, unread


def read_histories(
    runs: dict[str, Path], names: list[str]
) -> tuple[dict[str, list[dict]], list[str]]:
    """The metrics.jsonl rows of the runs ``names``, and a note for each whose file cannot be read (its
    history is then empty: its curves are left out)."""
    histories: dict[str, list[dict]] = {}
    unread = []
    for name in names:
        try:
            histories[name] = RunDir(runs[name]).read_metrics()
        except UserError as e:
            histories[name] = []
            unread.append(f"{name}: its training curves are left out: {e}")
    return histories, unread
