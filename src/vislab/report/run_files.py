"""What a report (and the paper) reads of each run folder: summary.json, config.yaml, metrics.jsonl and
predictions_test.npz — the last two once per build (:class:`RunFiles`), whatever draws from them.

A file that is there but cannot be read (cut short, edited by hand) — or, of a complete run, a config.yaml
that is missing, a metrics.jsonl missing or empty — gives a note naming it, what the report leaves out
because of it, and what writes it again; the page's and the paper's notes list these
first and the command says them on the terminal, so that no run is left out of a table silently.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from vislab.config import Config
from vislab.errors import Note, UserError, show_note
from vislab.training.rundir import RunDir, SavedPredictions
from vislab.training.summary import RunSummary

_T = TypeVar("_T")


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
    runs: dict[str, Path], names: list[str], files: RunFiles
) -> tuple[dict[str, list[dict]], list[str]]:
    """The metrics.jsonl rows of the runs ``names`` (as the build's ``files`` read them), and a note for
    each whose file cannot be read, or is missing or empty though summary.json says the run trained
    (``RunDir.rows_lost``): its history is then empty, its curves and per-epoch table left out."""
    histories: dict[str, list[dict]] = {}
    unread = []
    for name in names:
        run = RunDir(runs[name])
        try:
            histories[name] = files.metrics(run.path)
        except UserError as e:
            histories[name] = []
            unread.append(f"{name}: its training curves are left out: {e}")
            continue
        if not histories[name] and (lost := run.rows_lost()):
            unread.append(f"{name}: {lost}")
    return histories, unread


class RunFiles:
    """A build's reads (a report's, a paper's) of its runs' metrics.jsonl and predictions_test.npz, each
    file read once, by run folder: the curves, the tracking figures and the paper's per-epoch tables share
    a run's metrics rows; the data line's "own test sets", the test figures and the mistakes its saved
    test predictions. A file that cannot be read raises its UserError at each use, as a read would; the
    notes reading a metrics.jsonl warned (a row cut short) are said once, and kept (:meth:`noted`)."""

    def __init__(self) -> None:
        self._metrics: dict[Path, list[dict] | UserError] = {}
        self._noted: dict[Path, list[str]] = {}
        self._predictions: dict[Path, SavedPredictions | None | UserError] = {}

    def metrics(self, run_dir: Path) -> list[dict]:
        """The metrics.jsonl rows of the run in ``run_dir`` (``RunDir.read_metrics``)."""
        run = RunDir(run_dir)
        if run.path not in self._metrics:
            self._metrics[run.path], self._noted[run.path] = _noting(run.read_metrics)
        return _held(self._metrics[run.path])

    def noted(self, run_dir: Path) -> list[str]:
        """The notes reading the run's metrics.jsonl warned (none where it was not read)."""
        return self._noted.get(Path(run_dir), [])

    def predictions(self, run_dir: Path) -> SavedPredictions | None:
        """The saved test predictions of the run in ``run_dir`` (``RunDir.read_predictions``)."""
        run = RunDir(run_dir)
        if run.path not in self._predictions:
            try:
                self._predictions[run.path] = run.read_predictions()
            except UserError as e:
                self._predictions[run.path] = e
        return _held(self._predictions[run.path])


def _held(got: _T | UserError) -> _T:
    """What a read gave, or the UserError it raised, raised again."""
    if isinstance(got, UserError):
        raise got
    return got


def _noting(read: Callable[[], list[dict]]) -> tuple[list[dict] | UserError, list[str]]:
    """``read()`` (or the UserError it raised) and the notes (:class:`Note`) it warned, said as they
    were (other warnings pass on as warned)."""
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always", Note)
        try:
            got: list[dict] | UserError = read()
        except UserError as e:
            got = e
    return got, say_recorded(said)


def say_recorded(said: list[warnings.WarningMessage]) -> list[str]:
    """Warnings recorded by ``catch_warnings(record=True)`` said now: each :class:`Note` once (its texts
    returned), any other warning passed on as it was warned."""
    shown: dict[tuple[type, str], str] = {}
    for w in said:
        key = (w.category, str(w.message))
        if not issubclass(w.category, Note):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        elif key not in shown:
            shown[key] = str(w.message)
            show_note(str(w.message), w.category)
    return list(shown.values())
