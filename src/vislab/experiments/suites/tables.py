"""A suite's results tables (results.csv, results.md): when a suite
has them (:func:`tables_due`), whether they are behind its runs (:func:`tables_missing`,
:func:`trained_since_tables`), and the line on the figures a run in them lacks (:func:`missing_figures_note`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from vislab.experiments.records import RunOutcome, SuiteInfo
from vislab.experiments.suites.ending import RERUN, data_errors
from vislab.training.summary import RunSummary

TABLES = ("results.csv", "results.md")


def tables_due(outcomes: Mapping[str, RunOutcome]) -> bool:
    """Whether a suite whose runs ended as ``outcomes`` has tables: not when a run's data could not be
    read and no run finished (the suite's error says what to fix, and the tables would hold nothing)."""
    return any(o.status == "complete" for o in outcomes.values()) or not data_errors(outcomes)


def tables_missing(out: Path) -> bool:
    """Whether results.csv or results.md is missing from the suite folder ``out`` (a Ctrl-C came as the
    suite wrote them)."""
    return not all((Path(out) / name).is_file() for name in TABLES)


def trained_since_tables(out: Path, info: SuiteInfo) -> list[str]:
    """The suite's runs in ``out`` whose summary.json was written after its results.md: trained on since
    (a resume), or since the suite wrote results.md; [] when there is no results.md."""
    try:
        written = (Path(out) / "results.md").stat().st_mtime
    except OSError:
        return []
    other = info.trained_otherwise()
    newer = []
    for name in info.order or []:
        try:
            if name not in other and (Path(out) / name / "summary.json").stat().st_mtime > written:
                newer.append(name)
        except OSError:
            continue
    return newer


def missing_figures_note(summaries: Mapping[str, RunSummary]) -> str:
    """The line under a suite's tables naming each run in them whose own figures a signal cut short
    (``figures_missing``) and how to draw them; "" when none."""
    missing = {n: s.figures_missing for n, s in summaries.items() if s.figures_cut_short}
    listed = "; ".join(f"{n} ({', '.join(m)})" for n, m in missing.items() if m)
    if not listed:
        return ""
    return (
        f"Scored, but stopped while their figures were drawn (their scores are in the table; these "
        f"figures are missing from each one's figures/ folder): {listed}. To draw them, {RERUN}: it "
        f"resumes these runs and skips the finished ones."
    )
