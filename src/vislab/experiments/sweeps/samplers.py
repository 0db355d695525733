"""The sampler and pruner a sweep names (``sampler:``, ``pruner:``: a name, or ``{name: ..., option: value}``
whose options go to the Optuna class), checked when the sweep file is read (:func:`check_options`), and the
Optuna warnings vislab causes knowingly."""

from __future__ import annotations

import difflib
import inspect
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState

from vislab.errors import ConfigError
from vislab.experiments.sweeps.space import grid_of

if TYPE_CHECKING:
    from vislab.experiments.sweeps.spec import Sweep

SAMPLERS = ("random", "grid", "tpe")
PRUNERS = ("none", "median", "halving", "hyperband")
_PRUNER_CLASSES = {
    "none": optuna.pruners.NopPruner,
    "median": optuna.pruners.MedianPruner,
    "halving": optuna.pruners.SuccessiveHalvingPruner,
    "hyperband": optuna.pruners.HyperbandPruner,
}
_SAMPLER_CLASSES = {
    "random": optuna.samplers.RandomSampler,
    "grid": optuna.samplers.GridSampler,
    "tpe": optuna.samplers.TPESampler,
}

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


def name_and_options(value: Any, default: str) -> tuple[str, dict]:
    """A ``sampler:``/``pruner:`` value (a name, a mapping, or None: ``default``) → its name and options."""
    opts = {"name": value or default} if not isinstance(value, dict) else dict(value)
    return opts.pop("name", default), opts


def _sampler_maker(
    name: str, distributions: dict[str, BaseDistribution], seed: int | None
) -> Callable[..., optuna.samplers.BaseSampler]:
    """A function of the sampler's options that makes sampler ``name`` (TPE with constant_liar: workers in
    parallel spread out)."""
    if name == "grid":
        return lambda **o: optuna.samplers.GridSampler(grid_of(distributions), seed=seed, **o)
    if name == "tpe":
        return lambda **o: optuna.samplers.TPESampler(seed=seed, **{"constant_liar": True, **o})
    return lambda **o: _SAMPLER_CLASSES[name](seed=seed, **o)


def build_sampler(sweep: Sweep, seed: int | None) -> optuna.samplers.BaseSampler:
    """The sweep's sampler (TPE by default); its options were checked by :func:`check_options`."""
    name, opts = name_and_options(sweep.sampler, "tpe")
    if name not in _SAMPLER_CLASSES:
        raise ConfigError(f"sampler '{name}' is not one of {', '.join(SAMPLERS)}.")
    with known_optuna_warnings():
        return _sampler_maker(name, sweep.distributions, seed)(**opts)


class SeededAtFirstTrial(optuna.samplers.BaseSampler):
    """One worker's sampler of a seeded sweep: :func:`build_sampler`'s, made at the worker's first trial
    with the sweep's ``seed`` plus that trial's number. Optuna gives each trial its own number (the
    study's trial count as the trial is made, or a queued trial's), so each worker's number is its own:
    workers started together draw distinct samples, a worker joining later never replays an earlier one's,
    and a worker alone in a new study (first trial 0) draws by the seed itself, reproducibly."""

    def __init__(self, sweep: Sweep, seed: int):
        self._sweep, self._seed = sweep, seed
        self._sampler: optuna.samplers.BaseSampler | None = None

    def _of(self, trial: FrozenTrial) -> optuna.samplers.BaseSampler:
        if self._sampler is None:  # the worker's first trial: the seed is known
            self._sampler = build_sampler(self._sweep, (self._seed + trial.number) % 2**32)
        return self._sampler

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._of(trial).before_trial(study, trial)

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self._of(trial).infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self._of(trial).sample_relative(study, trial, search_space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        sampler = self._of(trial)
        return sampler.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self._of(trial).after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        if self._sampler is not None:
            self._sampler.reseed_rng()


def build_pruner(sweep: Sweep) -> optuna.pruners.BasePruner:
    """The sweep's pruner (none by default); its options were checked by :func:`check_options`."""
    name, opts = name_and_options(sweep.pruner, "none")
    if name not in _PRUNER_CLASSES:
        raise ConfigError(f"pruner '{name}' is not one of {', '.join(PRUNERS)}.")
    return _PRUNER_CLASSES[name](**opts)


def check_options(
    sampler: Any, pruner: Any, distributions: dict[str, BaseDistribution], source: str
) -> None:
    """ConfigError naming ``source`` (the sweep file) and the key (``pruner.n_warmup_steps``) when an
    option of the sampler or pruner is not one of its Optuna class, or a value it refuses: the sweep is
    refused before anything is made, not at its first trial."""
    name, opts = name_and_options(sampler, "tpe")
    _check(
        "sampler", name, opts, _SAMPLER_CLASSES[name],
        _sampler_maker(name, distributions, None), source,
    )  # fmt: skip
    name, opts = name_and_options(pruner, "none")
    _check("pruner", name, opts, _PRUNER_CLASSES[name], _pruner_checked(name), source)


def _pruner_checked(name: str) -> Callable[..., Any]:
    """A function of the pruner's options that makes it as Optuna checks them: HyperbandPruner checks its
    reduction_factor, min_resource and max_resource only at its first trial, as it makes its brackets
    (SuccessiveHalvingPruners; a max_resource of 0 fails each trial with a math domain error)."""
    if name != "hyperband":
        return _PRUNER_CLASSES[name]

    def hyperband(**opts: Any) -> Any:
        rf = opts.get("reduction_factor", 3)
        optuna.pruners.SuccessiveHalvingPruner(reduction_factor=rf)
        _check_resources(opts.get("min_resource", 1), opts.get("max_resource", "auto"))
        return optuna.pruners.HyperbandPruner(**opts)

    return hyperband


def _check_resources(low: Any, high: Any) -> None:
    """ValueError unless hyperband's ``low`` (min_resource) and ``high`` (max_resource) are integers of at
    least 1 (max_resource also 'auto'), ``low`` at most ``high``."""
    for key, value in (("min_resource", low), ("max_resource", high)):
        whole = isinstance(value, int) and not isinstance(value, bool)
        if not (whole and value >= 1) and not (key == "max_resource" and value == "auto"):
            also = " or 'auto'" if key == "max_resource" else ""
            raise ValueError(f"{key} must be an integer of at least 1{also}, not {value!r}")
    if isinstance(high, int) and low > high:
        raise ValueError(f"min_resource {low} is larger than max_resource {high}")


def _check(
    key: str, name: str, opts: dict, cls: type, make: Callable[..., Any], source: str
) -> None:
    """:func:`check_options` for one of the two: unknown options first (with did-you-mean), then all of
    them together; where Optuna refuses them, the option it refuses alone is named (else all of them)."""
    accepted = [
        p for p in inspect.signature(cls).parameters if p not in ("self", "seed", "search_space")
    ]
    listed = f"{key} '{name}' (Optuna's {cls.__name__}): {', '.join(accepted) or 'none'}"
    for option in opts:
        if option not in accepted:
            near = difflib.get_close_matches(option, accepted, n=1)
            hint = f" Did you mean '{key}.{near[0]}'?" if near else ""
            if option == "seed":  # vislab seeds the sampler from the sweep's own seed: key
                given = opts[option]
                hint = f" The sampler's seed is the sweep's top-level key: seed: {given!r} beside {key}:."
            raise ConfigError(
                f"Invalid sweep ({source}):\n  unknown sweep key '{key}.{option}'.{hint} Valid keys for "
                f"{listed}."
            )
    error = _refusal(make, opts)
    if error is None:
        return
    alone = [(o, v, e) for o, v in opts.items() if (e := _refusal(make, {o: v})) is not None]
    option, value, error = alone[0] if alone else (None, None, error)  # the culprit, where one is
    where = f"value '{key}.{option}' = {value!r}" if option else f"{key} '{name}' with {opts}"
    raise ConfigError(
        f"Invalid sweep ({source}):\n  sweep {where} is invalid: Optuna's {cls.__name__} refuses it "
        f"({str(error).rstrip('.')}). Fix it in the sweep's '{key}:' (valid keys for {listed}; "
        f"Optuna's documentation of {cls.__name__} says their values)."
    )


def _refusal(make: Callable[..., Any], opts: dict) -> Exception | None:
    """What ``make(**opts)`` raises (Optuna's TypeError or ValueError for an option), or None."""
    try:
        with known_optuna_warnings():
            make(**opts)
    except (TypeError, ValueError) as e:
        return e
    return None


def pruner_notes(pruner: Any, epochs: int | None, wandb: bool = False) -> list[str]:
    """A note when the pruner can never act on trials of ``epochs`` epochs (None: the space draws them): a
    trial is pruned at the earliest at the step (epoch) of its warm-up or first rung, never at its last.
    ``wandb``: the sweep is a W&B file, whose early_terminate.min_iter gives the first rung."""
    name, opts = name_and_options(pruner, "none")
    if epochs is None or name == "none":
        return []
    key = "n_warmup_steps" if name == "median" else "min_resource"
    first = opts.get(key, 0 if name == "median" else "auto")
    if not isinstance(first, int) or max(first, 1) < epochs:
        return []
    said = "early_terminate.min_iter" if wandb and key == "min_resource" else key
    fix = (
        f"a {said.rpartition('.')[2]} below {epochs}, or more epochs"
        if epochs > 1
        else "more epochs"
    )
    return [
        f"pruner '{name}' never prunes: its first chance is epoch {max(first, 1)} ({said}: {first}), "
        f"but a trial trains {epochs} epoch{'s' if epochs != 1 else ''} (train.epochs) and is never "
        f"pruned at its last: give it {fix}"
    ]
