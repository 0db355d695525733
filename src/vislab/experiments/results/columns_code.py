"""The comparison tables' ``code`` column: where runs of one model name ran different code (a notebook's
class redefined between them, a model file edited), the version each row trained, by its summary.json's
``model_code`` (``models.fingerprints``), so two versions of ``user-MyNet`` never read as one model. Runs
of the same code (``fingerprints.same_code``: comments and docstrings aside; a run that recorded its
source's sha alone and a later one that recorded ``code_sha256`` too alike) are one version, shown as a
sha its runs record (the smallest ``code_sha256``, whatever runs a table holds), never as a number
(pd.read_csv of results.csv reads it back as text).
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
    """Run of ``names`` → the cell of its version (the runs of its model name that ran the same code,
    linked through any of them): :data:`PREFIX` and the first hex digits of the sha naming it
    (:func:`_named`), whatever order or subset of its runs a table holds; runs whose code is not
    recorded left out."""
    shas = {n: sha for n in names if (sha := code_sha(summaries[n]))}
    linked = {n: n for n in shas}  # run → a run of the same code (itself: its version's root)

    def root(name: str) -> str:
        while linked[name] != name:
            name = linked[name]
        return name

    coded = list(shas)
    for i, later in enumerate(coded):
        for earlier in coded[:i]:
            if root(later) != root(earlier) and _same(summaries[earlier], summaries[later]):
                linked[root(later)] = root(earlier)
    versions: dict[str, list[str]] = {}
    for n in coded:
        versions.setdefault(root(n), []).append(n)
    return {
        n: f"{PREFIX}{_named(summaries, runs)[:SHORT]}" for runs in versions.values() for n in runs
    }


def _named(summaries: Mapping[str, RunSummary], runs: list[str]) -> str:
    """The sha naming the version its ``runs`` ran, one that their summary.json files record: the
    smallest ``code_sha256`` of them (the newest format), else the smallest sha of their source."""
    recorded = [(summaries[n].model_code or {}).get("code_sha256") for n in runs]
    shas = [sha for sha in recorded if isinstance(sha, str) and sha]
    return min(shas or [sha for n in runs if (sha := code_sha(summaries[n]))])


def _same(a: RunSummary, b: RunSummary) -> bool:
    """Whether runs ``a`` and ``b`` trained one model name's same code (``fingerprints.same_code``, which
    compares the sources first: which of them recorded ``code_sha256`` does not matter)."""
    if a.model != b.model:
        return False
    if code_sha(a) == code_sha(b):
        return True
    from vislab.models.fingerprints import same_code  # on use: vislab.models loads torch

    was, now = a.model_code or {}, b.model_code or {}
    return same_code(was, now)


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
        f"code: the version of the model's code each run trained (runs whose code differs in "
        f"comments and docstrings alone are one version), named by a sha256 its runs record in their "
        f"summary.json's model_code ({PREFIX}1234567 for one that begins 1234567): the smallest "
        f"code_sha256 of them (the code without comments and docstrings), or where none records one "
        f"the smallest source_sha256"
        f"{which}{seeds}{dash}."
    )
