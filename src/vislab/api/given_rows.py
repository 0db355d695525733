"""The rows of seeds of the folders ``vislab compare`` is given (api/found_runs.py): each folder's rows
told apart once (``seed_rows.seed_split``: its note shown, and why a row's seeds are not averaged kept
for the table's verdicts), then named as the table names its runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vislab.api.folders import folder_kind
from vislab.errors import show_note
from vislab.experiments.records import SuiteInfo
from vislab.experiments.results.seed_rows import seed_split
from vislab.experiments.results.spread import rows_by_seed_suffix


@dataclass(frozen=True)
class GivenRows:
    """Row → its runs (by their names in the table), None when no folder given has rows of seeds; per
    folder given, its rows' names here (``labels``); run → why its row's seeds are not averaged
    (``unlike``: ``SeedSplit.unlike``, by its name in the table)."""

    rows: dict[str, list[str]] | None
    labels: list[dict[str, str]]
    unlike: dict[str, str]

    def groups(self, suite: SuiteInfo) -> dict[str, list[str] | None] | None:
        """The one suite folder's groups, each row named as :attr:`rows` names it."""
        if not suite.groups or not self.labels[0]:
            return suite.groups
        return {
            group: None if members is None else [self.labels[0].get(m, m) for m in members]
            for group, members in suite.groups.items()
        }


def given_rows(
    suites: list[SuiteInfo],
    found: list[dict[str, Path]],
    folders: dict[str, Path],
    given: list[tuple[str | None, Path]],
    done: set[Path],
) -> GivenRows:
    """The rows of seeds of the folders ``given`` (their runs ``found``, each folder's suite.json in
    ``suites``; ``done``: the finished runs' resolved folders), by the runs' names in ``folders``
    (:func:`_folder_rows`, :func:`_named_rows`)."""
    own = [
        _folder_rows(info, runs, key, p, done) for info, runs, (key, p) in zip(suites, found, given)
    ]
    rows, labels = _named_rows([r for r, _ in own], found, folders, given)
    name_of = {folder.resolve(): name for name, folder in folders.items()}
    unlike = {
        name_of[runs[m].resolve()]: why
        for (_, said), runs in zip(own, found)
        for m, why in said.items()
        if m in runs
    }
    return GivenRows(rows, labels, unlike)


def _folder_rows(
    suite: SuiteInfo, runs: dict[str, Path], key: str | None, path: Path, done: set[Path]
) -> tuple[dict[str, list[str]] | None, dict[str, str]]:
    """The rows of seeds of a folder given: a suite's (its suite.json's), or a plain folder's (no suite's,
    sweep's or run's) runs named ``<row>-s<i>``, as its report groups them (``rows_by_seed_suffix``);
    but those whose finished runs (``done``: their resolved folders) differ in more than their seed
    (``seed_rows.seed_split``, the report's rule: a note says which), each other run no row of seeds;
    None for any other folder. Also run (as ``runs`` names it) → why its row's seeds are not
    averaged."""
    named = {n.removeprefix(f"{key}/") if key else n: folder for n, folder in runs.items()}
    if suite.rows:
        rows = suite.rows
    elif folder_kind(path) is None:
        rows = rows_by_seed_suffix(list(named)) or {}
    else:
        return None, {}
    finished = [n for n, folder in named.items() if folder.resolve() in done]
    told = seed_split(rows, named, among=finished, suite=bool(suite.rows))
    if told.note:
        show_note(told.note)
    alike = told.split(rows)
    prefix = f"{key}/" if key else ""
    unlike = {f"{prefix}{n}": why for n, why in told.unlike.items()}
    return {row: members for row, members in alike.items() if members != [row]} or None, unlike


def _named_rows(
    suite_rows: list[dict[str, list[str]] | None],
    found: list[dict[str, Path]],
    folders: dict[str, Path],
    given: list[tuple[str | None, Path]],
) -> tuple[dict[str, list[str]] | None, list[dict[str, str]]]:
    """Row → its runs (by their names in ``folders``), in the order given: each folder's rows of seeds
    (``suite_rows``: :func:`_folder_rows`, as its results.md or report has them), named as its runs are
    (``s/mlp`` for ``s/mlp-s0``, ``s/mlp-s1``), every other run a row of its own; None when no folder
    given has rows of seeds. Also, per folder given, its rows' names here."""
    name_of = {folder.resolve(): name for name, folder in folders.items()}
    row_of: dict[str, str] = {}
    labels: list[dict[str, str]] = []
    for own, runs, (key, path) in zip(suite_rows, found, given):
        labels.append({})
        runs = {n.removeprefix(f"{key}/") if key else n: f for n, f in runs.items()}
        for row, members in (own or {}).items():
            names = [(m, name_of[runs[m].resolve()]) for m in members if m in runs]
            # a run given twice (a suite and one of its runs): in its first row
            names = [(m, n) for m, n in names if n not in row_of]
            if not names:
                continue
            member, name = names[0]
            label = name[: -len(member)] + row if name.endswith(member) else row
            if label in folders or label in row_of.values():  # a run's name, or another's row
                label = f"{path.resolve().name}/{row}"
            labels[-1][row] = label
            row_of.update((n, label) for _, n in names)
    if not row_of:
        return None, labels
    rows: dict[str, list[str]] = {}
    for name in folders:
        rows.setdefault(row_of.get(name, name), []).append(name)
    return rows, labels
