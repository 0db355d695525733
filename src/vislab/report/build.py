"""``vislab report DIR``: one self-contained report.html (plus the same figures as PNGs in DIR/figures/)
for a run, a suite, a sweep, or any folder of runs.

A build has three steps: ``report/plan.py``'s :func:`plan_report` decides what the page shows (which runs,
which get curves and per-run figures, what failed), the sections draw the figures, and the page is rendered
and written.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import optuna

from vislab.config import Config
from vislab.errors import Note, show_note
from vislab.experiments.records import SweepInfo
from vislab.experiments.results.data_used import data_line, titled
from vislab.experiments.results.provenance import provenance_line
from vislab.experiments.results.reported import mismatches, reported_columns
from vislab.files import atomic_write_text
from vislab.report.figure_set import FigureSet, failure_note, guarded, out_of_room
from vislab.report.html import data_uri, render
from vislab.report.interactive import interactive_context
from vislab.report.model_figures import ModelNotLoaded, model_figures, model_heading
from vislab.report.plan import ReportPlan, check_reportable, plan_report, undrawn
from vislab.report.run_files import (
    read_histories,
    say_recorded,
)
from vislab.report.run_sections import run_labels, run_sections
from vislab.report.sections import curve_figures, data_figures
from vislab.report.seeds import cited, own_splits, plan_rows, reported_of, table_context
from vislab.report.sweep import sweep_section, trial_curves
from vislab.version import __version__


def _counted(plan: ReportPlan) -> str:
    """The page's subtitle without a suite's description: its finished runs of all, and a sweep's trials
    from its study database whose run folders are not here (``ReportPlan.table``)."""
    said = f"{len(plan.complete)} run(s) with scores of {len(plan.runs)}"
    elsewhere = len(plan.table) - len(plan.complete)
    return f"{said}, and {elsewhere} from the study database" if elsewhere else said


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
    check_reportable(plan)
    figs, planned = FigureSet(plan.folder / "figures", plan.notes, plan.files), len(plan.notes)
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
    if said := undrawn(plan):  # on the terminal too, as `vislab paper` says it
        log(f"note: {said}")
    say_undrawn(plan, planned)
    return path


def say_undrawn(plan: ReportPlan, planned: int) -> None:
    """Say on the terminal, as a ``note:`` each, what the page's notes hold on the figures its drawing
    could not make (those after the first ``planned``; a run's figure that raised, a user's hook that
    gave the wrong shape), so the user learns it without opening the page; those read from a run's files
    were said as they were read."""
    said = {n for run in plan.runs.values() for n in plan.files.noted(run)}
    for note in plan.notes[planned:]:
        if note not in said:
            show_note(note)


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
    a legend entry each; a suite's runs in its groups. A run's own report, drawn into the run's figures/,
    names its figure curves_report.png: curves.png beside it is the run's (its best.pt line and step
    losses); a paper of the run, in a folder of its own, keeps curves.png."""
    if plan.sweep is not None:
        return trial_curves(figs, histories, plan.complete, plan.sweep)
    groups = (plan.suite.groups if plan.suite is not None else None) or {}
    lost = [n for n in histories if plan.files.noted(plan.runs[n])]
    own = plan.one_run and figs.fig_dir.resolve() == (plan.folder / "figures").resolve()
    name = "curves_report.png" if own else "curves.png"
    data = {n: s.data for n, s in plan.complete.items() if s.data}
    return curve_figures(figs, histories, groups, plan_rows(plan), lost, name, data)


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
    checkpoint gone) goes into the plan's ``unread``, said on the terminal too. A shared suite's runs
    trained on another host get one note per host in the plan's ``notes`` instead."""
    labels = run_labels(plan)
    elsewhere = _trained_elsewhere(plan)
    for host, names in elsewhere.items():
        plan.notes.append(_elsewhere_note(plan, host, names))
    left = {n for names in elsewhere.values() for n in names}
    drawn = {
        n: _model_figures_of(plan, figs, n, configs.get(n), trust_code, labels.get(n))
        for n in plan.detailed
        if n not in left
    }
    return [dict(name=n, figures=f) for n, f in drawn.items() if f]


def _trained_elsewhere(plan: ReportPlan) -> dict[str, list[str]]:
    """Host → the detailed runs of a shared suite (``--storage``) that another host trained and whose
    folder here has no checkpoints/ (the shared runner gathered their config, metrics and summary from
    the database; their checkpoints stay on that host)."""
    suite, here = plan.suite, socket.gethostname()
    if suite is None or not suite.storage:
        return {}
    hosts: dict[str, list[str]] = {}
    for name in plan.detailed:
        record = (suite.runs or {}).get(name)
        host = record.host if record is not None else None
        if host and host != here and not (plan.runs[name] / "checkpoints").exists():
            hosts.setdefault(host, []).append(name)
    return hosts


def _elsewhere_note(plan: ReportPlan, host: str, names: list[str]) -> str:
    """The one note on the runs ``names`` trained on ``host``: their model figures are left out, and
    where the report that draws them is written (the suite's folder there, as its records name it)."""
    recorded = {(plan.suite.runs or {})[n].run_dir for n in names} if plan.suite else set()
    folders = {str(Path(d).parent) for d in recorded if d}
    there = "`vislab report DIR` there draws them (DIR: that host's --out)"
    if len(folders) == 1:
        there = f"`vislab report {folders.pop()}` there draws them"
    return (
        f"the model figures of {', '.join(names)} are left out: they trained on {host}, whose --out "
        f"holds their checkpoints; {there}."
    )


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
    # the title names the data the table's runs used (their summaries, a sweep's rows from its study
    # database too: ReportPlan.table), not the suite's default data; the data line gives the sizes of
    # the runs here, else (every row from the study database) their data alone, as results.md's
    runs = plan.table
    return dict(
        title=title or titled(_heading(plan), runs),
        subtitle=(plan.suite.description if plan.suite is not None else None) or _counted(plan),
        data_line=data_line(plan.complete or runs, own_splits(plan), plan.configs) if runs else "",
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
        model_heading=model_heading(model_figs),
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
