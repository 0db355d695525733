"""results.csv's and results.md's texts (:func:`results_texts`) and the two files (:func:`write_tables`):
the table's rows and columns (table.py) as CSV, and as Markdown with what goes above the table (title, the
data used, how the runs were made) and under it (notes, settings listed, verdicts, failures, reported
figures' sources).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vislab.config import Config
from vislab.errors import UserError
from vislab.experiments.records import SuiteInfo
from vislab.experiments.results.cells import (
    bold_cells,
    bold_note,
    figures_note,
    param_cell,
    pipe_table,
)
from vislab.experiments.results.columns_code import code_note
from vislab.experiments.results.columns_dash import figures_dash_note, settings_dash_note
from vislab.experiments.results.data_used import (
    OwnSplits,
    data_line,
    mixes_data,
    row_datasets,
    rows_with_own_test_sets,
    titled,
)
from vislab.experiments.results.for_people import ForPeople, for_people, listed_markdown
from vislab.experiments.results.model_options import not_taken_note
from vislab.experiments.results.per_class import per_class_table
from vislab.experiments.results.provenance import (
    fitted_params_note,
    fitted_rows,
    made_info,
    provenance_line,
    swept_metric,
    trainable_params_note,
)
from vislab.experiments.results.recorded import edited_note
from vislab.experiments.results.reported import (
    ReportedLike,
    as_reported,
    reported_notes,
    row_summaries,
)
from vislab.experiments.results.seed_rows import seed_split
from vislab.experiments.results.settings import Settings, swept, table_settings, unread_note
from vislab.experiments.results.spread import COMPARE, RULE, pairing_of
from vislab.experiments.results.table import (
    COLUMNS,
    SPREAD_NOTE,
    columns,
    csv_table,
    figure_rows,
    seed_verdicts,
    shown_figures,
    text_columns,
    verdicts_need_seeds,
    with_settings,
)
from vislab.files import atomic_write_text
from vislab.training.rundir import RunDir
from vislab.training.summary import RunSummary
from vislab.words import and_list


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


def runs_notes(
    summaries: Mapping[str, RunSummary], rows: dict[str, list[str]] | None = None
) -> list[tuple[str, str]]:
    """(who, note) for each note the table's runs gave (summary.json's ``notes_given``), in the table's order:
    a row of seeds (``rows``) whose runs all gave a note is named once for it, else each run that gave
    it."""
    rows = rows or {name: [name] for name in summaries}
    said = []
    for row, names in rows.items():
        runs = {n: summaries[n].notes_given or [] for n in names if n in summaries}
        for note in dict.fromkeys(x for notes in runs.values() for x in notes):
            who = [n for n, notes in runs.items() if note in notes]
            said.append((row if len(who) == len(runs) else ", ".join(who), note))
    return said


def notes_by_text(
    summaries: Mapping[str, RunSummary], rows: dict[str, list[str]] | None = None
) -> list[str]:
    """The notes the runs gave as they trained (:func:`runs_notes`), each distinct text once, followed by
    who gave it: "<note> (runs: a, b and c)", "(run: a)", "(every run)" where all the table's runs did,
    or "(every run but d)" where all rows but fewer than gave it did (results.md's list and the paper's
    notes alike)."""
    rows = rows or {name: [name] for name in summaries}
    shown = [r for r, names in rows.items() if any(n in summaries for n in names)]
    who_said: dict[str, list[str]] = {}
    for who, note in runs_notes(
        summaries, rows
    ):  # who: a row, or its seeds that gave it: "a-s0, a-s1"
        who_said.setdefault(" ".join(note.split()), []).extend(who.split(", "))
    lines = []
    for note, whos in who_said.items():
        but = [r for r in shown if r not in whos]
        if len(shown) > 1 and not but:
            lines.append(f"{note} (every run)")
        elif set(whos) <= set(shown) and len(but) < len(whos) > 2:
            lines.append(f"{note} (every run but {and_list(but)})")
        else:
            lines.append(f"{note} (run{'s' * (len(whos) > 1)}: {and_list(whos)})")
    return lines


def notes_markdown(
    summaries: Mapping[str, RunSummary], rows: dict[str, list[str]] | None = None
) -> str:
    """results.md's list of the notes the runs gave as they trained (:func:`notes_by_text`); "" when
    none."""
    said = notes_by_text(summaries, rows)
    return "\nNotes the runs gave:\n\n" + "".join(f"- {line}\n" for line in said) if said else ""


def verdicts_markdown(
    summaries: Mapping[str, RunSummary],
    rows: dict[str, list[str]],
    groups: dict[str, list[str] | None] | None = None,
    compare: str | None = None,
    own: OwnSplits | None = None,
    unlike: Mapping[str, str] | None = None,
) -> str:
    """Under a seeded table: :func:`seed_verdicts` on test ACC as a list, how they pair the rows and the
    rule; "" when no group has two rows of one dataset with finished runs. ``unlike``: run → why its
    row's seeds are not averaged (``seed_rows.SeedSplit.unlike``)."""
    found = seed_verdicts(summaries, rows, groups, compare, own=own, unlike=unlike)
    if not found:
        return ""
    lines = [f"- **{g}**: {v.sentence()}\n" for g, verdicts in found.items() for v in verdicts]
    paired = COMPARE[pairing_of(compare)].lower()
    return (
        f"\nVerdicts ({paired}; {dict(COLUMNS)['test_acc']}):\n\n" + "".join(lines) + f"\n{RULE}\n"
    )


def to_csv(rows: list[dict], cols: list | None = None) -> str:
    """results.csv's text of ``rows``: a boolean setting as the config spells it (``false``, which
    pandas reads back as a boolean)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=[k for k, _ in cols or COLUMNS], lineterminator="\n")
    w.writeheader()
    w.writerows(
        {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in r.items()} for r in rows
    )
    return buf.getvalue()


def table_choice(
    out: Path,
    summaries: Mapping[str, RunSummary],
    run_dirs: Mapping[str, Path],
    rows: dict[str, list[str]] | None,
    params: dict[str, dict[str, Any]] | None,
    configs: dict[str, Config] | None = None,
) -> tuple[Settings, str | None]:
    """A table's setting columns and the metric column it adds: a sweep's (in ``out``) swept values
    (``params``, run → its values) and the metric its trials were chosen by (val_loss: no column
    otherwise; ``provenance.swept_metric``), else the runs' model, seed and the settings that differ
    (``configs``: run → its config.yaml already read)."""
    if params is not None:
        return swept(params, summaries), swept_metric(out)
    return table_settings(summaries, run_dirs, rows, configs), None


def _configs_of(
    summaries: Mapping[str, RunSummary], run_dirs: Mapping[str, Path]
) -> dict[str, Config]:
    """The config.yaml of each run of ``summaries`` in ``run_dirs``, read once for its table; a run whose
    file is missing or cannot be read is left out (the table's settings note names it)."""
    configs = {}
    for name in summaries:
        try:
            cfg = RunDir(run_dirs[name]).load_config() if name in run_dirs else None
        except UserError:
            continue
        if cfg is not None:
            configs[name] = cfg
    return configs


def results_texts(
    out: Path,
    summaries: Mapping[str, RunSummary],
    failures: dict[str, str] | None = None,
    *,
    title: str = "",
    reported: ReportedLike = None,
    rows: dict[str, list[str]] | None = None,
    groups: dict[str, list[str] | None] | None = None,
    compare: str | None = None,
    params: dict[str, dict[str, Any]] | None = None,
    note: str = "",
    run_dirs: dict[str, Path] | None = None,
    order: Sequence[str] = (),
    unlike: Mapping[str, str] | None = None,
) -> tuple[str, str]:
    """results.csv's text (finished runs, full precision) and results.md's (title, table with its best cells
    bold, notes, the notes the runs gave, reported figures' sources, failures). After each run: its model,
    seed, the settings changed (``run_dirs``, default ``out/<run>``) or a sweep's ``params`` and metric,
    its test set (numbered in ``order``: default the table's). ``rows`` (row → its seeds): mean ± std and
    N, each group's verdicts (``unlike``: :func:`_alike_rows`); ``note``: under the table."""
    dirs = run_dirs if run_dirs is not None else {n: Path(out) / n for n in summaries}
    configs = _configs_of(summaries, dirs)  # read once: seeds, settings, data line, notes
    rows, said, why = _alike_rows(out, summaries, rows, dirs, configs, unlike)
    reported, seeded = as_reported(reported), rows is not None
    settings, metric = table_choice(out, summaries, dirs, rows, params, configs)
    figures = figure_rows(summaries, rows, reported, metric)
    own = own_splits(summaries, rows, dirs, order)  # own splits, other or unknown test sets, doubts
    table, cols = csv_table(summaries, settings, reported, rows, metric, own)
    readable = for_people(settings)  # a few settings as columns, more listed under the table
    people = shown_figures(figures, columns(reported, seeded, metric))
    shown, shown_cols = with_settings(figures, people, readable.columns, param_cell)
    bold = bold_cells(figures, shown_cols, data := row_datasets(figures, summaries, rows, own))
    under = (
        *_settings_notes(note, settings, readable, dirs, summaries, configs, said),
        *_figures_notes(shown, shown_cols, seeded, data, bool(bold)),
        _fitted_sentence(summaries, rows),
        "" if seeded else verdicts_need_seeds(groups, compare),
    )
    per_class = per_class_table(summaries, rows, dict(zip([r["run"] for r in figures], data)))
    return to_csv(table, cols), (
        _markdown_head(out, title, summaries, rows, dirs, own, configs)
        + to_markdown(shown, None, shown_cols, bold, text_columns(readable.columns))
        + listed_markdown(readable.listed)
        + "".join(f"\n{line}\n" for line in under if line)
        + (per_class.markdown() if per_class is not None else "")
        + (verdicts_markdown(summaries, rows, groups, compare, own, why) if seeded else "")
        + (notes_markdown(summaries, rows) + failures_markdown(failures))
        + reported_notes(reported, row_summaries(summaries, rows) if seeded else summaries)
    )


def _figures_notes(
    shown: list[dict], cols: list[tuple[str, str]], seeded: bool, data: list[str], bold: bool
) -> tuple[str, str, str]:
    """The lines under a table on its figure columns (``cols``; ``shown``: its rows): why its ``bold``
    cells are bold (``seeded``; ``data``: each row's dataset), what train ACC and test AUC are, and
    what a ``-`` figure is."""
    why_bold = bold_note(seeded, mixes_data(data)) if bold else ""
    return why_bold, figures_note(cols), figures_dash_note(shown, cols)


def _settings_notes(
    note: str,
    settings: Settings,
    readable: ForPeople,
    run_dirs: Mapping[str, Path],
    summaries: Mapping[str, RunSummary],
    configs: Mapping[str, Config],
    unlike: str,
) -> tuple[str, ...]:
    """The lines under a table on its runs' settings: ``note``, the settings not read, config.yaml
    edited since the run trained (``configs``: those read), runs not alike
    (``unlike``), options a model does not take, what a ``-`` setting and the ``code`` column mean (as
    the paper's)."""
    return (
        note,
        unread_note(settings.unread),
        edited_note({n: run_dirs[n] for n in summaries if n in run_dirs}, configs),
        unlike,
        *cells_notes(readable.columns),
    )


def cells_notes(shown: Settings) -> tuple[str, str, str]:
    """What the cells of the setting columns ``shown`` (those a table shows) mean, where it has them:
    ``n/a`` (an option its row's model has not), ``-`` (a setting the run has no value of) and the
    ``code`` column; "" for each it has not. results.md's, the report's and the paper's alike."""
    values, keys = shown.values, shown.keys
    return not_taken_note(values, keys), settings_dash_note(values, keys), code_note(values, keys)


def write_tables(out: Path, texts: tuple[str, str]) -> None:
    """``out/results.csv`` and ``out/results.md``: ``texts``, what :func:`results_texts` returns."""
    csv_text, markdown = texts
    atomic_write_text(Path(out) / "results.csv", csv_text)
    atomic_write_text(Path(out) / "results.md", markdown)


def _alike_rows(
    out: Path,
    summaries: Mapping[str, RunSummary],
    rows: dict[str, list[str]] | None,
    run_dirs: Mapping[str, Path],
    configs: Mapping[str, Config],
    unlike: Mapping[str, str] | None,
) -> tuple[dict[str, list[str]] | None, str, dict[str, str]]:
    """``rows`` of seeds (a suite's in ``out``) but those whose finished runs' configs (``configs``, read
    once) differ in more
    than their seed, each of their runs a row of its own (``seed_rows.seed_split``, the one rule of
    every table, its note and its verdicts; None when no row has two runs left), the note naming them,
    and run → why its row's seeds are not averaged, for the verdicts (``SeedSplit.unlike``). Rows told
    apart already (``unlike`` given: ``vislab compare``'s, ``api.given_rows``) are kept, with no note
    (it was said)."""
    if rows is None:
        return None, "", {}
    if unlike is not None:
        alike, note, why = rows, "", dict(unlike)
    else:
        suite = (Path(out) / SuiteInfo.FILE).is_file()
        told = seed_split(rows, run_dirs, configs, among=summaries, suite=suite)
        alike, note, why = told.split(rows), told.note, told.unlike
    return (alike if any(len(names) > 1 for names in alike.values()) else None), note, why


def own_splits(
    summaries: Mapping[str, RunSummary],
    rows: dict[str, list[str]] | None,
    run_dirs: Mapping[str, Path],
    order: Sequence[str] = (),
) -> OwnSplits:
    """The rows of seeds that each drew their own split, the rows scored on different test sets (their
    test sets numbered in ``order``), those whose test set is unknown and those whose figures are not
    their runs' own (``rows_with_own_test_sets``, each finished run's predictions_test.npz read once)."""
    rows = rows if rows is not None else {name: [name] for name in summaries}
    finished = {r: [n for n in ns if n in summaries] for r, ns in rows.items()}
    dirs = {n: Path(run_dirs[n]) for n in summaries if n in run_dirs}
    return rows_with_own_test_sets(finished, dirs, summaries=summaries, order=order)


def _markdown_head(
    out: Path,
    title: str,
    summaries: dict[str, RunSummary],
    rows: dict[str, list[str]] | None,
    run_dirs: dict[str, Path],
    own: OwnSplits,
    configs: Mapping[str, Config],
) -> str:
    """results.md above its table: the title with the data used, the data line (``own``:
    :func:`own_splits`; ``configs``: where the splits were drawn from), how the runs were made
    (:func:`made_line`) and, with seeds, what a cell is."""
    head = f"# {titled(title, summaries)}\n\n" if title else ""
    head += f"{data_line(summaries, own, configs)}\n\n" if summaries else ""
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


def _fitted_sentence(summaries: Mapping[str, RunSummary], rows: dict[str, list[str]] | None) -> str:
    """The sentences under the table on the parameters of a fitted baseline's rows and of rows that
    trained only some of theirs ("" when none)."""
    fitted = fitted_params_note(fitted_rows(summaries, rows))
    trained = trainable_params_note(summaries, rows)
    return " ".join(f"{s[:1].upper()}{s[1:]}." for s in (fitted, trained) if s)
