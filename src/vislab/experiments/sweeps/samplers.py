"""The sampler and pruner a sweep names (``sampler:``, ``pruner:``: a name, or ``{name: ..., option: value}``
whose options go to the Optuna class), and the Optuna warnings vislab causes knowingly."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import optuna

from vislab.errors import ConfigError
from vislab.experiments.sweeps.space import grid_of
from vislab.experiments.sweeps.spec import PRUNERS, SAMPLERS, Sweep

# Optuna's ExperimentalWarnings for what vislab uses on purpose: heartbeats and re-queuing stale trials
# (RDBStorage's heartbeat_interval, Retry*TrialCallback) and TPE's constant_liar (experimental before 4.0).
KNOWN_OPTUNA_WARNINGS = (
    r"Argument ``(heartbeat_interval|constant_liar)`` is an experimental feature",
    r".*Retry\w*TrialCallback is experimental",
)


@contextmanager
def known_optuna_warnings() -> Iterator[None]:
    """Silence the Optuna warnings vislab causes knowingly (:data:`KNOWN_OPTUNA_WARNINGS`); any other
    warning (a user's deprecated sampler option, a range that does not fit its step) still shows."""
    with warnings.catch_warnings():
        for message in KNOWN_OPTUNA_WARNINGS:
            warnings.filterwarnings(
                "ignore", message=message, category=optuna.exceptions.ExperimentalWarning
            )
        yield


def build_sampler(sweep: Sweep, seed: int | None) -> optuna.samplers.BaseSampler:
    """The sweep's sampler (TPE by default, with constant_liar: workers in parallel spread out)."""
    opts = sweep.sampler or "tpe"
    opts = {"name": opts} if isinstance(opts, str) else dict(opts)
    name = opts.pop("name", "tpe")
    try:
        if name == "random":
            return optuna.samplers.RandomSampler(seed=seed, **opts)
        if name == "grid":
            return optuna.samplers.GridSampler(grid_of(sweep.distributions), seed=seed, **opts)
        if name == "tpe":
            with known_optuna_warnings():
                return optuna.samplers.TPESampler(seed=seed, **{"constant_liar": True, **opts})
    except TypeError as e:
        raise ConfigError(f"sampler '{name}': {e}") from None
    raise ConfigError(f"sampler '{name}' is not one of {', '.join(SAMPLERS)}.")


def build_pruner(sweep: Sweep) -> optuna.pruners.BasePruner:
    """The sweep's pruner (none by default)."""
    opts = sweep.pruner or "none"
    opts = {"name": opts} if isinstance(opts, str) else dict(opts)
    name = opts.pop("name", "none")
    classes = {
        "none": optuna.pruners.NopPruner,
        "median": optuna.pruners.MedianPruner,
        "halving": optuna.pruners.SuccessiveHalvingPruner,
        "hyperband": optuna.pruners.HyperbandPruner,
    }
    if name not in classes:
        raise ConfigError(f"pruner '{name}' is not one of {', '.join(PRUNERS)}.")
    try:
        return classes[name](**opts)
    except TypeError as e:
        raise ConfigError(f"pruner '{name}': {e}") from None
