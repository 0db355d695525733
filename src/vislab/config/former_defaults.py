"""The defaults that changed since vislab 0.1.0, each with the value it had: a folder an older vislab made
(a run's config.yaml, a sweep's study) records that value, which today's vislab reads as a setting given.
One list (from ``git log -p -- src/vislab/config/schema.py`` and the sweep's base), read where a stored
config meets one vislab makes now: a run's notes say nothing of a value that was vislab's default, and a
suite or sweep refusing an older folder names the default and the ``--set`` that keeps it (docs/upgrading.md
says the same for people)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vislab.config.build import setting
from vislab.config.overrides import as_set
from vislab.config.reads import get_dotted
from vislab.config.schema import Config


@dataclass(frozen=True)
class FormerDefault:
    """Setting ``key`` defaulted to ``was`` (its value(s) before) until version ``changed_in``, for
    ``why``; ``sweep``: the default of a sweep's base only (a run's own default did not change)."""

    key: str
    was: tuple[Any, ...]
    changed_in: str
    why: str
    sweep: bool = False


FORMER_DEFAULTS: tuple[FormerDefault, ...] = (
    FormerDefault(
        "schedule.gamma",
        (0.95,),
        "0.2.0",
        "null now means the schedule's own (step 0.1, as torch's StepLR; exponential 0.95): 0.95 "
        "cut a step schedule's lr by only 5 % a step",
    ),
    FormerDefault(
        "train.select_metric",
        ("val_pacc",),
        "0.2.0",
        "a sweep's trials now choose their best epoch by the sweep's metric: a val_loss sweep had "
        "ranked each trial at its best val_pacc epoch",
        sweep=True,
    ),
)


def former_default(key: str, value: Any, sweep: bool = False) -> FormerDefault | None:
    """The entry of :data:`FORMER_DEFAULTS` whose former value ``value`` of ``key`` is (``sweep``: in a
    sweep's base, whose own former defaults count too), or None."""
    return next(
        (d for d in FORMER_DEFAULTS if d.key == key and value in d.was and (sweep or not d.sweep)),
        None,
    )


def at_former_defaults(stored: Mapping, wanted: Config, sweep: bool = False) -> dict[str, Any]:
    """Key → value of each setting where the config tree ``stored`` (an older folder's) holds a former
    default and ``wanted`` another value — its default today (any value, for a sweep's own default)."""
    found = {}
    for d in FORMER_DEFAULTS:
        was, now = setting(stored, d.key), get_dotted(wanted, d.key)
        today = d.sweep or now == get_dotted(Config(), d.key)
        if now != was and today and former_default(d.key, was, sweep):
            found[d.key] = was
    return found


def keep_former(found: Mapping[str, Any], then: str = "to go on with it") -> str:
    """What made an older folder holding the former defaults ``found`` (key → value), and the ``--set``
    (and the Python keyword) that keeps them, ``then`` saying what for: "made by an older vislab whose
    default schedule.gamma was 0.95: add --set schedule.gamma=0.95 (Python: schedule__gamma=0.95) to go
    on with it (docs/upgrading.md)"."""
    whose = " and ".join(f"{k} was {v!r}" for k, v in found.items())
    sets = " ".join(f"--set {k}={as_set(v)}" for k, v in found.items())
    python = ", ".join(f"{k.replace('.', '__')}={v!r}" for k, v in found.items())
    return (
        f"made by an older vislab whose default {whose}: add {sets} (Python: {python}) {then} "
        f"(docs/upgrading.md)"
    )
