"""A run's interruption carried past typer to ``main``, which says what was kept and how to resume; and
:func:`kept_on_ctrl_c`, the words of a command (report, paper, eval) cut short outside training.

``TrainingInterrupted`` is a ``KeyboardInterrupt`` (errors.py), and typer ends any KeyboardInterrupt a
command raises with a silent exit 130, dropping its message. Each command is wrapped so that the
interruption leaves it as :class:`Stopped`, an ordinary exception typer passes on."""

from __future__ import annotations

import functools
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import typer

from vislab.errors import TrainingInterrupted
from vislab.words import first_few


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


@contextmanager
def kept_on_ctrl_c(
    command: str,
    paths: list[Path],
    page: Path | None = None,
    done: str = "",
    again: str = "write it",
) -> Iterator[None]:
    """Within: a Ctrl-C ends ``vislab COMMAND`` (TrainingInterrupted, exit 130) saying what it left at
    ``paths`` (files or folders) — nothing written (and ``page``, its main file: the earlier one, or none
    yet), or the files it wrote or deleted —, ``done`` (what it had already finished) and how to go on:
    the same command again, to ``again``."""
    before = _stamps(paths)
    try:
        yield
    except KeyboardInterrupt:
        now = _stamps(paths)
        changed = sorted(p for p in {*before, *now} if before.get(p) != now.get(p))
        if not changed:
            had = f"{page} is the earlier one, as it was" if page in before else f"no {page} yet"
            left = "before it wrote a file: nothing was written" + (f" ({had})" if page else "")
        else:
            left = (
                f"after it wrote (or deleted) {len(changed)} file(s): "
                f"{first_few(list(map(str, changed)), 6)}; the other files are as they were"
            )
        raise TrainingInterrupted(
            f"vislab {command} was cut short {left}{'; ' + done if done else ''}. Run the same "
            f"`vislab {command}` command again to {again}."
        ) from None


def _stamps(paths: list[Path]) -> dict[Path, tuple[int, int, int]]:
    """Each file at or under ``paths`` (files or folders; in a folder, a dot's — vislab's record, lock,
    scratch — left out): (inode, size, mtime in ns), which a file written over or replaced since changes."""
    files = [p for p in paths if p.is_file()] + [
        f
        for p in paths
        if p.is_dir()
        for f in sorted(p.rglob("*"))
        if not any(part.startswith(".") for part in f.relative_to(p).parts)
    ]
    stamps = {}
    for f in files:
        with suppress(OSError):  # gone meanwhile, or a folder
            st = f.stat()
            if stat.S_ISREG(st.st_mode):
                stamps[f] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return stamps
