"""The config ``vislab.train`` trains: a new run's, from its arguments (``epochs=`` and a key given twice
checked), or a resumed run's, its saved config with what ``resume=True`` may change on top — refused,
with the way on in the API's words, where the arguments would change what it computes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vislab.api.configs import ConfigLike, make_config
from vislab.config import Config
from vislab.errors import UserError
from vislab.models import objects
from vislab.training.rundir import RunDir

if TYPE_CHECKING:
    from vislab.training.resume_checks import RefusedChanges


def resumed_config(
    config: ConfigLike,
    model: Any,
    data: Any,
    out: str | Path | None,
    overwrite: bool,
    epochs: int | None,
    overrides: dict[str, Any],
) -> Config:
    """The config ``train(resume=True)`` goes on with: the run's saved one, changed by ``overrides`` where a
    resume may; ``config``, ``model`` and ``data`` given (a cell run again with resume=True) must be the
    run's own."""
    given = dict(config=config, model=model, data=data)
    named = [k for k, v in given.items() if v is not None]
    _check_resume_arguments(out, named, overwrite)
    cell = (config, model, data) if named else None
    return _resumed_with(Path(out), overrides, epochs, cell)  # type: ignore[arg-type]  # out: checked above


def check_given_once(given: Sequence[tuple[str, str]]) -> None:
    """UserError naming both when two arguments set the same config key (one would silently win);
    ``given``: (the argument as written, e.g. ``"epochs=1"``, the dotted key it sets)."""
    first: dict[str, str] = {}
    for shown, key in given:
        if key in first:
            raise UserError(f"{first[key]} and {shown} both set {key}: give one of them.")
        first[key] = shown


def new_config(
    config: ConfigLike,
    model: Any,
    data: Any,
    epochs: int | None,
    overrides: dict[str, Any],
    base: dict | None = None,
) -> Config:
    """train()'s config of a new run: ``epochs`` is ``train.epochs`` (a key given twice: UserError);
    ``base``: the config whose keys the arguments leave unset are kept (a resumed run's train.epochs),
    else defaults."""
    check_given_once(
        as_given(overrides)
        + ([(f"epochs={epochs!r}", "train.epochs")] if epochs is not None else [])
    )
    with_epochs = {**overrides, **({"train.epochs": epochs} if epochs is not None else {})}
    return make_config(config, model=model, data=data, overrides=with_epochs, base=base)


def as_given(overrides: dict[str, Any]) -> list[tuple[str, str]]:
    """Each override as written (``optim__lr=0.1``) and the dotted key it sets (``optim.lr``)."""
    return [(f"{k}={v!r}", k.replace("__", ".")) for k, v in overrides.items()]


def _check_resume_arguments(out: str | Path | None, given: list[str], overwrite: bool) -> None:
    """resume=True takes ``out`` and no ``overwrite``, nor config, model or data where ``out`` holds no
    run (where it does, they may be its own: :func:`_resumed_with`): UserError otherwise
    (``resume_checks.argument_clash``, in the API's words; where ``out`` holds no last.pt, why there is
    nothing to resume and how to start the run anew: ``resume.resumable``'s)."""
    from vislab.training.resume import resumable  # on use: torch, model zoo
    from vislab.training.resume_checks import argument_clash

    clash = argument_clash(out, overwrite=overwrite, new_run=given)
    if clash is None:
        return
    if clash.kind == "overwrite":
        raise UserError(
            "resume=True continues the run in `out`; overwrite=True deletes it to start afresh: "
            "give one of them."
        )
    if out is not None:  # no last.pt: why there is nothing to resume, and how to start the run anew
        resumable(RunDir(Path(out)))
    raise UserError(
        f"resume=True continues the run in `out` with its saved config: give out=<its folder> "
        f"and no {', '.join(clash.given) or 'config, model or data'} but the run's own (overrides of "
        f"where and how it runs may be given: data__root, train__device, ...)."
    )


def _resumed_with(
    out: Path, overrides: dict[str, Any], epochs: int | None = None, cell: tuple | None = None
) -> Config | None:
    """resume=True's config: the run's saved config (its last.pt's) with ``overrides`` on top, or, given
    ``cell`` (its config, model and data given again: a notebook cell run again with resume=True), that
    of those arguments (train.epochs, where they leave it unset, is the run's: a cell without epochs=
    trains it on to its own end; any other key they leave unset is the default, and a saved value
    that differs is refused as one they give); None with neither. Those of where and how it runs
    (``RESULT_NEUTRAL_KEYS``) are used by the resumed run; UserError naming any that would change what
    it computes, a model whose code was redefined since included (rather than ignore them; ``epochs``:
    the epochs= given, which says how far to train on — not a change —, a train.epochs the run has
    reached left aside for it, a longer one refused naming both: :func:`_epochs_aside`); a cell's where
    and how (data.root, train.device, track.*), where it leaves them unset, the run's own
    (:func:`_where_it_ran`)."""
    if not overrides and cell is None:
        return None
    from vislab.training.resume import resumable  # on use: torch, model zoo
    from vislab.training.resume_checks import refused_changes

    saved = resumable(RunDir(out))
    record, trained = saved.record, saved.resume.loop.epoch
    # a run of a model of this process's from before its defaults were recorded: read with them
    stored, code = {**record.config, "model": objects.with_defaults(record.config["model"])}, None
    overrides = _epochs_aside(overrides, stored["train"]["epochs"], epochs)
    if cell is None:
        wanted = make_config(stored, overrides=overrides)
    else:
        # epochs=: how far, below; the run's train.epochs kept over the cell's config's, not over a
        # longer train__epochs of the cell (refused, both named as given)
        sets = any(key == "train.epochs" for _, key in as_given(overrides))
        ran = stored["train"]["epochs"] if epochs is not None and not sets else None
        # how far the run goes, and where and how it ran (a data.root a resume moved): not the cell's defaults
        own = _where_it_ran(stored) | {"train": {"epochs": stored["train"]["epochs"]}}
        wanted, code = new_config(*cell, ran, overrides, base=own), record.model.code
    if refused := refused_changes(stored, wanted, epochs, as_given(overrides), code, trained):
        words = "these arguments" if cell is None else "the arguments given"
        raise UserError(
            f"resume=True continues the run in '{out}' with its saved config, but {words} change it: "
            f"{refused.listed}. {_left_unset(refused, overrides, cell)}"
            f"{_fix(refused, out, epochs, cell is not None)}"
        )
    return wanted


def _epochs_aside(overrides: dict[str, Any], own: int, epochs: int | None) -> dict[str, Any]:
    """``overrides`` without a train.epochs the run has reached (at most ``own``, its saved one: the
    length it was first given, which a cell keeps) where ``epochs`` is given: that says how far it trains
    on. A longer one stays, refused as another target than ``epochs`` (:func:`_fix`)."""
    if epochs is None:
        return overrides
    return {
        k: v
        for k, v in overrides.items()
        if not (k.replace("__", ".") == "train.epochs" and isinstance(v, int) and v <= own)
    }


def _where_it_ran(stored: dict) -> dict:
    """The settings of ``stored`` (a run's saved config) of where and how it ran (``RESULT_NEUTRAL_KEYS``),
    as a tree of their own."""
    from vislab.config.differences import RESULT_NEUTRAL_KEYS  # on use (see the imports)
    from vislab.config.overrides import set_dotted
    from vislab.experiments.results.recorded import flat_settings

    own: dict = {}
    for key, value in flat_settings(stored).items():
        if key.startswith(RESULT_NEUTRAL_KEYS):
            set_dotted(own, key, value)
    return own


def _left_unset(refused: RefusedChanges, overrides: dict[str, Any], cell: tuple | None) -> str:
    """For a cell run again with resume=True (``cell``), the refused settings no keyword argument gives
    (the cell's config's or the defaults): the keyword arguments that keep the run's values instead
    (``optim__lr=0.1``); '' where there are none."""
    if cell is None:
        return ""
    from vislab.experiments.results.recorded import flat_settings  # on use (see the imports)

    given = {key for _, key in as_given(overrides)} | {"model.name", "data.name", "train.epochs"}
    keys = [d.split(":")[0] for d in refused.differences if not d.startswith("model '")]
    had = flat_settings(refused.has)
    kept = [f"{k.replace('.', '__')}={had[k]!r}" for k in keys if k not in given and k in had]
    return (
        f"{', '.join(kept)} keeps the run's {'value' if len(kept) == 1 else 'values'}. "
        if kept
        else ""
    )


def _fix(refused: RefusedChanges, out: Path, epochs: int | None, cell: bool = False) -> str:
    """The way on from a refused change, in train()'s arguments: ``epochs=`` trains a resumed run on
    (where its schedule allows); given already, the override of train.epochs is what to leave out; else
    a new run (``cell``: config, model or data were given, which may be the run's own only)."""
    if refused.fix == "epochs_instead":
        wanted = refused.asked.train.epochs
        return f"To train it on to {wanted} epochs, give epochs={wanted} instead."
    if refused.fix == "trained_more":
        return _trained_more(refused, out, cell)
    if refused.fix == "drop_epochs_setting":
        given = refused.epochs_set_by if refused.epochs_set_by is not None else "train__epochs"
        return f"epochs={epochs} says how far to train it on: leave out {given}."
    if cell:
        return (
            f"Give out={str(out)!r} and no model, data or config but the run's own, or train them as "
            f"a new run: overwrite=True (deletes this one) or another out= "
            f"(train__init_from={str(out)!r} starts from its weights)."
        )
    return (
        f"Leave them out, or start a new run (another out=; train__init_from={str(out)!r} "
        f"starts from its weights)."
    )


def _trained_more(refused: RefusedChanges, out: Path, cell: bool) -> str:
    """The way on where train.epochs asks for no more epochs than the run has trained: it cannot be
    shortened; reopen it as it is, or resume it with its own train.epochs; fewer epochs: a new run."""
    has, wanted = refused.has["train"]["epochs"], refused.asked.train.epochs
    given = refused.epochs_set_by
    if given is None:  # a config's train.epochs
        own = f"give a config with train.epochs={has!r}"
    else:
        own = f"give {given.partition('=')[0]}={has!r}" if cell else f"leave out {given}"
    return (
        f"It has trained {refused.trained} epochs already, and a resume does not take epochs back: "
        f"vislab.load_run({str(out)!r}) opens it as it is; to resume it, {own}. A run of {wanted} "
        f"epochs is a new run: overwrite=True (deletes this one) or another out=."
    )
