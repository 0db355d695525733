"""Joining a sweep's study: a worker's sweep must match the study it joins (its search space, its base
config and the metric that picked each trial's best epoch), so that the study's trials stay comparable."""

from __future__ import annotations

import json

import optuna
import yaml
from optuna.trial import TrialState

from vislab.config import build_config, config_differences
from vislab.config.build import setting
from vislab.errors import UserError
from vislab.experiments.sweeps import attrs
from vislab.experiments.sweeps.samplers import SeededAtFirstTrial
from vislab.experiments.sweeps.space import space_yaml
from vislab.experiments.sweeps.spec import Sweep
from vislab.experiments.sweeps.study import open_study


def join_study(sweep: Sweep, storage) -> optuna.Study:
    """Open (or create) study ``sweep.name``; a seeded sampler is seeded at this worker's first trial, by
    its number (:class:`~vislab.experiments.sweeps.samplers.SeededAtFirstTrial`): it never replays the
    samples of other workers, earlier or started at the same time. UserError when it was started with
    another search space (:func:`_check_same_space`)."""
    study = open_study(sweep, storage)
    if sweep.seed is not None:
        study.sampler = SeededAtFirstTrial(sweep, sweep.seed)
    stored = study.user_attrs.get(attrs.SPACE)
    if stored is not None:
        _check_same_space(study.study_name, stored, sweep.distributions)
    return study


def _check_same_space(name: str, stored: dict, distributions: dict) -> None:
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
    --overwrite would not start another). Where and how a worker runs (config.RESULT_NEUTRAL_KEYS:
    data.root, train.device, ...) may differ between machines."""
    resolved = json.loads(json.dumps(build_config(base, source="sweep base").to_dict()))
    stored = study.user_attrs.get(attrs.BASE)
    if stored is None:
        study.set_user_attr(attrs.BASE, resolved)
        return
    diff = config_differences(stored, resolved)
    if diff and all(d.startswith("train.select_metric") for d in diff):
        raise UserError(_selected_before(study, stored, shared))
    if diff and _only_failed(study):
        raise UserError(
            f"study '{study.study_name}' was started with another base config ({'; '.join(diff[:5])}"
            f"{'; …' if len(diff) > 5 else ''}), and each of its trials failed: none finished. To start "
            + (
                f"another study with this base: {_another_study(shared)}."
                if shared
                else "it over with this base, add --overwrite (Python: overwrite=True), which deletes the "
                "failed trials; or give the sweep another name (the name: key of its file), another "
                "--out or --storage (Python: out=, storage=)."
            )
        )
    if diff:
        raise UserError(
            f"study '{study.study_name}' was started with another base config ({'; '.join(diff[:5])}"
            f"{'; …' if len(diff) > 5 else ''}), so its trials would not be comparable with these. Join "
            f"it with the same sweep file and --data/--epochs/--set options (Python: data=, epochs=, "
            f"overrides= or section__key=), or start another study: {_another_study(shared)}."
        )


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


def _selected_before(study: optuna.Study, stored: dict, shared: bool) -> str:
    """Why a study whose trials chose their best epoch by another metric (a vislab before trials were
    scored at their best by the sweep's metric, or another train.select_metric) is not joined, and the
    two ways on."""
    was = setting(stored, "train.select_metric")
    return (
        f"study '{study.study_name}' chose each trial's best epoch by {was} (train.select_metric: a "
        f"vislab before each trial was scored at its best by the sweep's metric picks by {was}), so its "
        f"trials would not be comparable with these. To go on with it as it was: add --set "
        f"train.select_metric={was} (Python: train__select_metric={was!r}), or put it in the base of the "
        f"sweep file; to start again scored by the metric: {_another_study(shared)}."
    )
