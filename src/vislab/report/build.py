"""``vislab report DIR``: one self-contained report.html (plus the same figures as PNGs in DIR/figures/)
for a run, a suite, a sweep, or any folder of runs.

A build has three steps: :func:`plan_report` decides what the page shows (which runs, which get curves
and per-run figures, what failed), the sections draw the figures, and the page is rendered and written.
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import optuna

from vislab.config import Config
from vislab.errors import Note, UserError
from vislab.experiments.records import SuiteInfo, SweepInfo
from vislab.experiments.results.chosen import NOT_TRAINED
from vislab.experiments.results.data_used import data_line, titled
from vislab.experiments.results.folders import discover, why_unfinished
from vislab.experiments.results.provenance import provenance_line
from vislab.experiments.results.reported import mismatches, reported_columns
from vislab.experiments.suites.catch_up import caught_up
from vislab.experiments.sweeps.results import load_study_of, trial_dirs
from vislab.experiments.sweeps.spec import DEFAULT_CURVES
from vislab.files import atomic_write_text
from vislab.report.figure_set import FigureSet, failure_note, guarded, out_of_room
from vislab.report.html import data_uri, render
from vislab.report.interactive import interactive_context
from vislab.report.model_figures import ModelNotLoaded, model_figures
from vislab.report.run_files import (
    RunFiles,
    read_configs,
    read_histories,
    read_summaries,
    say_recorded,
)
from vislab.report.run_sections import run_labels, run_sections
from vislab.report.sections import curve_figures, data_figures, sweep_section
from vislab.report.seeds import cited, own_splits, plan_rows, reported_of, table_context
from vislab.report.sweep import trial_curves
from vislab.training.summary import RunSummary
from vislab.version import __version__

MAX_DETAILED_TRIALS = 3  # sweeps: per-run figures for the best few trials only


@dataclass
class ReportPlan:
    """What a report shows, decided before anything is drawn."""

    folder: Path
    # what the folder is, set once where the plan is made: a suite (its suite.json), a sweep (its
    # sweep.json), a run's own folder (``one_run``), or else a folder of runs
    suite: SuiteInfo | None
    sweep: SweepInfo | None
    one_run: bool
    runs: dict[str, Path]  # every run (a sweep's trials) found, by name
    study: optuna.Study | None  # a sweep's study (None when it could not be loaded, or no sweep)
    complete: dict[str, RunSummary]  # summaries of the complete runs
    failures: dict[str, str]  # run → why it did not complete
    detailed: dict[str, RunSummary]  # the runs that get their own figures (a sweep's best few)
    shown: list[str]  # the runs whose training curves are drawn (a sweep's best K, K in sweep.json)
    notes: list[str] = field(default_factory=list)  # what could not be shown, and why
    # the runs' files that could not be read: each note names the file, what was left out and the fix (the
    # page's and the paper's notes list them first; build_report also says them on the terminal)
    unread: list[str] = field(default_factory=list)
    # the runs whose summary.json could not be read (in ``unread`` too): in no table
    left_out: list[str] = field(default_factory=list)
    # the configs of the complete runs (config.yaml, read once; one that cannot be read: in ``unread``)
    configs: dict[str, Config] = field(default_factory=dict)
    # the runs' metrics.jsonl and predictions_test.npz, each read once for the whole build
    files: RunFiles = field(default_factory=RunFiles)


def plan_report(
    folder: str | Path, study: optuna.Study | None = None, log: Callable[[str], None] = print
) -> ReportPlan:
    """Find the runs of ``folder`` and decide what its report shows (``study``: a sweep's, if loaded). A
    suite's record of a run that its summary.json contradicts (resumed since) is brought up to date
    first, ``log`` told (:func:`~vislab.experiments.suites.catch_up.caught_up`)."""
    folder = Path(folder)
    kind, runs, info = discover(folder)
    suite = caught_up(folder, info, log) if isinstance(info, SuiteInfo) else None
    sweep = info if isinstance(info, SweepInfo) else None
    notes: list[str] = []
    if sweep is not None:
        study = study or _load_study(folder, notes, log)
        runs = trial_dirs(study, folder) if study is not None else runs
    summaries, unread = read_summaries(runs)
    other = suite.trained_otherwise() if suite is not None else set()
    complete = {n: s for n, s in summaries.items() if _complete(s) and n not in other}
    configs, unread_cfg = read_configs(runs, list(complete))
    detailed, shown = dict(complete), list(complete)
    if sweep is not None:  # curves of the best K trials, per-run figures of the best few
        ranked = sorted(
            complete,
            key=lambda n: complete[n].score(sweep.metric or "val_pacc") or 0,
            reverse=sweep.direction != "minimize",
        )
        detailed = {n: complete[n] for n in ranked[:MAX_DETAILED_TRIALS]}
        shown = ranked[: sweep.curves or DEFAULT_CURVES]
    return ReportPlan(
        folder=folder,
        suite=suite,
        sweep=sweep,
        one_run=kind == "run",
        runs=runs,
        study=study if sweep is not None else None,
        complete=complete,
        failures=_failures(suite, sweep is not None, summaries, runs),
        detailed=detailed,
        shown=shown,
        notes=notes,
        unread=unread + unread_cfg,
        left_out=[n for n, s in summaries.items() if s is None],
        configs=configs,
    )


def plan_runs(runs: dict[str, Path], folder: Path) -> ReportPlan:
    """The plan of a report over chosen run folders (``vislab paper RUN_DIR...``), as for a folder of runs."""
    summaries, unread = read_summaries(runs)
    complete = {n: s for n, s in summaries.items() if _complete(s)}
    configs, unread_cfg = read_configs(runs, list(complete))
    return ReportPlan(
        folder=Path(folder),
        suite=None,
        sweep=None,
        one_run=False,
        runs=runs,
        study=None,
        complete=complete,
        failures=_failures(None, False, summaries, runs),
        detailed=dict(complete),
        shown=list(complete),
        unread=unread + unread_cfg,
        left_out=[n for n, s in summaries.items() if s is None],
        configs=configs,
    )


def _failures(
    suite: SuiteInfo | None,
    sweep: bool,
    summaries: dict[str, RunSummary | None],
    runs: dict[str, Path],
) -> dict[str, str]:
    """Run → why it did not complete and the fix (:func:`why_unfinished`; a ``suite``'s from its record
    in suite.json; none for a ``sweep``, whose failed trials are in the trial table; none for a run whose
    summary.json was not read: the plan's ``unread`` says why)."""
    if suite is not None:
        recorded = suite.runs or {}
        failed = {
            n: why_unfinished({**_row(summaries.get(n)), **r.to_json()}, runs.get(n))
            for n, r in recorded.items()
            if r.status != "complete"
        }
        # a run of the suite not trained yet (vislab suite --only trained others)
        untrained = [n for n in suite.order or [] if n not in recorded and n not in summaries]
        return failed | dict.fromkeys(untrained, NOT_TRAINED)
    if sweep:
        return {}
    return {
        n: why_unfinished(s.row, runs[n])
        for n, s in summaries.items()
        if s is not None and not _complete(s)
    }


def _row(summary: RunSummary | None) -> dict:
    """The summary.json object a suite's record of the run is laid over ({}: none read)."""
    return summary.row if summary is not None else {}


def _complete(summary: RunSummary | None) -> bool:
    """Whether a run's summary (None: unread) says the run finished."""
    return summary is not None and summary.complete


def _load_study(folder: Path, notes: list[str], log: Callable[[str], None]) -> optuna.Study | None:
    """``folder``'s sweep study, from the storage its sweep.json records; None, with a note (in ``notes``
    and told to ``log``) saying why and the command that gives another storage (``vislab report`` has
    no --storage; ``vislab sweep show`` has)."""
    show = f"`vislab sweep show {folder} --storage URL`, which writes this report"
    try:
        study = load_study_of(folder)
    except UserError as e:
        why = f"{e} To give its storage to a report: {show}."
    else:
        if study is not None:
            return study
        why = f"its storage URL needs a password; use {show}."
    notes.append(f"sweep study not loaded: {why}")
    log(f"warning: sweep study not loaded, so the report shows its runs without it: {why}")
    return None


def build_report(
    folder: str | Path,
    study: optuna.Study | None = None,
    title: str | None = None,
    trust_code: bool = False,
    log: Callable[[str], None] = print,
) -> Path:
    """Write ``folder/report.html`` and ``folder/figures/*.png``; return the HTML path. ``trust_code``:
    import a run's own model file for its model figures even if it changed since training. ``log``
    is told each run file that could not be read (the page's notes list them too)."""
    plan = plan_report(folder, study, log)
    figs = FigureSet(plan.folder / "figures", plan.notes, plan.files)
    try:  # cut short (Ctrl-C): the earlier report.html and its figures stay as they were
        with notes_once():
            sections = draw_sections(plan, figs, trust_code)
        # the page embeds the figures as drawn, so it is whole before they move into figures/
        html = render(_page(plan, sections, title, figs.tmp))
        figs.publish()
    finally:
        figs.close()
    path = plan.folder / "report.html"
    atomic_write_text(path, html, option=None)  # no option chose the folder (files.ELSEWHERE)
    os.chmod(path, 0o644)  # a page to share
    if not plan.one_run:  # a run's own folder also holds the trainer's figures
        figs.drop_earlier()
    for note in plan.unread:
        log(f"warning: {note}")
    return path


@contextlib.contextmanager
def notes_once() -> Iterator[None]:
    """Within: each :class:`Note` warned is shown once, when the block ends (also when it fails). A build
    loads a run's data once per data and seed (``FigureSet.splits``), and each load notes what it finds
    (an image folder's files that are no images: for each seed again); Python's own once-per-line filter
    is reset by every ``catch_warnings`` on the way (the figures' drawing has some). Other warnings pass
    on as they were warned."""
    said: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always", Note)
            yield
    finally:
        say_recorded(said)


def draw_sections(plan: ReportPlan, figs: FigureSet, trust_code: bool = False) -> dict:
    """Draw every figure of the page (into ``figs``: the report's, or the paper's); return its sections
    (figures not yet embedded). ``trust_code``: see :func:`build_report`."""
    figs.name_files([*plan.runs, *(plan_rows(plan) or {})])  # "a b" and "a_b": files of their own
    sweep = None
    if plan.sweep is not None:
        sweep = guarded(
            plan.notes,
            "sweep section",
            sweep_section,
            figs,
            plan.folder,
            _sweep_json(plan.sweep),
            plan.study,
        )
    histories, unread = read_histories(plan.runs, plan.shown, plan.files)
    plan.unread += unread
    note_lost_rows(plan, plan.shown)
    curves = _curves(plan, figs, histories)
    configs = {n: plan.configs[n] for n in plan.detailed if n in plan.configs}
    data_figs = guarded(plan.notes, "data previews", data_figures, figs, configs, default=[])
    run_ctx = run_sections(plan, figs, configs)
    model_figs = _model_sections(plan, figs, configs, trust_code)
    interactive = (  # a sweep's trials are many: their curves stay a figure
        None
        if plan.sweep is not None
        else guarded(
            plan.notes, "interactive curves", interactive_context, histories, plan_rows(plan)
        )
    )
    return dict(
        sweep=sweep,
        curves=curves,
        interactive=interactive,
        data_figs=data_figs,
        runs=run_ctx,
        model_figs=model_figs,
    )


def _curves(plan: ReportPlan, figs: FigureSet, histories: dict[str, list[dict]]) -> list[dict]:
    """The training curves of the shown runs: a sweep's many trials coloured by their objective, without
    a legend entry each; a suite's runs in its groups."""
    if plan.sweep is not None:
        return trial_curves(figs, histories, plan.complete, plan.sweep)
    groups = (plan.suite.groups if plan.suite is not None else None) or {}
    lost = [n for n in histories if plan.files.noted(plan.runs[n])]
    return curve_figures(figs, histories, groups, plan_rows(plan), lost)


def note_lost_rows(plan: ReportPlan, names: list[str]) -> None:
    """Into the plan's notes (the page's, the paper's), once each: what reading the metrics.jsonl of the
    runs ``names`` noted (a row lost: the file cut short), of any run, a row's every seed."""
    for name in names:
        for note in plan.files.noted(plan.runs[name]):
            plan.notes += [note] * (note not in plan.notes)


def _model_sections(
    plan: ReportPlan, figs: FigureSet, configs: dict[str, Config], trust_code: bool
) -> list[dict]:
    """The model figures (what each detailed run's model offers) of the runs that have any, a seed
    run's captioned with its row and seed (:func:`run_labels`); a model that cannot be loaded (its
    checkpoint gone) goes into the plan's ``unread``, said on the terminal too."""
    labels = run_labels(plan)
    drawn = {
        n: _model_figures_of(plan, figs, n, configs.get(n), trust_code, labels.get(n))
        for n in plan.detailed
    }
    return [dict(name=n, figures=f) for n, f in drawn.items() if f]


def _model_figures_of(
    plan: ReportPlan,
    figs: FigureSet,
    name: str,
    cfg: Config | None,
    trust_code: bool,
    label: str | None,
) -> list[dict]:
    """Run ``name``'s model figures (:func:`model_figures`); [] when they cannot be drawn, with a note:
    in ``plan.unread`` when its model cannot be loaded, in ``plan.notes`` otherwise."""
    try:
        return model_figures(figs, name, plan.runs[name], cfg, trust_code, label)
    except ModelNotLoaded as e:
        plan.unread.append(str(e))
    except Exception as e:  # as ``guarded``: the report shows what it can
        if out_of_room(e):
            raise
        plan.notes.append(failure_note(f"{name}: model figures skipped", e))
    return []


def _page(plan: ReportPlan, sections: dict, title: str | None, drawn: Path) -> dict:
    """The template's context: the sections' figures (files in ``drawn``) embedded as data URIs, the
    table, the notes."""
    embed = _embedder(drawn)
    sweep, run_ctx, model_figs = sections["sweep"], sections["runs"], sections["model_figs"]
    if sweep:
        sweep["figures"] = embed(sweep["figures"])
    for r in run_ctx:
        r["figures"] = embed(r["figures"])
        if r["mistakes"]:
            r["mistakes"]["figures"] = embed(r["mistakes"]["figures"])
    for v in model_figs:
        v["figures"] = embed(v["figures"])
    folder = plan.folder
    reported = reported_of(plan)
    # the title names the data the runs used (their summaries), not the suite's default data
    return dict(
        title=title or titled(_heading(plan), plan.complete),
        subtitle=(plan.suite.description if plan.suite is not None else None)
        or f"{len(plan.complete)} finished run(s) of {len(plan.runs)}",
        data_line=data_line(plan.complete, own_splits(plan)) if plan.complete else "",
        provenance=provenance_of(plan),
        reported_figures=bool(reported_columns(reported)),
        reported_warnings=mismatches(reported, cited(plan)),  # rows, with seeds
        generated=time.strftime("%Y-%m-%d %H:%M"),
        version=__version__,
        folder=str(folder),
        **table_context(plan),  # the table (mean ± std with seeds), verdicts, the reports cited
        run_anchors=[r["name"] for r in run_ctx],
        failures=plan.failures,
        sweep=sweep,
        curves=embed(sections["curves"]),
        interactive=sections["interactive"],
        data_figs=embed(sections["data_figs"]),
        runs=run_ctx,
        model_figs=model_figs,
        notes=plan.unread + plan.notes,
    )


def provenance_of(plan: ReportPlan) -> str:
    """How the plan's finished runs were made (:func:`provenance_line`): a suite's command-line changes
    to its config, and the checkpoint their test figures come from."""
    info = plan.suite if plan.suite is not None else plan.sweep
    return provenance_line(info, plan.complete, plan.runs, plan_rows(plan), plan.configs)


def _sweep_json(sweep: SweepInfo) -> dict:
    """A sweep's sweep.json object as the sweep section reads it, its keys without a value left out."""
    return {k: v for k, v in sweep.to_json().items() if v is not None}


def _embedder(fig_dir: Path) -> Callable[[list[dict]], list[dict]]:
    """A function giving each figure written in ``fig_dir`` its data URI (figures not written are left out)."""

    def embed(items: list[dict]) -> list[dict]:
        return [
            dict(f, src=data_uri(fig_dir / f["name"]))
            for f in items
            if (fig_dir / f["name"]).is_file()
        ]

    return embed


def _heading(plan: ReportPlan) -> str:
    """The page's heading before the data is named: what kind of folder, and its name."""
    folder = plan.folder
    if plan.suite is not None:
        return f"Suite {plan.suite.name or folder.name}"
    if plan.sweep is not None:
        return f"Sweep {plan.sweep.study or folder.name}"
    return f"Run {folder.name}" if plan.one_run else f"Runs in {folder.name}"
