"""The reports' comparison table, built from run summaries: CSV, Markdown, text cells for a terminal (cli/
draws them), and rows for HTML.

Beside vislab's figures, a suite's ``reported:`` block adds one column per figure and source (what the
course's report published for that run; blank where it gives none), and the data each run used is
stated from the runs' own summaries (data_used.py). After each run, what it was: its
model, seed and the settings the runs changed (settings.py), or a sweep's swept values; cells print and are
bolded as cells.py says. Each run is its :class:`RunSummary`: the metric columns are read from it by
name (:meth:`RunSummary.score`, :data:`COLUMNS`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vislab.experiments.results.cells import (
    bold_cells,
    bold_note,
    param_cell,
    pipe_table,
    train_acc_note,
)
from vislab.experiments.results.data_used import (
    data_line,
    mixes_data,
    row_datasets,
    rows_with_own_test_sets,
    titled,
)
from vislab.experiments.results.model_options import not_taken_note
from vislab.experiments.results.provenance import (
    FITTED,
    fitted_params_note,
    fitted_rows,
    made_info,
    provenance_line,
)
from vislab.experiments.results.reported import (
    ReportedLike,
    as_reported,
    reported_columns,
    reported_figure,
    reported_notes,
    row_summaries,
)
from vislab.experiments.results.settings import (
    Settings,
    for_people,
    listed_markdown,
    swept,
    table_settings,
    unread_note,
)
from vislab.experiments.results.spread import (
    COMPARE,
    RULE,
    Spread,
    Verdict,
    group_verdicts,
    spread_of,
)
from vislab.files import atomic_write_text
from vislab.training.summary import RunSummary

COLUMNS = [  # (key in summary.json, header); train ACC is the best epoch's (the train–test gap of RDFIA 1-cd)
    ("run", "run"),
    ("train_acc", "train ACC"),
    ("val_acc", "val ACC"),
    ("val_pacc", "val PACC"),
    ("test_acc", "test ACC"),
    ("test_pacc", "test PACC"),
    ("test_top5_acc", "test top-5 ACC"),  # 10 classes or more (summary.json has none below)
    ("test_loss", "test loss"),
    ("train_time_s", "train time (s)"),
    ("test_time_s", "test time (s)"),
    ("params", "parameters"),
    ("epochs_run", "epochs"),
    ("best_epoch", "best epoch"),
]


def reported_key(key: str, source: str) -> str:
    """The column of figure ``key`` as ``source`` reported it, e.g. ``test_acc_reported_dlvc-B``."""
    return f"{key}_reported_{source}"


SEEDS = (
    "seeds",
    "N",
)  # a seeded table's column after the run: how many of the row's seeds finished


def columns(reported: ReportedLike = None, seeded: bool = False) -> list[tuple[str, str]]:
    """COLUMNS, each figure followed by the reported columns of the sources that give it; ``seeded``:
    the N column after the run."""
    by_key = reported_columns(reported)
    out = []
    for key, head in COLUMNS:
        out.append((key, head))
        out += [SEEDS] if seeded and key == "run" else []
        out += [(reported_key(key, s), f"{head} (reported, {s})") for s in by_key.get(key, [])]
    return out


EPOCH_KEYS = ("epochs_run", "best_epoch")


def figure(summary: RunSummary, key: str) -> Any:
    """Figure ``key`` (a metric column) of a run's summary as every table shows it: none for the epochs
    of a run fitted once (majority, svm: summary.json says 1, but there are no epochs to count)."""
    if key in EPOCH_KEYS and summary.trained_by == FITTED:
        return None
    return summary.score(key)


def table_rows(summaries: Mapping[str, RunSummary], reported: ReportedLike = None) -> list[dict]:
    """One row per run (named by its key): vislab's figures, then the reported ones (None: not given)."""
    reported = as_reported(reported)
    by_key = reported_columns(reported)
    rows = []
    for name, s in summaries.items():
        row = {key: (name if key == "run" else figure(s, key)) for key, _ in COLUMNS}
        for key, sources in by_key.items():
            for src in sources:
                row[reported_key(key, src)] = reported_figure(reported, name, src, key)
        rows.append(row)
    return rows


def seed_rows(
    summaries: Mapping[str, RunSummary],
    rows: dict[str, list[str]],
    reported: ReportedLike = None,
) -> list[dict]:
    """One row per table row of a seeded suite (``rows``: row → its runs): each figure the
    :class:`Spread` (mean ± std) of its finished runs, ``seeds`` how many finished, then the reported
    figures of the row. Rows with no finished run are left out."""
    out = []
    for row, names in rows.items():
        done = {n: summaries[n] for n in names if n in summaries}
        if not done:
            continue
        spreads = table_rows({row: RunSummary()}, reported)[
            0
        ]  # the row's name and its reported figures
        for key, _ in COLUMNS[1:]:
            spreads[key] = spread_of([figure(s, key) for s in done.values()])
        out.append(dict(spreads, seeds=len(done)))
    return out


def with_std_columns(rows: list[dict], cols: list) -> tuple[list[dict], list[tuple[str, str]]]:
    """Rows and columns for a CSV: after each column of spreads, ``<key>_std`` (blank for one run)."""
    spread_keys = {k for r in rows for k, v in r.items() if isinstance(v, Spread)}
    out_cols = []
    for key, head in cols:
        out_cols.append((key, head))
        out_cols += [(f"{key}_std", f"{head} std")] if key in spread_keys else []
    flat = [
        dict(r, **{f"{k}_std": r[k].std for k in spread_keys if isinstance(r.get(k), Spread)})
        for r in rows
    ]
    return flat, out_cols


SPREAD_NOTE = (
    "Each row: mean ± std over its seeds (N: runs finished; std: sample standard deviation, ddof=1); "
    "run <row>-s<i> trained with train.seed + i."
)


# ------------------------------------------------------------------------------------------ formats
def to_markdown(
    rows: list[dict],
    failures: dict[str, str] | None = None,
    cols: list | None = None,
    bold: set[tuple[int, str]] = frozenset(),
    text: Sequence[str] = ("run",),
) -> str:
    """A pipe table of ``rows`` (``bold``: the (row, column) cells whose mean is bold), then ``failures``;
    the columns of ``text`` (the run, what each run was: :func:`text_columns`) left-aligned, the figures
    right-aligned."""
    lines = pipe_table(cols or COLUMNS, rows, bold, text)
    return "".join(f"{line}\n" for line in lines) + failures_markdown(failures)


def failures_markdown(failures: dict[str, str] | None) -> str:
    """The list of failed or unfinished runs under a table ("" when none)."""
    if not failures:
        return ""
    return "\nFailed or unfinished runs:\n\n" + "".join(
        f"- **{name}**: {' '.join(str(msg).split())}\n" for name, msg in failures.items()
    )


def seed_verdicts(
    summaries: dict[str, RunSummary],
    rows: dict[str, list[str]],
    groups: dict[str, list[str] | None] | None = None,
    compare: str = "previous",
    metric: str = "test_acc",
) -> dict[str, list[Verdict]]:
    """Each group's verdicts on ``metric`` over the rows' seeds (``rows``: row → its runs): every row of
    ``groups``' members against the one before it, or the group's first (``compare``); without groups,
    all rows in order. A verdict without a spread names the rows' seed runs that did not finish."""
    finished = {
        row: {n: v for n in names if (s := summaries.get(n)) and (v := s.score(metric)) is not None}
        for row, names in rows.items()
    }
    values = {row: list(done.values()) for row, done in finished.items()}
    missing = {row: [n for n in names if n not in finished[row]] for row, names in rows.items()}
    label = dict(COLUMNS).get(metric, metric)
    return group_verdicts(groups or {"all runs": list(rows)}, values, label, compare, missing)


def verdicts_markdown(
    summaries: dict[str, RunSummary],
    rows: dict[str, list[str]],
    groups: dict[str, list[str] | None] | None = None,
    compare: str = "previous",
    metric: str = "test_acc",
) -> str:
    """Under a seeded table: :func:`seed_verdicts` as a list, and the rule; "" when no group has two rows
    with finished runs."""
    found = seed_verdicts(summaries, rows, groups, compare, metric)
    label = dict(COLUMNS).get(metric, metric)
    if not found:
        return ""
    lines = [f"- **{g}**: {v.sentence()}\n" for g, verdicts in found.items() for v in verdicts]
    return f"\nVerdicts ({COMPARE[compare].lower()}; {label}):\n\n" + "".join(lines) + f"\n{RULE}\n"


def verdicts_need_seeds(groups: dict | None, compare: str = "previous") -> str:
    """Under a table with one seed per row, of a suite that asks for verdicts (``groups``, or ``compare:
    baseline``): why it has none — a verdict weighs a difference against the spread over seeds; else ""."""
    if not groups and compare != "baseline":
        return ""
    each = COMPARE[compare].lower() + (", per group" if groups else "")
    return (
        f"Verdicts ({each}) need at least 2 seeds per run, to weigh each difference against the spread "
        f"over seeds: run the suite with --seeds 3 (Python: seeds=3)."
    )


def with_settings(
    rows: list[dict],
    cols: list[tuple[str, str]],
    settings: Settings,
    cell: Callable[[Any], Any],
) -> tuple[list[dict], list[tuple[str, str]]]:
    """Rows and columns with, after the run's name (and N), a column per key of ``settings`` (the model,
    seed and settings the runs changed, or a sweep's swept values), each value through ``cell``."""
    if not settings.keys:
        return rows, cols
    values = settings.values
    out = [
        dict(r, **{k: cell(values.get(r["run"], {}).get(k)) for k in settings.keys}) for r in rows
    ]
    at = 2 if cols[1:2] == [SEEDS] else 1
    return out, [*cols[:at], *((k, k) for k in settings.keys), *cols[at:]]


def text_columns(settings: Settings) -> tuple[str, ...]:
    """The columns of words, left-aligned in every table for people (results.md, report.html, the paper):
    the run and what it was (``settings``' keys: model, seed, the settings it changed); the figures are
    right-aligned."""
    return ("run", *settings.keys)


def to_csv(rows: list[dict], cols: list | None = None) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=[k for k, _ in cols or COLUMNS], lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


@dataclass(frozen=True)
class TextTable:
    """A table as text cells, for a terminal to lay out (the ``vislab`` command draws it with rich)."""

    headers: list[str]
    justify: list[str]  # per column: "left" (names) or "right" (figures)
    rows: list[list[str]]
    title: str = ""
    caption: str = ""


def csv_table(
    summaries: Mapping[str, RunSummary],
    settings: Settings,
    reported: ReportedLike = None,
    rows: dict[str, list[str]] | None = None,
) -> tuple[list[dict], list[tuple[str, str]]]:
    """results.csv's rows and columns (what ``vislab.compare`` and ``run_suite().table`` return): a row
    per run, or per row of seeds (``rows``: mean, ``<key>_std``, N); after the run, ``settings``'
    columns (its model, seed and the settings the runs changed, or a sweep's swept values)."""
    seeded = rows is not None
    figures = seed_rows(summaries, rows, reported) if seeded else table_rows(summaries, reported)
    return with_std_columns(
        *with_settings(figures, columns(reported, seeded), settings, lambda v: v)
    )


def results_texts(
    out: Path,
    summaries: Mapping[str, RunSummary],
    failures: dict[str, str] | None = None,
    *,
    title: str = "",
    reported: ReportedLike = None,
    rows: dict[str, list[str]] | None = None,
    groups: dict[str, list[str] | None] | None = None,
    compare: str = "previous",
    params: dict[str, dict[str, Any]] | None = None,
    note: str = "",
    run_dirs: dict[str, Path] | None = None,
) -> tuple[str, str]:
    """results.csv's text (finished runs, full precision) and results.md's (title with the data and how the
    runs were made, the table with its best cells bold, notes, reported figures' sources, failures). After
    each run: its model, seed and the settings the runs changed (from ``run_dirs``, default ``out/<run>``),
    or a sweep's ``params``. ``rows`` (a seeded suite: row → its runs): mean ± std and N per row (the CSV's
    ``<key>_std``) and each group's verdicts (``groups``, ``compare``). ``note``: a line under the table."""
    reported, seeded = as_reported(reported), rows is not None
    dirs = run_dirs if run_dirs is not None else {n: Path(out) / n for n in summaries}
    figures = seed_rows(summaries, rows, reported) if seeded else table_rows(summaries, reported)
    settings = swept(params) if params is not None else table_settings(summaries, dirs, rows)
    table, cols = csv_table(summaries, settings, reported, rows)
    readable = for_people(settings)  # a few settings as columns, more listed under the table
    shown, shown_cols = with_settings(
        figures, columns(reported, seeded), readable.columns, param_cell
    )
    data = row_datasets(figures, summaries, rows)
    bold = bold_cells(figures, shown_cols, data)  # figures only: a setting is never "best"
    fitted = fitted_params_note(fitted_rows(summaries, rows))  # parameters of a fitted baseline
    under = (
        note,
        unread_note(settings.unread),
        not_taken_note(readable.columns.values, readable.columns.keys),
        bold_note(seeded, mixes_data(data)) if bold else "",
        train_acc_note(shown_cols),
        f"{fitted[:1].upper()}{fitted[1:]}." if fitted else "",
        "" if seeded else verdicts_need_seeds(groups, compare),
    )
    cited = row_summaries(summaries, rows) if seeded else summaries  # a row's seeds, each
    return to_csv(table, cols), (
        _markdown_head(out, title, summaries, rows, dirs)
        + to_markdown(shown, None, shown_cols, bold, text_columns(readable.columns))
        + listed_markdown(readable.listed)
        + "".join(f"\n{line}\n" for line in under if line)
        + (verdicts_markdown(summaries, rows, groups, compare) if seeded else "")
        + failures_markdown(failures)
        + reported_notes(reported, cited)
    )


def write_tables(
    out: Path,
    summaries: Mapping[str, RunSummary],
    failures: dict[str, str] | None = None,
    *,
    title: str = "",
    reported: ReportedLike = None,
    rows: dict[str, list[str]] | None = None,
    groups: dict[str, list[str] | None] | None = None,
    compare: str = "previous",
    params: dict[str, dict[str, Any]] | None = None,
    note: str = "",
    run_dirs: dict[str, Path] | None = None,
) -> None:
    """``out/results.csv`` and ``out/results.md``: :func:`results_texts` of the same arguments."""
    csv_text, markdown = results_texts(
        out, summaries, failures, title=title, reported=reported, rows=rows, groups=groups,
        compare=compare, params=params, note=note, run_dirs=run_dirs,
    )  # fmt: skip
    atomic_write_text(Path(out) / "results.csv", csv_text)
    atomic_write_text(Path(out) / "results.md", markdown)


def _markdown_head(
    out: Path,
    title: str,
    summaries: dict[str, RunSummary],
    rows: dict[str, list[str]] | None,
    run_dirs: dict[str, Path],
) -> str:
    """results.md above its table: the title with the data used, the data line, how the runs were made
    (:func:`made_line`) and, with seeds, what a cell is."""
    head = f"# {titled(title, summaries)}\n\n" if title else ""
    own = rows_with_own_test_sets(rows, run_dirs) if rows else []  # each seed its own split
    head += f"{data_line(summaries, own)}\n\n" if summaries else ""
    head += f"{made}\n\n" if (made := made_line(out, summaries, rows, run_dirs)) else ""
    return head + (f"{SPREAD_NOTE}\n\n" if rows is not None else "")


def made_line(
    out: Path,
    summaries: dict[str, RunSummary],
    rows: dict[str, list[str]] | None = None,
    run_dirs: dict[str, Path] | None = None,
) -> str:
    """:func:`provenance_line` of the runs of folder ``out`` (its suite.json or sweep.json; the runs in
    ``run_dirs``, default ``out/<run>``)."""
    dirs = run_dirs if run_dirs is not None else {n: Path(out) / n for n in summaries}
    return provenance_line(made_info(out), summaries, dirs, rows)


def first_of_rows(
    summaries: dict[str, RunSummary], rows: dict[str, list[str]]
) -> dict[str, RunSummary]:
    """Row → the summary of its first finished run (what the reports' notes need of a row: its data)."""
    firsts = {row: next((n for n in names if n in summaries), None) for row, names in rows.items()}
    return {row: summaries[n] for row, n in firsts.items() if n is not None}
