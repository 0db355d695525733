"""What a resume refuses, decided once for ``vislab train --resume`` (cli/resuming.py) and
``vislab.train(resume=True)`` (api/runs.py): the arguments it cannot go with (:func:`argument_clash`) and
the settings that would change what the run computes (:func:`refused_changes`). Each returns a typed
refusal, which the command words in its flags and the API in its keyword arguments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from vislab.config import Config, config_differences
from vislab.models.fingerprints import changes, same_code
from vislab.models.objects import is_registered_users
from vislab.models.registry import code_of
from vislab.models.user import is_user_reference
from vislab.training.resume import SPREAD_SCHEDULES


@dataclass(frozen=True)
class ArgumentClash:
    """An argument a resume cannot go with (``kind``): ``overwrite`` deletes the run to start afresh,
    ``init_from`` starts a new run from other weights, ``other_out`` names another folder than the run's;
    ``no_run``: no run folder was named, or ``given`` names a new run's arguments (config, model, data)."""

    kind: Literal["overwrite", "init_from", "other_out", "no_run"]
    given: tuple[str, ...] = ()


def argument_clash(
    run: str | Path | None,
    *,
    out: str | Path | None = None,
    overwrite: bool = False,
    init_from: str | Path | None = None,
    new_run: Sequence[str] = (),
) -> ArgumentClash | None:
    """The first argument a resume of ``run`` (None: none named) cannot go with, or None: ``overwrite``,
    then ``init_from``, an ``out`` that is not ``run``, then the names of a new run's arguments given
    (``new_run``: config, model, data) where ``run`` holds no run to resume (no checkpoints/last.pt);
    where it holds one, they may be its own (a notebook cell run again with resume=True added), which
    :func:`refused_changes` compares with it."""
    if overwrite:
        return ArgumentClash("overwrite")
    if init_from is not None:
        return ArgumentClash("init_from")
    if out is not None and run is not None and Path(out).resolve() != Path(run).resolve():
        return ArgumentClash("other_out")
    if run is None or (new_run and not (Path(run) / "checkpoints" / "last.pt").is_file()):
        return ArgumentClash("no_run", tuple(new_run))
    return None


@dataclass(frozen=True)
class RefusedChanges:
    """Settings given to a resume that change what its run computes, not only where and how it runs
    (``RESULT_NEUTRAL_KEYS``). ``differences``: each ``key: the run's → asked``; ``has``: the run's saved
    config; ``asked``: it with the settings on top. ``fix``: ``epochs_instead`` where they change
    train.epochs alone of a run that can be trained on (``resume.extend``: the epochs argument does that),
    ``trained_more`` where they ask for no more epochs than it has trained already (``trained``; no resume
    shortens it: it can be reopened as it is, or its own train.epochs given), ``drop_epochs_setting``
    where the epochs argument was given too (``epochs_set_by``: the setting of train.epochs as given, to
    drop; None: not one of them, e.g. a config file's), else ``new_run``."""

    differences: tuple[str, ...]
    has: dict
    asked: Config
    fix: Literal["new_run", "epochs_instead", "trained_more", "drop_epochs_setting"]
    epochs_set_by: str | None = None
    trained: int | None = None

    @property
    def listed(self) -> str:
        """The differences as a message lists them: the first four, then ``…`` for more."""
        shown = self.differences
        return f"{'; '.join(shown[:4])}{' …' if len(shown) > 4 else ''}"


def refused_changes(
    has: dict,
    asked: Config,
    epochs: int | None = None,
    given: Sequence[tuple[str, str]] = (),
    code: dict | None = None,
    trained: int | None = None,
) -> RefusedChanges | None:
    """What the settings a resume was given change in its run's saved config ``has`` (``asked``: it with
    them on top, or the config of the arguments given again; ``epochs``: the epochs argument, None: not
    given; ``given``: each setting as written and the dotted key it sets; ``trained``: the epochs its
    last.pt has trained, None: not known), or None where they change
    nothing but where and how it runs. ``code``: the run's record of its model's code (``model_code``),
    where its model was given again: a model registered in this process (a model object,
    ``@vislab.register_model``) whose source now differs is a change too (:func:`_code_changes`)."""
    differences = (
        *_code_changes(asked.model.name, code),
        *config_differences(has, asked.to_dict()),
    )
    if not differences:
        return None
    epochs_only = all(d.startswith("train.epochs:") for d in differences)
    if not epochs_only or asked.schedule.name in SPREAD_SCHEDULES:
        return RefusedChanges(differences, has, asked, "new_run")
    set_by = next((shown for shown, key in given if key == "train.epochs"), None)
    if trained is not None and asked.train.epochs <= trained:
        return RefusedChanges(differences, has, asked, "trained_more", set_by, trained)
    if epochs is None:
        return RefusedChanges(differences, has, asked, "epochs_instead")
    return RefusedChanges(differences, has, asked, "drop_epochs_setting", set_by)


def _code_changes(name: str, recorded: dict | None) -> list[str]:
    """``model 'name': redefined since …`` where ``recorded`` (a run's ``model_code``) is that of model
    ``name`` registered in this process (a model object, ``@vislab.register_model``) and the code
    registered as ``name`` now has another source: the model built would not be the one trained. A
    ``file.py:Net``'s code is checked where the resume imports it (``trust_code``); nothing recorded,
    or another name (a difference of model.name), passes."""
    if not isinstance(recorded, dict) or recorded.get("reference") != name:
        return []
    if not is_registered_users(name) or is_user_reference(name):
        return []
    current = code_of(name) or {}
    was, now = recorded.get("source_sha256"), current.get("source_sha256")
    if not was or not now or same_code(recorded, current):  # comments and docstrings aside
        return []
    return [f"model '{name}': redefined since the run was trained ({changes(was, now)})"]
