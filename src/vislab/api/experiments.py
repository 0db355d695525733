"""What suites and sweeps share: where their lines go, their overrides as key=value strings (each key
given once), the report hook."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vislab.api.train_configs import check_given_once
from vislab.config import assignments
from vislab.errors import TrainingInterrupted, UserError

# Reports are imported by the functions that use them ("on use" below): they load matplotlib, optuna
# and SQLAlchemy, which `import vislab.api` should not wait for (see its __init__).
if TYPE_CHECKING:
    import optuna


Log = Callable[[str], None]


def _nowhere(line: str) -> None:
    """A log that drops its lines."""


def lines_to(log: Log | None, quiet: bool) -> Log:
    """Where a suite's or sweep's lines go (``suite …: 3 runs``, each run or trial, ``results: …``): to the
    caller's ``log`` when one is given, else printed unless ``quiet`` (resolved: a notebook shows them,
    a script does not)."""
    if log is not None:
        return log
    return _nowhere if quiet else print


def every_run_sets(
    caller: str,
    data: str | None,
    epochs: int | None,
    overrides: str | Sequence[str] | Mapping[str, Any],
    settings: Mapping[str, Any],
) -> list[str]:
    """``caller``'s (``run_suite``, ``sweep``) ``data``, ``epochs``, ``overrides`` and ``settings``
    (``section__key``) as the ``--set`` assignments of every run; UserError for a setting that is no config
    key, or a key set twice (``epochs`` and ``train__epochs``)."""
    from vislab.experiments.suites.spec import suite_overrides  # on use (see the imports)

    bad = next((k for k in settings if "." not in k.replace("__", ".")), None)
    if bad is not None:
        raise UserError(
            f"{caller} got {bad}={settings[bad]!r}, which is no argument of it and no config key: a "
            f"config key is section__key (e.g. data__limit=300, optim__lr=1e-3) or dotted via "
            f"overrides={{'data.limit': 300}}."
        )
    sets = assignments(overrides) + assignments(dict(settings))
    named = [(f"data={data!r}", "data.name")] if data else []
    named += [(f"epochs={epochs!r}", "train.epochs")] if epochs else []
    check_given_once(named + [(s, s.split("=", 1)[0].strip()) for s in sets])
    return suite_overrides(data, epochs, sets)


def check_counts(caller: str, **counts: float | None) -> None:
    """UserError for a count given to ``caller`` below 1 (``jobs=0``, ``trials=0``, a sweep's
    ``timeout=0`` seconds, NaN), which the command's options and a sweep file refuse too, each named with
    what it takes; None: not given (whole numbers: :func:`~vislab.arguments.checked`)."""
    low = [
        f"{k}={v:g}: give {'seconds, at least 1' if k == 'timeout' else 'a whole number of at least 1'}"
        for k, v in counts.items()
        if v is not None and not v >= 1
    ]
    if low:
        raise UserError(f"{caller} got {'; '.join(low)}.")


def report_hook(log: Log) -> Callable[..., None]:
    """What each suite or sweep stage does with its results when asked for a report: report.html."""

    def write(out: Path, study: optuna.Study | None = None) -> None:
        from vislab.report.build import build_report  # on use (see the imports)

        log(f"report: {build_report(out, study=study)}")

    return write


class ReportCutShort(TrainingInterrupted):
    """A Ctrl-C while a suite's or sweep's report was written, after its runs and tables
    (:func:`report_kept_on_ctrl_c`): nothing of theirs was stopped."""


def report_kept_on_ctrl_c(hook: Callable[..., None], kept: str, again: str) -> Callable[..., None]:
    """``hook`` (a suite's or sweep stage's report: ``report_hook``), a Ctrl-C in it ended as
    :class:`ReportCutShort` (exit 130) saying what was kept — ``kept`` ("runs", "trials") and the tables
    written before it, report.html as it was — and how to write it: ``vislab report DIR``, or ``again``
    (the command that ran them, in its words and Python's, and what it does again)."""

    def write(out: Path, *args: object) -> None:
        page = Path(out) / "report.html"
        before = _stamp(page)
        try:
            hook(out, *args)
        except KeyboardInterrupt:
            left = (
                "was written (the Ctrl-C came just after)"
                if _stamp(page) != before
                else "is the earlier one, as it was"
                if before
                else "was not written"
            )
            raise ReportCutShort(
                f"Ctrl-C while the report was written: the {kept} and their tables "
                f"({out / 'results.md'}, results.csv) are kept; {page} {left}. Write it: vislab report "
                f"{out} (Python: vislab.write_report({str(out)!r})); or {again}."
            ) from None

    return write


def _stamp(path: Path) -> tuple[int, int] | None:
    """(inode, mtime in ns) of the file at ``path``, which writing it anew changes; None: no file."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns
