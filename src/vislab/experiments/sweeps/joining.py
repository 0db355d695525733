"""Joining a sweep's study: a worker's sweep must match the study it joins (its search space, its base
config and the metric that picked each trial's best epoch), so that the study's trials stay comparable."""

from __future__ import annotations

import json
from functools import partial

import optuna
import yaml
from optuna.trial import TrialState

from vislab.config import Config, as_stored, build_config, config_differences
from vislab.config.build import setting
from vislab.config.former_defaults import at_former_defaults, keep_former
from vislab.config.reads import get_dotted, idle_settings
from vislab.errors import ConfigError, UserError
from vislab.experiments.sweeps import attrs
from vislab.experiments.sweeps.samplers import SeededAtFirstTrial
from vislab.experiments.sweeps.space import space_yaml
from vislab.experiments.sweeps.spec import Sweep
from vislab.experiments.sweeps.study import open_study


def join_study(sweep: Sweep, storage) -> optuna.Study:
    """Open (or create) study ``sweep.name``; a seeded sampler is seeded at this worker's first trial, by
    its number (:class:`~vislab.experiments.sweeps.samplers.SeededAtFirstTrial`): it never replays the
    samples of other workers, earlier or started at the same time. UserError when it was started with
    another search space (:func:`check_same_space`)."""
    study = open_study(sweep, storage)
    if sweep.seed is not None:
        study.sampler = SeededAtFirstTrial(sweep, sweep.seed)
    stored = study.user_attrs.get(attrs.SPACE)
    if stored is not None:
        check_same_space(study.study_name, stored, sweep.distributions)
    return study


def check_same_space(name: str, stored: dict, distributions: dict) -> None:
    """UserError naming each difference between the space study ``name`` was started with (``stored``)
    and this worker's: its trials would be drawn from two spaces, and its best compared across them."""
    given = json.loads(json.dumps(space_yaml(distributions)))
    changed = [f"'{k}' is not in the study's space" for k in given if k not in stored]
    changed += [f"'{k}' of the study's space is missing" for k in stored if k not in given]
    changed += [
        f"'{k}': {_flow(given[k])} here, {_flow(stored[k])} in the study"
        for k in given
        if k in stored and given[k] != stored[k]
    ]
    if changed:
        raise UserError(
            f"study '{name}' was started with another search space ({'; '.join(changed)}), so nothing "
            f"was trained: its trials would be drawn from two spaces. Join it with the same sweep file "
            f"(its space: as the study was started), or start another study: give the sweep another "
            f"name (the name: key of its file), or start it over with --overwrite (Python: "
            f"overwrite=True; not with a --storage of yours)."
        )


def _flow(entry: dict) -> str:
    """A space entry in one line, as a sweep file writes it: {type: float, low: 0.001, high: 0.1, ...}."""
    return yaml.safe_dump(entry, default_flow_style=True, sort_keys=False).strip()


def check_same_base(study: optuna.Study, base: dict, shared: bool = False) -> None:
    """A study's trials share one base config (the sweep file's base: plus --data/--epochs/--set). Joining it
    with another base would rank trials trained on different data or budgets together: refuse (``shared``:
    the study is in a storage of the user's, by name, not in the sweep folder's study.db: another --out or
    --overwrite would not start another), naming a difference that is an older vislab's default
    (``config.former_defaults``) and the --set that keeps it. Where and how a worker runs
    (config.RESULT_NEUTRAL_KEYS: data.root, train.device, ...) may differ between machines, and a setting
    that does nothing under either base whatever the trials draw (schedule.gamma with schedule.name=none)
    is no difference."""
    cfg = build_config(base, source="sweep base")
    resolved = json.loads(json.dumps(cfg.to_dict()))
    stored = study.user_attrs.get(attrs.BASE)
    if stored is None:
        study.set_user_attr(attrs.BASE, resolved)
        return
    diff = _not_idle(config_differences(stored, resolved), study, stored, cfg)
    if not diff:
        return
    keys = {d.partition(":")[0] for d in diff}
    found = {k: v for k, v in at_former_defaults(stored, cfg, sweep=True).items() if k in keys}
    then = "to go on with it" if set(found) == keys else "to keep that"
    older = f" It was {keep_former(found, then)}." if found else ""
    if keys == {"train.select_metric"}:
        raise UserError(_selected_before(study, stored, shared, older))
    if _only_failed(study):
        raise UserError(
            f"study '{study.study_name}' was started with another base config ({_listed(diff)}), and "
            f"each of its trials failed: none finished.{older} To start "
            + (
                f"another study with this base: {_another_study(shared)}."
                if shared
                else "it over with this base, add --overwrite (Python: overwrite=True), which deletes the "
                "failed trials; or give the sweep another name (the name: key of its file), another "
                "--out or --storage (Python: out=, storage=)."
            )
        )
    join = (
        " Or start another study:"
        if then == "to go on with it"
        else " Join it with the same sweep file and --data/--epochs/--set options (Python: data=, "
        "epochs=, overrides= or section__key=), or start another study:"
    )
    raise UserError(
        f"study '{study.study_name}' was started with another base config ({_listed(diff)}), so its "
        f"trials would not be comparable with these.{older}{join} {_another_study(shared)}."
    )


def _not_idle(diff: list[str], study: optuna.Study, stored: dict, cfg: Config) -> list[str]:
    """The ``key: old → new`` differences ``diff`` between the study's base (``stored``) and this one
    (``cfg``) but a setting that does nothing under both (``config.reads.idle_settings``), where the keys
    of the study's space, which its trials set, cannot change that."""
    try:
        was = build_config(as_stored(stored), source="study's base")
    except ConfigError:  # no longer a valid config: every difference counts
        return diff
    space = list(study.user_attrs.get(attrs.SPACE) or ())
    idle = [set(idle_settings(partial(get_dotted, c), varied=space)) for c in (was, cfg)]
    return [d for d in diff if d.partition(":")[0] not in idle[0] & idle[1]]


def _listed(diff: list[str]) -> str:
    """The first five differences, '; '-separated, and '…' when there are more."""
    return f"{'; '.join(diff[:5])}{'; …' if len(diff) > 5 else ''}"


def _another_study(shared: bool) -> str:
    """How to start another study than the one joined: in a storage of the user's (``shared``) the study is
    kept by its name, so a new name or another storage; else also another folder or --overwrite."""
    if shared:
        return (
            "give the sweep another name (the name: key of its file; the --storage keeps each study by "
            "its name, whatever the --out), or another --storage (Python: storage=)"
        )
    return (
        "give the sweep another name (the name: key of its file), another --out or --storage (Python: "
        "out=, storage=), or use --overwrite (Python: overwrite=True) to delete this one"
    )


def _only_failed(study: optuna.Study) -> bool:
    """Whether the study holds trials and every one of them failed (none finished, runs or waits)."""
    trials = study.get_trials(deepcopy=False)
    return bool(trials) and all(t.state == TrialState.FAIL for t in trials)


def _selected_before(study: optuna.Study, stored: dict, shared: bool, older: str) -> str:
    """Why a study whose trials chose their best epoch by another metric (a vislab before trials were
    scored at their best by the sweep's metric, or another train.select_metric) is not joined, and the
    two ways on; ``older``: the sentence naming an older vislab's default, where it was one."""
    was = setting(stored, "train.select_metric")
    on = (
        f"{older} Or put it in the base of the sweep file"
        if older
        else f" To go on with it as it was: add --set train.select_metric={was} (Python: "
        f"train__select_metric={was!r}), or put it in the base of the sweep file"
    )
    return (
        f"study '{study.study_name}' chose each trial's best epoch by {was} (train.select_metric), so "
        f"its trials would not be comparable with these.{on}; to start again scored by the metric: "
        f"{_another_study(shared)}."
    )
