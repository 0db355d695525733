"""A sweep's base config checked on its data before its first trial — before its folder or study is made —
as a run's set-up checks a config at once (training/parts.py ``build_parts``): the base's data read, and
downloaded where a trial would download it (:func:`check_data`: data that cannot be had, e.g. with no
network, would fail every trial; a batch size the space draws larger than its train split, the trials that
draw it), then by the suites' DataChecks the input shape its augmentation crop gives, and the model built
for that shape on the CPU, without pretrained weights, and checked on the trainer's dummy batch. A base
whose model cannot take its data would fail every trial: refused. A space over ``model.name`` has each
model it draws checked: one that cannot take the data fails the trials that draw it (a note says so before
they start), all of them the sweep. A mistake that names another key the space draws (a patch size, a
resize) is left to the trials that draw its values."""

from __future__ import annotations

import copy
import re
from dataclasses import replace

from optuna.distributions import BaseDistribution, CategoricalDistribution

from vislab.config import Config, build_config
from vislab.data import load_splits
from vislab.data.types import Splits
from vislab.errors import ConfigError, DataError
from vislab.experiments.data_checks import DataChecks
from vislab.experiments.sweeps.space import apply_values, decode
from vislab.experiments.sweeps.spec import Sweep, with_options, with_overrides


def check_on_data(sweep: Sweep, overrides: list[str] | tuple, source: str) -> Sweep:
    """``sweep``, with a note per model of its space that cannot take the base's data; ConfigError naming
    ``source`` (the sweep file, or the mapping given to :func:`vislab.sweep`) when no trial could train:
    the base's model — or every model the space draws — cannot, with the fix in the sweep's terms."""
    space = sweep.distributions
    if "data.name" in space:  # each trial's own data: its own check
        return sweep
    tree = with_overrides(sweep.base, overrides)
    cfg = build_config(tree, source=with_options(f"{source}, its base", overrides))
    on_data = DataChecks(notes=False)  # the trials say the splits' notes
    on_data.given(cfg.data, check_data(cfg, space, source))  # read once
    drawn = space.get("model.name")
    names = [decode(c) for c in drawn.choices] if isinstance(drawn, CategoricalDistribution) else []
    mistakes = {}
    for name in names or [None]:
        model_tree = copy.deepcopy(tree)
        if name is not None:
            apply_values(model_tree, {"model.name": name})
        base = with_options(f"{source}, its base", overrides)
        mistake = on_data.mistake(build_config(model_tree, source=base))
        if mistake and not any(key in mistake for key in space if key != "model.name"):
            mistakes[name] = mistake
    if not mistakes:
        return sweep
    if not names:
        raise ConfigError(_base_refused(source, mistakes[None]))
    if len(mistakes) == len(names):
        raise ConfigError(_space_refused(source, mistakes))
    notes = [
        f"the trials that draw model.name={name} will fail: {mistake} (drop {name} from the space "
        f"entry 'model.name' to train only models that take this data)"
        for name, mistake in mistakes.items()
    ]
    return replace(sweep, notes=sweep.notes + tuple(notes))


def check_data(cfg: Config, space: dict[str, BaseDistribution], source: str) -> Splits:
    """The base's data read once (downloaded, as its first trial would), returned: DataError naming
    ``source`` when it cannot be had, so that no trial is started to fail on it; then
    :func:`_check_batch_sizes`."""
    try:
        splits = load_splits(cfg.data, cfg.train.seed, notes=False)
    except DataError as e:
        raise DataError(
            f"Invalid sweep ({source}): its base's data cannot be read, so every trial would fail, and "
            f"none was started:\n  {e}"
        ) from None
    if not any(key.startswith("data.") for key in space):  # else each trial's split is its own
        more = _more_data(cfg)
        _check_batch_sizes(space.get("train.batch_size"), len(splits.train), source, more)
    return splits


def _more_data(cfg: Config) -> str:
    """How the base ``cfg`` gets a larger train split: a larger limit where it sets one, else more data."""
    limits = [
        f"data.{k} (now {v})" for k in ("limit", "limit_per_class") if (v := getattr(cfg.data, k))
    ]
    return f"a larger {' or '.join(limits)}" if limits else "more training data"


def _check_batch_sizes(
    drawn: BaseDistribution | None, n_train: int, source: str, more: str = "more training data"
) -> None:
    """ConfigError naming the space entry 'train.batch_size' when a value it draws is larger than the train
    split: each trial would stop at once with no batch to train on (drop_last); ``more``: how the base gets
    more (:func:`_more_data`)."""
    if drawn is None:
        return
    values = (
        [decode(c) for c in drawn.choices] if isinstance(drawn, CategoricalDistribution) else []
    )
    too_big = [v for v in values if isinstance(v, int) and v > n_train]
    if not values and getattr(drawn, "high", 0) > n_train:
        too_big = [drawn.high]  # an int range: its high
    if not too_big:
        return
    fix = "drop " + ", ".join(map(str, too_big)) if values else f"give it high: {n_train} at most"
    raise ConfigError(
        f"Invalid sweep ({source}): space 'train.batch_size' draws {', '.join(map(str, too_big))}, "
        f"larger than the base's train split ({n_train} samples): the trials that draw "
        f"{'it' if len(too_big) == 1 else 'them'} would stop with no batch to train on (drop_last). Fix "
        f"the space entry 'train.batch_size': {fix} (train.batch_size={n_train} at most), or give the "
        f"base {more}."
    )


def _fix(mistake: str) -> str:
    """The fix of a base's mistake in a sweep's terms: the model (or other setting) its message suggests, by
    --set and in Python, else the keys to change."""
    suggested = re.search(r"\b(model\.name)=([\w:.-]+)", mistake)
    if suggested:
        key, value = suggested[1], suggested[2].rstrip(".")
        python = f"{key.replace('.', '__')}={value!r}"
        return (
            f"train another model: --set {key}={value} (Python: {python}), or set {key}: {value} in "
            f"the sweep file's base (a W&B sweep file: its parameter {key}: {{value: {value}}})"
        )
    return (
        "change the base: --set key=value (Python: section__key=value), or the sweep file's base (a "
        "W&B sweep file: its `value:` parameters)"
    )


def _base_refused(source: str, mistake: str) -> str:
    return (
        f"Invalid sweep ({source}): its base config cannot train on its data, so every trial would fail "
        f"and none was started:\n  {mistake}\nFix: {_fix(mistake)}."
    )


def _space_refused(source: str, mistakes: dict) -> str:
    lines = "\n".join(f"  - model.name={name}: {mistake}" for name, mistake in mistakes.items())
    return (
        f"Invalid sweep ({source}): no model of the space entry 'model.name' can take the base's data, so "
        f"every trial would fail and none was started:\n{lines}\nFix the space entry 'model.name': add a "
        f"model that takes this data, or change the data in the base."
    )
