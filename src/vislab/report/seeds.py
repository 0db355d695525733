"""What a report (and the paper) shows of runs trained with several seeds: the table's rows (a suite's run
with its seeds: mean ± std, N), and each group's verdicts (is a difference beyond the spread?); and the
report's table as a whole (:func:`table_context`): what each row was (its model, seed and the settings the
runs changed, or a sweep trial's parameters) and the best cells in bold, by the rule results.md and the
paper follow."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from vislab.config import Config
from vislab.experiments.records import SuiteInfo, SweepInfo
from vislab.experiments.results.cells import bold_cells, bold_note, figures_note
from vislab.experiments.results.columns_dash import figures_dash_note
from vislab.experiments.results.data_used import (
    OwnSplits,
    mixes_data,
    row_datasets,
    rows_with_own_test_sets,
)
from vislab.experiments.results.for_people import LISTED, LISTED_NOTE, for_people, listed_line
from vislab.experiments.results.recorded import edited_note
from vislab.experiments.results.reported import Cited, ReportedLike, legend, row_summaries
from vislab.experiments.results.seed_rows import SeedSplit, seed_split
from vislab.experiments.results.settings import Settings, swept, table_settings, unread_note
from vislab.experiments.results.spread import (
    COMPARE,
    RULE,
    Verdict,
    pairing_of,
    rows_by_seed_suffix,
)
from vislab.experiments.results.table import (
    SPREAD_NOTE,
    columns,
    seed_rows,
    seed_verdicts,
    shown_figures,
    table_rows,
    verdicts_need_seeds,
    with_settings,
)
from vislab.experiments.results.texts import cells_notes
from vislab.experiments.sweeps.results import trial_params
from vislab.experiments.sweeps.trials import database_note, table_params
from vislab.report.run_files import RunFiles
from vislab.training.summary import RunSummary

if TYPE_CHECKING:
    import optuna


class Planned(Protocol):
    """What these functions read of a report's plan (``report.plan.ReportPlan``)."""

    suite: SuiteInfo | None
    sweep: SweepInfo | None
    one_run: bool
    folder: Path
    complete: dict[str, RunSummary]
    table: dict[str, RunSummary]
    elsewhere: dict[str, RunSummary]
    runs: dict[str, Path]
    study: optuna.Study | None
    configs: dict[str, Config]
    files: RunFiles


def plan_rows(plan: Planned) -> dict[str, list[str]] | None:
    """Row → its runs when runs have seeds: a seeded suite's rows (suite.json), or runs named
    ``<row>-s<i>`` in a folder, but not those whose configs differ in more than their seed
    (:func:`seeds_note`); None when every run is its own row."""
    rows = _seed_rows(plan)[0]
    return rows if any(len(names) > 1 for names in rows.values()) else None


def seeds_note(plan: Planned) -> str:
    """The note under the table naming runs grouped as seeds of one row (a suite's, or named
    ``<row>-s<i>``) whose configs differ in more than their seed, each a row of its own ("" when none:
    ``seed_rows.seed_split``)."""
    return _seed_rows(plan)[1].note


def _seed_rows(plan: Planned) -> tuple[dict[str, list[str]], SeedSplit]:
    """The plan's rows of seeds — a suite's (suite.json's), or a folder's runs named ``<row>-s<i>`` —
    those alike, the others' runs each a row of its own, and why (``seed_rows.seed_split``, comparing the
    finished runs' configs as the plan read them); ({}, no split) for a sweep or a run's own folder."""
    if plan.sweep is not None or plan.one_run:
        return {}, SeedSplit()
    suite = plan.suite is not None
    rows = (plan.suite.rows if suite else rows_by_seed_suffix(list(plan.complete))) or {}
    # the finished runs' configs as the plan read them: no file is read again, however often asked
    told = seed_split(rows, plan.runs, plan.configs, among=plan.complete, suite=suite)
    return told.split(rows), told


def own_splits(plan: Planned) -> OwnSplits:
    """The rows of seeds whose seeds drew their own split, and the rows scored on different test sets
    (by the plan's read of their predictions_test.npz: ``data_used.rows_with_own_test_sets``): the data
    line of report.html and the paper says so, as results.md's does."""
    rows = plan_rows(plan) or {name: [name] for name in plan.complete}
    return rows_with_own_test_sets(
        {r: [n for n in ns if n in plan.complete] for r, ns in rows.items()},
        plan.runs,
        plan.files.predictions,
        plan.complete,
        metrics=plan.files.metrics,  # the val figures checked too, each file read once
    )


def _suite(plan: Planned) -> SuiteInfo:
    """A suite's suite.json (an empty record for anything but a suite)."""
    return plan.suite if plan.suite is not None else SuiteInfo()


def reported_of(plan: Planned) -> ReportedLike:
    """The suite's ``reported:`` block (None for anything but a suite)."""
    return _suite(plan).reported


def cited(plan: Planned) -> Cited:
    """What the reports' figures are set beside: with seeds each row's finished runs' summaries (as
    ``reported:`` names rows, not ``<row>-s<i>`` runs), else each finished run's summary."""
    rows = plan_rows(plan)
    return row_summaries(plan.complete, rows) if rows else plan.complete


def results_table(plan: Planned) -> tuple[list[dict], list[tuple[str, str]]]:
    """The comparison table's rows and columns: a row per run (a sweep's trials whose run folders are
    not here too: ``plan.table``), or per row of seeds (mean ± std, N); an optional figure no row
    has left out (``table.shown_figures``)."""
    rows, reported = plan_rows(plan), reported_of(plan)
    metric = plan.sweep.metric if plan.sweep is not None else None  # val_loss: a column of its own
    if rows is None:
        figures = table_rows(plan.table, reported, metric)
        return figures, shown_figures(figures, columns(reported, metric=metric))
    figures = seed_rows(plan.complete, rows, reported)
    return figures, shown_figures(figures, columns(reported, seeded=True))


def plan_verdicts(plan: Planned, metric: str = "test_acc") -> dict[str, list[Verdict]]:
    """The table's verdicts on ``metric`` (``table.seed_verdicts``, as results.md and ``vislab compare``
    give them): each group of a seeded suite (or ``all runs`` of a seeded folder), its rows of one
    dataset and test set paired as :func:`pairing` says; {} without seeds (nothing to weigh a
    difference against)."""
    rows = plan_rows(plan)
    if not rows:
        return {}
    unlike = _seed_rows(plan)[1].unlike  # a row's seeds not averaged: why no spread, and the fix
    return seed_verdicts(
        plan.complete, rows, _groups(plan), pairing(plan), metric, own_splits(plan), unlike
    )


def _groups(plan: Planned) -> dict | None:
    """A suite's ``groups:`` (None: none, or not a suite)."""
    return _suite(plan).groups


def pairing(plan: Planned) -> str:
    """How the verdicts pair a group's runs (``spread.pairing_of``): a suite's ``compare:`` ("previous"
    or "baseline"; "previous" where its suite.json names none), else each against the best of its
    dataset ("best")."""
    return pairing_of(_suite(plan).compare, suite=plan.suite is not None)


def plan_settings(plan: Planned) -> Settings:
    """What each row of the table was: a sweep's trials their model, seed (their summaries') and swept
    values (its study's), as its results.md; any other table its runs' model, seed and the settings they
    changed (their config.yaml, as the plan read it)."""
    if plan.sweep is not None and plan.study is not None:
        runs = plan.table
        return swept(table_params(trial_params(plan.study), runs, plan.runs, plan.folder), runs)
    return table_settings(plan.complete, plan.runs, plan_rows(plan), plan.configs)


def plan_datasets(plan: Planned, figures: list[dict]) -> list[str]:
    """The dataset of each row of ``figures`` (:func:`results_table`'s), and its test set where rows of
    one dataset were scored on different ones (:func:`own_splits`): bold ranks within one only."""
    return row_datasets(figures, plan.table, plan_rows(plan), own_splits(plan))


def _settings_note(plan: Planned, settings: Settings, shown: Settings) -> str:
    """The notes under the table on its settings (``shown``: those it shows as columns): runs whose
    config.yaml could not be read or was edited since, seeds of one row that differ in more, model options
    a row's model has not, what a ``-`` setting and the ``code`` column mean (as results.md's and the
    paper's), and a sweep's rows from its study database."""
    edited = edited_note({n: plan.runs[n] for n in plan.complete if n in plan.runs}, plan.configs)
    return " ".join(
        p
        for p in (
            unread_note(settings.unread),
            edited,
            seeds_note(plan),
            # an mlp's widths (n/a), a baseline's optim.lr (-), the code column
            *cells_notes(shown),
            _database_rows_note(plan),
        )
        if p
    )


def _database_rows_note(plan: Planned) -> str:
    """results.md's note on a sweep's rows from its study database (``trials.database_note``), "" else."""
    return database_note(plan.study, plan.elsewhere, plan.folder) if plan.elsewhere else ""


def table_context(plan: Planned) -> dict:
    """The report template's table: ``rows`` and ``columns`` (:func:`results_table`, after the run the
    columns of :func:`plan_settings`, named in ``settings``: at most ``settings.MAX_COLUMNS`` of them, more
    in ``listed``, row → its ``key=value`` line, under ``listed_title`` and ``listed_note``), the ``bold``
    cells ((row, key) pairs; among the runs of each dataset) and the ``bold_note`` saying why, the
    reports ``reported`` for those rows, a ``settings_note`` on runs whose settings could not be read or
    that are named as seeds of one row but differ in more (:func:`seeds_note`), what the train ACC and
    test AUC columns are and what a ``-`` figure is (``train_acc_note``: ``cells.figures_note``,
    ``columns_dash.figures_dash_note``), and with seeds the
    ``spread_note`` (without, for a suite that asks for verdicts, why it has none:
    ``verdicts_need_seeds``), the groups' ``verdicts`` (group → sentences, each with whether it exceeds
    the spread), how they pair the rows (``verdict_pairing``) and the ``verdict_rule``."""
    seeded = plan_rows(plan)
    settings = plan_settings(plan)
    readable = for_people(settings)
    figures, figure_cols = results_table(plan)
    data = plan_datasets(plan, figures)
    bold = bold_cells(figures, figure_cols, data)  # figures only: a setting is never "best"
    rows, cols = with_settings(figures, figure_cols, readable.columns, lambda v: v)
    verdicts = {
        group: [dict(text=v.sentence(), exceeds=v.exceeds) for v in found]
        for group, found in plan_verdicts(plan).items()
    }
    return dict(
        rows=rows,
        columns=cols,
        settings=readable.columns.keys,
        listed={row: listed_line(texts) for row, texts in readable.listed.items()},
        listed_title=LISTED,
        listed_note=f"{LISTED_NOTE[0].upper()}{LISTED_NOTE[1:]}.",
        settings_note=_settings_note(plan, settings, readable.columns),
        bold=bold,
        bold_note=bold_note(seeded is not None, mixes_data(data)) if bold else "",
        reported=legend(reported_of(plan), list(cited(plan))),
        spread_note=SPREAD_NOTE if seeded else verdicts_need_seeds(_groups(plan), pairing(plan)),
        train_acc_note=" ".join(
            p for p in (figures_note(figure_cols), figures_dash_note(figures, figure_cols)) if p
        ),
        verdicts=verdicts,
        verdict_pairing=COMPARE[pairing(plan)],
        verdict_rule=RULE,
    )
