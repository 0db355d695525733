"""Sweeps: an Optuna study whose trials are vislab runs in ``DIR/trials/<number>``.

Any number of workers (processes, machines) run ``vislab sweep FILE --storage URL`` against one study
(Optuna's shared RDB storage: SQLite for one machine, PostgreSQL for several). ``trials`` is the number of
finished (complete or pruned) trials the study should hold, so a re-run after an interruption only runs
what is missing. A trial left RUNNING by a killed worker is failed and re-queued with the same
parameters: at once when its process is known dead on this host, else when its heartbeat stops.
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState

from vislab.config import apply_override, build_config, config_differences
from vislab.data.sources import require_source
from vislab.errors import TrainingInterrupted, UserError
from vislab.experiments import space as sp
from vislab.experiments.objective import Objective, Surplus, TrialFailed
from vislab.experiments.storage import (
    default_storage,
    fail_dead_trials,
    load_existing_study,
    open_storage,
    open_study,
    public_url,
    requeue,
)
from vislab.experiments.table import write_tables
from vislab.experiments.trials import best, print_best, trials_csv
from vislab.models import check_model_options
from vislab.training.checkpoint import atomic_write_text
from vislab.training.rundir import RunDir, is_complete

MAX_FAILURES_IN_A_ROW = 3

ResultsHook = Callable[[Path, optuna.Study], None]
"""Called with (stage folder, its study) once a stage's results.csv/.md and trials.csv are written (the
CLI passes one that builds the stage's report.html)."""


# ------------------------------------------------------------------------------------------ driver
def count_busy(study: optuna.Study) -> int:
    """Trials finished (complete or pruned) or running; queued (WAITING) retries still need a worker."""
    return len(
        study.get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
        )
    )


def base_tree(spec: dict, overrides: list[str] | tuple) -> dict:
    """The sweep's base config with command-line overrides applied (suggested values come on top)."""
    tree = copy.deepcopy(spec["base"])
    for assignment in overrides:
        apply_override(tree, assignment)
    build_config(tree, source=f"sweep '{spec['name']}' base")  # fail early on a bad base
    return tree


def run_stage(
    spec: dict,
    out: Path,
    storage_url: str,
    n_target: int,
    overrides: list[str] | tuple = (),
    deadline: float | None = None,
    quiet: bool = True,
    log: Callable[[str], None] = print,
    study_name: str | None = None,
    distributions: dict | None = None,
) -> optuna.Study:
    """Work on one study until it holds ``n_target`` finished-or-running trials (or the deadline passes)."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    out = Path(out)
    (out / "trials").mkdir(parents=True, exist_ok=True)
    distributions = distributions or spec["distributions"]
    spec = dict(spec, distributions=distributions)  # a grid sampler walks this stage's grid
    study = _join_study(spec, open_storage(storage_url), study_name, distributions, log)
    base = base_tree(spec, overrides)
    _check_space(base, distributions)
    _check_same_base(study, base)
    write_sweep_info(out, spec, study, storage_url, distributions)
    objective = Objective(spec, distributions, base, out / "trials", n_target, quiet, log)
    _work(study, objective, n_target, deadline, log)
    return study


def _join_study(
    spec: dict, storage, study_name: str | None, distributions: dict, log: Callable[[str], None]
) -> optuna.Study:
    """Open (or create) the study; a seeded sampler never replays the samples of earlier workers."""
    seed = spec.get("seed")
    if seed is not None:
        existing = open_study(spec, storage, study_name).get_trials(deepcopy=False)
        joining = any(t.state == TrialState.RUNNING for t in existing)
        seed = seed + len(existing) + (os.getpid() * 1009 if joining else 0)
    study = open_study(spec, storage, study_name, seed)
    stored = study.user_attrs.get("space")
    if stored is not None and stored != json.loads(json.dumps(sp.space_yaml(distributions))):
        log(
            f"note: study '{study.study_name}' was started with another search space; its earlier trials stay "
            f"in it (give the sweep a new name: to start afresh)"
        )
    return study


def _work(
    study: optuna.Study,
    objective: Objective,
    n_target: int,
    deadline: float | None,
    log: Callable[[str], None],
) -> None:
    """Run trials one at a time until the study is full, the deadline passes or too many fail."""
    failures = 0
    while True:
        fail_dead_trials(study, log)
        if count_busy(study) >= n_target:
            return
        if deadline is not None and time.time() >= deadline:
            log(f"--timeout reached; {count_busy(study)} of {n_target} trials finished or running")
            return
        try:
            study.optimize(objective, n_trials=1, catch=(TrialFailed, Surplus))
        except (TrainingInterrupted, KeyboardInterrupt):
            if objective.current is not None:  # run the interrupted trial's parameters again
                requeue(study, study._storage.get_trial(objective.current._trial_id))
            raise
        if objective.surplus:
            return
        failures = 0 if objective.last_error is None else failures + 1
        if failures >= MAX_FAILURES_IN_A_ROW:
            raise UserError(
                f"{failures} trials in a row failed; stopping this worker. "
                f"Last error: {objective.last_error}"
            )


def _check_space(base: dict, distributions: dict) -> None:
    """Every space key is a config key (or an option of the base's model) — else every trial would fail."""
    probe = copy.deepcopy(base)
    first = {
        key: sp.decode(
            d.choices[0] if isinstance(d, optuna.distributions.CategoricalDistribution) else d.low
        )
        for key, d in distributions.items()
    }
    sp.apply_values(probe, first)
    # unknown keys / bad values: ConfigError naming them
    cfg = build_config(probe, source="sweep space")
    require_source(cfg.data.name)
    if "model.name" not in distributions:  # (a space over models mixes their options)
        check_model_options(cfg.model.name, cfg.model.kwargs())


def _check_same_base(study: optuna.Study, base: dict) -> None:
    """A study's trials share one base config (the sweep file's base: plus --data/--epochs/--set). Joining it
    with another base would rank trials trained on different data or budgets together: refuse. Where and how a
    worker runs (config.RESULT_NEUTRAL_KEYS: data.root, train.device, ...) may differ between machines."""
    resolved = json.loads(json.dumps(build_config(base, source="sweep base").to_dict()))
    stored = study.user_attrs.get("base")
    if stored is None:
        study.set_user_attr("base", resolved)
        return
    diff = config_differences(stored, resolved)
    if diff:
        raise UserError(
            f"study '{study.study_name}' was started with another base config ({'; '.join(diff[:5])}"
            f"{'; …' if len(diff) > 5 else ''}), so its trials would not be comparable with these. Join "
            f"it with the same sweep file and --data/--epochs/--set options, or give the sweep a new "
            f"name: (or another --out / --storage)."
        )


def write_sweep_info(
    out: Path, spec: dict, study: optuna.Study, storage_url: str, distributions: dict
) -> None:
    info = dict(
        kind="sweep",
        study=study.study_name,
        storage=public_url(storage_url),
        default_storage=storage_url == default_storage(out),
        metric=spec["metric"],
        direction=spec["direction"],
        spec=spec["path"],
        curves=spec.get("curves", sp.DEFAULT_CURVES),
    )
    atomic_write_text(Path(out) / "sweep.json", json.dumps(info, indent=2))
    keep = {k: v for k, v in spec.items() if k not in ("distributions", "path", "notes")}
    atomic_write_text(
        Path(out) / "sweep.yaml",
        yaml.safe_dump(dict(keep, space=sp.space_yaml(distributions)), sort_keys=False),
    )


def run_sweep(
    spec: dict,
    out: Path,
    trials: int | None = None,
    timeout: float | None = None,
    storage: str | None = None,
    overrides: list[str] | tuple = (),
    narrow: int | None = None,
    narrow_trials: int | None = None,
    quiet: bool = True,
    log: Callable[[str], None] = print,
    on_results: ResultsHook | None = None,
    curves: int | None = None,
) -> optuna.Study:
    """The whole sweep: stage 1, then (``narrow``) a second study over the best trials' ranges; the results
    of each stage (``on_results`` after each; their reports draw the curves of the best ``curves`` trials).
    Returns the first stage's study."""
    out = Path(out)
    for note in spec.get("notes", ()):
        log(f"note: {note}")
    spec = dict(spec, curves=curves or spec.get("curves", sp.DEFAULT_CURVES))
    storage_url = storage or default_storage(out)
    n = _n_trials(spec, spec["distributions"], trials or spec.get("trials"), log)
    timeout = timeout if timeout is not None else spec.get("timeout")
    deadline = time.time() + timeout if timeout else None
    out.mkdir(parents=True, exist_ok=True)
    study = run_stage(spec, out, storage_url, n, overrides, deadline, quiet, log)
    finish(out, study, log, on_results)
    if narrow:
        best = best_trials(study, narrow)
        if len(best) < narrow:
            raise UserError(
                f"--narrow {narrow} needs {narrow} complete trials; the study has {len(best)}."
            )
        name2 = f"{study.study_name}-narrow"
        log(
            f"narrowing to the ranges of the best {narrow} trials ({', '.join(str(t.number) for t in best)}) "
            f"→ study '{name2}'"
        )
        space2 = _shared_space(spec, storage_url, name2, best)
        study2 = run_stage(
            spec,
            out / "narrow",
            storage_url,
            _n_trials(spec, space2, narrow_trials or n, log),
            overrides,
            deadline,
            quiet,
            log,
            study_name=name2,
            distributions=space2,
        )
        finish(out / "narrow", study2, log, on_results)
    return study


def _n_trials(
    spec: dict, distributions: dict, asked: int | None, log: Callable[[str], None]
) -> int:
    """The trials a stage runs: as asked (default 20), at most a grid's size (default: all of it)."""
    if not _is_grid(spec):
        return asked or 20
    size = sp.grid_size(distributions)
    if asked and asked > size:
        log(f"the grid has {size} points; running that many trials, not {asked}")
    return min(asked or size, size)


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
    """The ``k`` best complete trials, best first."""
    return best(study, k)


def trial_dirs(study: optuna.Study, out: Path) -> dict[str, Path]:
    """Run folder per trial: the one the trial recorded when this machine can see it, else ``out/trials/<n>``."""
    dirs = {}
    for t in study.get_trials(deepcopy=False):
        recorded = Path(t.user_attrs.get("run_dir", ""))
        local = Path(out) / "trials" / str(t.number)
        path = recorded if t.user_attrs.get("run_dir") and recorded.is_dir() else local
        if path.is_dir():
            dirs[f"trial-{t.number}"] = path
    return dirs


def finish(
    out: Path,
    study: optuna.Study,
    log: Callable[[str], None],
    on_results: ResultsHook | None = None,
) -> None:
    """results.csv / results.md (complete trials) and trials.csv; then ``on_results(out, study)``."""
    summaries = {}
    for name, path in trial_dirs(study, out).items():
        s = RunDir(path).read_summary()
        if is_complete(s):
            summaries[name] = s
    write_tables(out, summaries, title=f"sweep {study.study_name}")
    atomic_write_text(Path(out) / "trials.csv", trials_csv(study))
    log(f"results: {Path(out) / 'results.md'}")
    if on_results is not None:
        on_results(out, study)


def show_sweep(
    folder: Path | None,
    storage: str | None,
    study_name: str | None,
    top: int = 10,
    log: Callable[[str], None] = print,
    on_results: ResultsHook | None = None,
    curves: int | None = None,
) -> tuple[optuna.Study, Path]:
    """Load a sweep's study (from DIR/sweep.json or --storage/--study); print the best trials; rewrite the
    results of each stage (``on_results`` after each; ``curves``: from now on its reports draw the curves of
    the best ``curves`` trials). Returns (study, sweep folder)."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    info = {}
    if folder is not None and (Path(folder) / "sweep.json").is_file():
        info = json.loads((Path(folder) / "sweep.json").read_text())
    elif folder is not None and storage is None:
        raise UserError(
            f"'{folder}' holds no sweep.json: give a sweep folder, or --storage URL --study NAME."
        )
    url = storage or (
        default_storage(folder) if info.get("default_storage") else info.get("storage")
    )
    name = study_name or info.get("study")
    if not url or not name:
        raise UserError("give a sweep folder, or both --storage URL and --study NAME.")
    if "***" in url:
        raise UserError(
            f"the sweep folder records the storage without its password ({url}); pass --storage URL."
        )
    study = load_existing_study(url, name)
    out = Path(folder) if folder is not None else Path("runs") / f"sweep-{name}"
    out.mkdir(parents=True, exist_ok=True)
    if not (out / "sweep.json").is_file():
        metric = study.user_attrs.get("metric", "value")
        spec = dict(
            name=name, metric=metric, direction=study.direction.name.lower(), path="", base={}
        )
        write_sweep_info(
            out,
            spec,
            study,
            url,
            {k: sp.to_distribution(k, v) for k, v in study.user_attrs.get("space", {}).items()},
        )
    print_best(study, top)
    for stage in (out, out / "narrow"):
        if (stage / "sweep.json").is_file() or stage == out:
            st = study if stage == out else load_study_of(stage)
            if curves is not None:
                _set_curves(stage, curves)
            if st is not None:
                finish(stage, st, log, on_results)
    return study, out


def _set_curves(stage: Path, curves: int) -> None:
    """Record in ``stage/sweep.json`` how many trials' curves its report draws."""
    info = json.loads((stage / "sweep.json").read_text())
    atomic_write_text(stage / "sweep.json", json.dumps(dict(info, curves=curves), indent=2))


def load_study_of(folder: Path) -> optuna.Study | None:
    """The study named by ``folder/sweep.json``, or None when its storage URL's password is not recorded."""
    info = json.loads((folder / "sweep.json").read_text())
    url = default_storage(folder) if info.get("default_storage") else info.get("storage")
    if not url or "***" in url:
        return None
    return load_existing_study(url, info["study"])
