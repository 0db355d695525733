"""A suite's plan: for each run, what its folder says to do — nothing (done), resume, start, retrain (the
folder holds it for another epoch count), or report it failed (bad config, or a different run there).
A dry run (suites/foresee.py) says what that would be for each run, moving, training and writing nothing."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from vislab.config import Config, config_differences, read_yaml
from vislab.config.build import setting
from vislab.errors import ConfigError, UserError
from vislab.experiments.data_checks import DataChecks
from vislab.experiments.records import SuiteInfo
from vislab.experiments.results.recorded import flat_settings
from vislab.experiments.results.settings import silent_keys
from vislab.experiments.suites.ending import said_once
from vislab.experiments.suites.lock_owner import jobs_owner
from vislab.experiments.suites.spec import SUITE_DIR, Suite, run_config
from vislab.models import check_model_options
from vislab.models.hooks import hooks_of
from vislab.training.rundir import RunDir
from vislab.training.summary import RunSummary


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
        said = f"the run there diverged with other settings ({changed}): nothing of it is worth keeping"
        return PlannedRun(name, run_dir, "start", cfg, f"{said}, so it is trained anew")
    problem = (
        f"the run diverged earlier (loss NaN/inf; see {run_dir / 'summary.json'}). Lower optim.lr or set "
        f"train.grad_clip, and delete '{run_dir}' to redo it."
    )
    return PlannedRun(name, run_dir, "failed", cfg, problem)


def _other_run(name: str, run_dir: Path, cfg: Config, stored: dict) -> PlannedRun | None:
    """The plan when ``run_dir`` holds a run with another config (``stored``): ``retrain`` when only
    train.epochs differs, else ``failed``; None when it holds this run (:func:`_differences`: a setting
    its model never reads is no difference)."""
    diff = _differences(run_dir, cfg, stored)
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


def _changed_since(run_dir: Path, cfg: Config) -> str:
    """The settings of ``cfg`` that differ from those ``run_dir``'s config.yaml holds (as
    :func:`_differences` counts them), '; '-separated; '' for none, or no config.yaml to read."""
    try:
        stored = read_yaml(run_dir / "config.yaml", kind="run config")
    except ConfigError:
        return ""
    return _listed(_differences(run_dir, cfg, stored))


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


def _listed(differences: list[str], most: int = 4) -> str:
    """The first ``most`` differences, '; '-separated, and '…' when there are more."""
    return "; ".join(differences[:most]) + (" …" if len(differences) > most else "")


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
    """``plan`` in its order, each run moved after the runs of ``plan`` its ``train.init_from`` starts
    from (a run folder, or a checkpoint in it), so that a suite trains them first; runs that start from
    each other in a ring keep their order."""
    folders = {p.run_dir.resolve(): p for p in plan}
    ordered: list[PlannedRun] = []
    seen: set[str] = set()  # placed, or being placed (a ring)

    def place(p: PlannedRun) -> None:
        if p.name in seen:
            return
        seen.add(p.name)
        source = p.config.train.init_from if p.config is not None else None
        if source:
            path = Path(source).resolve()
            for folder in (path, *path.parents):
                if folder in folders and folders[folder] is not p:
                    place(folders[folder])
        ordered.append(p)

    for p in plan:
        place(p)
    return ordered


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


def _config_mistake(p: PlannedRun, on_data: DataChecks | None) -> str:
    """What is wrong with the config of planned run ``p`` ("" when nothing is); checked on its data where
    it would train (``on_data``; None: not on its data)."""
    if p.config is None:
        return p.message
    try:
        check_model_options(p.config.model.name, p.config.model.kwargs())
    except UserError as e:
        return str(e)
    return on_data.mistake(p.config) if on_data is not None and p.action in OPENS else ""


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


def refuse_unlisted_runs(suite: Suite, out: Path) -> None:
    """UserError naming each run ``out``'s suite.json records (the suite run there before from another
    suite file) whose folder is there but which the suite file now does not list — its tables would
    leave it out — and the fixes; nothing is trained or written. A run of a row the suite still has (its
    seeds, or the run a seeded suite moves to its seed 0) is no such run."""
    info = SuiteInfo.read(out)
    listed = suite.run_names()
    row_of = {run: row for row, runs in (info.rows or {}).items() for run in runs}
    unlisted = [
        name
        for name in info.order or []
        if name not in listed and row_of.get(name, name) not in suite.runs and (out / name).is_dir()
    ]
    if not unlisted:
        return
    lines = "\n".join(f"  - {name} ({out / name})" for name in unlisted)
    them = "it" if len(unlisted) == 1 else "them"
    was = f" ({info.source})" if info.source and info.source != str(suite.path) else ""
    raise UserError(
        f"suite '{suite.name}' was run into '{out}' with other runs: {_of_its_runs(len(unlisted))} "
        f"in the suite file asked for ({suite.path}), so {_they(unlisted)} drop out of every table "
        f"(results.md, report.html, vislab compare, vislab paper); nothing was trained or written:\n"
        f"{lines}\nRe-run it with the suite file it was run with{was}, add {them} to this suite file, "
        f"move {them} out of '{out}' (or delete {them}) to leave {them} out, add --overwrite to start the "
        f"suite over (deletes its runs; Python: overwrite=True), or choose another --out (Python: out=)."
    )


def _of_its_runs(n: int) -> str:
    """'1 of its runs there is not' (or 'N of its runs there are not')."""
    return f"{n} of its runs there {'is' if n == 1 else 'are'} not"


def _they(names: list[str]) -> str:
    """'it would' or 'they would', for ``names``."""
    return "it would" if len(names) == 1 else "they would"


def refuse_busy(suite: Suite, out: Path, plan: list[PlannedRun]) -> None:
    """UserError naming each run it would open (start, resume, retrain) whose folder in ``out`` a live
    vislab process holds (:func:`in_use`: another run of this suite into the same folder, say) — the whole
    suite is refused, before anything is trained or written. A shared suite (``--storage``) does not ask:
    there such a run is another worker's claim."""
    busy = [(p, why) for p in plan if p.action in OPENS and (why := in_use(p.run_dir))]
    if not busy:
        return
    lines = "\n".join(f"  - {p.name}: {why}" for p, why in busy)
    runs = "the folder of a run" if len(busy) == 1 else f"the folders of {len(busy)} runs"
    owners = {o[0] if (o := _owner(p.run_dir)) else None for p, _ in busy}
    owner = owners.pop() if len(owners) == 1 else None
    wait = (
        "Wait for that process to end"
        if owner is None
        else f"Wait for vislab process {owner} to end, or stop it (Ctrl-C where it runs, or kill -INT "
        f"{owner}: its runs are saved, and this command then resumes them)"
    )
    raise UserError(
        f"suite '{suite.name}' is already running into '{out}': another vislab process holds {runs} it "
        f"would train, so the whole suite is refused and nothing was trained or written:\n{lines}\n"
        f"{wait}, or give another --out (Python: out=...)."
    )


def _owner(run_dir: Path) -> tuple[int, str, int] | None:
    """(pid, command, --jobs process's pid) of the process the user started that holds ``run_dir``
    through one of its --jobs processes (a suite's: :func:`.lock_owner.jobs_owner`), or None."""
    job = RunDir(run_dir).live_holder()
    owner = jobs_owner(job) if job is not None else None
    return (*owner, job) if owner is not None else None


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


# the actions whose run opens its folder (retrain: moves it aside first)
OPENS = ("start", "resume", "retrain")


def in_use(run_dir: Path) -> str:
    """Why a run cannot open ``run_dir``: a live vislab process holds its lock (the error names that
    process, as ``.lock`` records it — or, for a suite's --jobs process, the suite's own process, the one
    to wait for or stop), or '' when none does; the lock is only read, never taken."""
    try:
        RunDir(run_dir).check_free()
    except UserError as e:
        owner = _owner(run_dir)
        if owner is None:
            return str(e)
        pid, command, job = owner
        return (
            f"run directory '{run_dir}' is in use by vislab process {pid}"
            + (f" ({command})" if command else "")
            + f", through its --jobs process {job}"
        )
    return ""
