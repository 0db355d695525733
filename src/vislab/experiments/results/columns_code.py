"""The comparison tables' ``code`` column: where runs of one model name ran different code (a notebook's
class redefined between them, a model file edited), the version each row trained, by its summary.json's
``model_code`` (``models.fingerprints``), so two versions of ``user-MyNet`` never read as one model. Runs
of the same code (``fingerprints.same_code``: comments and docstrings aside; a run that recorded its
source's sha alone and a later one that recorded ``code_sha256`` too alike) are one version, shown as the
sha of its first run in the table, never as a number (pd.read_csv of results.csv reads it back as text).
``settings.table_settings`` adds it after the model and seed, as one of the settings that differ;
:func:`code_note` says under a table what it means."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from vislab.training.summary import RunSummary

CODE = "code"  # the column's key and header
SHORT = 7  # hex digits of a code's sha256 a cell shows, as git shows a commit
# a version's cell: never a number, which pd.read_csv of results.csv would make of 1234567 or 12e4567
PREFIX = "sha:"
MIXED = "mixed"  # the cell of a row whose runs (seeds) ran different code


def code_sha(summary: RunSummary) -> str | None:
    """The sha256 of the code a run's model ran (its ``model_code``: without comments and docstrings
    where recorded, else of its source); None for a model of vislab's own."""
    code = summary.model_code or {}
    sha = code.get("code_sha256") or code.get("source_sha256")
    return sha if isinstance(sha, str) else None


def _versions(summaries: Mapping[str, RunSummary], names: Sequence[str]) -> dict[str, str]:
    """Run of ``names`` (in the table's order) → the cell of its version: :data:`PREFIX` and the first
    hex digits of the sha of the first run of its model name that ran the same code; runs whose code is
    not recorded left out."""
    shas = {n: sha for n in names if (sha := code_sha(summaries[n]))}
    coded = list(shas)
    first = {n: n for n in coded}  # run → an earlier run of the same code (itself: the first)

    def root(name: str) -> str:
        while first[name] != name:
            name = first[name]
        return name

    for i, later in enumerate(coded):
        for earlier in coded[:i]:
            if root(later) != root(earlier) and _same(summaries[earlier], summaries[later]):
                one, other = sorted((root(earlier), root(later)), key=coded.index)
                first[other] = one
    return {n: f"{PREFIX}{shas[root(n)][:SHORT]}" for n in coded}


def _same(a: RunSummary, b: RunSummary) -> bool:
    """Whether runs ``a`` and ``b`` trained one model name's same code (``fingerprints.same_code``, each
    way round: which of them recorded ``code_sha256`` does not matter)."""
    if a.model != b.model:
        return False
    if code_sha(a) == code_sha(b):
        return True
    from vislab.models.fingerprints import same_code  # on use: vislab.models loads torch

    was, now = a.model_code or {}, b.model_code or {}
    return same_code(was, now) or same_code(now, was)


def code_values(
    summaries: Mapping[str, RunSummary], groups: Mapping[str, list[str]], given: bool = False
) -> dict[str, dict[str, str]]:
    """Row (``groups``: row → its runs) → ``{"code": its version}`` (:func:`_versions`; :data:`MIXED`
    where its runs, seeds, ran different code) for every row whose model records its code, where runs
    of some model name ran different code (or ``given``: the column of a larger table, ``vislab paper
    --only``); {} where none did."""
    cells = _versions(summaries, [n for names in groups.values() for n in names])
    found = {row: {cells.get(n) for n in names} for row, names in groups.items()}
    by_model: dict[Any, set[str]] = {}
    for n, cell in cells.items():
        by_model.setdefault(summaries[n].model, set()).add(cell)
    if not given and all(len(versions) < 2 for versions in by_model.values()):
        return {}
    values: dict[str, dict[str, str]] = {}
    for row, versions in found.items():
        if len(versions - {None}) > 1:
            values[row] = {CODE: MIXED}
        elif None not in versions:
            values[row] = {CODE: next(iter(versions))}
    return values


def code_note(values: Mapping[str, Mapping[str, Any]], shown: Collection[str]) -> str:
    """The sentence under a table with the ``code`` column (``shown``: its columns; ``values``: row →
    its cells) on what it means, naming the models whose runs ran different code and the rows whose
    seeds did (averaged all the same); "" without it."""
    if CODE not in shown:
        return ""
    versions: dict[Any, set[str]] = {}
    for cells in values.values():
        if cells.get(CODE) is not None:
            versions.setdefault(cells.get("model"), set()).add(cells[CODE])
    differ = [str(m) for m, found in versions.items() if len(found) > 1 or MIXED in found]
    which = f"; the runs of {', '.join(differ)} ran different code" if differ else ""
    mixed = [str(row) for row, cells in values.items() if cells.get(CODE) == MIXED]
    seeds = (
        f"; {MIXED}: the row's seeds ran different code, and its figures average them all the "
        f"same ({', '.join(mixed)}): compare its runs on their own, vislab compare RUN_DIR RUN_DIR"
        if mixed
        else ""
    )
    builtin = any(cells.get(CODE) is None for cells in values.values())
    dash = "; -: a model of vislab's own, or its code not recorded" if builtin else ""
    return (
        f"code: the version of the model's code each run trained, named by the sha256 in its "
        f"summary.json's model_code ({PREFIX}1234567 for one that begins 1234567; runs whose code "
        f"differs in comments and docstrings alone are one version, named by its first run)"
        f"{which}{seeds}{dash}."
    )
