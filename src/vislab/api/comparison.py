"""The table ``vislab compare`` prints of the runs it finds (``api/found_runs.py``): as results.csv and
results.md hold it (``vislab compare``) or as results.csv's rows and columns (``vislab.compare``'s
DataFrame), sorted by a column if asked, the runs left out listed under it."""

from __future__ import annotations

import difflib
import math
import typing
from typing import TYPE_CHECKING

from vislab.api.found_runs import Found, Targets, find_runs
from vislab.config import TrainConfig
from vislab.errors import UserError, show_note
from vislab.experiments.records import SuiteInfo
from vislab.training.summary import RunSummary

if TYPE_CHECKING:
    from vislab.experiments.results.settings import Settings

# The results table is imported by the functions that use it ("on use" below): it loads pandas,
# which `import vislab.api` should not wait for.


def comparison_texts(targets: Targets, sort: str | None = None) -> tuple[str, str, Found]:
    """The comparison table of the runs of ``targets`` (:func:`find_runs`) as results.csv and results.md
    hold it — after each run its model, seed and the settings that differ; the best cells bold; the
    runs left out listed under it — rows in the order given, or by column ``sort`` (best first for an
    accuracy, AUC or loss, else ascending; runs without a value last). One suite folder: its own title,
    rows of seeds and verdicts, as its results.md; several: each suite folder's rows of seeds, named
    by it (``s/mlp``, ``s2/mlp``), the verdicts as the report's and the paper's of a folder of runs
    (``table.seed_verdicts``: each row against the best of its dataset and test set)."""
    from vislab.experiments.results.texts import results_texts  # on use (see the imports)

    found = find_runs(targets)
    suite = found.suite
    summaries, rows, groups = _ordered(found, sort)
    csv_text, markdown = results_texts(
        found.holder,
        summaries,
        found.left_out,
        title=f"suite {suite.name}" if suite.name else "",
        reported=suite.reported,
        rows=rows,
        groups=groups,
        compare=_pairing(found),
        params=found.params,
        run_dirs=found.folders,
        order=_given_order(found),
        unlike=found.unlike,
    )
    return csv_text, markdown, found


def _pairing(found: Found) -> str:
    """How the verdicts pair the table's rows (``spread.pairing_of``): one suite folder's way (its
    ``compare:``, or a ladder where its suite.json names none), else each row against the best."""
    from vislab.experiments.results.spread import pairing_of  # on use (see the imports)

    return pairing_of(found.suite.compare, suite=found.suite != SuiteInfo())


def _given_order(found: Found) -> list[str]:
    """The table's rows as given, before any ``sort``: the order its test sets are numbered in."""
    return list(found.rows if found.rows is not None else found.summaries)


def comparison_table(
    targets: Targets, sort: str | None = None, reported: dict | None = None
) -> tuple[list[dict], list[str], Found]:
    """results.csv's rows and column names of the runs of ``targets`` (:func:`find_runs`), in
    :func:`comparison_texts`' order (``sort``), as ``vislab compare --csv`` writes them and pandas reads
    them back (:func:`as_read_back`): one row per run (a suite folder with seeds: per row of its seeds);
    ``reported`` (None: one suite folder's own) joins a ``reported:`` block's figures. UserError naming
    the first config.yaml that cannot be read (the command notes it under its table instead)."""
    from vislab.experiments.results.table import csv_table  # on use (see the imports)
    from vislab.experiments.results.texts import own_splits

    found = find_runs(targets)
    summaries, rows, _ = _ordered(found, sort)
    settings, metric = _choice(found, summaries, rows)
    if settings.unread:  # each run's config.yaml, read as Run.config reads it
        raise next(iter(settings.unread.values()))
    given = reported if reported is not None else found.suite.reported
    splits = own_splits(summaries, rows, found.folders, _given_order(found))
    table, cols = csv_table(summaries, settings, given, rows, metric, splits)
    return as_read_back(table), [k for k, _ in cols], found


def _choice(
    found: Found, summaries: dict[str, RunSummary], rows: dict[str, list[str]] | None
) -> tuple[Settings, str | None]:
    """The table's setting columns and metric column, as results.csv has them (``texts.table_choice``): a
    sweep folder's swept values and metric, else the runs' model, seed and the settings that differ."""
    from vislab.experiments.results.texts import table_choice  # on use (see the imports)

    params = None if found.params is None else {n: found.params.get(n, {}) for n in summaries}
    return table_choice(found.holder, summaries, found.folders, rows, params)


def as_read_back(table: list[dict]) -> list[dict]:
    """results.csv's rows (``csv_table``) with each cell as ``pd.read_csv`` reads it back from the file: an
    empty one (a setting the row does not have, a figure it lacks) NaN, a list (``model.widths``) its
    text, ``[8, 16]``; so a DataFrame of them equals the file read back, dtypes included (a numeric
    column stays numeric), but for a ``reported:`` figure: the report's text (``0.1000``) stays text."""
    return [{k: _read_back(v) for k, v in row.items()} for row in table]


def _read_back(value: object) -> object:
    """A cell of results.csv as pandas reads it back: None as NaN, a value csv writes as text (a list) as
    that text (csv writes ``str(value)``), the others as they are."""
    if value is None:
        return math.nan
    return value if isinstance(value, (str, int, float)) else str(value)


def _ordered(
    found: Found, sort: str | None
) -> tuple[dict[str, RunSummary], dict[str, list[str]] | None, dict | None]:
    """The summaries, a suite's rows of seeds and the groups its verdicts pair rows in (one suite
    folder's; None otherwise: ``table.seed_verdicts`` pairs each row with the best of its dataset), in
    the order ``sort`` asks for (:func:`sorted_names`; None: as given)."""
    rows, summaries = found.rows, found.summaries
    groups = found.groups or None
    if sort is None:
        return summaries, rows, groups
    order = sorted_names(found, sort, rows)
    if rows and _pairing(found) != "best":  # a suite's verdicts keep its order, not the table's
        return summaries, {r: rows[r] for r in order}, groups or {"all runs": list(rows)}
    if rows:
        return summaries, {r: rows[r] for r in order}, groups
    return {n: summaries[n] for n in order}, rows, groups


#: the note of rows ordered by a test figure (.format(column=)): reporting, not choosing
TEST_ORDER = (
    "rows ordered by {column}, a test figure: fine for reporting, but a model chosen by its test score "
    "has seen the test set — choose on validation (val_pacc), then report test."
)

# what runs can be selected by (train.select_metric): --sort takes them, a column of the table or not
SELECTABLE = typing.get_args(TrainConfig.model_fields["select_metric"].annotation)


def sorted_names(found: Found, column: str, rows: dict[str, list[str]] | None = None) -> list[str]:
    """The table's rows (runs, or ``rows`` of seeds) ordered by ``column`` of results.csv, or by a metric
    runs are selected by (:data:`SELECTABLE`: val_loss, which the table does not show, is read from each
    summary.json, a row of seeds' mean; a note says so): best first for an accuracy, AUC or loss
    (highest accuracy or AUC, lowest loss), else ascending; a row whose value disagrees with its runs'
    records (``trust.doubted``) after those that agree, a row without a value last. UserError naming the
    closest columns for one the table does not have."""
    from vislab.experiments.results.cells import HIGHER, SCORES  # on use (see the imports)
    from vislab.experiments.results.table import csv_table, doubted_rows
    from vislab.experiments.results.texts import own_splits

    settings, metric = _choice(found, found.summaries, rows)
    table, cols = csv_table(found.summaries, settings, found.suite.reported, rows, metric)
    keys = [k for k, _ in cols]
    if column not in keys and column in SELECTABLE:
        _add_selectable(found, column, rows, table)
    elif column not in keys:
        known = [*keys, *(m for m in SELECTABLE if m not in keys)]
        near = difflib.get_close_matches(column, known, n=3, cutoff=0.5)
        closest = f" (closest: {', '.join(near)})" if near else ""
        raise UserError(
            f"cannot sort by '{column}': the table has no such column{closest}. Its columns: "
            f"{', '.join(keys)}; or a metric runs are selected by: {', '.join(SELECTABLE)}."
        )
    best_high = column.endswith(HIGHER)
    if column.startswith("test_") and column.endswith(SCORES):  # a score, not a time
        show_note(TEST_ORDER.format(column=column))
    doubted = doubted_rows(own_splits(found.summaries, rows, found.folders), column)

    def key(row: dict) -> tuple:
        v = row.get(column)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return (int(row["run"] in doubted), -float(v) if best_high else float(v), "")
        return (2, 0.0, str(v)) if v is not None and v != "" else (3, 0.0, "")

    return [row["run"] for row in sorted(table, key=key)]


def _add_selectable(
    found: Found, column: str, rows: dict[str, list[str]] | None, table: list[dict]
) -> None:
    """Put metric ``column`` (not a column of the table) in each of its rows: the run's value in its
    summary.json, a row of seeds' mean over the runs that have one; a note says the rows are so ordered."""
    runs = rows if rows is not None else {name: [name] for name in found.summaries}
    for row in table:
        summaries = [found.summaries[n] for n in runs.get(row["run"], ()) if n in found.summaries]
        values = [summary.get(column) for summary in summaries]
        numbers = [
            float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)
        ]
        row[column] = sum(numbers) / len(numbers) if numbers else None
    mean = ", a row of seeds by their mean" if rows is not None else ""
    show_note(
        f"rows ordered by {column}, best first: each run's in its summary.json{mean} (the table has no "
        f"{column} column)."
    )
