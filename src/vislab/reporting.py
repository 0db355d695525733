"""How the layers below the command show work in progress without formatting for a terminal themselves.

The entry point chooses the display: ``vislab`` (cli/terminal.py) installs rich's live bars with
:func:`use_display` while a command runs. Without one (the Python API, a notebook, a spawned worker, a
test) training prints plain lines (training/progress.py) and a download says one line on a terminal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Protocol

Advance = Callable[[int], None]
"""Called with each chunk's size in bytes as a download goes."""


class LiveBar(Protocol):
    """One progress bar redrawn in place on a terminal, reused task after task (the trainer's epochs)."""

    def start(self, description: str, total: int) -> None:
        """Show the bar for a task of ``total`` steps."""

    def update(self, completed: int, info: str) -> None:
        """Move the bar to ``completed`` steps, with ``info`` (loss, accuracy) beside it."""

    def restart(self, description: str) -> None:
        """Back to zero for the next task of the same length."""

    def print(self, text: str) -> None:
        """A line of text above the bar."""

    def stop(self) -> None:
        """Remove the bar; :meth:`start` may show it again."""


class Display(Protocol):
    """What the entry point offers the layers below for showing progress."""

    def live_bar(self) -> LiveBar | None:
        """A bar when the output is an interactive terminal; None otherwise (plain lines instead)."""

    def download_bar(
        self, name: str, total: int | None, done: int
    ) -> AbstractContextManager[Advance]:
        """Shown while file ``name`` downloads (``total`` bytes if known, ``done`` already there)."""


_installed: list[Display] = []


def display() -> Display | None:
    """The display the entry point installed (the innermost), or None."""
    return _installed[-1] if _installed else None


@contextlib.contextmanager
def use_display(shown: Display) -> Iterator[None]:
    """Install ``shown`` for the layers below while the block runs."""
    _installed.append(shown)
    try:
        yield
    finally:
        _installed.remove(shown)
