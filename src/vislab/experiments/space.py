"""Sweep files: a base config, a search space over any dotted config key, the metric and the search method.

name: cnn-lr                      # Optuna study name (default: the file's stem)
base: {model: {name: cnn}, ...}   # or the path / preset name of a config YAML
space:
  optim.lr: {type: float, low: 1.0e-4, high: 1.0e-1, log: true}
  model.depth: {type: int, low: 2, high: 8}
  optim.name: {type: categorical, choices: [sgd, adam]}
metric: val_pacc                  # val_pacc | val_acc | val_loss (never a test metric)
direction: maximize
sampler: tpe                      # random | grid | tpe  (or {name: tpe, n_startup_trials: 5})
pruner: none                      # none | median | halving | hyperband  (or {name: median, n_warmup_steps: 2})
trials: 20                        # finished trials the study should hold
seed: 0                           # sampler seed (single worker reproducibility)
curves: 30                        # the report draws the training curves of the best 30 trials

A space key ending in a number sets one item of a list (``model.widths.1``). A Weights & Biases sweep file
(``method:``, ``parameters:``, ...) is read as it is: see :mod:`vislab.experiments.wandb_sweep`.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from pydantic import AfterValidator, Field, field_validator, model_validator

from vislab.config import (
    ConfigBase,
    SpecFile,
    find_yaml,
    read_base,
    read_yaml,
    set_dotted,
    validate,
)
from vislab.errors import ConfigError
from vislab.experiments.wandb_sweep import from_wandb, is_wandb_sweep

METRICS = ("val_pacc", "val_acc", "val_loss")
SAMPLERS = ("random", "grid", "tpe")
PRUNERS = ("none", "median", "halving", "hyperband")
SWEEP_DIR = Path(__file__).parent / "sweeps"
DEFAULT_CURVES = (
    30  # a sweep report's training curves: the best 30 trials (as the DLVC assignment 1 report)
)


class SpaceParam(SpecFile):
    """One ``space:`` entry: a float or int range, or categorical choices."""

    type: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _is_a_distribution(self) -> SpaceParam:
        self.distribution()  # Optuna's own checks (low <= high, log needs low > 0, ...) as ValueErrors
        return self

    def distribution(self) -> BaseDistribution:
        """The Optuna distribution (list/dict choices are encoded as JSON strings)."""
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical needs a non-empty 'choices:' list")
            return CategoricalDistribution([encode(c) for c in self.choices])
        if self.low is None or self.high is None:
            raise ValueError(f"a {self.type} needs 'low:' and 'high:'")
        try:
            if self.type == "int":
                step = 1 if self.step is None else int(self.step)
                return IntDistribution(int(self.low), int(self.high), log=self.log, step=step)
            return FloatDistribution(self.low, self.high, log=self.log, step=self.step)
        except (TypeError, OverflowError) as e:  # int(inf)
            raise ValueError(str(e)) from None


def _name_or_options(choices: tuple[str, ...], default: str) -> Any:
    """The type of a ``sampler:``/``pruner:`` key: a name, or ``{name: ..., option: value}`` whose options
    go to the Optuna class (``null``: the default)."""

    def check(value: Any) -> Any:
        name = value.get("name", default) if isinstance(value, dict) else value
        if value is not None and (not isinstance(value, (str, dict)) or name not in choices):
            raise ValueError(
                f"must be one of {', '.join(choices)}, or a mapping {{name: ..., option: value}}"
            )
        return value

    return Annotated[Any, AfterValidator(check)]


SamplerChoice = _name_or_options(SAMPLERS, "tpe")
PrunerChoice = _name_or_options(PRUNERS, "none")


class SweepSpec(SpecFile):
    """A sweep file."""

    name: str | None = Field(None, description="the Optuna study name (default: the file's stem)")
    description: str | None = None
    base: ConfigBase = {}
    space: dict[str, SpaceParam] = Field(
        min_length=1,
        description="config key → {type: float|int|categorical, low:, high:, log:, step:, choices:}",
    )
    metric: str = "val_pacc"
    direction: Literal["maximize", "minimize"] | None = None
    sampler: SamplerChoice = None
    pruner: PrunerChoice = None
    trials: int | None = Field(None, ge=0)
    timeout: float | None = Field(None, ge=0)
    seed: int | None = None
    curves: int = Field(
        DEFAULT_CURVES, ge=1, description="training curves of the best K trials in the report"
    )

    @field_validator("metric")
    @classmethod
    def _validation_metric(cls, metric: str) -> str:
        if metric not in METRICS:
            raise ValueError(
                f"must be one of {', '.join(METRICS)} (hyper-parameters are chosen on validation "
                f"data, never on test)"
            )
        return metric


def builtin_sweeps() -> list[str]:
    return sorted(f.stem for f in SWEEP_DIR.glob("*.yaml"))


def load_sweep(path: str | Path) -> dict:
    """Read and check a sweep file (or a built-in sweep name; a W&B sweep file is translated first): the
    file's keys plus ``name``, ``path``, ``metric``, ``direction``, ``distributions`` (Optuna objects),
    ``curves`` and ``notes`` (what a W&B file holds that vislab ignores); ConfigError naming the file and the
    key path of each mistake."""
    p = find_yaml(path, SWEEP_DIR)
    expect = "a mapping with base:, space:, metric: ... (or a W&B sweep: method:, parameters:, ...)"
    tree = read_yaml(p, kind="sweep", builtin_dir=SWEEP_DIR, builtin_word="sweep", expect=expect)
    notes: list[str] = []
    if is_wandb_sweep(tree):
        tree, notes = from_wandb(tree, str(p))
    spec = validate(SweepSpec, tree, str(p), kind="sweep")
    return dict(
        spec.model_dump(exclude_unset=True),
        name=spec.name or p.stem,
        path=str(p),
        base=read_base(spec.base, p),
        metric=spec.metric,
        direction=spec.direction or ("minimize" if spec.metric.endswith("loss") else "maximize"),
        distributions={key: param.distribution() for key, param in spec.space.items()},
        curves=spec.curves,
        notes=notes,
    )


def apply_values(tree: dict, values: dict[str, Any]) -> None:
    """Set each dotted key of ``values`` in a config tree. A key ending in a number sets that item of a list
    (``model.widths.1``): of the list the tree holds, or of one built from item 0 up."""
    items: dict[str, dict[int, Any]] = {}
    for key, value in values.items():
        head, _, last = key.rpartition(".")
        if head and last.isdigit():
            items.setdefault(head, {})[int(last)] = value
        else:
            set_dotted(tree, key, value)
    for key, by_index in items.items():
        current = _get_dotted(tree, key)
        new = list(current) if isinstance(current, (list, tuple)) else []
        for i in sorted(by_index):
            if i > len(new):
                raise ConfigError(
                    f"'{key}.{i}' is swept but '{key}' has no item {len(new)}: give the whole list in the "
                    f"base (--set {key}=[...]) or sweep its items from '{key}.0' up."
                )
            new[i : i + 1] = [by_index[i]]
        set_dotted(tree, key, new)


def _get_dotted(tree: dict, key: str) -> Any:
    node: Any = tree
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def to_distribution(key: str, s: Any) -> BaseDistribution:
    """One ``space:`` entry (e.g. a study's stored narrowed space) → an Optuna distribution."""
    return validate(SpaceParam, s, f"space '{key}'", kind="sweep").distribution()


def encode(choice: Any) -> Any:
    """Optuna choices must be scalars: lists/dicts (e.g. model.widths) travel as JSON text."""
    return json.dumps(choice) if isinstance(choice, (list, dict)) else choice


def decode(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def suggest(trial: optuna.Trial, distributions: dict[str, BaseDistribution]) -> dict[str, Any]:
    """Ask the trial for every parameter; returns {dotted key: config value}."""
    values = {}
    for key, d in distributions.items():
        if isinstance(d, CategoricalDistribution):
            v = trial.suggest_categorical(key, d.choices)
        elif isinstance(d, IntDistribution):
            v = trial.suggest_int(key, d.low, d.high, step=d.step, log=d.log)
        else:
            v = trial.suggest_float(key, d.low, d.high, step=d.step, log=d.log)
        values[key] = decode(v)
    return values


def grid_of(distributions: dict[str, BaseDistribution]) -> dict[str, list]:
    """The grid sampler's values per parameter: categorical choices, or int/float ranges with a step."""
    grid = {}
    for key, d in distributions.items():
        if isinstance(d, CategoricalDistribution):
            grid[key] = list(d.choices)
        elif isinstance(d, IntDistribution) and not d.log:
            grid[key] = list(range(d.low, d.high + 1, d.step))
        elif isinstance(d, FloatDistribution) and d.step is not None:
            n = int(round((d.high - d.low) / d.step))
            grid[key] = [float(d.low + i * d.step) for i in range(n + 1)]
        else:
            raise ConfigError(
                f"sampler: grid needs a finite set of values for '{key}': use type: categorical "
                f"with choices, or a step: on the range."
            )
    return grid


def grid_size(distributions: dict[str, BaseDistribution]) -> int:
    return int(np.prod([len(v) for v in grid_of(distributions).values()]))


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


def build_sampler(spec: dict, seed: int | None) -> optuna.samplers.BaseSampler:
    opts = spec.get("sampler") or "tpe"
    opts = {"name": opts} if isinstance(opts, str) else dict(opts)
    name = opts.pop("name", "tpe")
    try:
        if name == "random":
            return optuna.samplers.RandomSampler(seed=seed, **opts)
        if name == "grid":
            return optuna.samplers.GridSampler(grid_of(spec["distributions"]), seed=seed, **opts)
        if name == "tpe":
            with known_optuna_warnings():
                return optuna.samplers.TPESampler(seed=seed, **{"constant_liar": True, **opts})
    except TypeError as e:
        raise ConfigError(f"sampler '{name}': {e}") from None
    raise ConfigError(f"sampler '{name}' is not one of {', '.join(SAMPLERS)}.")


def build_pruner(spec: dict) -> optuna.pruners.BasePruner:
    opts = spec.get("pruner") or "none"
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


def narrowed(
    distributions: dict[str, BaseDistribution], best: list[optuna.trial.FrozenTrial]
) -> dict[str, BaseDistribution]:
    """Ranges restricted to the values of the ``best`` trials: [min, max] for numbers, the values seen for
    categoricals (the second stage of the DLVC assignment 1 ViT sweep)."""
    out: dict[str, BaseDistribution] = {}
    for key, d in distributions.items():
        seen = [t.params[key] for t in best if key in t.params]
        if not seen:
            out[key] = d
        elif isinstance(d, CategoricalDistribution):
            out[key] = CategoricalDistribution([c for c in d.choices if c in seen])
        elif isinstance(d, IntDistribution):
            out[key] = IntDistribution(int(min(seen)), int(max(seen)), log=d.log, step=d.step)
        else:
            out[key] = FloatDistribution(float(min(seen)), float(max(seen)), log=d.log, step=d.step)
    return out


def space_yaml(distributions: dict[str, BaseDistribution]) -> dict:
    """Distributions back to the ``space:`` notation (for the narrowed stage's sweep.yaml)."""
    out = {}
    for key, d in distributions.items():
        if isinstance(d, CategoricalDistribution):
            out[key] = {"type": "categorical", "choices": [decode(c) for c in d.choices]}
        else:
            kind = "int" if isinstance(d, IntDistribution) else "float"
            out[key] = {
                "type": kind,
                "low": d.low,
                "high": d.high,
                "log": d.log,
                **(
                    {"step": d.step}
                    if d.step is not None and not (kind == "int" and d.step == 1)
                    else {}
                ),
            }
    return out
