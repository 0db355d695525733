"""A run's interruption carried past typer to ``main``, which says what was kept and how to resume.

``TrainingInterrupted`` is a ``KeyboardInterrupt`` (errors.py), and typer ends any KeyboardInterrupt a
command raises with a silent exit 130, dropping its message. Each command is wrapped so that the
interruption leaves it as :class:`Stopped`, an ordinary exception typer passes on."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import typer

from vislab.errors import TrainingInterrupted


class Stopped(Exception):
    """A command's ``TrainingInterrupted``, on its way to ``main``."""

    def __init__(self, interruption: TrainingInterrupted):
        super().__init__(str(interruption))
        self.interruption = interruption


def carry_interruptions(group: typer.Typer) -> None:
    """Wrap every command of ``group`` and its sub-groups (see the module docstring)."""
    for info in group.registered_commands:
        if info.callback is not None:
            info.callback = _carrying(info.callback)
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            carry_interruptions(sub.typer_instance)


def _carrying(command: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(command)  # typer reads the options from the signature, which wraps keeps
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except TrainingInterrupted as e:
            raise Stopped(e) from None

    return run
