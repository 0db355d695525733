"""The reports' comparison table, built from run summaries: its rows and columns (results.csv's; its CSV and
Markdown texts in texts.py), text cells for a terminal (cli/ draws them), and rows for HTML.

Beside vislab's figures, a suite's ``reported:`` block adds one column per figure and source (what the
course's report published for that run; blank where it gives none), and the data each run used is
stated from the runs' own summaries (data_used.py). After each run, what it was: its
model, seed and the settings the runs changed (settings.py), or a sweep's swept values; cells print and are
bolded as cells.py says. Each run is its :class:`RunSummary`: the metric columns are read from it by
name (:meth:`RunSummary.score`, :data:`COLUMNS`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from vislab.experiments.results.data_used import OwnSplits, row_datasets
from vislab.experiments.results.model_options import taken
from vislab.experiments.results.reported import (
    ReportedLike,
    as_reported,
    reported_columns,
    reported_figure,
)
from vislab.experiments.results.settings import Settings
from vislab.experiments.results.spread import (
    COMPARE,
    Spread,
    Verdict,
    group_verdicts,
    pairing_of,
    rows_by_seed_suffix,
    spread_of,
)
from vislab.training.summary import RunSummary

COLUMNS = [  # (key in summary.json, header); train ACC is the best epoch's (the train–test gap of RDFIA 1-cd)
    ("run", "run"),
    ("train_acc", "train ACC"),
    ("val_acc", "val ACC"),
    ("val_pacc", "val PACC"),
    ("test_acc", "test ACC"),
    ("test_pacc", "test PACC"),
    ("test_top5_acc", "test top-5 ACC"),  # 10 classes or more (summary.json has none below)
    ("test_auc", "test AUC"),  # macro one-vs-rest (cells.AUC_MEANS)
    ("test_loss", "test loss"),
    ("train_time_s", "train time (s)"),
    ("test_time_s", "test time (s)"),
    ("params", "parameters"),
    ("epochs_run", "epochs"),
    ("best_epoch", "best epoch"),
]


def figure_columns(metric: str | None = None) -> list[tuple[str, str]]:
    """:data:`COLUMNS`, and a sweep's ``metric`` when it is none of them (val_loss: "val loss", after the
    val figures): the figure its trials were chosen by is in its table (None: COLUMNS)."""
    if metric is None or metric in dict(COLUMNS):
        return COLUMNS
    at = 1 + max(i for i, (key, _) in enumerate(COLUMNS) if key.startswith("val_"))
    return [*COLUMNS[:at], (metric, metric.replace("_", " ")), *COLUMNS[at:]]


def reported_key(key: str, source: str) -> str:
    """The column of figure ``key`` as ``source`` reported it, e.g. ``test_acc_reported_dlvc-B``."""
    return f"{key}_reported_{source}"


# the figure columns: a table's columns after what each run was
FIGURES = {key for key, _ in COLUMNS[1:]}
# the figure columns a table for people shows only where a row has a value (results.csv: always)
OPTIONAL = ("test_auc",)


def shown_figures(rows: list[dict], cols: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``cols`` but the :data:`OPTIONAL` figures no row of ``rows`` has: results.md's, report.html's
    and the paper's tables kept narrow."""
    return [(k, h) for k, h in cols if k not in OPTIONAL or any(r.get(k) is not None for r in rows)]


SEEDS = (
    "seeds",
    "N",
)  # a seeded table's column after the run: how many of the row's seeds finished


def columns(
    reported: ReportedLike = None, seeded: bool = False, metric: str | None = None
) -> list[tuple[str, str]]:
    """COLUMNS (and a sweep's ``metric``: :func:`figure_columns`), each figure followed by the reported
    columns of the sources that give it; ``seeded``: the N column after the run."""
    by_key = reported_columns(reported)
    out = []
    for key, head in figure_columns(metric):
        out.append((key, head))
        out += [SEEDS] if seeded and key == "run" else []
        out += [(reported_key(key, s), f"{head} (reported, {s})") for s in by_key.get(key, [])]
    return out


def figure(summary: RunSummary, key: str) -> Any:
    """Figure ``key`` (a metric column) of a run's summary as every table shows it: what summary.json
    says (``Run.summary``'s), a run fitted once (majority, svm) included: its one fit is its epoch 1 and
    its best, as its one metrics row says (the provenance line under the table names it fitted once)."""
    return summary.get(key)


def table_rows(
    summaries: Mapping[str, RunSummary], reported: ReportedLike = None, metric: str | None = None
) -> list[dict]:
    """One row per run (named by its key): vislab's figures (a sweep's ``metric`` too:
    :func:`figure_columns`), then the reported ones (None: not given)."""
    reported = as_reported(reported)
    by_key = reported_columns(reported)
    rows = []
    for name, s in summaries.items():
        row = {key: (name if key == "run" else figure(s, key)) for key, _ in figure_columns(metric)}
        for key, sources in by_key.items():
            for src in sources:
                row[reported_key(key, src)] = reported_figure(reported, name, src, key)
        rows.append(row)
    return rows


def seed_rows(
    summaries: Mapping[str, RunSummary],
    rows: dict[str, list[str]],
    reported: ReportedLike = None,
    metric: str | None = None,
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
        for key, _ in figure_columns(metric)[1:]:
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
    "each run <row>-s<i> one seed of the row, with a train.seed of its own (a suite's: train.seed + i)."
)


def seed_verdicts(
    summaries: Mapping[str, RunSummary],
    rows: dict[str, list[str]],
    groups: dict[str, list[str] | None] | None = None,
    compare: str | None = None,
    metric: str = "test_acc",
    own: OwnSplits | None = None,
    unlike: Mapping[str, str] | None = None,
) -> dict[str, list[Verdict]]:
    """Each group's verdicts on ``metric`` over the rows' seeds (``rows``: row → its runs), the one rule
    of results.md, ``vislab compare``, report.html and the paper: the rows of ``groups``' members (a
    suite's; without, all rows) paired as ``compare`` says (``spread.pairing_of``'s; None: no suite,
    each row against the best of its dataset), only rows of one dataset and test set against each
    other — the bold's grouping (``data_used.row_datasets``, ``own``: :class:`OwnSplits`, its
    ``apart``; a row of seeds each drawing their own split only with those of its ``own_set``), but a
    row whose test set is unknown is weighed with its dataset's rows. A row whose
    ``metric`` disagrees with its runs' records (:func:`doubted_rows`) is never the best, and is not
    weighed. A verdict without a spread names the rows' seed runs that did not finish, and why a row's
    seeds are not averaged (``unlike``: run → why, ``seed_rows.SeedSplit.unlike``); a group's member
    whose seeds are not averaged keeps its place, its verdicts saying why."""
    finished = {
        row: {n: v for n in names if (s := summaries.get(n)) and (v := s.get(metric)) is not None}
        for row, names in rows.items()
    }
    values = {row: list(done.values()) for row, done in finished.items()}
    missing = {row: [n for n in names if n not in finished[row]] for row, names in rows.items()}
    label = dict(COLUMNS).get(metric, metric)
    apart = (  # none unranked: unknown is alike; own splits weighed only with their own
        OwnSplits(own, apart=own.apart, own_set=own.own_set) if own is not None else OwnSplits()
    )
    data = row_datasets([{"run": row} for row in rows], dict(summaries), rows, apart)
    return group_verdicts(
        groups or {"all runs": list(rows)},
        values,
        label,
        pairing_of(compare),
        missing,
        dict(zip(rows, data)),
        doubted_rows(own, metric),
        unlike,
        _not_averaged(rows, unlike or {}),
    )


def _not_averaged(rows: Mapping[str, list[str]], unlike: Mapping[str, str]) -> dict[str, list[str]]:
    """Row of seeds not averaged (a group names it) → its runs, each a row of ``rows`` now: the runs of
    ``unlike`` named ``<row>-s<i>`` whose ``<row>`` is no row."""
    joined = rows_by_seed_suffix([r for r in rows if r in unlike]) or {}
    return {row: runs for row, runs in joined.items() if row not in rows}


def doubted_rows(own: OwnSplits | None, metric: str) -> set[str]:
    """The rows whose ``metric`` disagrees with their runs' own records (``own.doubts``, keyed by the
    figure or, for a row's seed run, ``<run>.<figure>``: ``trust.doubted``)."""
    doubts = own.doubts if own is not None else {}
    return {row for row, said in doubts.items() if any(k.split(".")[-1] == metric for k in said)}


def verdicts_need_seeds(groups: dict | None, compare: str | None = None) -> str:
    """Under a table with one seed per row, of a suite that asks for verdicts (``groups``, or ``compare:
    baseline``): why it has none — a verdict weighs a difference against the spread over seeds; else ""."""
    if not groups and compare != "baseline":
        return ""
    each = COMPARE[pairing_of(compare)].lower() + (", per group" if groups else "")
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
    metric: str | None = None,
    splits: OwnSplits | None = None,
) -> tuple[list[dict], list[tuple[str, str]]]:
    """results.csv's rows and columns (what ``vislab.compare`` and ``run_suite().table`` return): a row
    per run, or per row of seeds (``rows``: mean, ``<key>_std``, N); after the run, ``settings``'
    columns (its model, seed and the settings the runs changed, or a sweep's swept values), a model
    option the row's model does not have empty (:func:`model_options.taken`); then, given ``splits``
    (``data_used.rows_with_own_test_sets``), :func:`with_test_sets`' columns; a sweep's ``metric``
    too (:func:`figure_columns`)."""
    figures = figure_rows(summaries, rows, reported, metric)
    cols = columns(reported, rows is not None, metric)
    table, cols = with_std_columns(*with_settings(figures, cols, settings, taken))
    return with_test_sets(table, cols, splits) if splits is not None else (table, cols)


TEST_SET = ("test_set", "test set")  # the number of the test set a row was scored on


def with_test_sets(
    rows: list[dict], cols: list[tuple[str, str]], splits: OwnSplits
) -> tuple[list[dict], list[tuple[str, str]]]:
    """Rows and columns with, before the figures, ``test_set``: the number of the test set each row was
    scored on (``splits.test_set``, as the data line numbers them; empty where it is unknown, or each
    seed of the row drew its own), and ``doubted`` where a row's figures disagree with its runs' records
    (the figures, by key; ``trust.doubted``)."""
    doubts = splits.doubts
    added = [TEST_SET, *([("doubted", "doubted")] if doubts else [])]
    out = [
        dict(
            r,
            test_set=splits.test_set.get(r["run"]),
            **({"doubted": ", ".join(doubts.get(r["run"], {})) or None} if doubts else {}),
        )
        for r in rows
    ]
    at = next((i for i, (k, _) in enumerate(cols) if k in FIGURES), len(cols))
    return out, [*cols[:at], *added, *cols[at:]]


def figure_rows(
    summaries: Mapping[str, RunSummary],
    rows: dict[str, list[str]] | None = None,
    reported: ReportedLike = None,
    metric: str | None = None,
) -> list[dict]:
    """A row of figures per run (:func:`table_rows`), or per row of seeds (``rows``: :func:`seed_rows`),
    with a sweep's ``metric`` (:func:`figure_columns`)."""
    if rows is None:
        return table_rows(summaries, reported, metric)
    return seed_rows(summaries, rows, reported, metric)


def first_of_rows(
    summaries: dict[str, RunSummary], rows: dict[str, list[str]]
) -> dict[str, RunSummary]:
    """Row → the summary of its first finished run (what the reports' notes need of a row: its data)."""
    firsts = {row: next((n for n in names if n in summaries), None) for row, names in rows.items()}
    return {row: summaries[n] for row, n in firsts.items() if n is not None}
