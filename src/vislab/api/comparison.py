"""What ``vislab compare`` compares: the runs of run folders and of folders of runs (a suite's, a sweep's,
any folder whose sub-folders are runs, found as ``vislab report`` finds them), the finished ones in the
table and the others left out, each with why; and that table as results.csv and results.md hold it.
(``vislab.compare`` takes runs, each one finished, and returns results.csv's table as a DataFrame.)"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vislab.api.folders import folder_kind
from vislab.errors import UserError
from vislab.training.rundir import RunDir, is_complete

# The report's finder and the results table are imported by the functions that use them ("on use"
# below): they load optuna, matplotlib and pandas, which `import vislab.api` should not wait for.


@dataclass(frozen=True)
class Found:
    """The runs to compare, in the order given: every run found (``folders``, by name), the finished
    ones' summaries, and the others (``left_out``: run → why it is not in the table)."""

    folders: dict[str, Path]
    summaries: dict[str, dict]
    left_out: dict[str, str]
    holder: Path  # the folder holding them all: its suite.json (if any) says how they were made
    suite: dict  # suite.json of the one suite folder given ({} otherwise): its title, rows, groups


def find_runs(targets: str | Path | Sequence[str | Path]) -> Found:
    """The runs of ``targets`` (run folders, or folders of runs) and their summaries; a run given twice
    (a suite and one of its runs) is compared once. UserError for a path that is missing, a file, a
    folder holding no run, a summary.json that cannot be read (named, with the fix), or no finished run."""
    from vislab.experiments.results.provenance import suite_info  # on use (see the imports)

    paths = [Path(targets)] if isinstance(targets, (str, Path)) else [Path(t) for t in targets]
    if not paths:
        raise UserError(
            "give a run folder, or a folder of runs (a suite's, a sweep's), to compare."
        )
    folders = _named([_runs_of(p) for p in paths])
    summaries, left_out = {}, {}
    for name, folder in folders.items():
        summary = RunDir(folder).load_summary()  # UserError naming a damaged file and the fix
        if is_complete(summary):
            summaries[name] = summary
        else:
            left_out[name] = _unfinished(summary)
    if not summaries:
        listed = "; ".join(f"{n} is {why}" for n, why in left_out.items())
        raise UserError(
            f"no finished run to compare in {', '.join(map(str, paths))}: {listed}. Finish a run "
            f"first (resume it, or train it again), then compare."
        )
    # a run's own folder holds no suite.json: the folder above it may (a suite's run given alone)
    held = [p.resolve().parent if folder_kind(p) == "run" else p.resolve() for p in paths]
    holder = Path(os.path.commonpath([str(h) for h in held]))
    suite = suite_info(paths[0]) if len(paths) == 1 else {}
    return Found(folders, summaries, left_out, holder, suite)


def _runs_of(target: Path) -> dict[str, Path]:
    """The run folders of ``target`` by name: itself when it is a run (api.folders), else what the
    report finds in it (a suite's runs, a sweep's trials, the sub-folders that are runs)."""
    from vislab.report.build import discover  # on use (see the imports)

    if not target.exists():
        raise UserError(
            f"'{target}' does not exist: give a run folder, or a folder of runs (a suite's, a sweep's)."
        )
    if not target.is_dir():
        raise UserError(
            f"'{target}' is a file: give a run folder (the folder a run was trained into), or a "
            f"folder of runs (a suite's, a sweep's)."
        )
    if folder_kind(target) == "run":
        return {target.resolve().name: target}
    kind, runs, _ = discover(target)  # UserError for a folder holding no run
    if not runs:
        raise UserError(
            f"'{target}' is a {kind} folder that holds no runs yet: compare it once one has trained."
        )
    return runs


def _named(found: list[dict[str, Path]]) -> dict[str, Path]:
    """Each run once (by its resolved folder), by its name; a name two runs share is prefixed with the
    folder that holds each (``a/cnn``, ``b/cnn``)."""
    seen: dict[Path, tuple[str, Path]] = {}
    for runs in found:
        for name, folder in runs.items():
            seen.setdefault(folder.resolve(), (name, folder))
    names = [name for name, _ in seen.values()]
    out: dict[str, Path] = {}
    for resolved, (name, folder) in seen.items():
        key = name if names.count(name) == 1 else f"{resolved.parent.name}/{resolved.name}"
        out[key if key not in out else str(folder)] = folder
    return out


def _unfinished(summary: dict | None) -> str:
    """Why a run is not in the table: its summary.json's status and message, or none yet."""
    if not summary:
        return "not finished (no summary.json yet: still training, or stopped before writing one)"
    message = " ".join(str(summary.get("message") or "").split())
    return f"not finished (status {summary.get('status', 'unknown')}{f': {message}' if message else ''})"


def comparison_texts(
    targets: str | Path | Sequence[str | Path], sort: str | None = None
) -> tuple[str, str, Found]:
    """The comparison table of the runs of ``targets`` (:func:`find_runs`) as results.csv and results.md
    hold it — after each run its model, seed and the settings that differ; the best cells bold; the
    runs left out listed under it — rows in the order given, or by column ``sort`` (best first for an
    accuracy or loss, else ascending; runs without a value last). One suite folder: its own title,
    rows of seeds and verdicts, as its results.md."""
    from vislab.experiments.results.table import results_texts  # on use (see the imports)

    found = find_runs(targets)
    suite = found.suite
    rows, groups = suite.get("rows"), suite.get("groups")
    summaries = found.summaries
    if sort is not None:
        order = sorted_names(found, sort, rows)
        if rows:  # the verdicts keep the suite's order: each row against the one before it there
            groups = groups or {"all runs": list(rows)}
            rows = {r: rows[r] for r in order}
        else:
            summaries = {n: summaries[n] for n in order}
    csv_text, markdown = results_texts(
        found.holder,
        summaries,
        found.left_out,
        title=f"suite {suite['name']}" if suite.get("name") else "",
        reported=suite.get("reported"),
        rows=rows,
        groups=groups,
        compare=suite.get("compare") or "previous",
        run_dirs=found.folders,
    )
    return csv_text, markdown, found


def sorted_names(found: Found, column: str, rows: dict[str, list[str]] | None = None) -> list[str]:
    """The table's rows (runs, or ``rows`` of seeds) ordered by ``column`` of results.csv: best first for
    an accuracy or loss (highest accuracy, lowest loss), else ascending; a row without a value last.
    UserError naming the closest columns for one the table does not have."""
    from vislab.experiments.results.settings import table_settings  # on use (see the imports)
    from vislab.experiments.results.table import csv_table

    settings = table_settings(found.summaries, found.folders, rows)
    table, cols = csv_table(found.summaries, settings, found.suite.get("reported"), rows)
    keys = [k for k, _ in cols]
    if column not in keys:
        near = difflib.get_close_matches(column, keys, n=3, cutoff=0.5)
        closest = f" (closest: {', '.join(near)})" if near else ""
        raise UserError(
            f"cannot sort by '{column}': the table has no such column{closest}. Its columns: "
            f"{', '.join(keys)}."
        )
    best_high = column.endswith("acc")

    def key(row: dict) -> tuple:
        v = row.get(column)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return (0, -float(v) if best_high else float(v), "")
        return (1, 0.0, str(v)) if v is not None and v != "" else (2, 0.0, "")

    return [row["run"] for row in sorted(table, key=key)]
