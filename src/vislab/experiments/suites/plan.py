"""A suite's plan: for each run, what its folder says to do — nothing (done), resume, start, retrain (the
folder holds it for another epoch count), or report it failed (bad config, or a different run there).
A dry run (:func:`foresee_suite`) says what that would be for each run — or that a live vislab process
holds its folder (busy) —, moving, training and writing nothing, and taking no lock."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from vislab.config import Config, config_differences, read_yaml
from vislab.config.build import setting
from vislab.errors import ConfigError, UserError
from vislab.experiments.data_checks import DataChecks
from vislab.experiments.records import SuiteInfo
from vislab.experiments.results.settings import (
    differing_settings,
    flat_settings,
    row_sets,
    said_settings,
)
from vislab.experiments.suites.ending import said_once
from vislab.experiments.suites.spec import SUITE_DIR, Suite, run_config
from vislab.models import check_model_options
from vislab.models.calling import target_of
from vislab.models.hooks import ModelHooks, hooks_of
from vislab.models.registry import MODELS
from vislab.training.resume import open_resume
from vislab.training.rundir import RunDir
from vislab.training.summary import RunSummary
from vislab.training.writable import check_writable


@dataclass
class PlannedRun:
    name: str
    run_dir: Path
    action: str  # "done" | "resume" | "start" | "failed" | "retrain" (run_dir: another epoch count)
    config: Config | None = None
    message: str = ""
    differences: list[str] = field(default_factory=list)  # "failed": run_dir holds another config


def plan_run(name: str, run_dir: Path, make_config: Callable[[], Config]) -> PlannedRun:
    """What to do with one run: ``done`` (complete, same config), ``resume`` (checkpoints/last.pt left by an
    interrupted run), ``start``, ``retrain`` (the folder holds this run for another train.epochs: the
    runner keeps it aside), or ``failed`` (invalid config, or the folder holds a different run)."""
    try:
        cfg = make_config()
    except UserError as e:
        return PlannedRun(name, run_dir, "failed", message=str(e))
    rd = RunDir(run_dir)
    summary = rd.read_summary() or RunSummary()
    has_last = (rd.ckpt_dir / "last.pt").is_file()
    if (has_last or summary.complete) and (run_dir / "config.yaml").is_file():
        try:
            stored = read_yaml(run_dir / "config.yaml", kind="run config")
        except ConfigError as e:  # cut short or edited by hand: resuming writes it again
            return PlannedRun(name, run_dir, "failed", cfg, f"{e} {rd.rewrite_fix()}")
        other = _other_run(name, run_dir, cfg, stored)
        if other is not None:
            return other
    if summary.status == "diverged":
        problem = (
            f"the run diverged earlier (loss NaN/inf; see {run_dir / 'summary.json'}). Lower optim.lr or set "
            f"train.grad_clip, and delete '{run_dir}' to redo it."
        )
        return PlannedRun(name, run_dir, "failed", cfg, problem)
    action = "done" if summary.complete else "resume" if has_last else "start"
    return PlannedRun(name, run_dir, action, cfg)


def _other_run(name: str, run_dir: Path, cfg: Config, stored: dict) -> PlannedRun | None:
    """The plan when ``run_dir`` holds a run with another config (``stored``): ``retrain`` when only
    train.epochs differs, else ``failed``; None when it holds this run."""
    diff = config_differences(stored, cfg.to_dict())
    if diff and _fitted(
        run_dir
    ):  # no epochs: train.epochs does not change it, nor is it a difference
        diff = [d for d in diff if not d.startswith("train.epochs:")]
    if not diff:
        return None
    if all(d.startswith("train.epochs:") for d in diff):
        old = setting(stored, "train.epochs")
        message = f"its folder holds it trained for train.epochs={old}, not {cfg.train.epochs}"
        return PlannedRun(name, run_dir, "retrain", cfg, message)
    problem = (
        f"'{run_dir}' holds a run with a different config ({_listed(diff)}). Delete that folder to "
        f"redo it, or choose another --out (Python: out=)."
    )
    return PlannedRun(name, run_dir, "failed", cfg, problem, diff)


def _listed(differences: list[str], most: int = 4) -> str:
    """The first ``most`` differences, '; '-separated, and '…' when there are more."""
    return "; ".join(differences[:most]) + (" …" if len(differences) > most else "")


def _fitted(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a finished run of a model fitted once (``trained_by="fit_arrays"``: the
    majority baseline, an SVM) rather than trained by epochs."""
    summary = RunDir(run_dir).read_summary()
    if summary is None or not summary.complete:
        return False
    if summary.trained_by is not None:
        return summary.trained_by == "fit_arrays"
    # on use: vislab.predict imports matplotlib (~1 s), which a --jobs process training without figures
    # never needs otherwise
    from vislab.predict import load_model

    try:  # a run from before summary.json recorded it
        model, _ = load_model(run_dir)
    except UserError:  # e.g. the user's model code changed since: treat it as trained by epochs
        return False
    return hooks_of(model).trained_by == "fit_arrays"


def plan_suite(suite: Suite, out: Path, overrides: list[str] | tuple = ()) -> list[PlannedRun]:
    """One PlannedRun per suite run (per seed of each row, with seeds), in the suite's order; run folders
    are ``out/<run name>``."""
    return [
        plan_run(name, Path(out) / name, lambda n=name: run_config(suite, n, overrides))
        for name in suite.run_names()
    ]


def check_plan(
    suite: Suite,
    out: Path,
    overrides: list[str] | tuple = (),
    unread: bool = False,
    only: Collection[str] | None = None,
) -> list[PlannedRun]:
    """The suite's plan (plan_suite), every run's config checked first — its keys, values and model options
    (as ``vislab train`` checks them before training), and for each run that would train, its data read and
    its model built for the data's input shape (as a run's set-up checks them: :class:`DataChecks`):
    ConfigError naming each bad run, so that nothing trains until the suite file (or --set) is fixed; then
    UserError if ``out`` holds runs of another config (:func:`refuse_other_runs`). ``unread``: data that
    cannot be read is a mistake too (a dry run's check); else the runner meets it as the suite runs.
    ``only``: the runs asked for (--only): the others' data is neither read nor checked."""
    plan = plan_suite(suite, out, overrides)
    on_data = DataChecks(unread)
    mistakes = {
        p.name: message
        for p in plan
        if (message := _config_mistake(p, on_data if only is None or p.name in only else None))
    }
    if not mistakes:
        refuse_other_runs(suite, Path(out), plan)
        return plan
    lines = [f"  - {name}: {message}" for name, message in said_once(mistakes).items()]
    some = f"{len(mistakes)} of {len(plan)} runs of suite '{suite.name}' have an invalid config"
    which = (
        f"no run of suite '{suite.name}' has a valid config" if len(mistakes) == len(plan) else some
    )
    # a file of the user's is named: where to fix a mistake its runs or base hold (not --set's)
    where = f" (suite file {suite.path})" if suite.path.parent != SUITE_DIR else ""
    raise ConfigError(f"{which}, so nothing was trained{where}:\n" + "\n".join(lines))


def _config_mistake(p: PlannedRun, on_data: DataChecks | None) -> str:
    """What is wrong with the config of planned run ``p`` ("" when nothing is); checked on its data where
    it would train (``on_data``; None: not on its data)."""
    if p.config is None:
        return p.message
    try:
        check_model_options(p.config.model.name, p.config.model.kwargs())
    except UserError as e:
        return str(e)
    return on_data.mistake(p.config) if on_data is not None and p.action in _OPENS else ""


def refuse_other_runs(suite: Suite, out: Path, plan: list[PlannedRun]) -> None:
    """UserError naming each run whose folder in ``out`` holds it with another config — the suite run
    there before with other options (``--set``, ``--data``) or another suite file; another train.epochs
    alone is no conflict (planned ``retrain``) — and the fixes; nothing is trained or written."""
    other = {p.name: _listed(p.differences) for p in plan if p.differences}
    if not other:
        return
    lines = "\n".join(f"  - {name}: {diff}" for name, diff in said_once(other).items())
    raise UserError(
        f"suite '{suite.name}' was run into '{out}' with a different config: its runs there differ from "
        f"the ones asked for, so nothing was trained or written:\n{lines}\nRe-run it with the suite file "
        f"and options it was run with{_options_before(out)}, delete those runs' folders to train them "
        f"anew (the others are kept), add --overwrite to start the suite over (deletes its runs; "
        f"Python: overwrite=True), or choose another --out (Python: out=)."
    )


def refuse_busy(suite: Suite, out: Path, plan: list[PlannedRun]) -> None:
    """UserError naming each run it would open (start, resume, retrain) whose folder in ``out`` a live
    vislab process holds (:func:`in_use`: another run of this suite into the same folder, say) — the whole
    suite is refused, before anything is trained or written. A shared suite (``--storage``) does not ask:
    there such a run is another worker's claim."""
    held = {p.name: message for p in plan if p.action in _OPENS and (message := in_use(p.run_dir))}
    if not held:
        return
    lines = "\n".join(f"  - {name}: {message}" for name, message in held.items())
    runs = "the folder of a run" if len(held) == 1 else f"the folders of {len(held)} runs"
    raise UserError(
        f"suite '{suite.name}' is already running into '{out}': another vislab process holds {runs} it "
        f"would train, so the whole suite is refused and nothing was trained or written:\n{lines}\n"
        f"Wait for that process to end, or give another --out (Python: out=...)."
    )


def _options_before(out: Path) -> str:
    """' (suite.json: --set …; Python: overrides=[…])': the options ``out``'s suite.json says the suite was
    run with, in the command's words and in :func:`vislab.run_suite`'s ('' if none says)."""
    sets = SuiteInfo.read(out).overrides
    if not isinstance(sets, list):
        return ""
    if not sets:
        return " (suite.json: no --set, --data or --epochs; Python: no overrides, data or epochs)"
    return f" (suite.json: {' '.join(f'--set {s}' for s in sets)}; Python: overrides={sets!r})"


# ------------------------------------------------------------------------------ a dry run
@dataclass(frozen=True)
class Foreseen:
    """What running the suite would do to one run, seen from its folder alone (nothing moved or trained):
    ``action`` as :class:`PlannedRun`'s, or ``busy`` (a live vislab process holds the folder the run would
    open: the whole suite would be refused, :func:`refuse_busy`) or ``left out`` (see :func:`_foreseen`),
    ``said`` in words ("resume from epoch 3 of 5"), its ``config`` and ``settings``, those of its config
    that differ between the suite's runs (dotted key → value, as results.csv's columns), how its model
    trains (``trained_by``: "fit_arrays" for a fitted baseline, which has no epochs) and ``changed``: the
    settings its line says — what results.md will show of it and what its suite row sets
    (results/settings.py ``said_settings``)."""

    name: str
    action: str
    said: str
    config: Config
    settings: dict[str, Any]
    trained_by: str = "optimizer"
    changed: dict[str, Any] = field(default_factory=dict)


def foresee_suite(
    suite: Suite, out: Path, overrides: list[str] | tuple = (), only: Collection[str] | None = None
) -> list[Foreseen]:
    """What running ``suite`` into ``out`` would do to each run (``only``: to those runs; their settings
    still those that differ among all the suite's runs), checked as the runner checks it first
    (:func:`check_plan`, then that ``out`` can be written: the same errors) — and data that cannot be read,
    which the runner meets as the suite runs, named too —, but nothing is moved, trained, downloaded or
    written. A run the runner moves first — kept for another epoch count, or trained before the suite
    had seeds (suites/folders.py) — is planned where it lies."""
    plan = check_plan(suite, out, overrides, unread=True, only=only)
    check_writable(out, "the suite's runs")
    changed, how = changed_settings(plan), [_trained_by(p) for p in plan]
    sets = [_row_sets(suite, p, trained_by) for p, trained_by in zip(plan, how)]
    return [
        replace(_foreseen(p, suite, settings, only), trained_by=trained_by, changed=said)
        for p, settings, trained_by, said in zip(plan, changed, how, said_settings(changed, sets))
        if only is None or p.name in only or p.action == "retrain"
    ]


def _row_sets(suite: Suite, p: PlannedRun, trained_by: str) -> dict[str, Any]:
    """The settings of planned run ``p`` that its suite row sets (results/settings.py ``row_sets``)."""
    row = suite.run_names()[p.name]
    return row_sets(flat_settings(p.config.to_dict()), suite.runs[row] or {}, trained_by)


def _foreseen(
    p: PlannedRun, suite: Suite, settings: dict[str, Any], only: Collection[str] | None
) -> Foreseen:
    """:class:`Foreseen` of planned run ``p`` (its config checked: never None here); ``left out`` where
    ``only`` leaves out a run its folder holds trained with other settings (the tables leave it out)."""
    if only is not None and p.name not in only:
        return Foreseen(
            p.name, "left out", f"left out by --only: {not_with_these(p)}", p.config, settings
        )
    moved = seed_zero_before(p, suite)
    if moved is not None:
        return Foreseen(p.name, *_moved_said(moved), p.config, settings)
    if held := (in_use(p.run_dir) if p.action in _OPENS else ""):  # the suite refuses (refuse_busy)
        said = f"busy, so the whole suite would be refused before anything is trained or written: {held}"
        return Foreseen(p.name, "busy", said, p.config, settings)
    back = kept_back(p) if p.action == "retrain" else None
    if back is not None:
        said = f"{_said(back)} ({p.message}: the run kept as {back.run_dir} comes back)"
        return Foreseen(p.name, back.action, said, p.config, settings)
    return Foreseen(p.name, p.action, _said(p), p.config, settings)


# the actions whose run opens its folder (retrain: moves it aside first)
_OPENS = ("start", "resume", "retrain")


def not_with_these(p: PlannedRun) -> str:
    """What the tables say of planned run ``p`` (``retrain``) that ``only`` left out, and the fix: the
    command that trains it, or brings back the run an earlier switch of epochs kept (:func:`kept_back`)."""
    back = kept_back(p)
    does = "trains it" if back is None else f"brings back the run kept as {back.run_dir}"
    return (
        f"not trained with these settings ({p.message}), so it is in no table: the same command with "
        f"--only {p.name} (Python: only=[{p.name!r}]), or without --only, {does} (the run there now "
        f"is kept beside it)"
    )


def in_use(run_dir: Path) -> str:
    """Why a run cannot open ``run_dir``: a live vislab process holds its lock (the error names that
    process, as ``.lock`` records it), or '' when none does; the lock is only read, never taken."""
    try:
        RunDir(run_dir).check_free()
    except UserError as e:
        return str(e)
    return ""


def _moved_said(moved: PlannedRun) -> tuple[str, str]:
    """(action, words) for the run a seeded suite's ``<row>-s0`` finds in ``<row>`` (:func:`seed_zero_before`):
    moved there and planned as it is — or, while a live vislab process holds that folder, left where it
    is and started anew (as the runner does)."""
    before = f"{moved.run_dir}, trained before the suite had seeds"
    if held := in_use(moved.run_dir):
        return "start", f"start ({before}, stays where it is: {held})"
    return moved.action, f"{_said(moved)} (moved from {before})"


def _said(p: PlannedRun) -> str:
    """What planned run ``p`` would do, in words."""
    if p.action == "resume":
        return _resume_said(p)
    if p.action == "retrain":
        return f"retrain ({p.message}: that run is kept beside it)"
    if p.action == "failed":
        return f"failed: {p.message}"
    return "already complete, skipped" if p.action == "done" else p.action


def _resume_said(p: PlannedRun) -> str:
    """How planned run ``p`` resumes ("resume from epoch 3 of 5"), read from its last.pt as resuming opens
    it (its error where it cannot: the run would fail); a run whose training ended is only evaluated."""
    try:
        loop = open_resume(RunDir(p.run_dir)).resume.loop
    except UserError as e:
        return f"resume, which fails: {e}"
    if loop.stopped_early or loop.epoch >= p.config.train.epochs:
        return f"resume: its training ended after epoch {loop.epoch}, so it is only evaluated"
    return f"resume from epoch {loop.epoch + 1} of {p.config.train.epochs}"


def seed_zero_before(p: PlannedRun, suite: Suite) -> PlannedRun | None:
    """For a seeded suite's ``<row>-s0`` still to start: the plan of the run the suite trained into
    ``<row>`` before it had seeds (the same config, seed + 0) where that folder holds it finished or
    resumable — the run the runner moves to ``<row>-s0`` (folders.seed_zero_of_before); else None."""
    names = suite.run_names()
    row = names[p.name]
    before = p.run_dir.with_name(row)
    if p.name != f"{row}-s0" or row in names or p.action != "start" or p.run_dir.exists():
        return None
    if not (before / "config.yaml").is_file():
        return None
    planned = plan_run(row, before, lambda: p.config)
    return planned if planned.action in ("done", "resume") else None


def kept_back(p: PlannedRun) -> PlannedRun | None:
    """For a run planned ``retrain``: the plan of the run an earlier switch of epochs kept beside as
    ``<run>.epochs-<E>`` for the epochs asked now, where it holds it finished or resumable — the runner
    brings it back rather than training anew (folders.make_room); else None."""
    kept = p.run_dir.with_name(f"{p.run_dir.name}.epochs-{p.config.train.epochs}")
    if not kept.is_dir():
        return None
    planned = plan_run(p.name, kept, lambda: p.config)
    return planned if planned.action in ("done", "resume") else None


def changed_settings(plan: list[PlannedRun]) -> list[dict[str, Any]]:
    """Per planned run, its settings whose values differ among the runs, by the rule of the tables
    (results/settings.py ``differing_settings``). A run already in its folder is compared as its
    summary.json says its model trains (a fitted baseline reads no optim.*, schedule.*, augment.* or
    train.epochs); a run not started yet as its model's class declares it (:func:`declared_trained_by`)."""
    runs = [(flat_settings(p.config.to_dict()), _trained_by(p)) for p in plan]
    return differing_settings(runs)


def _trained_by(p: PlannedRun) -> str:
    """How planned run ``p``'s model trains: as its summary.json records it, else as its model declares."""
    recorded = (RunDir(p.run_dir).read_summary() or RunSummary()).trained_by
    return recorded or declared_trained_by(p.config.model.name)


def declared_trained_by(name: str) -> str:
    """How registered model ``name`` trains (ModelHooks ``trained_by``), read without building it: from its
    class, or from the class its builder function's return annotation names (``-> Majority``);
    "optimizer" where neither says (a builder returning ``nn.Module``, a prefix family, a user's model)."""
    target = target_of(MODELS.get(name))  # a registered class: the class adapt made its builder for
    if target is not None and not inspect.isclass(target):
        try:
            target = typing.get_type_hints(target).get("return")
        except (NameError, TypeError):  # an annotation that does not resolve: nothing declared
            target = None
    if inspect.isclass(target) and issubclass(target, ModelHooks):
        return target.trained_by
    return "optimizer"
