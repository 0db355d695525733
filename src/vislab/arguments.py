"""The public API's arguments, checked at its boundary in one declared way: :func:`checked` wraps a public
function (``vislab.train``, ``Run.predict`` …) so that each argument given is validated against the
function's own type hint by pydantic before the function runs, as the config is. Its rules:

- a number given as a string is taken as that number (``epochs="1"`` is 1, ``tol="1e-6"`` is 1e-6), as
  a config value is; True or False is no number (``jobs=True`` is refused);
- a folder is a string, a ``Path`` or any ``os.PathLike`` object (:data:`Folder`), given to the
  function as a ``Path``: a ``Run`` or a ``SuiteResult`` stands for its folder;
- anything else of the wrong type is a :class:`~vislab.errors.UserError` naming the function, the
  argument, the value given and what the argument takes (no traceback: it is the caller's mistake), as
  is an argument the function does not have;
- a UserError the function raises shows the caller's frames, not vislab's (:func:`users_frames`).

A hint may declare its own check (``Annotated[..., PlainValidator(fn)]``: ``fn`` raises the UserError
that names the fix); a hint naming a type imported for type checkers only (``Run.predict``'s images) is
left to the function, which checks that value itself.
"""

from __future__ import annotations

import collections.abc as abc
import functools
import inspect
import os
import sys
import types
import typing
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BeforeValidator, ConfigDict, TypeAdapter, ValidationError

from vislab.errors import TrainingInterrupted, UserError, in_users_frames


def _as_path(folder: str | os.PathLike) -> Path:
    return Path(folder)


Folder = Annotated[str | os.PathLike, AfterValidator(_as_path)]
"""A folder (a run's, a suite's, where output goes): a string, a ``Path``, or an object that names one
(``os.PathLike``: a :class:`~vislab.run.Run`, a ``SuiteResult``); the function gets it as a ``Path``."""


def _as_given(folders: Any) -> Any:
    """Several folders as the user may hold them — any iterable (a generator, ``Path.glob``, an array, a
    Series) as a list, a mapping's names as strings —; one folder as it is."""
    if isinstance(folders, (str, bytes, os.PathLike)):
        return folders
    if isinstance(folders, abc.Mapping):
        return {str(name): folder for name, folder in folders.items()}
    return list(folders) if isinstance(folders, abc.Iterable) else folders


Folders = Annotated[Folder | list[Folder] | dict[str, Folder], BeforeValidator(_as_given)]
"""One folder (:data:`Folder`), several (any iterable of them: a list, a generator, ``Path.glob``'s), or a
mapping of names to folders (a name given as a number is its string)."""

FolderList = Annotated[Folder | list[Folder], BeforeValidator(_as_given)]
"""One folder or several (any iterable of them), as :data:`Folders` but for a mapping."""

Assignments = Annotated[str | list[str] | dict[str, Any], BeforeValidator(_as_given)]
"""``key=value`` settings as a user may hold them: one string, any iterable of strings (a tuple, a
generator, an array), or a mapping of keys to values."""

F = TypeVar("F", bound=abc.Callable[..., Any])
_LAX = ConfigDict(arbitrary_types_allowed=True)
_EMPTY = inspect.Parameter.empty
_SPREAD = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def checked(fn: F) -> F:
    """``fn`` with its arguments checked against its type hints before it runs (module docstring)."""
    name = _public_name(fn)
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as e:
            said = _by_name(signature, args, kwargs) or f"{e}. Its arguments: {_listed(signature)}"
            raise UserError(f"{name}(): {said}.") from None
        adapters = _adapters(fn)
        for key, value in bound.arguments.items():
            if key in adapters:
                bound.arguments[key] = _valid(name, key, value, *adapters[key])
        return fn(*bound.args, **bound.kwargs)

    return users_frames(typing.cast(F, call))


def users_frames(fn: F) -> F:
    """``fn`` raising a :class:`~vislab.errors.UserError` with the user's frames alone
    (:func:`~vislab.errors.in_users_frames`): a mistake shows the caller's line, not vislab's frames that
    found it, nor this wrapper's; so does a :class:`~vislab.errors.TrainingInterrupted` (a Ctrl-C that
    stopped a run: the line that trained it, then how to go on). Any other exception (a bug of vislab's)
    keeps its whole traceback."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True  # noqa: F841 - IPython and pytest leave out a frame that sets it
        try:
            return fn(*args, **kwargs)
        except (UserError, TrainingInterrupted) as e:
            in_users_frames(e)
            if sys.version_info < (3, 11):  # there a bare raise re-raises the traceback as caught
                raise e  # noqa: TRY201 - this frame added, hidden by __tracebackhide__
            raise  # the traceback as rebuilt: a bare raise adds no frame of its own to it

    return typing.cast(F, call)


def _public_name(fn: abc.Callable[..., Any]) -> str:
    """How a user calls ``fn``: ``vislab.train``, ``run.predict``."""
    owner, _, method = fn.__qualname__.rpartition(".")
    return f"{owner.lower()}.{method}" if owner else f"vislab.{fn.__name__}"


def _by_name(
    signature: inspect.Signature, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> str | None:
    """For more positional arguments than ``signature`` takes, where the rest are keyword-only: how many
    it takes and the keywords to give the others by (``vislab.train(cfg, "runs/a")``: ``out=``); else
    None."""
    params = [p for p in signature.parameters.values() if p.name != "self"]
    positional = [p.name for p in params if p.kind in _POSITIONAL]
    keywords = [
        p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in kwargs
    ]
    given = len(args) - (len(signature.parameters) - len(params))  # self not counted
    if given <= len(positional) or not keywords:
        return None
    taken = ", ".join(positional) or "none"
    return (
        f"takes {len(positional)} positional argument{'s' * (len(positional) != 1)} ({taken}), "
        f"{given} given: give the others by name ({', '.join(f'{k}=' for k in keywords)})"
    )


def _listed(signature: inspect.Signature) -> str:
    stars = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}
    shown = [
        stars.get(p.kind, "") + p.name for p in signature.parameters.values() if p.name != "self"
    ]
    return ", ".join(shown)


@functools.cache
def _adapters(fn: abc.Callable[..., Any]) -> dict[str, tuple[Any, TypeAdapter]]:
    """Each checked parameter's hint and its validator, built on the first call (the hints name types of
    modules imported by then); a parameter without a hint, ``*args``/``**kwargs`` and a hint naming a
    type that is not there at run time are not checked."""
    adapters = {}
    for p in inspect.signature(fn).parameters.values():
        if p.kind in _SPREAD or p.annotation is _EMPTY:
            continue
        try:
            hint = p.annotation
            if isinstance(hint, str):
                hint = eval(hint, fn.__globals__)  # noqa: S307 - the function's own annotation
        except NameError:  # imported for type checkers only (``if TYPE_CHECKING:``)
            continue
        if hint is not Any:
            adapters[p.name] = (hint, TypeAdapter(hint, config=_LAX))
    return adapters


def _valid(name: str, key: str, value: Any, hint: Any, adapter: TypeAdapter) -> Any:
    """``value`` as ``hint`` takes it (a number's string as the number); UserError where it is not one."""
    if isinstance(value, bool) and not _takes_bool(hint):
        raise _refused(name, key, value, hint)
    try:
        return adapter.validate_python(value)
    except ValidationError as e:
        raise _refused(name, key, value, hint, _item(e)) from None


def _refused(name: str, key: str, value: Any, hint: Any, item: str = "") -> UserError:
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:79] + "…"
    return UserError(
        f"{name} got {key}={shown} ({type(value).__name__}{item}): {key} must be {_words(hint)}."
    )


def _item(error: ValidationError) -> str:
    """Which item of a list or mapping was refused (``; item 2 is 5``), or ""."""
    for er in error.errors():
        where = [p for p in er["loc"] if isinstance(p, int)]
        if where:
            return f"; item {where[0]} is {er.get('input')!r}"
    return ""


def _takes_bool(hint: Any) -> bool:
    """Whether ``hint`` takes True/False as themselves (a bool, or anything), not as a number 1/0."""
    leaves = _leaves(hint)
    return bool in leaves or object in leaves or not leaves & {int, float}


def _leaves(hint: Any) -> set[Any]:
    """The types a union (or an ``Annotated``) is made of."""
    if typing.get_origin(hint) is typing.Annotated:
        return _leaves(typing.get_args(hint)[0])
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return {leaf for arg in typing.get_args(hint) for leaf in _leaves(arg)}
    return {hint}


_NAMED = {  # a type in words: one, many
    int: ("a whole number", "whole numbers"),
    float: ("a number", "numbers"),
    str: ("a string", "strings"),
    bool: ("True or False", "True or False"),
    type(None): ("None", "None"),
    Path: ("a path", "paths"),
    os.PathLike: ("a path", "paths"),
    dict: ("a dict", "dicts"),
}


def _words(hint: Any, many: bool = False) -> str:
    """``hint`` in words: "a string or a path, or None", "a list of whole numbers"."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        return _words(args[0], many)
    if origin in (typing.Union, types.UnionType):
        said = list(dict.fromkeys(_words(a, many) for a in args if a is not type(None)))
        last = ", or " if len(said) > 2 else " or "
        either = said[0] if len(said) == 1 else f"{', '.join(said[:-1])}{last}{said[-1]}"
        return either + (", or None" if type(None) in args else "")
    if origin in (abc.Sequence, list, tuple):
        kind = "tuple" if origin is tuple else "list"
        return (
            f"{kind}s" if many else f"a {kind}" + (f" of {_words(args[0], True)}" if args else "")
        )
    if origin in (abc.Mapping, dict) or hint in (abc.Mapping, dict):
        return "dicts" if many else "a dict"
    if origin is abc.Callable or hint is abc.Callable:
        return "functions or classes" if many else "a function or class"
    if origin is typing.Literal:
        return " or ".join(repr(a) for a in args)
    if hint in _NAMED:
        return _NAMED[hint][many]
    shown = getattr(hint, "__name__", str(hint))
    return f"{shown} objects" if many else f"a {shown}"
