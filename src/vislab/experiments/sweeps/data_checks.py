"""A sweep's base config checked on its data before its first trial — before its folder or study is made —
as a run's set-up checks a config at once (training/parts.py ``build_parts``): the base's data read, and
downloaded where a trial would download it (:func:`check_data`: data that cannot be had, e.g. with no
network, would fail every trial; a batch size the space draws larger than its train split, the trials that
draw it), then by the suites' DataChecks the input shape its augmentation crop gives, and the model built
for that shape on the CPU, without pretrained weights, and checked on the trainer's dummy batch. A base
whose model cannot take its data would fail every trial: refused. A space over ``model.name`` has each
model it draws checked: one that cannot take the data fails the trials that draw it (a note says so before
they start), all of them the sweep. Each choice of a categorical entry that shapes the model on the data
(a patch size, a crop size) is checked with the base's other settings: one that no model of the space can
take refuses the sweep. A mistake that names another key the space draws (a patch size beside a resize)
is left to the trials that draw its values."""

from __future__ import annotations

import copy
import re
from dataclasses import replace
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution

from vislab.config import Config, build_config
from vislab.data import load_splits
from vislab.data.types import Splits
from vislab.errors import ConfigError, DataError
from vislab.experiments.data_checks import DataChecks
from vislab.experiments.sweeps.space import apply_values, decode
from vislab.experiments.sweeps.spec import Sweep, with_options, with_overrides

# the space entries whose choices shape the model on the data: each choice checked before the first trial
_SHAPING = ("model.", "augment.crop.size", "train.tta")


def check_on_data(sweep: Sweep, overrides: list[str] | tuple, source: str) -> Sweep:
    """``sweep``, with a note per model of its space that cannot take the base's data; ConfigError naming
    ``source`` (the sweep file, or the mapping given to :func:`vislab.sweep`) when no trial could train:
    the base's model — or every model the space draws — cannot, with the fix in the sweep's terms."""
    space = sweep.distributions
    if "data.name" in space:  # each trial's own data: its own check
        return sweep
    tree = with_overrides(sweep.base, overrides)
    base = with_options(f"{source}, its base", overrides)
    cfg = build_config(tree, source=base)
    on_data = DataChecks(notes=False)  # the trials say the splits' notes
    on_data.given(cfg.data, check_data(cfg, space, source))  # read once
    drawn = space.get("model.name")
    names = [decode(c) for c in drawn.choices] if isinstance(drawn, CategoricalDistribution) else []
    mistakes = {}
    for name in names or [None]:
        model_tree = copy.deepcopy(tree)
        if name is not None:
            apply_values(model_tree, {"model.name": name})
        mistake = on_data.mistake(build_config(model_tree, source=base))
        if mistake and not any(key in mistake for key in space if key != "model.name"):
            mistakes[name] = mistake
    if names and len(mistakes) == len(names):
        raise ConfigError(_space_refused(source, mistakes))
    if None in mistakes:
        raise ConfigError(_base_refused(source, mistakes[None]))
    models = [name for name in names if name not in mistakes] or [None]
    _refuse_choices(tree, space, models, on_data, (source, base))
    if not mistakes:
        return sweep
    notes = [
        f"the trials that draw model.name={name} will fail: {mistake} (drop {name} from the space "
        f"entry 'model.name' to train only models that take this data)"
        for name, mistake in mistakes.items()
    ]
    return replace(sweep, notes=sweep.notes + tuple(notes))


def _refuse_choices(
    tree: dict,
    space: dict[str, BaseDistribution],
    models: list[str | None],
    on_data: DataChecks,
    sources: tuple[str, str],
) -> None:
    """ConfigError naming each choice of a categorical space entry that shapes the model on the data
    (:data:`_SHAPING`: ``model.patch_size``, a crop) with which no model the space draws (``models``; None:
    the base's) takes the base's data, checked as a suite's run is (:class:`DataChecks`): every trial that
    draws it would fail. A mistake that names another key the space draws is left to the trials (another
    value of it may fit). ``sources``: the sweep's source and its base's, as errors name them."""
    source, base = sources
    bad: dict[str, list[tuple[Any, str]]] = {}
    for key, drawn in space.items():
        if key == "model.name" or not key.startswith(_SHAPING):
            continue
        if not isinstance(drawn, CategoricalDistribution):
            continue
        others = [k for k in space if k not in (key, "model.name")]
        for choice in map(decode, drawn.choices):
            found = [_choice_mistake(tree, key, choice, name, on_data, base) for name in models]
            if all(found) and not any(k in m for m in found for k in others):
                said = [m for m in found if f"{key}={choice}" in m] or found
                bad.setdefault(key, []).append((choice, said[0]))
    if bad:
        raise ConfigError(_choices_refused(source, space, bad))


def _choice_mistake(
    tree: dict, key: str, choice: Any, name: str | None, on_data: DataChecks, base: str
) -> str:
    """What is wrong with the base ``tree`` drawing ``choice`` for ``key`` (and model ``name``, None: the
    base's) on its data, or "" (a config that cannot be built is the space's own check's)."""
    drawn_tree = copy.deepcopy(tree)
    try:  # an item of a list drawn alone (model.widths.1 beside model.widths.0): the trials' own check
        apply_values(
            drawn_tree, {key: choice} if name is None else {"model.name": name, key: choice}
        )
        cfg = build_config(drawn_tree, source=base)
    except ConfigError:
        return ""
    return on_data.mistake(cfg)


def _choices_refused(source: str, space: dict[str, BaseDistribution], bad: dict) -> str:
    """The refusal of a sweep whose space entries draw the ``bad`` choices (key → [(choice, why)])."""
    lines, fixes = [], []
    for key, choices in bad.items():
        lines += [f"  - {key}={choice}: {why}" for choice, why in choices]
        dropped = [choice for choice, _ in choices]
        kept = [c for c in map(decode, space[key].choices) if c not in dropped]
        drop = ", ".join(map(str, dropped))
        fixes.append(
            f"drop {drop} from the space entry '{key}' (it keeps {', '.join(map(str, kept))})"
            if kept
            else f"give the space entry '{key}' choices that fit the base's data"
        )
    return (
        f"Invalid sweep ({source}): its space draws choices with which no trial can train on the base's "
        f"data, so none was started:\n" + "\n".join(lines) + f"\nFix: {'; '.join(fixes)}."
    )


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
