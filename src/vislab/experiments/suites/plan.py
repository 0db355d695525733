"""A suite's plan: for each run, what its folder says to do — nothing (done), resume, start, retrain (the
folder holds it for another epoch count), or report it failed (bad config, or a different run there).
A dry run (suites/foresee.py) says what that would be for each run, moving, training and writing nothing."""

from __future__ import annotations

import inspect
import os
import typing
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vislab.config import Config, config_differences, read_yaml
from vislab.config.build import setting
from vislab.config.former_defaults import at_former_defaults
from vislab.errors import ConfigError, UserError
from vislab.experiments.data_checks import DataChecks
from vislab.experiments.results.recorded import flat_settings
from vislab.experiments.results.settings import silent_keys
from vislab.experiments.suites.ending import said_once
from vislab.experiments.suites.refusals import (
    OPENS,
    listed,
    refuse_other_runs,
    refuse_unlisted_runs,
)
from vislab.experiments.suites.spec import SUITE_DIR, Suite, run_config
from vislab.models import check_model_options
from vislab.models.calling import target_of
from vislab.models.hooks import ModelHooks, hooks_of
from vislab.models.objects import is_users_forward
from vislab.models.registry import MODELS
from vislab.models.user import resolve
from vislab.training.checks import own_step_refusal
from vislab.training.rundir import RunDir
from vislab.training.summary import RunSummary

# the actions that train a run afresh (retrain: its folder moved aside first), whose settings set-up checks
# for how the model trains (training/setup.py: a resumed run's were checked when it started)
AFRESH = ("start", "retrain")


@dataclass
class PlannedRun:
    name: str
    run_dir: Path
    action: str  # "done" | "resume" | "start" | "failed" | "retrain" (run_dir: another epoch count)
    config: Config | None = None
    message: str = ""
    differences: list[str] = field(default_factory=list)  # "failed": run_dir holds another config
    # of those, the keys whose value in run_dir is an older vislab's default → that value
    former: dict[str, Any] = field(default_factory=dict)
    # each differing key → its value in run_dir (what --set keeps, e.g. for a built-in suite changed since)
    was: dict[str, Any] = field(default_factory=dict)


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
    if summary.status == "diverged":
        return _diverged(name, run_dir, cfg)
    if (has_last or summary.complete) and (run_dir / "config.yaml").is_file():
        try:
            stored = read_yaml(run_dir / "config.yaml", kind="run config")
        except ConfigError as e:  # cut short or edited by hand: resuming writes it again
            return PlannedRun(name, run_dir, "failed", cfg, f"{e} {rd.rewrite_fix()}")
        other = _other_run(name, run_dir, cfg, stored)
        if other is not None:
            return other
    action = "done" if summary.complete else "resume" if has_last else "start"
    return PlannedRun(name, run_dir, action, cfg)


def _diverged(name: str, run_dir: Path, cfg: Config) -> PlannedRun:
    """The plan of a run whose folder holds it diverged (loss NaN/inf): ``failed``, saying how to redo it
    — or, where its settings changed since (:func:`_changed_since`), ``start``: nothing of it is worth
    keeping, so it is trained anew there."""
    if changed := _changed_since(run_dir, cfg):
        said = f"the run there diverged with other settings ({changed})"
        return PlannedRun(
            name, run_dir, "start", cfg, f"{said}: it is moved aside, this one trained anew"
        )
    problem = (
        f"the run diverged earlier (loss NaN/inf; see {run_dir / 'summary.json'}). Lower optim.lr or set "
        f"train.grad_clip, and delete '{run_dir}' to redo it."
    )
    return PlannedRun(name, run_dir, "failed", cfg, problem)


def _other_run(name: str, run_dir: Path, cfg: Config, stored: dict) -> PlannedRun | None:
    """The plan when ``run_dir`` holds a run with another config (``stored``): ``retrain`` when only
    train.epochs differs, else ``failed`` (``former``: the differences that are an older vislab's
    defaults, ``config.former_defaults``); None when it holds this run (:func:`_differences`: a setting
    its model never reads is no difference)."""
    diff = _differences(run_dir, cfg, stored)
    if not diff:
        return None
    if all(d.startswith("train.epochs:") for d in diff):
        old = setting(stored, "train.epochs")
        message = f"its folder holds it trained for train.epochs={old}, not {cfg.train.epochs}"
        return PlannedRun(name, run_dir, "retrain", cfg, message)
    problem = (
        f"'{run_dir}' holds a run with a different config ({listed(diff)}). Delete that folder to "
        f"redo it, or choose another --out (Python: out=)."
    )
    keys = {_key(d) for d in diff}
    former = {k: v for k, v in at_former_defaults(stored, cfg).items() if k in keys}
    was = {k: setting(stored, k) for k in keys}
    return PlannedRun(name, run_dir, "failed", cfg, problem, diff, former, was)


def _changed_since(run_dir: Path, cfg: Config) -> str:
    """The settings of ``cfg`` that differ from those ``run_dir``'s config.yaml holds (as
    :func:`_differences` counts them), '; '-separated; '' for none, or no config.yaml to read."""
    try:
        stored = read_yaml(run_dir / "config.yaml", kind="run config")
    except ConfigError:
        return ""
    return listed(_differences(run_dir, cfg, stored))


def _differences(run_dir: Path, cfg: Config, stored: dict) -> list[str]:
    """``key: old → new`` for each setting of ``cfg`` that differs from ``stored`` (the config.yaml of
    the run in ``run_dir``) — but a setting the run's model never reads, or that its settings make do
    nothing, as the tables leave it out (results/settings.py ``silent_keys``: a fitted baseline's optim.*
    and train.epochs)."""
    diff = config_differences(stored, cfg.to_dict())
    # its model read only where it differs (a run from before summary.json said how it trains)
    if diff:
        silent = silent_keys(flat_settings(cfg.to_dict()), _trained_by(run_dir))
        diff = [d for d in diff if _key(d) not in silent]
    return diff


def _key(difference: str) -> str:
    """The dotted key of a ``key: old → new`` difference (config_differences)."""
    return difference.partition(":")[0]


def _trained_by(run_dir: Path) -> str:
    """How the run in ``run_dir`` was trained (ModelHooks ``trained_by``): as its summary.json records it;
    for a finished run from before it did, as its model says (``fit_arrays``: the majority baseline, an
    SVM, fitted once); else ``optimizer``."""
    summary = RunDir(run_dir).read_summary()
    if summary is not None and summary.trained_by is not None:
        return summary.trained_by
    if summary is None or not summary.complete:
        return "optimizer"
    # on use: vislab.predict imports matplotlib (~1 s), which a --jobs process training without figures
    # never needs otherwise
    from vislab.predict import load_model

    try:  # a run from before summary.json recorded it
        model, _ = load_model(run_dir)
    except UserError:  # e.g. the user's model code changed since: treat it as trained by epochs
        return "optimizer"
    return hooks_of(model).trained_by


def plan_suite(suite: Suite, out: Path, overrides: list[str] | tuple = ()) -> list[PlannedRun]:
    """One PlannedRun per suite run (per seed of each row, with seeds), in the suite's order — but a run
    whose ``train.init_from`` names another run's folder (or a file in it) after that run, which must
    have trained first (:func:`sources_first`); run folders are ``out/<run name>``."""
    return sources_first(
        [
            plan_run(name, Path(out) / name, lambda n=name: run_config(suite, n, overrides))
            for name in suite.run_names()
        ]
    )


def sources_first(plan: list[PlannedRun]) -> list[PlannedRun]:
    """``plan`` in its order, each run moved after the run of ``plan`` its ``train.init_from`` starts
    from (:func:`started_from`), so that a suite trains it first; runs that start from each other in a
    ring keep their order."""
    by_name, sources = {p.name: p for p in plan}, started_from(plan)
    ordered: list[PlannedRun] = []
    seen: set[str] = set()  # placed, or being placed (a ring)

    def place(p: PlannedRun) -> None:
        if p.name in seen:
            return
        seen.add(p.name)
        if p.name in sources:
            place(by_name[sources[p.name]])
        ordered.append(p)

    for p in plan:
        place(p)
    return ordered


def started_from(plan: list[PlannedRun]) -> dict[str, str]:
    """Run → the run of ``plan`` whose folder (or a checkpoint in it) its ``train.init_from`` names."""
    folders = {p.run_dir.resolve(): p.name for p in plan}
    found = {}
    for p in plan:
        source = p.config.train.init_from if p.config is not None else None
        path = Path(source).resolve() if source else None
        for folder in (path, *path.parents) if path is not None else ():
            if folders.get(folder, p.name) != p.name:
                found[p.name] = folders[folder]
                break
    return found


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
    by_name = {p.name: p for p in plan}
    on_data = DataChecks(unread, crop_note=_crop_note(suite))
    mistakes = {
        p.name: message
        for p in plan
        if (message := _config_mistake(p, on_data if only is None or p.name in only else None))
    }
    mistakes = {name: m + _beside_the_suite(by_name[name], suite) for name, m in mistakes.items()}
    if not mistakes:
        refuse_other_runs(suite, Path(out), plan)
        refuse_unlisted_runs(suite, Path(out))
        return plan
    lines = [f"  - {name}: {message}" for name, message in said_once(mistakes).items()]
    some = f"{len(mistakes)} of {len(plan)} runs of suite '{suite.name}' have an invalid config"
    which = (
        f"no run of suite '{suite.name}' has a valid config" if len(mistakes) == len(plan) else some
    )
    # a file of the user's is named: where to fix a mistake its runs or base hold (not --set's)
    where = f" (suite file {suite.path})" if suite.path.parent != SUITE_DIR else ""
    raise ConfigError(f"{which}, so nothing was trained{where}:\n" + "\n".join(lines))


def _crop_note(suite: Suite) -> str:
    """Said after a crop a run's images cannot give: a suite-wide --set crops every run, those without
    augmentation too (their centre crop is the model's input); a row of the suite file crops one."""
    builtin = suite.path.parent == SUITE_DIR
    file = f"a copy of {suite.path}" if builtin else f"the suite file {suite.path}"
    return (
        f" A suite-wide --set augment.crop.size=N / augment__crop__size=N changes every run's input, "
        f"the runs without augmentation too (they are evaluated on the centre N×N crop, and their model "
        f"built for it); to change this run's alone, set augment.crop.size in its row of {file}."
    )


def _beside_the_suite(p: PlannedRun, suite: Suite) -> str:
    """For a run whose model file (``model.name=mine.py:Net``) is not where the command runs but beside
    the suite file (model files are found from the current directory, unlike ``base:``), the model.name
    that names it; else ""."""
    name = p.config.model.name if p.config is not None else ""
    file, _, attr = name.rpartition(":")
    beside = suite.path.parent / file
    if not file.endswith(".py") or Path(file).is_file() or not beside.is_file():
        return ""
    return (
        f" It is beside the suite file: model.name={os.path.relpath(beside)}:{attr} (a model file is "
        f"found from the current directory, a base: from the suite file's)."
    )


def _config_mistake(p: PlannedRun, on_data: DataChecks | None) -> str:
    """What is wrong with the config of planned run ``p`` ("" when nothing is); where it would train
    (``on_data``; None: not checked as a run to train), what its set-up refuses of the config alone for
    how its model trains (``training.checks.own_step_refusal``: a setting mlp-scratch's own step ignores;
    for a run trained afresh alone, as set-up checks it), then checked on its data."""
    if p.config is None:
        return p.message
    name, options = p.config.model.name, p.config.model.kwargs()
    try:
        check_model_options(name, options)
    except UserError as e:
        return str(e)
    if on_data is None or p.action not in OPENS:
        return ""
    hooks = declared_hooks(name, options) if p.action in AFRESH else None
    return (own_step_refusal(p.config, hooks) if hooks else "") or on_data.mistake(p.config)


def declared_hooks(name: str, options: dict[str, Any]) -> type[ModelHooks] | None:
    """The class registered model ``name`` is built as with ``model.*`` ``options``, known without building
    it: its registered class, or the class its builder's return annotation names (``-> Majority``), as
    that class's ``built_as`` picks it by the options (mlp-scratch's ``model.impl``), a model in a file
    or module (``sub.py:Sub``) the class it references, its code imported as a run's build would; None
    where neither is a ``ModelHooks`` (a builder returning ``nn.Module``, a prefix family), or where the
    user's code cannot be imported (building it says why)."""
    builder = MODELS.get(name)
    if builder is None and is_users_forward(name):
        try:
            builder = (resolve(name) or (None,))[0]
        except UserError:
            return None
    target = target_of(builder)  # a registered class: the class adapt made its builder for
    if target is not None and not inspect.isclass(target):
        try:
            target = typing.get_type_hints(target).get("return")
        except (NameError, TypeError):  # an annotation that does not resolve: nothing declared
            target = None
    if inspect.isclass(target) and issubclass(target, ModelHooks):
        return target.built_as(options)
    return None


def declared_trained_by(name: str, options: dict[str, Any] | None = None) -> str:
    """How registered model ``name`` with ``model.*`` ``options`` (None: none set) trains, read without
    building it: its :func:`declared_hooks`' ``trained_by``; "optimizer" where none is declared."""
    hooks = declared_hooks(name, options or {})
    return hooks.trained_by if hooks is not None else "optimizer"


# ------------------------------------------------------------------------------ a dry run
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
