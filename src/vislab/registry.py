"""The registration decorator behind vislab's registries (models, model prefixes, data sources)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)


class NameTaken(ValueError):
    """Another function holds the name in the registry (the registrar's refusal)."""


def registrar(table: dict[str, F], name: str, what: str) -> Callable[[F], F]:
    """Decorator that puts a function in ``table`` under ``name``.

    A second function under a taken name is a :class:`NameTaken` (a ValueError) naming both
    (re-importing the module that registered it is not: the same module and qualified name replace
    themselves).
    """

    def deco(fn: F) -> F:
        old = table.get(name)
        if old is not None and _origin(old) != _origin(fn):
            raise NameTaken(
                f"{what} '{name}' is already registered by {_origin(old)}; "
                f"choose another name for {_origin(fn)}."
            )
        table[name] = fn
        return fn

    return deco


def _origin(fn: Callable) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"
