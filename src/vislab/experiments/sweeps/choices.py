"""A sweep's categorical choices as its trials get them: a number written as text (YAML reads ``1e-3``, with
no dot, as a string) as that number, and a choice given twice, in either form, refused."""

from __future__ import annotations

import copy
import re
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution

from vislab.config import build_config
from vislab.config.build import setting
from vislab.errors import ConfigError
from vislab.experiments.sweeps.space import apply_values, decode, is_item


def numeric_choices(
    base: dict, distributions: dict[str, BaseDistribution], source: str
) -> dict[str, BaseDistribution]:
    """``distributions`` with each categorical choice that is a number in text (YAML reads ``1e-3``, with
    no dot, as a string) as the number the config makes of it, for a key that holds a number: the trials
    record the value they train with, as a range's ``low:``/``high:`` are read as numbers. ConfigError
    naming ``source`` for a choice given twice, as the trials get it (:func:`_no_choice_twice`)."""
    out = dict(distributions)
    for key, d in distributions.items():
        if isinstance(d, CategoricalDistribution):
            drawn = d.choices if is_item(key) else [_as_number(base, key, c) for c in d.choices]
            _no_choice_twice(key, d.choices, drawn, source)
            out[key] = CategoricalDistribution(drawn)
    return out


def _no_choice_twice(key: str, written: Any, drawn: list[Any], source: str) -> None:
    """ConfigError naming a choice of space ``key`` given twice (``drawn``: the ``written`` choices as the
    trials get them, text 1e-3 as 0.001): the space would count it twice, a sampler draw it so."""
    seen = [_kind(c) for c in drawn]
    for i, same in enumerate(seen):
        if same in seen[:i]:
            first, again = written[seen.index(same)], written[i]
            if type(first) is type(again) and first == again:
                shown = repr(decode(again))
                what, remove = f"the choice {shown} is given twice", f"the second {shown}"
            else:
                what, remove = (
                    f"the choices {first} and {again} are one number, {drawn[i]!r}",
                    again,
                )
            raise ConfigError(
                f"Invalid sweep ({source}):\n  sweep value 'space.{key}' is invalid: {what}: give each "
                f"choice once (remove {remove} from choices:)."
            )


def _kind(choice: Any) -> tuple[Any, Any]:
    """``choice`` keyed so that equal keys are one choice: an int and a float by value (1 and 1.0 train
    the same), True apart from 1, and any other value apart from values of another type."""
    number = isinstance(choice, (int, float)) and not isinstance(choice, bool)
    return (float if number else type(choice)), choice


def _as_number(base: dict, key: str, choice: Any) -> Any:
    """``choice`` as the number the config holds for ``key`` set to it; else ``choice`` as it is."""
    if not isinstance(choice, str) or not re.fullmatch(
        r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", choice
    ):
        return choice
    tree = copy.deepcopy(base)
    apply_values(tree, {key: choice})
    try:
        value = setting(build_config(tree, source="sweep space").to_dict(), key)
    except ConfigError:
        return choice  # check_values names the mistake
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return value if number else choice
