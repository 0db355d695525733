"""A suite's suite.json brought up to date with its runs' own summary.json, the truth about each run: a run
the suite recorded unfinished (interrupted, or failed as it trained) that has been resumed to its end since
(``vislab train --resume DIR/<run>``), or one recorded complete and trained again since without finishing;
and its results.csv/.md, written when a Ctrl-C stopped the suite before it wrote them. The report and the
paper read the suite's record of each run; brought up to date first, with results.csv/.md (which
``vislab.compare`` matches) written again, they say what the runs' own summaries say."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from vislab.errors import WriteFailed
from vislab.experiments.records import OTHER_SETTINGS, RunOutcome, SuiteInfo
from vislab.experiments.results.texts import write_tables
from vislab.experiments.suites.jobs import killed_outright
from vislab.experiments.suites.runner import results_of
from vislab.experiments.suites.tables import tables_due, tables_missing, trained_since_tables
from vislab.training.rundir import RunDir
from vislab.training.summary import RunSummary


def caught_up(out: Path, info: SuiteInfo, log: Callable[[str], None]) -> SuiteInfo:
    """``info`` (the suite.json of the suite in ``out``), each run's record that its summary.json now
    contradicts replaced by what the summary says (:func:`_as_run_says`). When one is, a run was
    trained on since results.md was written (``vislab train --resume DIR/<run> --epochs N``:
    :func:`~vislab.experiments.suites.tables.trained_since_tables`), or the suite was stopped before it
    wrote results.csv/.md (:func:`~vislab.experiments.suites.tables.tables_missing`), suite.json (where a
    record changed) and results.csv/.md are written again and ``log`` told why — not while a process
    here trains a run of the suite, nor for a suite shared through ``storage`` (their processes write
    them); a folder that cannot be written is said instead. The records returned are brought up to
    date either way."""
    out, records = Path(out), info.runs or {}
    now = {
        name: o
        for name, old in records.items()
        if (o := _as_run_says(old, RunDir(out / name).read_summary())) is not None
    }
    since = [n for n in trained_since_tables(out, info) if n not in now]
    # a suite.json the suite wrote (its runs' order, their records) whose tables a Ctrl-C cut short
    missing = bool(info.order and records) and tables_missing(out) and tables_due(records)
    if not (now or since or missing):
        return info
    info = replace(info, runs={**records, **now})
    if info.storage or any(RunDir(out / n).live_holder() is not None for n in records):
        # a suite running here, or shared with other machines: its processes write suite.json
        return info
    changed = [f"{n} ({records[n].status} → {o.status})" for n, o in now.items()]
    changed += [f"{n} (its summary.json newer than results.md)" for n in since]
    return _written_again(out, info, now, changed, log)


def _written_again(
    out: Path,
    info: SuiteInfo,
    now: dict[str, RunOutcome],
    changed: list[str],
    log: Callable[[str], None],
) -> SuiteInfo:
    """:func:`caught_up`'s writing: suite.json with the records ``now`` changed, then results.csv/.md
    from ``info`` unless they say that already; ``log`` told what was written and why (``changed``: the
    runs behind, none where the tables were missing), or why it could not be."""
    try:
        if now:
            # suite.json as it is now (written since it was read?): only these records change
            fresh = SuiteInfo.read(out)
            info = replace(fresh, runs={**fresh.runs, **now}) if fresh.runs else info
            info.write(out)
        texts = results_of(out, info)
        if not now and texts == _tables_now(out):
            return info  # results.csv/.md say what the summaries say already
        write_tables(out, texts)
    except (OSError, WriteFailed) as e:
        why = e.strerror if isinstance(e, OSError) else str(e)
        log(
            f"warning: suite.json and results.csv/.md are behind the runs' summary.json for "
            f"{', '.join(changed)}, and cannot be updated ({why}): they stay as they were (the "
            f"report and paper follow the summaries)."
            if changed
            else f"warning: results.csv and results.md, which the suite was stopped before it wrote, "
            f"cannot be written ({why}) (the report and paper follow the runs' summaries)."
        )
        return info
    if not changed:
        log("results.csv and results.md written: the suite was stopped before it wrote them.")
        return info
    files = "suite.json, results.csv and results.md" if now else "results.csv and results.md"
    log(
        f"{files} updated from the runs' summary.json, newer than what the suite recorded: "
        f"{', '.join(changed)}."
    )
    return info


def _tables_now(out: Path) -> tuple[str, str] | None:
    """results.csv's and results.md's texts as they are in ``out`` (None: one cannot be read)."""
    try:
        return (out / "results.csv").read_text(), (out / "results.md").read_text()
    except (OSError, UnicodeDecodeError):
        return None


def _as_run_says(record: RunOutcome, summary: RunSummary | None) -> RunOutcome | None:
    """The suite's ``record`` of a run as its ``summary`` (None: unread) says it ended: a run recorded
    interrupted, or failed as it trained (:func:`_failed_training`), that is complete now, or one
    recorded complete that is not; None otherwise — where they agree, between two unfinished ends (the
    suite's message, which names how it stopped the run, stays), for a run the suite failed before
    training it (for its folder: a run of another config there, a config.yaml it could not read) and
    for one recorded as trained with other settings (:data:`OTHER_SETTINGS`: its folder's summary is of
    that other run)."""
    if summary is None or summary.status is None or record.status == OTHER_SETTINGS:
        return None
    if record.status == "complete" and summary.complete:
        return None
    resumable = record.status == "interrupted" or _failed_training(record)
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


def _failed_training(record: RunOutcome) -> bool:
    """Whether ``record`` is that of a run the suite trained (or resumed) that failed: its seconds
    counted (a ``--jobs`` process killed outright, :func:`killed_outright`, counts none), its folder
    holding this run's config and checkpoints — not one the suite's plan failed before training, for
    its folder (no seconds), whose summary.json may be of another run."""
    return record.status == "failed" and (record.seconds is not None or killed_outright(record))
