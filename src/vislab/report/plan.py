"""What a report shows, decided before anything is drawn (:func:`plan_report`): the runs a folder holds (a
suite's record of each brought up to date first, a sweep's study loaded), which have their scores (in
every table, as in vislab compare's: ``RunSummary.holds_scores``), which get their curves and their own figures (a
sweep's best few), and why each other one did not finish."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import optuna

from vislab.config import Config
from vislab.errors import UserError
from vislab.experiments.records import SuiteInfo, SweepInfo
from vislab.experiments.results.chosen import NOT_TRAINED
from vislab.experiments.results.folders import discover, why_unfinished
from vislab.experiments.suites.catch_up import caught_up
from vislab.experiments.suites.tables import missing_figures_note
from vislab.experiments.sweeps.recorded_study import study_or_why
from vislab.experiments.sweeps.results import finish, trial_dirs
from vislab.experiments.sweeps.spec import DEFAULT_CURVES
from vislab.experiments.sweeps.sqlite_file import elsewhere_fix
from vislab.experiments.sweeps.trials import table_summaries
from vislab.report.run_files import RunFiles, read_configs, read_summaries
from vislab.report.sweep import undrawn_note
from vislab.training.rundir import RunDir
from vislab.training.summary import RunSummary

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
    # summaries of the runs with their scores (``RunSummary.holds_scores``: finished, or their figures cut short)
    complete: dict[str, RunSummary]
    # the comparison table's rows: the complete runs, and a sweep's complete trials whose run folders are
    # not here (``elsewhere``), from its study database (``trials.table_summaries``, read once), in trial order
    table: dict[str, RunSummary]
    elsewhere: dict[str, RunSummary]
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
    unloaded: str = ""  # why a sweep's study could not be loaded ("": it was, or no sweep)


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
    # a sweep's table rows as finish read them, and why its study was not loaded
    read, unloaded = None, ""
    if sweep is not None:
        if study is None:
            study, read, unloaded = _load_study(folder, notes, log)
        runs = trial_dirs(study, folder) if study is not None else runs
    summaries, unread = read_summaries(runs)
    other = suite.trained_otherwise() if suite is not None else set()
    tabled = {
        n: s for n, s in summaries.items() if s is not None and s.in_tables(sweep is not None)
    }
    complete = {n: s for n, s in tabled.items() if n not in other}
    configs, unread_cfg = read_configs(runs, list(complete))
    detailed, shown = _best_trials(sweep, complete)
    table, elsewhere = complete, {}
    if sweep is not None and study is not None:  # results.md's rows, as finish read them
        table, elsewhere = read or table_summaries(study, complete, runs)
    plan = ReportPlan(
        folder=folder,
        suite=suite,
        sweep=sweep,
        one_run=kind == "run",
        runs=runs,
        study=study if sweep is not None else None,
        complete=complete,
        table=table,
        elsewhere=elsewhere,
        failures=_failures(suite, sweep is not None, summaries, runs),
        detailed=detailed,
        shown=shown,
        notes=notes,
        unread=unread + unread_cfg,
        left_out=[n for n, s in summaries.items() if s is None],
        configs=configs,
        unloaded=unloaded,
    )
    cut_short = _cut_short_note(suite, complete, runs)
    plan.notes += [said for said in (undrawn(plan), _few_detailed(plan), cut_short) if said]
    return plan


def _cut_short_note(
    suite: SuiteInfo | None, complete: dict[str, RunSummary], runs: dict[str, Path]
) -> str:
    """The note on the runs in the tables whose figures a signal cut short, their scores written
    (``RunSummary.holds_scores``): a ``suite``'s as its results.md says it (``missing_figures_note``: re-run the
    suite); another folder's as ``vislab compare`` says it, each with the resume that draws them
    (:func:`why_unfinished`); "" when none."""
    if suite is not None:
        return missing_figures_note(complete)
    cut = {
        n: why_unfinished(s.to_json(), runs[n]) for n, s in complete.items() if s.figures_cut_short
    }
    return " ".join(f"{n}: in the table, but not finished ({why})." for n, why in cut.items())


def _few_detailed(plan: ReportPlan) -> str:
    """The note naming the best trials of a sweep that have their own figures (the best
    :data:`MAX_DETAILED_TRIALS`), where it has more complete trials here; "" otherwise."""
    others = len(plan.complete) - len(plan.detailed)
    if plan.sweep is None or others <= 0:
        return ""
    whose = "trial's" if others == 1 else "trials'"
    return (
        f"Each trial's own figures (confusion matrix, per-class accuracy, ROC, mistakes) are drawn for "
        f"the best {len(plan.detailed)} by {plan.sweep.metric or 'val_pacc'} only, to keep the page "
        f"short: {', '.join(plan.detailed)}. The other {others} {whose} own figures: "
        f"`vislab report {plan.folder}/trials/N` draws trial N's."
    )


def undrawn(plan: ReportPlan) -> str:
    """The plan's note on the sweep's trials whose rows come from its study database (those in
    ``plan.elsewhere``: :func:`~vislab.report.sweep.undrawn_note`); "" when none."""
    return undrawn_note(plan.study, list(plan.elsewhere)) if plan.study is not None else ""


def not_loaded(plan: ReportPlan) -> str:
    """Why the sweep study of ``plan`` was not loaded, and how a paper gets it (``vislab paper`` has no
    --storage); "" when it was, or the plan is of no sweep."""
    if not plan.unloaded or plan.sweep is None:
        return ""
    fix = elsewhere_fix(plan.folder, plan.sweep.study or "NAME")
    said = (
        f"its sweep study, whose database holds the trials' rows, was not loaded: {plan.unloaded}"
    )
    return said if said.endswith(fix) else f"{said} `vislab paper` has no --storage: {fix}"


def _best_trials(
    sweep: SweepInfo | None, complete: dict[str, RunSummary]
) -> tuple[dict[str, RunSummary], list[str]]:
    """(the runs with their own figures, those whose curves are drawn): of a ``sweep``, its best few
    trials and best K (K in sweep.json); else every complete run."""
    if sweep is None:
        return dict(complete), list(complete)
    ranked = sorted(
        complete,
        key=lambda n: complete[n].get(sweep.metric or "val_pacc") or 0,
        reverse=sweep.direction != "minimize",
    )
    detailed = {n: complete[n] for n in ranked[:MAX_DETAILED_TRIALS]}
    return detailed, ranked[: sweep.curves or DEFAULT_CURVES]


def check_reportable(plan: ReportPlan) -> None:
    """UserError for a run's folder or a folder of runs where no run finished and none is training on
    this host (a live run's page says how far it got), naming each run's state and the fix, as compare
    and paper refuse it. A suite's or sweep's page, which lists its failures, and one noting a
    summary.json that cannot be read (what to mend) are written."""
    if plan.complete or plan.left_out or plan.suite is not None or plan.sweep is not None:
        return
    if any(RunDir(path).live_holder() is not None for path in plan.runs.values()):
        return
    listed = "; ".join(f"{n} is not finished ({w})" for n, w in plan.failures.items())
    raise UserError(
        f"no finished run to report in {plan.folder}: {listed or 'it holds none'}. Finish a run "
        f"first (resume it, or train it again), then write its report."
    )


def plan_runs(runs: dict[str, Path], folder: Path) -> ReportPlan:
    """The plan of a report over chosen run folders (``vislab paper RUN_DIR...``), as for a folder of runs."""
    summaries, unread = read_summaries(runs)
    complete = {n: s for n, s in summaries.items() if s is not None and s.holds_scores}
    configs, unread_cfg = read_configs(runs, list(complete))
    return ReportPlan(
        folder=Path(folder),
        suite=None,
        sweep=None,
        one_run=False,
        runs=runs,
        study=None,
        complete=complete,
        table=complete,
        elsewhere={},
        failures=_failures(None, False, summaries, runs),
        detailed=dict(complete),
        shown=list(complete),
        notes=[said for said in [_cut_short_note(None, complete, runs)] if said],
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
    in suite.json, but for a run with its scores, in its tables; none for a ``sweep``, whose failed
    trials are in the trial table; none for a run whose summary.json was not read: the plan's ``unread``
    says why)."""
    if suite is not None:
        recorded = suite.runs or {}
        failed = {
            n: why_unfinished({**_row(summaries.get(n)), **r.to_json()}, runs.get(n))
            for n, r in recorded.items()
            if r.status != "complete" and not (summaries.get(n) or RunSummary()).figures_cut_short
        }
        # a run of the suite not trained yet (vislab suite --only trained others)
        untrained = [n for n in suite.order or [] if n not in recorded and n not in summaries]
        return failed | dict.fromkeys(untrained, NOT_TRAINED)
    if sweep:
        return {}
    return {
        n: why_unfinished(s.to_json(), runs[n])
        for n, s in summaries.items()
        if s is not None and not s.holds_scores
    }


def _row(summary: RunSummary | None) -> dict:
    """The summary.json object a suite's record of the run is laid over ({}: none read)."""
    return summary.to_json() if summary is not None else {}


Rows = tuple[
    dict[str, RunSummary], dict[str, RunSummary]
]  # a sweep's table rows, those from its database


def _load_study(
    folder: Path, notes: list[str], log: Callable[[str], None]
) -> tuple[optuna.Study | None, Rows | None, str]:
    """``folder``'s sweep study, from the storage its sweep.json records, the rows of its table and "":
    its results.csv/.md and trials.csv, and those of its --narrow stage (``folder/narrow``), written first
    as ``vislab sweep show`` writes them (:func:`finish`: trials finished or resumed since are in them, as
    in the report), ``log`` told. (None, None, why) when the study cannot be loaded, with a note (in
    ``notes`` and told to ``log``) saying why (``study_or_why``: where its storage failed, with the command
    that gives another, as ``vislab report`` has no --storage and ``vislab sweep show`` has)."""
    study, why = study_or_why(folder)
    if study is None:
        notes.append(f"sweep study not loaded: {why}")
        log(f"warning: sweep study not loaded, so the report shows its runs without it: {why}")
        return None, None, why
    rows = finish(folder, study, log)
    narrow = folder / "narrow"
    if (narrow / "sweep.json").is_file():
        stage, why = study_or_why(narrow)
        if stage is not None:
            finish(narrow, stage, log)
        else:
            said = f"the --narrow stage's results.md was not written again: {why}"
            notes.append(said)
            log(f"warning: {said}")
    return study, rows, ""
