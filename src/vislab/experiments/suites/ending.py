"""How a suite run ends when not every run finished: interrupted (resumable), stopped by data that
cannot be read (each problem said once), or with failed runs listed; or with a Ctrl-C as its tables were
written (:func:`tables_cut_short`) — each as the error the command turns into its exit code."""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vislab.errors import DataError, SuiteFailed, TrainingInterrupted
from vislab.experiments.records import RunOutcome
from vislab.experiments.results.folders import why_unfinished
from vislab.experiments.suites.spec import Suite
from vislab.words import first_few

_NAMED = 8  # how many runs a suite's data message names before "and N more"

#: how a suite goes on, in the command's words and Python's (`vislab quickstart` puts its own in its place)
RERUN = "re-run the same `vislab suite` command (Python: the same vislab.run_suite call)"


def raised_by_the_data(e: DataError) -> bool:
    """Whether the data layer (vislab.data: sources, download, split) raised ``e`` — missing, corrupt or
    unreadable data files, which every run on that data meets alike — rather than e.g. the loading of this
    run's own checkpoint (vislab.training), a failure of this run alone."""
    raised_in = None
    for frame, _ in traceback.walk_tb(e.__traceback__):
        raised_in = frame.f_globals.get("__name__", "")
    return raised_in is not None and raised_in.startswith("vislab.data")


def data_errors(outcomes: dict[str, RunOutcome]) -> dict[str, list[str]]:
    """Each message of a run whose data could not be read → the runs that met it."""
    found: dict[str, list[str]] = {}
    for name, o in outcomes.items():
        if o.data_error:
            found.setdefault(o.message, []).append(name)
    return found


def raise_unfinished(
    suite: Suite,
    out: Path,
    outcomes: dict[str, RunOutcome],
    interrupted: str | None,
    untrained: list[str] = (),
) -> None:
    """TrainingInterrupted if the suite was stopped, DataError if a run's data could not be read,
    SuiteFailed if a run failed; else nothing."""
    if interrupted:
        raise TrainingInterrupted(
            f"{interrupted}\nRe-run the same `vislab suite` command (Python: the same vislab.run_suite "
            f"call) to continue: finished runs are skipped and interrupted ones resume."
        )
    failed = {k: v for k, v in outcomes.items() if v.status != "complete"}
    data = data_errors(outcomes)
    if data:
        raise DataError(_data_message(suite, out, outcomes, data, failed, list(untrained)))
    if failed:
        raise SuiteFailed(
            f"{len(failed)} of {len(outcomes)} runs of suite '{suite.name}' failed (the others are in "
            f"{out / 'results.md'}):\n{_failures(failed, out)}"
        )


class TablesCutShort(TrainingInterrupted):
    """A Ctrl-C as a suite wrote its tables (:func:`tables_cut_short`): what it says is the way on."""


@contextmanager
def tables_cut_short(out: Path, stop: str | None, shared: bool = False) -> Iterator[None]:
    """Within: the suite in ``out`` writes results.csv/.md. A Ctrl-C there ends it (TablesCutShort,
    exit 130) saying they were not written and how to write them: where its runs had ended (``stop``
    None), ``vislab report DIR`` — for a suite ``shared`` with other machines, whose tables
    ``vislab report`` leaves to its workers, re-running it —; else (``stop``: what stopped it,
    :func:`~vislab.experiments.suites.runner.interruption`) re-running it."""
    try:
        yield
    except KeyboardInterrupt:
        tables = f"{out / 'results.md'} and results.csv were not written"
        if stop is not None:
            raise TablesCutShort(
                f"{stop}\nA Ctrl-C came as the suite's tables were written too: {tables}. "
                f"To finish, {RERUN}: finished runs are skipped, interrupted ones resume, and the "
                f"tables are written."
            ) from None
        said = (
            f"Ctrl-C while the suite's tables were written, after its runs had ended: the runs are "
            f"kept, but {tables}."
        )
        if shared:
            raise TablesCutShort(
                f"{said} Write them: {RERUN}, which rejoins the shared suite, finds its runs settled "
                f"and writes its tables."
            ) from None
        raise TablesCutShort(
            f"{said} Write them: vislab report {out} (Python: vislab.write_report({str(out)!r})), "
            f"which writes the report too; or {RERUN}, which skips the finished runs."
        ) from None


def _data_message(
    suite: Suite,
    out: Path,
    outcomes: dict[str, RunOutcome],
    data: dict[str, list[str]],
    failed: dict[str, RunOutcome],
    untrained: list[str],
) -> str:
    """The DataError a suite stops with: each data problem once, then what became of the other runs."""
    problems = "\n\n".join(
        (f"{first_few(runs, _NAMED)}: " if len(data) > 1 else "") + message
        for message, runs in data.items()
    )
    met = sum(data.values(), [])
    lines = [
        f"Suite '{suite.name}' stopped at {'run' if len(met) == 1 else 'runs'} {first_few(met, _NAMED)}, whose "
        f"data cannot be read"
        + (
            f"; not started (a suite stops at the first data it cannot read): {first_few(untrained, _NAMED)}."
            if untrained
            else "."
        )
    ]
    others = {k: v for k, v in failed.items() if not v.data_error}
    if others:
        lines += ["Also failed:", _failures(others, out)]
    done = [k for k, v in outcomes.items() if v.status == "complete"]
    if done:
        lines.append(f"Finished: {first_few(done, _NAMED)} (in {out / 'results.md'}).")
    lines.append(
        "Fix the data, then re-run the same `vislab suite` command (Python: the same vislab.run_suite "
        "call): finished runs are skipped."
    )
    return problems + "\n\n" + "\n".join(lines)


def said_once(messages: dict[str, str]) -> dict[str, str]:
    """Run → its message, a message several runs share given in full for the first only ("the same as a")."""
    first: dict[str, str] = {}
    out = {}
    for name, message in messages.items():
        out[name] = f"the same as {first[message]}" if message in first else message
        first.setdefault(message, name)
    return out


def _failures(failed: dict[str, RunOutcome], out: Path) -> str:
    """A line per failed run of the suite in ``out`` (why, and the fix: :func:`why_unfinished`), each
    message once."""
    messages = {k: why_unfinished(o.to_json(), out / k) for k, o in failed.items()}
    return "\n".join(f"  - {k}: {msg}" for k, msg in said_once(messages).items())
