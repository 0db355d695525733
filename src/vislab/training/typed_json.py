"""The one reading of a JSON object into a typed record's fields (summary.json's ``RunSummary``, suite.json's
and sweep.json's records): each key whose value has the field's type is the field's; anything else is kept
as read, for the record to write back unchanged. A record that refuses a known key's value of another type
(summary.json's) says which with :func:`mistyped`."""

from __future__ import annotations

import json
import types
import typing
from typing import Any


def typed_fields(d: dict[str, Any], hints: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(known, extra): the keys of ``d`` whose values have their field's type (``hints``: field → its
    annotation; 2.0 written by hand where a whole number belongs is 2), and the others — unknown keys,
    values of another type — as read."""
    known, extra = {}, {}
    for key, value in d.items():
        hint = hints.get(key)
        if (
            hint is not None
            and isinstance(value, float)
            and value.is_integer()
            and _int_field(hint)
        ):
            value = int(value)  # 2.0 written by hand for an epoch: the epoch 2
        (known if hint is not None and _fits(value, hint) else extra)[key] = value
    return known, extra


def _int_field(hint: Any) -> bool:
    """Whether a field of type ``hint`` holds whole numbers (an epoch, a count), not any float."""
    return _fits(0, hint) and not _fits(0.5, hint)


def _fits(value: Any, hint: Any) -> bool:
    """Whether JSON ``value`` has the type ``hint`` (a field's annotation) says; an int is a float too."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if origin is list:
        return isinstance(value, list) and all(_fits(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(
            _fits(k, args[0]) and _fits(v, args[1]) for k, v in value.items()
        )
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def mistyped(d: dict[str, Any], hints: dict[str, Any]) -> list[str]:
    """What is wrong with each known key of ``d`` whose value has another type than its field's
    (``hints``, as :func:`typed_fields` reads them): ``val_acc is "x", not a number``; [] where none is."""
    _, extra = typed_fields(d, hints)
    return [
        f"{key} is {_shown(value)}, not {_words(hints[key])[0]}"
        for key, value in extra.items()
        if key in hints
    ]


def _shown(value: Any) -> str:
    """JSON ``value`` as the file holds it, cut to a few words."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else f"{text[:37]}..."


#: a field's plain type → how a message names a value of it, and several
_BASIC = {
    float: ("a number", "numbers"),
    int: ("a whole number", "whole numbers"),
    str: ("a string", "strings"),
    bool: ("true or false", "true or false"),
    type(None): ("null", "nulls"),
}


def _words(hint: Any, top: bool = True) -> tuple[str, str]:
    """How a message names a value of type ``hint`` (a field's annotation), and several of them; a field's
    own null is left unsaid (``top``: an absent key is None too), a null inside a list or object is not."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        said = [_words(a, False) for a in args if not (top and a is type(None))]
        return " or ".join(s[0] for s in said), " or ".join(s[1] for s in said)
    if origin in (list, dict):
        held = "" if args[-1] is Any else f" of {_words(args[-1], False)[1]}"
        kind = ("a list", "lists") if origin is list else ("an object", "objects")
        return f"{kind[0]}{held}", f"{kind[1]}{held}"
    return _BASIC.get(hint, ("any value", "values"))
