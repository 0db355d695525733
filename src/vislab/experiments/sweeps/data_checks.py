"""A sweep's base config checked on its data before its first trial — before its folder or study is made —
as a run's set-up checks a config at once (training/parts.py ``build_parts``), by the suites' DataChecks:
the base's data read (never downloaded: data a trial would download is left to the trials), the input
shape its augmentation crop gives, and the model built for that shape on the CPU, without pretrained
weights, and checked on the trainer's dummy batch. A base whose model cannot take its data would fail
every trial: refused. A space over ``model.name`` has each model it draws checked: one that cannot take
the data fails the trials that draw it (a note says so before they start), all of them the sweep. A
mistake that names another key the space draws (a patch size, a resize) is left to the trials that draw
its values."""

from __future__ import annotations

import copy
import re
from dataclasses import replace

from optuna.distributions import CategoricalDistribution

from vislab.config import build_config
from vislab.errors import ConfigError
from vislab.experiments.data_checks import DataChecks
from vislab.experiments.sweeps.space import apply_values, decode
from vislab.experiments.sweeps.spec import Sweep, with_overrides


def check_on_data(sweep: Sweep, overrides: list[str] | tuple, source: str) -> Sweep:
    """``sweep``, with a note per model of its space that cannot take the base's data; ConfigError naming
    ``source`` (the sweep file, or the mapping given to :func:`vislab.sweep`) when no trial could train:
    the base's model — or every model the space draws — cannot, with the fix in the sweep's terms."""
    space = sweep.distributions
    if "data.name" in space:  # each trial's own data: its own check
        return sweep
    tree = with_overrides(sweep.base, overrides)
    drawn = space.get("model.name")
    names = [decode(c) for c in drawn.choices] if isinstance(drawn, CategoricalDistribution) else []
    mistakes, on_data = {}, DataChecks(notes=False)  # the trials say the splits' notes
    for name in names or [None]:
        model_tree = copy.deepcopy(tree)
        if name is not None:
            apply_values(model_tree, {"model.name": name})
        mistake = on_data.mistake(build_config(model_tree, source=f"{source}, its base"))
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
