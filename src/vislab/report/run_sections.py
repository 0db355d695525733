"""The report's "Runs: test set" part (and the paper's figures of it): a section per run, or with seeds a
section per row of the table, whose test figures combine the row's seeds (``report/seed_figures.py``)
and whose mistakes gallery and step losses, which cannot be averaged, are its first seed's."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

import numpy as np

from vislab.config import Config
from vislab.experiments.results.texts import runs_notes
from vislab.report.figure_set import FigureSet, guarded
from vislab.report.mistakes import mistake_section
from vislab.report.sections import run_figures
from vislab.report.seed_figures import over, read_seeds, row_figures
from vislab.report.seeds import Planned, plan_rows
from vislab.report.tracking import tracking_figures
from vislab.training.summary import RunSummary

_SEED = re.compile(r"-s(\d+)$")  # the seed runs of a row are named <row>-s<i>


class Sectioned(Planned, Protocol):
    """What these functions read of a report's plan (``report.plan.ReportPlan``)."""

    runs: dict[str, Path]
    detailed: dict[str, RunSummary]
    notes: list[str]


def run_sections(plan: Sectioned, figs: FigureSet, configs: dict[str, Config]) -> list[dict]:
    """A section per detailed run; with seeds (:func:`~vislab.report.seeds.plan_rows`) one per row with
    a finished run, over all its finished seeds (a row of one run without a seed: that run's)."""
    rows = plan_rows(plan)
    if not rows:
        return [run_section(plan, figs, n, configs.get(n), plan.detailed[n]) for n in plan.detailed]
    out = []
    for row, names in rows.items():
        done = [n for n in names if n in plan.complete]
        if names == [row] and done:
            out.append(run_section(plan, figs, row, configs.get(row), plan.complete[row]))
        elif done:
            out.append(row_section(plan, figs, row, done, configs.get(done[0])))
    return out


def run_section(
    plan: Sectioned, figs: FigureSet, name: str, cfg: Config | None, summary: RunSummary
) -> dict:
    """One run's part: its headline, its test figures, its most confident mistakes and the notes it gave
    as it trained (summary.json's)."""
    notes, folder = plan.notes, plan.runs[name]
    return dict(
        name=name,
        headline=headline(summary),
        figures=guarded(
            notes,
            f"{name}: test figures",
            run_figures,
            figs,
            name,
            folder,
            summary,
            cfg,
            default=[],
        ),
        mistakes=guarded(
            notes, f"{name}: mistakes", mistake_section, figs, name, folder, summary, cfg
        ),
        note="",
        said=summary.notes_given or [],
    )


def row_section(
    plan: Sectioned, figs: FigureSet, row: str, done: list[str], cfg: Config | None
) -> dict:
    """One row's part: the mean ± std headline of its finished seed runs ``done``, their test figures
    combined, the step losses and mistakes of the first (named as which seed it is), and the notes its
    runs gave as they trained (once where every seed gave it, else with the runs that did)."""
    notes, first = plan.notes, done[0]
    summaries = {n: plan.complete[n] for n in done}
    seeds = read_seeds(notes, {n: plan.runs[n] for n in done}, summaries, figs.files)
    label = seed_label(row, first)
    tracked = guarded(
        notes, f"{first}: tracking", tracking_figures, figs, first, plan.runs[first], cfg,
        summaries[first], row,
    )  # fmt: skip
    combined = guarded(notes, f"{row}: test figures", row_figures, figs, row, seeds, default=[])
    mistakes = guarded(
        notes,
        f"{first}: mistakes",
        mistake_section,
        figs,
        first,
        plan.runs[first],
        summaries[first],
        cfg,
        label,
    )
    used = ", ".join(p.run for p in seeds)
    return dict(
        name=row,
        headline=row_headline(list(summaries.values())),
        figures=(tracked or []) + combined,
        mistakes=mistakes,
        note=(
            (f"Test figures {over(len(seeds))} ({used}). " if seeds else "")
            + f"Mistakes and step losses: {seed_of(first)} alone ({first})."
        ),
        said=[
            note if who == row else f"{who}: {note}"
            for who, note in runs_notes(summaries, {row: done})
        ],
    )


def run_labels(plan: Planned) -> dict[str, str]:
    """Run → the name its own figures are captioned with: a seed run's :func:`seed_label` (which row,
    which seed), any other run its name."""
    rows = plan_rows(plan) or {}
    labels = {
        run: seed_label(row, run) for row, runs in rows.items() for run in runs if runs != [row]
    }
    return {n: labels.get(n, n) for n in plan.complete}


def seed_label(row: str, run: str) -> str:
    """A seed run of a row as a caption names it: 'cnn, seed 0 (cnn-s0)'."""
    return f"{row}, {seed_of(run)} ({run})"


def seed_of(run: str) -> str:
    """'seed 2' for a run named ``<row>-s2``; else the run's name."""
    m = _SEED.search(run)
    return f"seed {m[1]}" if m else run


NOT_SCORED = "—"  # a test score the run's summary.json does not hold


def headline(s: RunSummary) -> str:
    """A run's headline: its model, test ACC and PACC ("—" where it has none), parameters."""
    acc, pacc = (NOT_SCORED if v is None else f"{v:.4f}" for v in (s.test_acc, s.test_pacc))
    return f"{s.model or '?'}, test ACC {acc}, PACC {pacc}, {s.params or 0:,} parameters"


def row_headline(summaries: list[RunSummary]) -> str:
    """A row's headline: its seed runs' test ACC and PACC as mean ± std (sample std) over the seeds
    scored — how many, where some were not ("—": none was) — and how many seeds."""
    n = len(summaries)

    def spread(values: list[float | None]) -> str:
        scored = [float(v) for v in values if v is not None]
        if not scored:
            return NOT_SCORED
        std = f" ± {np.std(scored, ddof=1):.4f}" if len(scored) > 1 else ""
        return f"{np.mean(scored):.4f}{std}" + (
            f" ({len(scored)} of {n} scored)" * (len(scored) < n)
        )

    first = summaries[0]
    acc, pacc = spread([s.test_acc for s in summaries]), spread([s.test_pacc for s in summaries])
    return (
        f"{first.model or '?'}, test ACC {acc}, PACC {pacc} {over(n)}, "
        f"{first.params or 0:,} parameters"
    )
