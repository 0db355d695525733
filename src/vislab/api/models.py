"""Looking inside a model without training it: its layer table and costs, and the gradient check of the
hand-written backprop — what ``vislab model info`` and ``vislab model gradcheck`` print, as values."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import torch
from pydantic import PlainValidator

from vislab.api.configs import user_model
from vislab.api.folders import folder_kind
from vislab.arguments import checked
from vislab.errors import ConfigError, UserError
from vislab.models import MODELS, build_model, check_model_options, model_kwargs
from vislab.models.gradcheck import TOLERANCE, GradCheck, gradcheck_model
from vislab.models.objects import is_users_code
from vislab.models.options import NeedsImages, images_not_features, input_given
from vislab.models.registry import code_of, meant_option
from vislab.models.unknown_names import data_given
from vislab.not_a_run import runs_below
from vislab.run import Run
from vislab.training.model_checks import check_output, user_code

# Imported by the functions that use them ("on use" below), as `import vislab.api` should not wait for them
# (see its __init__): the layer table (torch's flop counter, ~0.6 s on 2 cores) and vislab.predict, which
# rebuilds a run's model (matplotlib and pandas, ~1 s).
if TYPE_CHECKING:
    from vislab.models.info import ModelInfo

ModelLike = str | Path | Run | Callable[..., torch.nn.Module] | torch.nn.Module
DEFAULT_INPUT = (3, 32, 32)


@checked
def model_info(
    model: ModelLike,
    input_shape: InputShape | None = None,
    num_classes: int | None = None,
    *,
    trust_code: bool = False,
    **options: Any,
) -> ModelInfo:
    """The layer table of ``model`` (as ``vislab model info``): each layer's output shape, parameters,
    multiply-accumulates (MACs) and receptive field; the totals as attributes (``params``, ``macs``, ...);
    a transformer's tokens and ``attention_share``. A notebook shows it as a table; ``.layers`` is a
    DataFrame, ``.lines()`` the totals in words. An ``nn.Module`` object whose forward pass fails at
    ``input_shape`` (sized for other inputs) leaves the layers and parameters, no MACs, and ``.note``
    saying why, as its title, repr and notebook view do. A model it builds — your class or builder,
    ``"file.py:Net"`` — is checked as :func:`vislab.train` checks it: a forward pass of your code that
    fails at ``input_shape`` is a UserCodeError showing your code's frames; so is its ``__init__``
    raising.

    ``model``: a registered name (``"cnn"``, ``"timm:resnet18"``) built with seed 0 and ``options``; your
    class or builder, as :func:`vislab.train` takes it; a run (a ``Run``, a ``Path`` to its folder or a
    checkpoint file): its trained model at its own input shape and classes; or an ``nn.Module`` object,
    as it is (nothing is built: no options, no classes). ``input_shape``: (C, H, W) or (D,), default
    (3, 32, 32); ``num_classes``: default 10. ``trust_code``: a run's model from a file that changed since.

    >>> vislab.model_info("cnn", (1, 28, 28)).macs                  # 16714000
    >>> vislab.model_info("vit", (3, 32, 32), depth=2).attention_share
    >>> vislab.model_info(run).layers.sort_values("params")
    """
    from vislab.models.info import ModelInfo  # on use (see the imports)

    if isinstance(model, torch.nn.Module):
        _check_as_it_is(model, num_classes, options)
        shape = DEFAULT_INPUT if input_shape is None else input_shape
        return ModelInfo.of(model, shape, type(model).__name__, None)
    target = _run_target(model)
    if target is not None:
        net, shape, name, classes, frozen = _run_model(
            target, input_shape, num_classes, options, trust_code
        )
        return ModelInfo.of(net, shape, name, classes, frozen)
    name = model if isinstance(model, str) else user_model(model)
    shape = DEFAULT_INPUT if input_shape is None else input_shape
    classes = 10 if num_classes is None else _classes(num_classes, least=1)
    _check_info_options(name, options)
    return ModelInfo.of(_built(name, shape, classes, options), shape, name, classes)


def _check_info_options(name: str, options: dict[str, Any]) -> None:
    """UserError for an option model ``name`` does not take, named as model_info's keyword (``pool=``,
    not the config's ``model.pool``); the model's own check of the values otherwise (a ConfigError)."""
    own = list(model_kwargs(name))
    try:
        check_model_options(name, options)
    except ConfigError:
        unknown = [k for k in options if k not in own]
        if not unknown:
            raise
        key = unknown[0]
        near = meant_option(key, own)
        hint = (
            f" Did you mean {near}= (--set model.{near}=...)?"
            if near
            else data_given(key, by_hand=True)
        )
        raise UserError(
            f"model '{name}' has no option {key}= (vislab.model_info('{name}', ..., {key}=...) / --set "
            f"{key}=...).{hint} Its options: {', '.join(own) or 'none'}; model_info's own keywords: "
            f"input_shape, num_classes, trust_code."
        ) from None


def _built(
    name: str, input_shape: tuple[int, ...], num_classes: int, options: dict[str, Any]
) -> torch.nn.Module:
    """Model ``name`` as ``vislab.train`` builds it (seed 0): its builder's checks of the options and the
    input shape, then, for your own code, one forward pass on zeros (train's messages, either way)."""
    # input_given: the messages of the builder and of the forward pass name the shape given, not data
    with torch.random.fork_rng(devices=[]), input_given():
        torch.manual_seed(0)
        try:
            model = build_model(name, input_shape, num_classes, **options)
        except NeedsImages as e:  # the shape was given by hand, not by data
            raise images_not_features(name, input_shape) from e
        if is_users_code(name):  # options only its forward reads (timm's drop_rate=abc) fail here
            cpu = torch.device("cpu")
            check_output(model, name, input_shape, num_classes, cpu, code=code_of(name))
    return model


def _run_target(model: ModelLike) -> Path | None:
    """The run ``model`` names, or None for a model. A string is a model when it is a registered name or
    names code (``file.py:Net``, ``timm:...``); else a run when it is a checkpoint file, a folder (one
    that is no run, a suite's or a folder of runs: the loader says what it is) or a path (one with a
    folder separator or .pt: the loader says it does not exist)."""
    if isinstance(model, Run):
        return model.path
    if isinstance(model, Path):
        return model
    if not isinstance(model, str) or model in MODELS:
        return None
    path = Path(model).expanduser()
    if (path.is_file() and path.suffix == ".pt") or _holds_runs(path):
        return path
    if ":" in model or not ("/" in model or "\\" in model or path.suffix == ".pt"):
        return None  # a model name: the registry names close ones when there is none such
    return path


def _holds_runs(path: Path) -> bool:
    """Whether folder ``path`` is vislab's (a run, suite or sweep folder) or holds a run one level down: a
    name given that is such a folder is a path; another folder of that name leaves it a model name (the
    registry names close ones)."""
    if not path.is_dir():
        return False
    return folder_kind(path) is not None or any(
        folder_kind(c) for c in path.iterdir() if c.is_dir()
    )


def _run_model(
    target: Path, input_shape: Any, num_classes: Any, options: dict, trust_code: bool
) -> tuple[torch.nn.Module, tuple[int, ...], str, int, list[str]]:
    """A run's trained model, rebuilt from its checkpoint: (model, its input shape, title, classes, its
    train.freeze patterns: ``ModelInfo`` counts trainable as the run trained)."""
    from vislab.predict import load_model  # on use (see the imports)

    model, record = load_model(target, trust_code)
    pairs = (("input_shape", input_shape), ("num_classes", num_classes))
    given = [k for k, v in pairs if v is not None]
    if given or options:
        what = ", ".join(given + [f"{k}=" for k in options])
        raise UserError(
            f"{what}: '{target}' is a run, whose model, options, input shape and classes are its own. "
            f"Leave them out, or give a model name, e.g. vislab.model_info('{record.model.name}', "
            f"{tuple(record.inputs.input_shape)})."
        )
    shape = tuple(record.inputs.input_shape)
    frozen = ((record.config or {}).get("train") or {}).get("freeze") or []
    return model, shape, f"{target} ({record.model.name})", record.model.num_classes, frozen


def _check_as_it_is(model: torch.nn.Module, num_classes: Any, options: dict) -> None:
    """UserError when options or classes come with an nn.Module object: it is built already."""
    given = [*options, *(["num_classes"] if num_classes is not None else [])]
    if given:
        cls = type(model).__name__
        raise UserError(
            f"model: a {cls} object is built already, with its own options and classes: leave out "
            f"{', '.join(given)}, or pass the class {cls} itself (model={cls}) to build it with them."
        )


def _shape(shape: Any) -> tuple[int, ...]:
    """``shape`` as a tuple of 1 (D) or 3 (C, H, W) positive ints (a number's string as the number, as
    :mod:`vislab.arguments` takes one); UserError otherwise."""
    try:
        dims = tuple(_whole(d) for d in shape)
        ok = not isinstance(shape, str) and len(dims) in (1, 3) and min(dims) >= 1
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise UserError(
            f"input shape {shape!r}: give (C, H, W) for images, e.g. (3, 32, 32) or (1, 28, 28), or "
            f"(D,) for feature vectors, e.g. (2,)."
        )
    return dims


def _whole(d: Any) -> int:
    """``d`` as a whole number (``"8"``, ``8.0``: 8); ValueError for True/False or a fraction."""
    if isinstance(d, bool) or (isinstance(d, float) and not d.is_integer()):
        raise ValueError(d)
    return int(d)


# an input shape as model_info and gradcheck take it: checked by _shape (its message names the fix)
InputShape = Annotated[tuple[int, ...], PlainValidator(_shape)]


def _classes(n: int, least: int) -> int:
    """``n`` if it is at least ``least`` classes; UserError otherwise."""
    if n < least:
        raise UserError(f"num_classes={n!r}: give a whole number of classes, at least {least}.")
    return n


@checked
def gradcheck(
    model: str | Path | Run | Callable[..., torch.nn.Module] = "mlp-scratch",
    input_shape: InputShape = (2,),
    num_classes: int = 3,
    *,
    batch: int = 16,
    seed: int = 0,
    tol: float = TOLERANCE,
    **options: Any,
) -> GradCheck:
    """The hand-written backward pass of ``model`` (built with ``options``: ``mlp-scratch``, or any model
    whose ``hand_written_gradients`` hook gives one, e.g. ``"nets.py:Net"`` or your class itself, as
    :func:`vislab.train` and :func:`model_info` take it) against torch.autograd in
    float64, on a random batch (as ``vislab model gradcheck``): each parameter's relative error
    (``.table``, a DataFrame) and ``.passed`` (the largest within ``tol``). A run (a ``Run``, a ``Path``,
    a run folder or checkpoint named) is refused: the check is of a model's code, not a run's weights.
    Your model is checked as :func:`vislab.train` checks it: an exception of your hook or forward is a
    UserCodeError showing your code's frames (your class given from Python: your exception, with a note);
    a hook returning other than ``HandWrittenGradients`` of tensors is a UserError naming what it returned.
    Options are keywords of their own (``hidden=8``; ``classes=`` is refused naming ``num_classes=``).

    >>> check = vislab.gradcheck(hidden=[8, 8], input_shape=(1, 8, 8), num_classes=10)
    >>> check.passed, check.max_error, check.table
    """
    if not tol > 0:  # NaN too: no error is within it
        raise UserError(
            f"tolerance {tol:g}: give a positive tolerance, e.g. --tol 1e-6 / tol=1e-6."
        )
    if batch < 1:
        raise UserError(f"batch={batch!r}: give the number of random inputs, e.g. batch=16.")
    if (run := _run_target(model)) is not None and (run.exists() or not isinstance(model, str)):
        raise _not_a_model(run, typed=isinstance(model, str))
    classes = _classes(num_classes, least=2)
    _not_an_instance(model)
    name = model if isinstance(model, str) else user_model(model)  # a Path or a Run: refused above
    _check_gradcheck_options(name, options)
    guard = _users_hook(name)
    return gradcheck_model(name, input_shape, classes, batch, seed, guard=guard, tol=tol, **options)


def _not_a_model(target: Path, typed: bool) -> UserError:
    """gradcheck's refusal of ``target``, saying what it is: a checkpoint, a run, a folder of runs (one
    named) or another path; with how model_info names a run's model (its command too when ``typed``)."""
    kind = folder_kind(target)
    listed = target.is_dir() and kind != "run"
    runs = (
        sorted(r.as_posix() for r in runs_below(target, hand_made=False).values()) if listed else []
    )
    run, whose = str(target), "its model"
    if target.is_file() or kind == "run":
        what = "a checkpoint" if target.is_file() else "a run"
    elif runs:
        holder = f"a {kind} folder" if kind in ("suite", "sweep") else "a folder"
        what, run, whose = f"{holder} of runs, e.g. '{runs[0]}'", runs[0], "a run's model"
    else:
        what = f"a {kind} folder without runs" if kind else "a folder" if listed else "a path"
        run = ""
    cli = f"`vislab model info {run}` / " if typed else ""  # else Python's
    hint = f"; {cli}vislab.model_info('{run}') names {whose}" if run else ""
    return UserError(
        f"'{target}' is {what}, and gradcheck checks a model's hand-written backward pass on random "
        f"inputs, not a run's weights: give a model name (e.g. mlp-scratch, or path/to/file.py:Net) "
        f"or, from Python, your class itself (vislab.gradcheck(Net)){hint}."
    )


# gradcheck's own keywords, by the words a caller may write for them (the command's options among them)
_KEYWORDS = {
    **dict.fromkeys(["num_classes", "classes", "n_classes"], "num_classes"),
    **dict.fromkeys(["input_shape", "input", "shape"], "input_shape"),
    **dict.fromkeys(["batch", "batch_size"], "batch"),
    **dict.fromkeys(["tol", "tolerance"], "tol"),
    "seed": "seed",
}
_FLAGS = {"num_classes": "--classes", "input_shape": "--input", "batch": "--batch"}


def _not_an_instance(model: Any) -> None:
    """UserError for an ``nn.Module`` object: gradcheck builds the model (float64, seeded) from its class,
    or, for a class of torch's own (``nn.Sequential``: no num_classes), from a function of the user's."""
    if not isinstance(model, torch.nn.Module):
        return
    cls = type(model)
    said = (
        f"model: you passed a {cls.__name__} object (an nn.Module instance); gradcheck builds the model "
        f"itself (in float64, with seed=)"
    )
    if cls.__module__.partition(".")[0] == "torch":  # not the user's class to pass
        made = f"nn.{cls.__name__}" if cls.__module__.startswith("torch.nn") else cls.__name__
        raise UserError(
            f"{said}, for input_shape= and num_classes=: give a function that builds it, def "
            f"build(input_shape, num_classes): return {made}(...), then vislab.gradcheck(build) (its "
            f"other parameters are options, given as keywords of their own)."
        )
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    params = inspect.signature(cls).parameters.values()
    fixed = ("input_shape", "num_classes")  # gradcheck's to give, not options
    option = next((p.name for p in params if p.kind in named and p.name not in fixed), None)
    how = f", and its options as keywords, e.g. vislab.gradcheck({cls.__name__}, {option}=...)"
    raise UserError(
        f"{said}: pass the class {cls.__name__} itself, without parentheses"
        f"{how if option else f': vislab.gradcheck({cls.__name__})'}."
    )


def _check_gradcheck_options(name: str, options: dict[str, Any]) -> None:
    """UserError for an option model ``name`` does not take (:func:`_unknown_option`); the model's own
    check of the values otherwise (a ConfigError)."""
    own = list(model_kwargs(name))
    try:
        check_model_options(name, options)
    except ConfigError:
        unknown = [k for k in options if k not in own]
        if unknown:
            raise _unknown_option(name, unknown[0], own) from None
        raise


def _unknown_option(name: str, key: str, own: list[str]) -> UserError:
    """What ``key=`` is, model ``name`` taking the options ``own``: one of them with vislab.train's
    ``model__`` prefix, one of gradcheck's own keywords misspelt (``classes=``: ``num_classes=``) or a
    misspelt option of the model's."""
    bare = key.removeprefix("model__")
    if bare != key and bare in own:
        return UserError(
            f"{key}=: gradcheck takes a model's options as keywords of their own: {bare}=... "
            f"(model__{bare}= is vislab.train's spelling, beside its other sections)."
        )
    near = meant_option(key, own)
    close = [] if near else difflib.get_close_matches(key, _KEYWORDS, 1)
    keyword = _KEYWORDS.get(key) or (_KEYWORDS[close[0]] if close else None)
    options = f"its options: {', '.join(own) or 'none'}"
    if keyword:
        flag = f" (the command's {_FLAGS[keyword]})" if keyword in _FLAGS else ""
        return UserError(
            f"{key}=: neither a keyword of vislab.gradcheck nor an option of model '{name}' ({options}). "
            f"Did you mean gradcheck's {keyword}={flag}?"
        )
    hint = f" Did you mean {near}=?" if near else ""
    return UserError(
        f"model '{name}' has no option {key}= (--set {key}=... / {key}=...).{hint} {options[0].upper()}"
        f"{options[1:]}; gradcheck's own keywords: input_shape, num_classes, batch, seed, tol."
    )


def _users_hook(name: str) -> Callable[[torch.nn.Module, str], Any]:
    """What gradcheck runs the hook of model ``name`` within: an exception of your own code shown as
    ``vislab train`` shows it (``user_code``: a file.py:Net's as a UserCodeError with your frames only;
    a class given from Python re-raises it with a note)."""
    code = code_of(name)
    return lambda model, when: user_code(name, model, when, code=code)
