"""What a report (and the paper) reads of each run folder: summary.json, config.yaml and metrics.jsonl.

A file that is there but cannot be read (cut short, edited by hand) — or, of a complete run, a config.yaml
that is missing, a metrics.jsonl missing or empty — gives a note naming it, what the report leaves out
because of it, and what writes it again; the page's and the paper's notes list these
first and the command says them on the terminal, so that no run is left out of a table silently.
"""

from __future__ import annotations

from pathlib import Path

from vislab.config import Config
from vislab.errors import UserError
from vislab.training.rundir import RunDir
from vislab.training.summary import RunSummary


def read_summaries(runs: dict[str, Path]) -> tuple[dict[str, RunSummary | None], list[str]]:
    """Each run's summary.json (an empty :class:`RunSummary` where it is absent, None where it is there
    but cannot be read), and a note for each that cannot be read: that run is left out of the tables
    and figures."""
    summaries: dict[str, RunSummary | None] = {}
    unread = []
    for name, run_dir in runs.items():
        try:
            summaries[name] = RunDir(run_dir).load_summary() or RunSummary()
        except UserError as e:
            summaries[name] = None
            unread.append(f"{name}: left out of the tables and figures: {e}")
    return summaries, unread


LEFT_OUT_WITHOUT_CONFIG = "its settings and the figures needing its config are left out"


def read_configs(runs: dict[str, Path], names: list[str]) -> tuple[dict[str, Config], list[str]]:
    """The config.yaml of each run of ``names`` (complete runs), read once for the whole report, and a note
    for each that is missing, cannot be read or is no valid config (its settings and the figures that
    need it are left out)."""
    configs: dict[str, Config] = {}
    unread = []
    for name in names:
        run = RunDir(runs[name])
        try:
            cfg = run.load_config()
        except UserError as e:
            # YAML's message: on lines, pointing at the place
            why = " ".join(str(e).split()).rstrip(".")
            unread.append(f"{name}: {LEFT_OUT_WITHOUT_CONFIG}: {why}. {run.rewrite_fix()}")
            continue
        # none: a run assembled by hand, or its file deleted (named, as vislab compare names it)
        if cfg is None:
            unread.append(f"{name}: {LEFT_OUT_WITHOUT_CONFIG}: {run.config_missing()}")
        else:
            configs[name] = cfg
    return configs, unread


def read_histories(
    runs: dict[str, Path], names: list[str]
) -> tuple[dict[str, list[dict]], list[str]]:
    """The metrics.jsonl rows of the runs ``names``, and a note for each whose file cannot be read, or is
    missing or empty though summary.json says the run trained (``RunDir.rows_lost``): its history is
    then empty, its curves and per-epoch table left out."""
    histories: dict[str, list[dict]] = {}
    unread = []
    for name in names:
        run = RunDir(runs[name])
        try:
            histories[name] = run.read_metrics()
        except UserError as e:
            histories[name] = []
            unread.append(f"{name}: its training curves are left out: {e}")
            continue
        if not histories[name] and (lost := run.rows_lost()):
            unread.append(f"{name}: {lost}")
    return histories, unread
