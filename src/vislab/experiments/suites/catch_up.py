"""A suite's suite.json brought up to date with its runs' own summary.json, the truth about each run: a run
the suite recorded unfinished that has been resumed to its end since (``vislab train --resume
DIR/<run>``), or one recorded complete and trained again since without finishing. The report and the
paper read the suite's record of each run; brought up to date first, with results.csv/.md (which
``vislab.compare`` matches) written again, they say what the runs' own summaries say."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from vislab.errors import WriteFailed
from vislab.experiments.records import OTHER_SETTINGS, RunOutcome, SuiteInfo
from vislab.experiments.suites.runner import write_results
from vislab.training.rundir import RunDir
from vislab.training.summary import RunSummary


def caught_up(out: Path, info: SuiteInfo, log: Callable[[str], None]) -> SuiteInfo:
    """``info`` (the suite.json of the suite in ``out``), each run's record that its summary.json now
    contradicts replaced by what the summary says (:func:`_as_run_says`). When one is, suite.json and
    results.csv/.md are written again and ``log`` told which runs — not while a live process trains a
    run of the suite (the suite's own, which writes them); a folder that cannot be written is said
    instead. The records returned are brought up to date either way."""
    records = info.runs or {}
    now = {
        name: o
        for name, old in records.items()
        if (o := _as_run_says(old, RunDir(Path(out) / name).read_summary())) is not None
    }
    if not now:
        return info
    info = replace(info, runs={**records, **now})
    if any(RunDir(Path(out) / n).live_holder() is not None for n in records):
        return info  # the suite is running: its process writes suite.json and the tables
    changed = ", ".join(f"{n} ({records[n].status} → {o.status})" for n, o in now.items())
    try:
        info.write(out)
        write_results(out, info, log=lambda _: None)
    except (OSError, WriteFailed) as e:
        why = e.strerror if isinstance(e, OSError) else str(e)
        log(
            f"warning: suite.json records {changed} otherwise than their summary.json, and cannot be "
            f"updated ({why}): suite.json, results.csv and results.md stay as they were (the report and "
            f"paper follow the summaries)."
        )
        return info
    log(
        f"suite.json, results.csv and results.md updated from the runs' summary.json (trained since "
        f"the suite recorded them): {changed}"
    )
    return info


def _as_run_says(record: RunOutcome, summary: RunSummary | None) -> RunOutcome | None:
    """The suite's ``record`` of a run as its ``summary`` (None: unread) says it ended, where exactly one
    of them says complete; None where they agree (or between two unfinished ends: the suite's message,
    which names how the suite stopped it, stays), and for a run recorded as trained with other settings
    (:data:`OTHER_SETTINGS`: its folder's summary is of that other run)."""
    if summary is None or summary.status is None or record.status == OTHER_SETTINGS:
        return None
    if (record.status == "complete") == summary.complete:
        return None
    return replace(
        record,
        status=summary.status,
        message=summary.message or "",
        traceback="",
        data_error=False,
        halted=False,
        skipped=False,
    )
