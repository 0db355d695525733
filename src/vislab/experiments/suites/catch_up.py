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
from vislab.experiments.suites.jobs import killed_outright
from vislab.experiments.suites.runner import write_results
from vislab.training.rundir import RunDir
from vislab.training.summary import RunSummary


def caught_up(out: Path, info: SuiteInfo, log: Callable[[str], None]) -> SuiteInfo:
    """``info`` (the suite.json of the suite in ``out``), each run's record that its summary.json now
    contradicts replaced by what the summary says (:func:`_as_run_says`). When one is, suite.json and
    results.csv/.md are written again and ``log`` told which runs — not while a process here trains a
    run of the suite, nor for a suite shared through ``storage`` (their processes write them); a folder
    that cannot be written is said instead. The records returned are brought up to date either way."""
    records = info.runs or {}
    now = {
        name: o
        for name, old in records.items()
        if (o := _as_run_says(old, RunDir(Path(out) / name).read_summary())) is not None
    }
    if not now:
        return info
    info = replace(info, runs={**records, **now})
    if info.storage or any(RunDir(Path(out) / n).live_holder() is not None for n in records):
        # a suite running here, or shared with other machines: its processes write suite.json
        return info
    changed = ", ".join(f"{n} ({records[n].status} → {o.status})" for n, o in now.items())
    try:
        fresh = SuiteInfo.read(
            out
        )  # as it is now (written since it was read?): only these records change
        info = replace(fresh, runs={**fresh.runs, **now}) if fresh.runs else info
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
    """The suite's ``record`` of a run as its ``summary`` (None: unread) says it ended: a run recorded
    interrupted, or failed by its ``--jobs`` process killed outright (:func:`killed_outright`), that is
    complete now, or one recorded complete that is not; None otherwise — where they agree, between two
    unfinished ends (the suite's message, which names how it stopped the run, stays), for a run recorded
    failed otherwise (perhaps for its folder, not its training) and for one recorded as trained with
    other settings (:data:`OTHER_SETTINGS`: its folder's summary is of that other run)."""
    if summary is None or summary.status is None or record.status == OTHER_SETTINGS:
        return None
    if record.status == "complete" and summary.complete:
        return None
    # of the unfinished, only a run the suite stopped resumably (or whose process was killed): one it
    # failed may have failed for its folder (a run of another config there, a config.yaml it could not
    # read), not for its training
    resumable = record.status == "interrupted" or killed_outright(record)
    if record.status != "complete" and not (resumable and summary.complete):
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
