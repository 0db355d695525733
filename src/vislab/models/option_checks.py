"""Checking a model's options against its builder's signature (the registry's
:func:`~vislab.models.registry.check_model_options` and :func:`~vislab.models.registry.build_model` use
it): a pydantic model of the options, the builder wrapped to check and coerce its arguments, the checked
values as plain values to record, and one sentence per refused option (its value and the type or range
its signature declares).
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model, validate_call
from pydantic.fields import FieldInfo

from vislab.models.calling import RESERVED, target_of

if TYPE_CHECKING:
    from vislab.models.registry import Builder


def plain_values(options: BaseModel, given: dict[str, Any]) -> dict[str, Any]:
    """The validated values of the options ``given``, as JSON-like values (a tuple as a list); a value
    that has no such form (an object passed from Python) as it was given."""
    plain = dict(given)
    for key in given:
        try:
            plain[key] = options.model_dump(mode="json", include={key}, warnings=False)[key]
        except Exception:  # noqa: BLE001 - pydantic serialisation raises several types
            continue
    return plain


@functools.cache
def validating(fn: Builder) -> Builder:
    """``fn`` wrapped by pydantic: its arguments are checked and coerced to its type hints."""
    return validate_call(fn)


@functools.cache
def options_model(fn: Builder) -> type[BaseModel]:
    """A pydantic model of ``fn``'s options (its signature without input_shape/num_classes)."""
    hints = typing.get_type_hints(fn, include_extras=True)
    fields: dict[str, Any] = {
        k: (hints.get(k, Any), ... if p.default is p.empty else p.default)
        for k, p in inspect.signature(fn).parameters.items()
        if k not in RESERVED and p.kind is not p.VAR_KEYWORD
    }
    config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, protected_namespaces=())
    return create_model(f"{fn.__name__}_options", __config__=config, **fields)


_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def explain(name: str, fn: Builder, kwargs: dict[str, Any], error: ValidationError) -> str:
    """One sentence per bad option: its value and the range or type it must have."""
    hints = typing.get_type_hints(fn, include_extras=True)
    errors: dict[str, dict] = {}
    for er in error.errors():
        head = er["loc"][0] if er["loc"] else "?"
        key = RESERVED[head] if isinstance(head, int) and head < len(RESERVED) else str(head)
        # the first error of each option; for a union, its range error says more than the other branches
        if key not in errors or er["type"] in _RANGE_ERRORS:
            errors[key] = er
    sentences = []
    for key, er in errors.items():
        value = kwargs.get(key, er.get("input"))
        label = key if key in RESERVED else f"model.{key}"  # input_shape, num_classes: no options
        bounds, description = _bounds(hints.get(key))
        if er["type"] in _RANGE_ERRORS and bounds:
            every = "every item " if any(isinstance(p, int) for p in er["loc"][1:]) else ""
            note = f" ({description})" if description else ""
            sentences.append(
                f"{label}={value}{':' if every else ''} {every}must {_rule(bounds)}{note} "
                f"for model '{name}'."
            )
        elif er["type"] == "too_short":
            least = er.get("ctx", {}).get("min_length", 1)
            why = _description(hints.get(key))
            sentences.append(
                f"{label}={value} is too short: model '{name}' needs at least {least} item"
                f"{'s' if least > 1 else ''} there{f' ({why})' if why else ''}. Give one, e.g. --set "
                f"{label}=[32] / model__{key}=[32]."
            )
        elif er["type"] == "missing":
            sentences.append(
                f"model '{name}' needs {label} (its {_takes(fn)} has no default for {key}): "
                f"--set {label}=<value> / model__{key}=<value>."
            )
        else:
            sentences.append(
                f"invalid option for model '{name}': {label} = {value!r}: {er['msg']}."
            )
    return " ".join(sentences)


def _takes(fn: Builder) -> str:
    """What takes a model's options, as its code names it: ``__init__`` (a class), ``build()`` (a builder)."""
    target = target_of(fn)
    return "__init__" if inspect.isclass(target) else f"{getattr(target, '__name__', 'builder')}()"


def _bounds(tp: Any) -> tuple[dict[str, Any], str]:
    """The numeric bounds (ge/gt/le/lt) and description declared anywhere in an option's type."""
    if typing.get_origin(tp) is typing.Annotated:
        bounds, description = {}, ""
        for meta in typing.get_args(tp)[1:]:
            items = [meta, *meta.metadata] if isinstance(meta, FieldInfo) else [meta]
            for item in items:
                for side in ("ge", "gt", "le", "lt"):
                    if getattr(item, side, None) is not None:
                        bounds[side] = getattr(item, side)
            description = description or getattr(meta, "description", None) or ""
        if bounds:
            return bounds, description
    for arg in typing.get_args(tp):  # list[Size], Probability | None, Literal[...] | float
        found = _bounds(arg)
        if found[0]:
            return found
    return {}, ""


def _description(tp: Any) -> str:
    """The description an option's type declares at its top (``Widths``'s), else ""."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):  # Widths | None
        return next((d for a in typing.get_args(tp) if (d := _description(a))), "")
    if typing.get_origin(tp) is not typing.Annotated:
        return ""
    return next(
        (m.description for m in typing.get_args(tp)[1:] if getattr(m, "description", None)), ""
    )


def _rule(b: dict[str, Any]) -> str:
    """'lie in [0, 1)', 'be at least 1', 'be greater than 0', ..."""
    low = ("[", b["ge"]) if "ge" in b else ("(", b["gt"]) if "gt" in b else None
    high = (b["le"], "]") if "le" in b else (b["lt"], ")") if "lt" in b else None
    if low and high:
        return f"lie in {low[0]}{low[1]}, {high[0]}{high[1]}"
    if low:
        return f"be at least {low[1]}" if low[0] == "[" else f"be greater than {low[1]}"
    return f"be at most {high[0]}" if high[1] == "]" else f"be less than {high[0]}"  # type: ignore[index]


def type_descriptions(fn: Builder) -> dict[str, str]:
    """Each option of builder ``fn`` whose type declares a description (``Field(description=...)``) →
    that description."""
    hints = typing.get_type_hints(fn, include_extras=True)
    found = {k: _description(hints[k]) for k in allowed_values(fn) if k in hints}
    return {k: v for k, v in found.items() if v}


def allowed_values(fn: Builder) -> dict[str, str]:
    """Each option of builder ``fn`` → the values its signature allows, in words: "cls | mean",
    "true | false", "[0, 1)", "≥ 1", "list of ≥ 1"; a type's name where it declares nothing narrower."""
    hints = typing.get_type_hints(fn, include_extras=True)
    return {
        k: _allowed(hints.get(k, Any))
        for k, p in inspect.signature(fn).parameters.items()
        if k not in RESERVED and p.kind is not p.VAR_KEYWORD
    }


_SIGNS = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}


def _allowed(tp: Any) -> str:
    """The values type ``tp`` allows, in words (:func:`allowed_values`); ``| None``: may stay unset."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        return " | ".join(str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_allowed(a) for a in args if a is not type(None))
    if origin is list:
        return f"list of {_allowed(args[0]) if args else 'values'}"
    if origin is typing.Annotated and typing.get_origin(args[0]) is list:  # Widths: not empty
        items = [m for meta in args[1:] for m in (meta, *getattr(meta, "metadata", ()))]
        least = max((getattr(m, "min_length", None) or 0 for m in items), default=0)
        return (
            ("non-empty " if least == 1 else "")
            + _allowed(args[0])
            + (f" ({least} or more items)" if least > 1 else "")
        )
    if tp is bool:
        return "true | false"
    bounds, _ = _bounds(tp)
    if bounds:
        low = f"[{bounds['ge']}" if "ge" in bounds else f"({bounds['gt']}" if "gt" in bounds else ""
        high = (
            f"{bounds['le']}]" if "le" in bounds else f"{bounds['lt']})" if "lt" in bounds else ""
        )
        if low and high:
            return f"{low}, {high}"
        return " ".join(f"{_SIGNS[k]} {v}" for k, v in bounds.items())
    base = typing.get_args(tp)[0] if origin is typing.Annotated else tp
    return getattr(base, "__name__", str(base))
