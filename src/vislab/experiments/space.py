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
from typing import Any

import numpy as np
import optuna
import yaml
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from vislab.config import read_yaml
from vislab.errors import ConfigError

METRICS = ("val_pacc", "val_acc", "val_loss")
TOP_KEYS = {
    "name",
    "description",
    "base",
    "space",
    "metric",
    "direction",
    "sampler",
    "pruner",
    "trials",
    "timeout",
    "seed",
}


SWEEP_DIR = Path(__file__).parent / "sweeps"


def builtin_sweeps() -> list[str]:
    return sorted(f.stem for f in SWEEP_DIR.glob("*.yaml"))


def load_sweep(path: str | Path) -> dict:
    """Read and check a sweep file (or a built-in sweep name); returns the spec with ``distributions``
    (Optuna objects) added."""
    p = Path(path)
    if not p.is_file() and (SWEEP_DIR / f"{path}.yaml").is_file():
        p = SWEEP_DIR / f"{path}.yaml"
    if not p.is_file():
        raise ConfigError(
            f"sweep file '{path}' does not exist. Give a YAML file with base:, space:, metric: ... "
            f"or a built-in sweep: {', '.join(builtin_sweeps()) or 'none'}."
        )
    try:
        spec = yaml.safe_load(p.read_text()) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"sweep file '{p}' is not valid YAML: {e}") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("space"), dict) or not spec["space"]:
        raise ConfigError(
            f"sweep file '{p}' needs a 'space:' mapping of config key → "
            f"{{type: float|int|categorical, ...}}."
        )
    unknown = set(spec) - TOP_KEYS
    if unknown:
        raise ConfigError(
            f"sweep file '{p}' has unknown keys {sorted(unknown)}; valid: {', '.join(sorted(TOP_KEYS))}."
        )
    base = spec.get("base") or {}
    if isinstance(base, str):
        base = read_yaml(
            base if Path(base).is_absolute() or not (p.parent / base).is_file() else p.parent / base
        )
    spec = dict(spec, base=base, name=str(spec.get("name") or p.stem), path=str(p))
    spec.setdefault("metric", "val_pacc")
    if spec["metric"] not in METRICS:
        raise ConfigError(
            f"sweep metric '{spec['metric']}' must be one of {', '.join(METRICS)} "
            f"(hyper-parameters are chosen on validation data, never on test)."
        )
    spec.setdefault("direction", "minimize" if spec["metric"].endswith("loss") else "maximize")
    if spec["direction"] not in ("maximize", "minimize"):
        raise ConfigError(f"sweep direction '{spec['direction']}' must be maximize or minimize.")
    spec["distributions"] = {key: to_distribution(key, s) for key, s in spec["space"].items()}
    return spec


def to_distribution(key: str, s: Any) -> BaseDistribution:
    """One ``space:`` entry → an Optuna distribution (list/dict choices are encoded as JSON strings)."""
    if not isinstance(s, dict) or s.get("type") not in ("float", "int", "categorical"):
        raise ConfigError(f"space '{key}' must be a mapping with type: float | int | categorical.")
    extra = set(s) - {"type", "low", "high", "log", "step", "choices"}
    if extra:
        raise ConfigError(
            f"space '{key}' has unknown keys {sorted(extra)}; "
            f"valid: type, low, high, log, step, choices."
        )
    try:
        if s["type"] == "categorical":
            choices = s.get("choices")
            if not isinstance(choices, list) or not choices:
                raise ConfigError(
                    f"space '{key}': a categorical needs a non-empty 'choices:' list."
                )
            return CategoricalDistribution([encode(c) for c in choices])
        if "low" not in s or "high" not in s:
            raise ConfigError(f"space '{key}': a {s['type']} needs 'low:' and 'high:'.")
        low, high = float(s["low"]), float(s["high"])
        if s["type"] == "int":
            return IntDistribution(
                int(low), int(high), log=bool(s.get("log", False)), step=int(s.get("step", 1))
            )
        step = s.get("step")
        return FloatDistribution(
            low, high, log=bool(s.get("log", False)), step=None if step is None else float(step)
        )
    except (ValueError, TypeError) as e:
        raise ConfigError(f"space '{key}' is invalid: {e}") from None


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
    raise ConfigError(f"sampler '{name}' is not one of random, grid, tpe.")


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
        raise ConfigError(f"pruner '{name}' is not one of none, median, halving.")
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
