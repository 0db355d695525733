"""Sweeps: an Optuna study whose trials are vislab runs in ``DIR/trials/<number>``.

Any number of workers (processes, machines) run ``vislab sweep FILE --storage URL`` against one study
(Optuna's shared RDB storage: SQLite for one machine, PostgreSQL for several). ``trials`` is the number of
finished (complete or pruned) trials the study should hold, so a re-run after an interruption only runs
what is missing. A trial left RUNNING by a killed worker is failed and re-queued with the same
parameters: at once when its process is known dead on this host, else when its heartbeat stops.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import socket
import time
import traceback
import warnings
from pathlib import Path
from typing import Callable

import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState

from vislab.config import apply_override, build_config, set_dotted
from vislab.errors import TrainingInterrupted, UserError
from vislab.experiments import space as sp
from vislab.train.checkpoint import atomic_write_text
from vislab.train.rundir import RunDir

HEARTBEAT_S, GRACE_S = 20, 90
ACTIVE = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
MAX_FAILURES_IN_A_ROW = 3


class _TrialFailed(Exception):
    """A trial's run failed (its message is in the trial's user attribute 'error'); the sweep goes on."""


class _Surplus(Exception):
    """Workers racing for the last trials asked one too many: this one is not run."""


# --------------------------------------------------------------------------------------- storage
def default_storage(out: Path) -> str:
    return f"sqlite:///{(Path(out) / 'study.db').resolve()}"


def public_url(url: str) -> str:
    """The storage URL without its password (for files and messages)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def _retry_callback():
    """Re-queue a failed trial's parameters as a WAITING trial (at most 3 times per original trial)."""
    cls = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None) or optuna.storages.RetryFailedTrialCallback
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(max_retry=3)


def requeue(study: optuna.Study, trial: FrozenTrial) -> None:
    """Queue a failed trial's parameters again (what the heartbeat does for stale trials)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _retry_callback()(study, trial)


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """An RDB storage with heartbeats (stale RUNNING trials of dead workers are failed and retried)."""
    from sqlalchemy.exc import ArgumentError, OperationalError

    params = inspect.signature(optuna.storages.RDBStorage).parameters
    cb_key = "heartbeat_stale_trial_callback" if "heartbeat_stale_trial_callback" in params else "failed_trial_callback"
    sqlite = url.startswith("sqlite")
    engine = {"connect_args": {"timeout": 120}} if sqlite else {"pool_pre_ping": True}
    try:
        if sqlite:
            _sqlite_wal(url)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            storage = optuna.storages.RDBStorage(url, engine_kwargs=engine, heartbeat_interval=HEARTBEAT_S,
                                                 grace_period=GRACE_S, **{cb_key: _retry_callback()})
        if sqlite:  # fewer fsyncs per commit: WAL makes NORMAL safe against process crashes
            from sqlalchemy import event

            event.listen(storage.engine, "connect", lambda conn, _: conn.execute("PRAGMA synchronous=NORMAL"))
            storage.engine.dispose()
        return storage
    except ImportError as e:
        hint = " pip install 'vislab[postgres]'." if "postgres" in url else ""
        raise UserError(f"no database driver for storage '{public_url(url)}' ({e}).{hint}") from None
    except (ArgumentError, OperationalError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"cannot open the study storage '{public_url(url)}': {first}. Check the URL "
                        f"(e.g. sqlite:///DIR/study.db or postgresql://user:pass@host/db) and that the server runs.") from None


def _sqlite_wal(url: str) -> None:
    """Put a local SQLite study file in WAL mode: workers read while another writes, commits fsync less."""
    import sqlite3

    from sqlalchemy.engine import make_url

    db = make_url(url).database
    if not db or db == ":memory:":
        return
    Path(db).parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(db, timeout=120) as conn:
        conn.execute("PRAGMA journal_mode=WAL")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_dead_trials(study: optuna.Study, log: Callable[[str], None]) -> None:
    """RUNNING trials whose worker process on this host is gone → FAIL, and re-queued with the same params."""
    storage, host = study._storage, socket.gethostname()
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = t.user_attrs.get("pid")
        if t.user_attrs.get("host") != host or not isinstance(pid, int) or pid == os.getpid() or _alive(pid):
            continue
        try:
            if storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL):
                requeue(study, storage.get_trial(t._trial_id))
                log(f"trial {t.number}: its worker (pid {pid}) is gone; marked failed and re-queued")
        except optuna.exceptions.UpdateFinishedTrialError:
            pass  # another worker got there first


def open_study(spec: dict, storage: optuna.storages.RDBStorage, name: str | None = None,
               seed: int | None = None) -> optuna.Study:
    """Create the study, or join it (load_if_exists) — how several workers share one."""
    name = name or spec["name"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = optuna.create_study(storage=storage, study_name=name, direction=spec["direction"],
                                    sampler=sp.build_sampler(spec, seed), pruner=sp.build_pruner(spec),
                                    load_if_exists=True)
    if study.direction.name.lower() != spec["direction"]:
        raise UserError(f"study '{name}' in {public_url(storage.url)} exists with direction "
                        f"{study.direction.name.lower()}, but the sweep file asks for {spec['direction']}. "
                        f"Give the sweep another name: or another --storage.")
    if "metric" not in study.user_attrs:
        study.set_user_attr("metric", spec["metric"])
        study.set_user_attr("space", sp.space_yaml(spec["distributions"]))
    return study


def load_existing_study(storage_url: str, name: str) -> optuna.Study:
    storage = open_storage(storage_url)
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        names = optuna.get_all_study_names(storage)
        raise UserError(f"no study '{name}' in {public_url(storage_url)}; it holds: {', '.join(names) or 'none'}.") from None


# -------------------------------------------------------------------------------------- objective
class _PruneReport:
    """Trainer callback: report the validation metric each epoch; raise TrialPruned when the pruner says so."""

    def __init__(self, trial: optuna.Trial, metric: str):
        self.trial, self.metric = trial, metric

    def on_epoch_end(self, row: dict) -> None:
        value = row.get(self.metric)
        if value is None or not math.isfinite(value):
            return
        self.trial.report(float(value), step=int(row["epoch"]))
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {row['epoch']} ({self.metric} {value:.4f})")


class Objective:
    """Trains trial N's config (base ← suggested values) into ``trials/<N>`` and returns its validation metric."""

    def __init__(self, spec: dict, distributions: dict, base_tree: dict, trial_root: Path, n_target: int,
                 quiet: bool, log: Callable[[str], None]):
        self.spec, self.distributions, self.base_tree = spec, distributions, base_tree
        self.trial_root, self.n_target, self.quiet, self.log = trial_root, n_target, quiet, log
        self.last_error: str | None = None
        self.current: optuna.Trial | None = None
        self.surplus = False

    def __call__(self, trial: optuna.Trial) -> float:
        from vislab.train.trainer import train

        self.last_error, self.current = None, trial
        active = sorted(t.number for t in trial.study.get_trials(deepcopy=False, states=ACTIVE))
        if trial.number not in active[: self.n_target]:
            trial.set_user_attr("surplus", True)
            self.surplus = True
            raise _Surplus(f"trial {trial.number} is beyond the {self.n_target} trials asked for")
        run_dir = self.trial_root / str(trial.number)
        for key, value in (("run_dir", str(run_dir.resolve())), ("host", socket.gethostname()), ("pid", os.getpid())):
            trial.set_user_attr(key, value)
        values = sp.suggest(trial, self.distributions)
        tree = yaml.safe_load(yaml.safe_dump(self.base_tree))
        for key, value in values.items():
            set_dotted(tree, key, value)
        self.log(f"trial {trial.number}: {', '.join(f'{k}={v}' for k, v in values.items())}")
        try:
            cfg = build_config(tree, source=f"trial {trial.number}")
            if run_dir.exists():  # left by an earlier study of the same name: keep it aside, never mix
                run_dir.rename(run_dir.with_name(f"{run_dir.name}.stale-{int(time.time())}"))
            summary = train(cfg, run_dir, quiet=self.quiet, callbacks=[_PruneReport(trial, self.spec["metric"])])
        except optuna.TrialPruned as e:
            RunDir(run_dir).write_summary(dict(status="pruned", run=run_dir.name, message=str(e)))
            self.log(f"trial {trial.number}: {e}")
            raise
        except TrainingInterrupted:
            raise
        except UserError as e:
            self._failed(trial, str(e))
        except Exception as e:  # a bug in this configuration's path: keep it visible, keep the sweep going
            self._failed(trial, f"{type(e).__name__}: {e}", traceback.format_exc())
        value = summary.get(self.spec["metric"])
        if value is None or not math.isfinite(value):
            self._failed(trial, f"the run finished without a finite {self.spec['metric']}")
        self.log(f"trial {trial.number}: {self.spec['metric']} {value:.4f}")
        return float(value)

    def _failed(self, trial: optuna.Trial, message: str, tb: str = "") -> None:
        trial.set_user_attr("error", message[:2000])
        self.last_error = message
        self.log(f"trial {trial.number}: FAILED — {message}" + (f"\n{tb.rstrip()}" if tb else ""))
        raise _TrialFailed(message)


# ------------------------------------------------------------------------------------------ driver
def count_busy(study: optuna.Study) -> int:
    """Trials finished (complete or pruned) or running; queued (WAITING) retries still need a worker."""
    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)))


def base_tree(spec: dict, overrides: list[str] | tuple) -> dict:
    """The sweep's base config with command-line overrides applied (suggested values come on top)."""
    tree = yaml.safe_load(yaml.safe_dump(spec["base"]))
    for assignment in overrides:
        apply_override(tree, assignment)
    build_config(tree, source=f"sweep '{spec['name']}' base")  # fail early on a bad base
    return tree


def run_stage(spec: dict, out: Path, storage_url: str, n_target: int, overrides: list[str] | tuple = (),
              deadline: float | None = None, quiet: bool = True, log: Callable[[str], None] = print,
              study_name: str | None = None, distributions: dict | None = None) -> optuna.Study:
    """Work on one study until it holds ``n_target`` finished-or-running trials (or the deadline passes)."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    out = Path(out)
    (out / "trials").mkdir(parents=True, exist_ok=True)
    storage = open_storage(storage_url)
    seed = spec.get("seed")
    if seed is not None:
        existing = open_study(spec, storage, study_name).get_trials(deepcopy=False)
        joining = any(t.state == TrialState.RUNNING for t in existing)
        seed = seed + len(existing) + (os.getpid() * 1009 if joining else 0)  # never replay earlier samples
    study = open_study(spec, storage, study_name, seed)
    distributions = distributions or spec["distributions"]
    write_sweep_info(out, spec, study, storage_url, distributions)
    objective = Objective(spec, distributions, base_tree(spec, overrides), out / "trials", n_target, quiet, log)
    failures = 0
    while True:
        fail_dead_trials(study, log)
        if count_busy(study) >= n_target:
            break
        if deadline is not None and time.time() >= deadline:
            log(f"--timeout reached; {count_busy(study)} of {n_target} trials finished or running")
            break
        try:
            study.optimize(objective, n_trials=1, catch=(_TrialFailed, _Surplus))
        except TrainingInterrupted:
            if objective.current is not None:  # run the interrupted trial's parameters again next time
                requeue(study, study._storage.get_trial(objective.current._trial_id))
            raise
        if objective.surplus:
            break
        if objective.last_error is None:
            failures = 0
            continue
        failures += 1
        if failures >= MAX_FAILURES_IN_A_ROW:
            raise UserError(f"{failures} trials in a row failed; stopping this worker. Last error: {objective.last_error}")
    return study


def write_sweep_info(out: Path, spec: dict, study: optuna.Study, storage_url: str, distributions: dict) -> None:
    info = dict(kind="sweep", study=study.study_name, storage=public_url(storage_url),
                default_storage=storage_url == default_storage(out), metric=spec["metric"],
                direction=spec["direction"], spec=spec["path"])
    atomic_write_text(Path(out) / "sweep.json", json.dumps(info, indent=2))
    keep = {k: v for k, v in spec.items() if k not in ("distributions", "path")}
    atomic_write_text(Path(out) / "sweep.yaml", yaml.safe_dump(dict(keep, space=sp.space_yaml(distributions)),
                                                               sort_keys=False))


def run_sweep(spec: dict, out: Path, trials: int | None = None, timeout: float | None = None, storage: str | None = None,
              overrides: list[str] | tuple = (), narrow: int | None = None, narrow_trials: int | None = None,
              quiet: bool = True, log: Callable[[str], None] = print, report: bool = True) -> optuna.Study:
    """The whole sweep: stage 1, then (``narrow``) a second study over the best trials' ranges; results + report."""
    out = Path(out)
    storage_url = storage or default_storage(out)
    n = trials or spec.get("trials") or (sp.grid_size(spec["distributions"]) if _is_grid(spec) else 20)
    if _is_grid(spec) and n > sp.grid_size(spec["distributions"]):
        log(f"the grid has {sp.grid_size(spec['distributions'])} points; running that many trials, not {n}")
        n = sp.grid_size(spec["distributions"])
    timeout = timeout if timeout is not None else spec.get("timeout")
    deadline = time.time() + timeout if timeout else None
    out.mkdir(parents=True, exist_ok=True)
    study = run_stage(spec, out, storage_url, n, overrides, deadline, quiet, log)
    finish(out, study, log, report)
    if narrow:
        best = best_trials(study, narrow)
        if len(best) < narrow:
            raise UserError(f"--narrow {narrow} needs {narrow} complete trials; the study has {len(best)}.")
        name2 = f"{study.study_name}-narrow"
        log(f"narrowing to the ranges of the best {narrow} trials ({', '.join(str(t.number) for t in best)}) "
            f"→ study '{name2}'")
        study2 = run_stage(spec, out / "narrow", storage_url, narrow_trials or n, overrides, deadline, quiet, log,
                           study_name=name2, distributions=_shared_space(spec, storage_url, name2, best))
        finish(out / "narrow", study2, log, report)
        if report:  # the first stage's report links to the second's
            from vislab.report.build import build_report

            build_report(out, study=study)
    return study


def _is_grid(spec: dict) -> bool:
    s = spec.get("sampler") or "tpe"
    return (s if isinstance(s, str) else s.get("name")) == "grid"


def _shared_space(spec: dict, storage_url: str, name: str, best: list[FrozenTrial]) -> dict:
    """The narrowed space, stored with the second study so that every worker uses the same ranges."""
    study = open_study(spec, open_storage(storage_url), name)
    stored = study.user_attrs.get("narrowed_space")
    if stored is None:
        stored = sp.space_yaml(sp.narrowed(spec["distributions"], best))
        study.set_user_attr("narrowed_space", stored)
        study.set_user_attr("narrowed_from", [t.number for t in best])
        study.set_user_attr("space", stored)
    return {k: sp.to_distribution(k, v) for k, v in stored.items()}


def best_trials(study: optuna.Study, k: int) -> list[FrozenTrial]:
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None]
    return sorted(done, key=lambda t: t.value, reverse=study.direction == optuna.study.StudyDirection.MAXIMIZE)[:k]


def finish(out: Path, study: optuna.Study, log: Callable[[str], None], report: bool) -> None:
    """results.csv / results.md (complete trials) and trials.csv; then the report."""
    from vislab.experiments.table import write_tables
    from vislab.report.sweep import trials_csv

    summaries = {}
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        s = RunDir(Path(out) / "trials" / str(t.number)).read_summary()
        if s and s.get("status") == "complete":
            summaries[f"trial-{t.number}"] = s
    write_tables(out, summaries, title=f"sweep {study.study_name}")
    atomic_write_text(Path(out) / "trials.csv", trials_csv(study))
    log(f"results: {Path(out) / 'results.md'}")
    if report:
        from vislab.report.build import build_report

        log(f"report: {build_report(out, study=study)}")


def show_sweep(folder: Path | None, storage: str | None, study_name: str | None, top: int = 10,
               log: Callable[[str], None] = print) -> tuple[optuna.Study, Path]:
    """Load a sweep's study (from DIR/sweep.json or --storage/--study); print the best trials; write the report."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    info = {}
    if folder is not None and (Path(folder) / "sweep.json").is_file():
        info = json.loads((Path(folder) / "sweep.json").read_text())
    elif folder is not None and storage is None:
        raise UserError(f"'{folder}' holds no sweep.json: give a sweep folder, or --storage URL --study NAME.")
    url = storage or (default_storage(folder) if info.get("default_storage") else info.get("storage"))
    name = study_name or info.get("study")
    if not url or not name:
        raise UserError("give a sweep folder, or both --storage URL and --study NAME.")
    if "***" in url:
        raise UserError(f"the sweep folder records the storage without its password ({url}); pass --storage URL.")
    study = load_existing_study(url, name)
    out = Path(folder) if folder is not None else Path("runs") / f"sweep-{name}"
    out.mkdir(parents=True, exist_ok=True)
    if not (out / "sweep.json").is_file():
        metric = study.user_attrs.get("metric", "value")
        spec = dict(name=name, metric=metric, direction=study.direction.name.lower(), path="", base={})
        write_sweep_info(out, spec, study, url, {k: sp.to_distribution(k, v)
                                                 for k, v in study.user_attrs.get("space", {}).items()})
    from vislab.report.sweep import print_best

    print_best(study, top)
    for stage in (out, out / "narrow"):
        if (stage / "sweep.json").is_file() or stage == out:
            st = study if stage == out else _load_from_info(stage)
            if st is not None:
                finish(stage, st, log, report=True)
    return study, out / "report.html"


def _load_from_info(folder: Path) -> optuna.Study | None:
    info = json.loads((folder / "sweep.json").read_text())
    url = default_storage(folder) if info.get("default_storage") else info.get("storage")
    if not url or "***" in url:
        return None
    return load_existing_study(url, info["study"])

