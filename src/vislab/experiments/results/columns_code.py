"""The comparison tables' ``code`` column: where runs of one model name ran different code (a notebook's
class redefined between them, a model file edited), the version each row trained, by its summary.json's
``model_code`` (the sha256 of the code without comments and docstrings, ``models.fingerprints``), so two
versions of ``user-MyNet`` never read as one model. ``settings.table_settings`` adds it after the model and
seed, as one of the settings that differ; :func:`code_note` says under a table what it means."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from vislab.training.summary import RunSummary

CODE = "code"  # the column's key and header
SHORT = 7  # hex digits of a code's sha256 a cell shows, as git shows a commit


def code_sha(summary: RunSummary) -> str | None:
    """The sha256 of the code a run's model ran (its ``model_code``: without comments and docstrings
    where recorded, else of its source); None for a model of vislab's own."""
    code = summary.model_code or {}
    sha = code.get("code_sha256") or code.get("source_sha256")
    return sha if isinstance(sha, str) else None


def code_values(
    summaries: Mapping[str, RunSummary], groups: Mapping[str, list[str]], given: bool = False
) -> dict[str, dict[str, str]]:
    """Row (``groups``: row → its runs) → ``{"code": the first hex digits of its code's sha256}`` for
    every row whose model records its code, where the runs of some model name ran different code (or
    ``given``: the column of a larger table, ``vislab paper --only``); {} where none did. A row whose
    runs (seeds) ran different code has no value."""
    shas = {row: {code_sha(summaries[n]) for n in names} for row, names in groups.items()}
    by_model: dict[Any, set[str]] = {}
    for row, names in groups.items():
        models = {summaries[n].model for n in names}
        for model in models:
            by_model.setdefault(model, set()).update(s for s in shas[row] if s)
    if not given and all(len(found) < 2 for found in by_model.values()):
        return {}
    return {
        row: {CODE: next(iter(found))[:SHORT]}
        for row, found in shas.items()
        if len(found) == 1 and None not in found
    }


def code_note(values: Mapping[str, Mapping[str, Any]], shown: Collection[str]) -> str:
    """The sentence under a table with the ``code`` column (``shown``: its columns; ``values``: row →
    its cells) on what it means, naming the models whose rows ran different code; "" without it."""
    if CODE not in shown:
        return ""
    versions: dict[Any, set[str]] = {}
    for cells in values.values():
        if cells.get(CODE) is not None:
            versions.setdefault(cells.get("model"), set()).add(cells[CODE])
    differ = [str(m) for m, found in versions.items() if len(found) > 1]
    which = f"; the runs of {', '.join(differ)} ran different code" if differ else ""
    builtin = any(cells.get(CODE) is None for cells in values.values())
    dash = "; -: a model of vislab's own, or its code not recorded" if builtin else ""
    return (
        f"code: the version of the model's code each run trained, the first {SHORT} hex digits of the "
        f"sha256 in its summary.json's model_code{which}{dash}."
    )
