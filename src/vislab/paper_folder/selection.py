"""``vislab paper --only NAME``: a paper of some runs of a suite (or folder) — its tables, curves and figures
keep the named runs (a row of seeds: all its seeds), and the suite's groups, rows and reported figures
keep theirs, so that the verdicts, the bold cells and the reports' columns are those of the runs shown."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from vislab.errors import UserError
from vislab.experiments.records import SuiteInfo
from vislab.experiments.results.chosen import chosen_runs
from vislab.report.plan import ReportPlan
from vislab.report.seeds import plan_rows


def only_runs(plan: ReportPlan, names: Sequence[str]) -> ReportPlan:
    """``plan`` kept to the runs ``names`` (a run's name, or a row's: its seed runs); UserError naming
    each unknown name, the closest known one and the names there are (results/chosen.py)."""
    of_runs = plan.suite is None and plan.sweep is None and not plan.one_run
    where = "" if of_runs else f"of '{plan.folder}'"  # several run folders: the paper's
    known = list(dict.fromkeys([*plan.runs, *plan.table]))  # a sweep's rows from its database too
    keep = chosen_runs(names, known, plan_rows(plan), where)
    plan.runs = {n: p for n, p in plan.runs.items() if n in keep}
    plan.complete = {n: s for n, s in plan.complete.items() if n in keep}
    plan.table = {n: s for n, s in plan.table.items() if n in keep}
    plan.elsewhere = {n: s for n, s in plan.elsewhere.items() if n in keep}
    plan.detailed = {n: s for n, s in plan.detailed.items() if n in keep}
    plan.shown = [n for n in plan.shown if n in keep]
    plan.failures = {n: why for n, why in plan.failures.items() if n in keep}
    plan.left_out = [n for n in plan.left_out if n in keep]
    plan.suite = _kept_suite(plan.suite, keep, set(names))
    if not plan.table:
        raise UserError(
            f"none of {', '.join(names)} finished (no complete summary.json): finish it first "
            f"(vislab train --resume RUN_DIR), or choose other runs."
        )
    return plan


def _kept_suite(info: SuiteInfo | None, runs: set[str], names: set[str]) -> SuiteInfo | None:
    """suite.json's rows, groups and reported figures kept to the runs (or rows) chosen; a group left
    with fewer than two members goes (no verdict, no curves of its own). None (no suite): None."""
    if info is None:
        return None
    rows = info.rows
    if rows is not None:
        rows = {r: ns for r, ns in rows.items() if set(ns) & runs}
    groups = info.groups
    if groups is not None:
        kept = {g: [m for m in ms if m in runs or m in names] for g, ms in groups.items()}
        groups = {g: ms for g, ms in kept.items() if len(ms) > 1}
    reported = info.reported
    if isinstance(reported, dict) and isinstance(reported.get("runs"), dict):
        # run (or row) → source → figures: the sources citing no run kept are then in no table
        runs_cited = {n: v for n, v in reported["runs"].items() if n in runs | names}
        reported = {**reported, "runs": runs_cited}
    return replace(info, rows=rows, groups=groups, reported=reported, extra=dict(info.extra))
