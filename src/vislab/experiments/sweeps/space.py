"""A sweep's search space: Optuna distributions over dotted config keys — the values a trial asks for and
how they go into a config, a grid's points, a narrowed space, and back to the ``space:`` notation.

Optuna's choices are scalars: a list or mapping choice (e.g. ``model.widths``) travels as JSON text
(:func:`encode`, :func:`decode`). A key ending in a number sets one item of a list (``model.widths.1``).
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from vislab.config import build_config, set_dotted
from vislab.config.build import set_model, setting
from vislab.data.sources import require_source
from vislab.errors import ConfigError
from vislab.models import check_model_options, model_kwargs


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
    """The grid sampler's values per parameter: categorical choices, int ranges, float ranges with a step
    and a float range of one value (``low`` equal to ``high``)."""
    grid = {}
    for key, d in distributions.items():
        if isinstance(d, CategoricalDistribution):
            grid[key] = list(d.choices)
        elif isinstance(d, IntDistribution) and not d.log:
            grid[key] = list(range(d.low, d.high + 1, d.step))
        elif isinstance(d, FloatDistribution) and d.low == d.high:
            grid[key] = [float(d.low)]
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


def finite_values(distributions: dict[str, BaseDistribution]) -> dict[str, Sequence] | None:
    """The values of each key of a finite space — a log int range's too, which the grid sampler refuses
    — or None where a continuous range makes them endless."""
    values: dict[str, Sequence] = {}
    for key, d in distributions.items():
        if isinstance(d, IntDistribution):  # a log range too
            values[key] = range(d.low, d.high + 1, d.step)
            continue
        try:
            values[key] = grid_of({key: d})[key]
        except ConfigError:
            return None
    return values


def combinations(distributions: dict[str, BaseDistribution]) -> int | None:
    """How many combinations of values the space holds (:func:`finite_values`), or None where a
    continuous range makes them endless."""
    values = finite_values(distributions)
    return None if values is None else math.prod(len(v) for v in values.values())


def repeat_note(distributions: dict[str, BaseDistribution], trials: int) -> str:
    """The note for a sampler other than the grid when the space holds fewer combinations than ``trials``:
    values drawn again are not trained again, so the sweep trains each combination at most once; ""
    otherwise (or for a space with a continuous range)."""
    size = combinations(distributions)
    if size is None or trials <= size:
        return ""
    s = "s" if size != 1 else ""
    hint = grid_hint(distributions, "tries them in turn, without drawing any twice") if s else ""
    return (
        f"the space holds {size} combination{s}, fewer than the {trials} trials: a trial that draws "
        f"values drawn before is not trained again, so the sweep trains {size} trial{s}, each "
        f"combination once{hint}"
    )


def grid_hint(distributions: dict[str, BaseDistribution], does: str) -> str:
    """`` (sampler: grid <does>)`` where the grid sampler accepts the space; "" where it refuses it (a log
    int range, a continuous one)."""
    try:
        grid_of(distributions)
    except ConfigError:
        return ""
    return f" (sampler: grid {does})"


def apply_values(tree: dict, values: dict[str, Any]) -> None:
    """Set each dotted key of ``values`` in a config tree. A key ending in a number sets that item of a list
    (``model.widths.1``): of the list the tree holds, else of its default (:func:`default_list`), else of
    one built from item 0 up (the swept items make the whole list). A ``model.name`` first: another model
    than the tree's starts from an empty model section (``config.build.set_model``)."""
    if "model.name" in values:
        set_model(tree, values["model.name"])
    items: dict[str, dict[int, Any]] = {}
    for key, value in values.items():
        if is_item(key):
            head, _, last = key.rpartition(".")
            items.setdefault(head, {})[int(last)] = value
        else:
            set_dotted(tree, key, value)
    for key, by_index in items.items():
        current = setting(tree, key)
        if not isinstance(current, (list, tuple)):
            current = default_list(tree, key) or []
        new = list(current)
        for i in sorted(by_index):
            if i > len(new):
                raise ConfigError(
                    f"'{key}.{i}' is swept but '{key}' has no item {len(new)}: give the whole list in the "
                    f"base (--set {key}=[...]) or sweep its items from '{key}.0' up."
                )
            new[i : i + 1] = [by_index[i]]
        set_dotted(tree, key, new)


def whole_lists(base: dict, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` as ``--set`` takes them on the ``base`` config tree: each swept list item
    (``model.hidden.0``) as the whole list it makes there (``model.hidden=[32]``)."""
    tree = copy.deepcopy(base)
    apply_values(tree, values)
    out: dict[str, Any] = {}
    for key, value in values.items():
        head = key.rpartition(".")[0] if is_item(key) else key
        out[head] = setting(tree, head) if head != key else value
    return out


def default_list(tree: dict, key: str) -> list | None:
    """The list ``key`` holds when the tree does not set it: a model option's default (its builder's
    signature) or the config schema's; None when there is none (e.g. cnn's widths: its preset decides)."""
    try:
        if key.startswith("model.") and key.count(".") == 1:
            default = model_kwargs(str(setting(tree, "model.name"))).get(key[len("model.") :])
        else:
            default = setting(build_config(tree, source="sweep base").to_dict(), key)
    except ConfigError:
        return None
    return list(default) if isinstance(default, (list, tuple)) else None


def list_notes(base: dict, distributions: dict[str, BaseDistribution]) -> list[str]:
    """A note per list whose items the space sweeps though neither the base nor the model gives it: the
    trials' list is those items alone."""
    notes = []
    for key in sorted({k.rpartition(".")[0] for k in distributions if is_item(k)}):
        unset = setting(base, key) is None and "model.name" not in distributions
        if unset and default_list(base, key) is None:
            swept = sorted(k for k in distributions if k.rpartition(".")[0] == key)
            notes.append(
                f"the space sweeps {', '.join(swept)}, but neither the base nor the model sets a "
                f"'{key}' list: each trial's {key} is those {len(swept)} item(s) alone (set {key} in "
                f"the base to sweep items of a longer list)"
            )
    return notes


def check_values(
    base: dict, distributions: dict[str, BaseDistribution], source: str, base_source: str = ""
) -> None:
    """Build a config from a valid base (with the command line's overrides) and each value a trial can draw
    at the edges of the space: every categorical choice, the low and high of each range and, of a float
    range, a fractional value (an int config key needs ``type: int``); a value of a model option is checked
    against the model's options too (the model not swept). ConfigError naming the space key, the value and
    the message: a bad value is refused before any trial, not in the trial that draws it. Space keys that
    overlap (``model.hidden`` and ``model.hidden.0``) are refused; the first values also name a data
    source and (the model not swept) model options that exist. The base's own model options are checked
    first, named as the base's mistake (``base_source``, default "``source``, its base"; the command
    line's options named where they were applied), not a space entry's."""
    _check_no_overlap(distributions, source)
    if "model.name" not in distributions:
        _check_base_options(base, distributions, base_source or f"{source}, its base")
    # list items (model.widths.1) are set together: the other items at their first value
    items = {key: _probes(d)[0] for key, d in distributions.items() if is_item(key)}
    for key, d in distributions.items():
        for value in _probes(d):
            tree = copy.deepcopy(base)
            apply_values(tree, {**items, key: value} if is_item(key) else {key: value})
            try:
                cfg = build_config(tree, source=f"sweep space '{key}'")
                if key.startswith("model.") and "model.name" not in distributions:
                    check_model_options(cfg.model.name, cfg.model.kwargs())
            except ConfigError as e:
                raise _space_error(key, d, value, e, source) from None
    _check_first_values(base, distributions)


def _check_base_options(
    base: dict, distributions: dict[str, BaseDistribution], source: str
) -> None:
    """ConfigError naming ``source`` (the base) for a model option it sets that its model does not take,
    or a value out of range; an option the space draws is left to the space's check."""
    cfg = build_config(copy.deepcopy(base), source=source)
    drawn = {
        key.split(".")[1] for key in distributions if key.startswith("model.") and not is_item(key)
    }
    given = {k: v for k, v in cfg.model.kwargs().items() if k not in drawn}
    check_model_options(cfg.model.name, given, source=source)


def _check_no_overlap(distributions: dict[str, BaseDistribution], source: str) -> None:
    """ConfigError naming two space keys of which one sets a part of the other (the later one would
    overwrite what the trial records of the earlier)."""
    for key in distributions:
        for other in distributions:
            if other.startswith(f"{key}."):
                raise ConfigError(
                    f"Invalid sweep ({source}): space keys '{key}' and '{other}' overlap: '{other}' is a "
                    f"part of '{key}', so a trial would record a value of one it did not train with. "
                    f"Fix the space: keep one of the two."
                )


def _space_error(
    key: str, d: BaseDistribution, value: Any, error: ConfigError, source: str
) -> ConfigError:
    """:func:`check_values`' error: the space key is no config key (rename it), a float range draws
    fractions for an int key (use type: int), or the value makes an invalid config (change it)."""
    why = str(error).partition("\n")[2].strip() or str(error)
    unknown = re.search(
        r"unknown config key '([^']+)'\.(?: Did you mean '([^']+)'\?)?", why
    ) or re.search(r"has no option '([^']+)'\.(?: Did you mean '([^']+)'\?)?", why)
    if unknown and f"{key}.".startswith(f"{unknown[1]}."):  # the key itself, not a key in a value
        near = f" to '{unknown[2]}{key[len(unknown[1]) :]}'" if unknown[2] else ""
        return ConfigError(
            f"Invalid sweep ({source}): space key '{key}' is not a config key:\n  {why}\n"
            f"Fix the space entry '{key}': rename the key{near} (a config's keys: `vislab config show`)."
        )
    if isinstance(d, FloatDistribution) and value not in (d.low, d.high):
        what = f"type: float draws fractional values such as {value:.4g}, which make"
        fix = "it takes whole numbers: use type: int"
    else:
        what, fix = f"the value {value!r} makes", "change that value"
    return ConfigError(
        f"Invalid sweep ({source}): space '{key}': {what} an invalid config:\n  {why}\n"
        f"Fix the space entry '{key}': {fix}."
    )


def _check_first_values(base: dict, distributions: dict[str, BaseDistribution]) -> None:
    """The config of the space's first values names a data source and options its model takes."""
    cfg = build_config(first_values(base, distributions), source="sweep space")
    require_source(cfg.data.name)
    if "model.name" not in distributions:  # (a space over models mixes their options)
        check_model_options(cfg.model.name, cfg.model.kwargs())


def first_values(base: dict, distributions: dict[str, BaseDistribution]) -> dict:
    """A copy of the config tree ``base`` with each key of the space at its first value (its first
    choice, the low end of its range): the config of a trial the sweep can draw."""
    tree = copy.deepcopy(base)
    apply_values(tree, {key: _probes(d)[0] for key, d in distributions.items()})
    return tree


def _probes(d: BaseDistribution) -> list[Any]:
    """The values :func:`check_values` tries: the choices, or low, high and (float) a fractional between."""
    if isinstance(d, CategoricalDistribution):
        return [decode(c) for c in d.choices]
    values = [d.low, d.high]
    if isinstance(d, FloatDistribution) and d.high > d.low:
        between = d.low + (d.high - d.low) * 0.6180339887
        if between.is_integer():
            between = math.nextafter(between, d.high)
        values.append(between)
    return values


def is_item(key: str) -> bool:
    """A key that sets one item of a list (``model.widths.1``)."""
    head, _, last = key.rpartition(".")
    return bool(head) and last.isdigit()


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
