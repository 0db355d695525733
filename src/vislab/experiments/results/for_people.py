"""A table for people (results.md, report.html, the paper) of the settings the runs differ in
(:class:`~vislab.experiments.results.settings.Settings`): as columns when at most :data:`MAX_COLUMNS`
differ, else each row's listed under the table (:func:`for_people`, :func:`told_apart`), which a suite's
dry run says too (:func:`said_settings`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vislab.experiments.results.cells import param_cell
from vislab.experiments.results.settings import IDENTITY, RUN_FOLDER, Settings, told_apart

MAX_COLUMNS = 4  # settings a table for people shows as columns; more are listed under it
LISTED = "Settings each run changed"
LISTED_NOTE = (
    f"more than {MAX_COLUMNS} settings differ between the runs, so each row's values are listed, keys "
    "sorted; a row names only the keys it has, e.g. a model family's own settings only for its runs, and "
    "not one left off at vislab's default (0, false, none: no crop, no dropout) or a model option left off; "
    "a model option a row leaves unset is named with the value its model takes then"
)


@dataclass(frozen=True)
class ForPeople:
    """How a table for people shows :class:`Settings`: ``columns`` (the model, seed and — when at most
    :data:`MAX_COLUMNS` settings differ — the settings), and ``listed`` (row → ``key=value`` texts of the
    settings it has, in key order: under the table; empty when the settings are columns)."""

    columns: Settings
    listed: dict[str, list[str]]


def for_people(settings: Settings) -> ForPeople:
    """``settings`` as columns when at most :data:`MAX_COLUMNS` differ (besides the model and seed), else
    the model and seed as columns and each row's settings listed: those that tell it apart
    (:func:`told_apart`), or a sweep's swept values, all of them."""
    kept = (*IDENTITY, RUN_FOLDER)  # columns whatever else differs
    changed = [k for k in settings.keys if k not in kept]
    if len(changed) <= MAX_COLUMNS:
        return ForPeople(settings, {})
    identity = [k for k in settings.keys if k in kept]
    rule = (lambda values, _: values) if settings.swept else told_apart
    unset = settings.unset
    listed = {  # a run whose config.yaml was not read has no settings to list (unread_note says why)
        row: [
            f"{k}={setting_text(v)}"
            for k, v in rule(
                {k: values[k] for k in changed if k in values}, unset.get(row, ())
            ).items()
        ]
        for row, values in settings.values.items()
        if row not in settings.unread
    }
    kept = Settings(identity, settings.values, settings.unread, settings.swept, settings.unset)
    return ForPeople(kept, listed)


def said_settings(
    values: Sequence[dict[str, Any]], sets: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Per suite run, the settings its dry-run line says: what results.md will show of it — its value of
    each setting that differs between the runs (``values``: :func:`differing_settings`) where these are
    the table's columns (at most :data:`MAX_COLUMNS`), else those that tell it apart (:func:`told_apart`,
    as "Settings each run changed" lists them) — and those its suite row sets (``sets``: :func:`row_sets`),
    even at vislab's default (``optim.lr=0.001``); keys sorted."""
    columns = len({k for v in values for k in v}) <= MAX_COLUMNS
    shown = values if columns else [told_apart(v) for v in values]
    return [dict(sorted({**v, **own}.items())) for v, own in zip(shown, sets)]


def setting_text(value: Any) -> str:
    """A listed setting's value: :func:`param_cell`, a setting set to none as YAML writes it (``null``)."""
    return "null" if value is None else param_cell(value)


def listed_line(texts: list[str]) -> str:
    """A row's listed settings on one line ("none of these settings" for a row that has none of them)."""
    return ", ".join(texts) if texts else "none of these settings"


def listed_markdown(listed: dict[str, list[str]]) -> str:
    """Under a Markdown table: :data:`LISTED` as a list, a line per row; "" when nothing is listed."""
    if not listed:
        return ""
    lines = "".join(f"- **{row}**: {listed_line(texts)}\n" for row, texts in listed.items())
    return f"\n**{LISTED}** ({LISTED_NOTE}):\n\n{lines}"
