"""Weights & Biases sweep files, run through Optuna: a W&B sweep YAML as it is becomes a vislab sweep spec.

A file is a W&B sweep when it has W&B's shape (``parameters:`` and no ``space:``); :func:`from_wandb`
translates it, and the result is checked and run like any sweep file:

  method: grid | random | bayes         → sampler: grid | random | tpe (Optuna's GridSampler,
                                          RandomSampler, TPESampler)
  metric: {name, goal}                  → metric (a vislab validation metric; W&B's default goal is minimize)
  parameters: {NAME: {...}}             → space: (a range or choices) or, for ``value:``, the base config
  early_terminate: {type: hyperband}    → pruner: hyperband (Optuna's HyperbandPruner: min_iter, or
                                          max_iter / eta^s, is the min resource; max_iter, or the epochs a
                                          trial trains, the max; eta the reduction factor). A resource
                                          is an epoch.
  run_cap                               → trials
  name, description                     → name, description
  program, command, entity, project ... → ignored, with a note: vislab trains the trials itself

A parameter NAME is a vislab config key as it is (``optim.lr``, ``model.dropout``; a nested ``parameters:``
block joins names with dots; ``model.widths.1`` is one item of a list), or one of the names in
:data:`~vislab.experiments.sweeps.wandb_names.ALIASES` (the usual W&B names and those of the DLVC assignment 1
sweeps). The base config is vislab's defaults plus the file's ``value:`` parameters; ``vislab sweep FILE
--data ... --set ...`` adds the rest (the model, its fixed options).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vislab.config import SpecFile, validate
from vislab.errors import ConfigError
from vislab.experiments.sweeps.wandb_names import METRIC_NAMES, normalise, unmapped_line, vislab_key

SAMPLER_OF = {"grid": "grid", "random": "random", "bayes": "tpe"}
IGNORED = ("program", "command", "entity", "project", "controller", "apiVersion", "kind", "job")
IGNORED += ("image_uri",)
# W&B's distribution names (its schema); _space_entry translates those Optuna can express
DISTRIBUTIONS = ("constant", "categorical", "categorical_w_probabilities", "int_uniform", "uniform")
DISTRIBUTIONS += (
    "q_uniform",
    "log_uniform",
    "log_uniform_values",
    "q_log_uniform",
    "q_log_uniform_values",
)
DISTRIBUTIONS += ("inv_log_uniform", "inv_log_uniform_values", "normal", "q_normal", "log_normal")
DISTRIBUTIONS += ("q_log_normal", "beta", "q_beta")
# ... those with an Optuna range, and what to use instead of the others
RANGES = ("int_uniform", "uniform", "q_uniform", "log_uniform", "log_uniform_values")
RANGES += ("q_log_uniform_values",)
USE_INSTEAD = "use uniform, int_uniform, log_uniform_values, q_uniform or values:."


class WandbParam(BaseModel):
    """One entry of W&B's ``parameters:`` (W&B's schema: a constant, choices, a distribution, or a nested
    ``parameters:`` block)."""

    model_config = ConfigDict(extra="forbid")
    value: Any = None
    values: list[Any] | None = Field(None, min_length=1)
    probabilities: list[float] | None = None
    distribution: Literal[DISTRIBUTIONS] | None = None  # type: ignore[valid-type]
    min: int | float | None = None
    max: int | float | None = None
    q: int | float = Field(1, gt=0)
    mu: float | None = None
    sigma: float | None = None
    a: float | None = None
    b: float | None = None
    parameters: dict[str, Any] | None = None


class WandbMetric(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    goal: Literal["minimize", "maximize"] = "minimize"  # W&B's default
    target: float | None = None
    impute: str | None = None
    impute_while_running: str | None = None


class WandbHyperband(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["hyperband"]
    min_iter: int | None = Field(None, ge=1)
    max_iter: int | None = Field(None, ge=1)
    s: int | None = Field(None, ge=0)
    eta: float = Field(3, gt=1)
    strict: bool | None = None


class WandbSweep(SpecFile):
    """The top level of a W&B sweep file (W&B's own schema, every key it allows)."""

    method: Literal["grid", "random", "bayes", "custom"]
    parameters: dict[str, Any] = Field(min_length=1)
    metric: WandbMetric | None = None
    metrics: list[Any] | None = None
    early_terminate: WandbHyperband | None = None
    run_cap: int | None = Field(None, gt=0)
    name: str | None = None
    description: str | None = None
    scheduler: Any = None
    program: Any = None
    command: Any = None
    entity: Any = None
    project: Any = None
    controller: Any = None
    apiVersion: Any = None
    kind: Any = None
    job: Any = None
    image_uri: Any = None


def is_wandb_sweep(tree: dict) -> bool:
    """A W&B sweep file has ``method:`` and ``parameters:`` where a vislab sweep has ``space:`` (either
    of the two is enough to read a file as W&B's, so that a misspelt one is reported as such)."""
    return (
        isinstance(tree, dict)
        and bool({"method", "parameters"} & set(tree))
        and "space" not in tree
    )


def from_wandb(tree: dict, source: str) -> tuple[dict, list[str]]:
    """A W&B sweep (as read from ``source``) → (a vislab sweep spec mapping, notes on what was ignored)."""
    spec = validate(WandbSweep, tree, source, kind="W&B sweep")
    if spec.method == "custom" or spec.scheduler is not None or spec.metrics is not None:
        raise ConfigError(
            f"W&B sweep '{source}': method: custom, scheduler: and metrics: (a custom optimizer or several "
            f"objectives) have no vislab equivalent. Use method: grid, random or bayes with one metric:."
        )
    notes = [
        f"'{key}:' is W&B's; vislab trains each trial itself and ignores it"
        for key in IGNORED
        if getattr(spec, key) is not None
    ]
    base, space = _parameters(_flatten(spec.parameters), source, notes)
    if spec.method == "grid":
        _check_grid(space, source)
    out: dict[str, Any] = dict(
        base=base, space=space, sampler=SAMPLER_OF[spec.method], **_metric(spec, source, notes)
    )
    out["pruner"] = (
        _hyperband(spec.early_terminate, source, notes) if spec.early_terminate else "none"
    )
    out.update({k: v for k, v in (("name", spec.name), ("description", spec.description)) if v})
    if spec.run_cap:
        out["trials"] = spec.run_cap
    return out, notes


def _check_grid(space: dict[str, dict], source: str) -> None:
    """ConfigError, in W&B's words, naming the parameters a grid cannot list: a continuous range (uniform,
    log_uniform_values, ...) has no finite set of values to go through."""
    endless = [
        key
        for key, e in space.items()
        if not (
            e["type"] == "categorical" or (not e.get("log") and (e["type"] == "int" or "step" in e))
        )
    ]
    if endless:
        raise ConfigError(
            f"W&B sweep '{source}': method: grid goes through every value of each parameter, and "
            f"{', '.join(endless)} {'is a' if len(endless) == 1 else 'are'} continuous range"
            f"{'' if len(endless) == 1 else 's'}. Give each values: [...], or distribution: q_uniform "
            f"with min, max and q (int_uniform for integers); or method: random or bayes."
        )


# --------------------------------------------------------------------------------------- parameters
def _flatten(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested ``parameters:`` blocks → one level, names joined by dots."""
    flat: dict[str, Any] = {}
    for name, entry in params.items():
        if isinstance(entry, dict) and set(entry) == {"parameters"}:
            flat.update(_flatten(entry["parameters"] or {}, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = entry
    return flat


def _parameters(params: dict[str, Any], source: str, notes: list[str]) -> tuple[dict, dict]:
    """(base config of the constants, space of the rest); one ConfigError naming every unmappable name."""
    keys = {name: vislab_key(name) for name in params}
    unmapped = [name for name, key in keys.items() if key is None]
    if unmapped:
        raise ConfigError(
            f"W&B sweep '{source}': {len(unmapped)} parameter(s) name no vislab config key:\n  "
            + "\n  ".join(unmapped_line(name) for name in unmapped)
            + "\nName each by its vislab key (e.g. optim.lr, model.dropout, train.batch_size; `vislab "
            "config show` lists the keys, `vislab model info NAME` a model's options)."
        )
    base: dict = {}
    space: dict = {}
    for name, entry in params.items():
        key, convert = keys[name]  # type: ignore[misc]
        param = validate(WandbParam, entry, f"{source}: parameter '{name}'", kind="W&B sweep")
        try:
            entry_out = _space_entry(param, convert or (lambda v: v))
        except ValueError as e:
            raise ConfigError(f"W&B sweep '{source}': parameter '{name}': {e}") from None
        if param.probabilities is not None:
            notes.append(f"'{name}': Optuna samples the values uniformly; 'probabilities:' ignored")
        if entry_out is None:  # a constant; a list's item is set on top of the base, like the space
            value = (convert or (lambda v: v))(param.value)
            if key.rsplit(".", 1)[-1].isdigit():
                space[key] = {"type": "categorical", "choices": [value]}
            else:
                base[key] = value
        else:
            space[key] = entry_out
    if not space:
        raise ConfigError(
            f"W&B sweep '{source}': every parameter is a constant (value:); there is nothing to search."
        )
    return _nested(base), space


def _nested(flat: dict[str, Any]) -> dict:
    """{"optim.lr": 0.1} → {"optim": {"lr": 0.1}}."""
    tree: dict = {}
    for key, value in flat.items():
        *parents, last = key.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return tree


def _space_entry(p: WandbParam, convert: Callable[[Any], Any]) -> dict | None:
    """One W&B parameter → a vislab ``space:`` entry, or None for a constant. ValueError when Optuna has no
    such distribution."""
    dist = p.distribution or _inferred(p)
    if dist == "constant":
        return None
    if dist in ("categorical", "categorical_w_probabilities"):
        if not p.values:
            raise ValueError("a categorical needs 'values:'")
        return {"type": "categorical", "choices": [convert(v) for v in p.values]}
    if dist not in RANGES:
        raise ValueError(f"distribution '{dist}' has no Optuna equivalent: {USE_INSTEAD}")
    if p.min is None or p.max is None:
        raise ValueError(f"distribution '{dist}' needs 'min:' and 'max:'")
    if convert(p.min) != p.min:
        raise ValueError("this name's values are converted for vislab: give them as 'values:'")
    return _range(dist, p.min, p.max, p.q)


def _inferred(p: WandbParam) -> str:
    """W&B's rule when ``distribution:`` is absent: values → categorical, value → constant, integer
    min/max → int_uniform, else uniform."""
    if p.values is not None:
        return "categorical"
    if "value" in p.model_fields_set:
        return "constant"
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (p.min, p.max))
    return "int_uniform" if ints else "uniform"


def _range(dist: str, lo: float, hi: float, q: float) -> dict:
    """A numeric W&B distribution as an Optuna range (``log_uniform``'s min/max are natural logarithms)."""
    integral = all(float(v).is_integer() for v in (lo, hi, q))
    if dist == "int_uniform":
        return {"type": "int", "low": lo, "high": hi}
    if dist == "uniform":
        return {"type": "float", "low": lo, "high": hi}
    if dist == "log_uniform_values":
        return {"type": "float", "low": lo, "high": hi, "log": True}
    if dist == "log_uniform":
        return {"type": "float", "low": math.exp(lo), "high": math.exp(hi), "log": True}
    if dist == "q_uniform":  # W&B draws round(x / q) * q: the multiples of q in [min, max]
        low, high = math.ceil(lo / q - 1e-9) * q, math.floor(hi / q + 1e-9) * q
        if integral:
            return {"type": "int", "low": int(low), "high": int(high), "step": int(q)}
        # 3 * 0.1 is 0.30000000000000004: round off the float error Optuna would warn about
        return {"type": "float", "low": round(low, 12), "high": round(high, 12), "step": q}
    if dist == "q_log_uniform_values" and integral and q == 1 and lo >= 1:
        return {"type": "int", "low": lo, "high": hi, "log": True}
    raise ValueError(  # q_log_uniform_values with a step: Optuna's log ranges of integers have step 1
        f"distribution '{dist}' has no Optuna equivalent with q = {q} and min = {lo} (Optuna's log ranges of "
        f"integers have step 1, from 1 up): {USE_INSTEAD}"
    )


# --------------------------------------------------------------------------- metric, early stopping
def _metric(spec: WandbSweep, source: str, notes: list[str]) -> dict:
    if spec.metric is None:
        notes.append("no 'metric:': vislab maximises val_pacc (validation per-class accuracy)")
        return {}
    m = spec.metric
    found = [k for k, names in METRIC_NAMES.items() if normalise(m.name) in names]
    if not found:
        raise ConfigError(
            f"W&B sweep '{source}': metric '{m.name}' is not one vislab records for a trial. Use "
            f"val_acc (validation accuracy), val_pacc (per-class accuracy) or val_loss: hyper-parameters "
            f"are chosen on validation data, never on test."
        )
    if "goal" not in m.model_fields_set:
        notes.append(f"metric '{m.name}' has no 'goal:': W&B's default, minimize, is used")
    notes += [
        f"metric '{k}:' ignored"
        for k in ("target", "impute", "impute_while_running")
        if getattr(m, k)
    ]
    return {"metric": found[0], "direction": m.goal}


def _hyperband(h: WandbHyperband, source: str, notes: list[str]) -> dict:
    """W&B's hyperband → Optuna's HyperbandPruner: brackets from min_iter (or max_iter / eta^s) growing by
    eta up to max_iter (or, without it, the epochs of a trial: Optuna's 'auto')."""
    if not float(h.eta).is_integer():
        raise ConfigError(
            f"W&B sweep '{source}': early_terminate.eta = {h.eta}: Optuna's HyperbandPruner needs a "
            f"whole reduction factor (2, 3, ...)."
        )
    eta = int(h.eta)
    if h.min_iter is not None:
        low = h.min_iter
    elif h.max_iter is not None and h.s is not None:
        low = max(1, round(h.max_iter / eta**h.s))
    else:
        raise ConfigError(
            f"W&B sweep '{source}': early_terminate needs min_iter:, or max_iter: and s:."
        )
    if h.strict is not None:
        notes.append("early_terminate 'strict:' ignored (Optuna's Hyperband has no such switch)")
    high = h.max_iter if h.max_iter is not None else "auto"
    return {"name": "hyperband", "min_resource": low, "max_resource": high, "reduction_factor": eta}
