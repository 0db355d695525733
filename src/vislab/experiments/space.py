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
pruner: none                      # none | median | halving  (or {name: median, n_warmup_steps: 2})
trials: 20                        # finished trials the study should hold
seed: 0                           # sampler seed (single worker reproducibility)
"""

from __future__ import annotations

import json
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

from vislab.config import ConfigBase, SpecFile, load_spec, read_base, validate
from vislab.errors import ConfigError

METRICS = ("val_pacc", "val_acc", "val_loss")
SAMPLERS = ("random", "grid", "tpe")
PRUNERS = ("none", "median", "halving")
SWEEP_DIR = Path(__file__).parent / "sweeps"


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
    """Read and check a sweep file (or a built-in sweep name): the file's keys plus ``name``, ``path``,
    ``metric``, ``direction`` and ``distributions`` (Optuna objects); ConfigError naming the file and the
    key path of each mistake."""
    p, _, spec = load_spec(
        path, SweepSpec, "sweep", SWEEP_DIR, "a mapping with base:, space:, metric: ..."
    )
    return dict(
        spec.model_dump(exclude_unset=True),
        name=spec.name or p.stem,
        path=str(p),
        base=read_base(spec.base, p),
        metric=spec.metric,
        direction=spec.direction or ("minimize" if spec.metric.endswith("loss") else "maximize"),
        distributions={key: param.distribution() for key, param in spec.space.items()},
    )


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
    categoricals (report 003's second stage)."""
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
