"""The one calling convention of users' models, for ``file.py:Net`` references (:mod:`vislab.models.user`),
model objects given to ``vislab.train(model=...)`` (:mod:`vislab.models.objects`) and the user's classes
and functions registered with ``@register_model``: the target as a registry builder ``(input_shape,
num_classes, **options)`` whose signature is its options, the target checked to be a model class or
builder first.
"""

from __future__ import annotations

import inspect
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch.nn as nn
from pydantic import TypeAdapter

from vislab.errors import UserCodeError
from vislab.models.code_errors import code_failed

RESERVED = ("input_shape", "num_classes")  # what vislab passes; the other parameters are model.*


def adapt(
    target: Any,
    label: str,
    where: str,
    files: list[Path],
    attr: str | None = None,
) -> Callable[..., nn.Module]:
    """``target`` (an ``nn.Module`` class or a builder function) as a registry builder
    ``(input_shape, num_classes, **options)`` whose signature lists the options (with the target's type
    hints), so the registry checks ``model.*`` like a built-in's. The one calling convention of users'
    models, for ``file.py:Net`` references and for objects given to ``vislab.train(model=...)``:

    - a class is called as ``Net(num_classes=K, **options)``, plus ``input_shape=(C, H, W)`` when its
      ``__init__`` names it (a ``**kwargs`` takes num_classes); a builder as ``build(input_shape,
      num_classes, **options)``, or with both as keywords when it takes them by ``**kwargs``.

    ``label`` names the model in messages, ``attr`` the target (default its ``__name__``), ``where`` the
    place it is defined, ``files`` the files whose frames a traceback of the user's code shows. The
    builder declares ``target`` (:func:`target_of`): whose source a reopened run compares with the one it
    recorded (:mod:`vislab.models.objects`).
    """
    attr = attr or getattr(target, "__name__", type(target).__name__)
    params = _target_params(label, attr, where, target)
    options = _options(target, params)
    named = [p.name for p in params]
    by_keyword = not inspect.isclass(target) and named[:2] != list(RESERVED)  # def build(**kw)
    build = _caller(target, label, attr, where, files, "input_shape" in named, by_keyword)
    P = inspect.Parameter
    reserved = [P(n, P.POSITIONAL_OR_KEYWORD) for n in RESERVED]
    build.__signature__ = inspect.Signature([*reserved, *options])  # type: ignore[attr-defined]
    build.__annotations__ = {p.name: p.annotation for p in options if p.annotation is not P.empty}
    build.__name__ = attr
    build.__qualname__ = getattr(target, "__qualname__", attr)
    build.__module__ = getattr(target, "__module__", None) or __name__
    build.__doc__ = getattr(target, "__doc__", None)
    build.vislab_target = target  # type: ignore[attr-defined]  # read by target_of, nowhere else
    return build


def target_of(builder: Any) -> Any:
    """The class or function a registry builder calls: the target :func:`adapt` made it for, else the
    builder itself (a builder function registered as it is, vislab's or the user's)."""
    return getattr(builder, "vislab_target", builder)


def bound_now(target: Any) -> Any:
    """The class or function that ``target``'s module binds to its name now (a notebook cell run again
    binds its redefinition), or None."""
    module = sys.modules.get(getattr(target, "__module__", None) or "")
    attr = getattr(target, "__qualname__", "")
    now = getattr(module, attr, None) if module is not None and attr.isidentifier() else None
    return now if inspect.isclass(now) or inspect.isfunction(now) else None


def _options(target: Any, params: list[inspect.Parameter]) -> list[inspect.Parameter]:
    """The target's ``model.*`` options: its parameters but the reserved ones, keyword-only, with its
    type hints (a ``**kwargs`` last)."""
    hints = _hints(target.__init__ if inspect.isclass(target) else target)
    P = inspect.Parameter
    options = [
        p.replace(kind=P.KEYWORD_ONLY, annotation=hints.get(p.name, P.empty))
        if p.kind is not P.VAR_KEYWORD
        else p
        for p in params
        if p.name not in RESERVED
        and p.kind in (P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY, P.VAR_KEYWORD)
    ]
    options.sort(key=lambda p: p.kind is P.VAR_KEYWORD)
    return options


def _caller(
    target: Any,
    label: str,
    attr: str,
    where: str,
    files: list[Path],
    takes_shape: bool,
    by_keyword: bool = False,
) -> Callable[..., nn.Module]:
    """``build(input_shape, num_classes, **options)`` calling ``target`` by the one convention (a builder
    taking them by ``**kwargs`` only: as keywords); the user's exception or a non-module result is a
    UserCodeError naming the file."""
    is_class = inspect.isclass(target)

    def build(input_shape: Any, num_classes: Any, **kwargs: Any) -> nn.Module:
        try:
            if is_class:
                if takes_shape:
                    kwargs["input_shape"] = tuple(input_shape)
                model = target(num_classes=num_classes, **kwargs)
            elif by_keyword:
                model = target(input_shape=tuple(input_shape), num_classes=num_classes, **kwargs)
            else:
                model = target(tuple(input_shape), num_classes, **kwargs)
        except Exception as e:
            raise code_failed(label, e, "while building the model", files) from None
        if not isinstance(model, nn.Module):
            raise UserCodeError(
                f"model '{label}': {attr}(...) in {where} returned a {type(model).__name__}, "
                f"not a torch.nn.Module. Return the model itself (an nn.Module instance) from {attr}."
            )
        return model

    return build


def source_files(obj: Any) -> list[Path]:
    """The files defining a class's or function's code (a notebook cell is a file too): the frames of a
    traceback of the user's code that are shown."""
    funcs = [obj] if inspect.isfunction(obj) else []
    if inspect.isclass(obj):
        funcs = [f for c in obj.__mro__ if c.__module__ == obj.__module__ for f in vars(c).values()]
    return sorted({Path(f.__code__.co_filename) for f in funcs if inspect.isfunction(f)})


def _target_params(label: str, attr: str, where: str, target: Any) -> list[inspect.Parameter]:
    """The target's parameters; UserCodeError when it is no model class or builder, or when its
    signature lacks the arguments vislab passes."""
    what = f"model '{label}': {attr} in {where}"
    if inspect.isclass(target) and not issubclass(target, nn.Module):
        raise UserCodeError(
            f"{what} is a class but not a torch.nn.Module. Make it subclass nn.Module, or name a "
            f"builder function build(input_shape, num_classes, **options) that returns one."
        )
    if not callable(target):
        raise UserCodeError(
            f"{what} is a {type(target).__name__}, not callable. Name an nn.Module class or a builder "
            f"function build(input_shape, num_classes, **options)."
        )
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):  # a C callable without a signature: options unchecked
        return [inspect.Parameter("options", inspect.Parameter.VAR_KEYWORD)]
    names = [p.name for p in params]
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params)  # **kwargs: num_classes among them
    if inspect.isclass(target) and "num_classes" not in names and not takes_any:
        raise UserCodeError(
            f"{what} does not take num_classes (its parameters: {', '.join(names) or 'none'}). A model "
            f"class must accept num_classes, and may accept input_shape: "
            f"def __init__(self, num_classes, input_shape=None, ...)."
        )
    if not inspect.isclass(target) and names[:2] != list(RESERVED) and not _by_keyword(params):
        raise UserCodeError(
            f"{what} takes ({', '.join(names)}), but a builder's first two parameters must be "
            f"input_shape and num_classes: def {attr}(input_shape, num_classes, **options)."
        )
    return params


def _by_keyword(params: list[inspect.Parameter]) -> bool:
    """Whether a builder whose first two parameters are not (input_shape, num_classes) takes them as
    keywords all the same: it has ``**kwargs`` and needs no other argument (``def build(**kw)``)."""
    P = inspect.Parameter
    if not any(p.kind is P.VAR_KEYWORD for p in params):
        return False
    return all(
        p.kind in (P.VAR_POSITIONAL, P.VAR_KEYWORD)
        or (p.kind is not P.POSITIONAL_ONLY and (p.name in RESERVED or p.default is not P.empty))
        for p in params
    )


def _hints(fn: Any) -> dict[str, Any]:
    """``fn``'s type hints that pydantic can check (Any in place of any other, e.g. an undefined name)."""
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception:  # noqa: BLE001 - a hint the user's module cannot resolve: left unchecked
        return {}
    return {k: v if _checkable(v) else Any for k, v in hints.items() if k != "return"}


def _checkable(hint: Any) -> bool:
    try:
        TypeAdapter(hint)
    except Exception:  # noqa: BLE001 - pydantic has no schema for it (an arbitrary class)
        return False
    return True
