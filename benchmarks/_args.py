"""The benchmark scripts' flags checked before any work: a mistake ends the script in one line naming the
flag and what it takes (``gpu.py: error: argument --seeds: ...``), exit 2, no traceback."""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

DEVICES = ("cpu", "cuda")


class Parser(argparse.ArgumentParser):
    """argparse whose mistakes are one line on stderr, without the usage (``--help`` prints that)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _at_least(least: int, what: str) -> Callable[[str], int]:
    """An argparse type: a whole number of ``least`` or more (``what`` it is, for its docstring)."""

    def whole(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = least - 1
        if value < least:
            raise argparse.ArgumentTypeError(
                f"expected a whole number of {least} or more, got '{text}'"
            )
        return value

    whole.__doc__ = what
    return whole


count = _at_least(1, "A whole number of 1 or more (``--batch``, ``--epochs``, ``--seeds N``).")
workers = _at_least(0, "DataLoader worker processes: 0 (none: the main process loads) or more.")


def fraction(text: str) -> float:
    """An accuracy to reach: above 0, at most 1 (``--target 0.93``, not 93)."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(
            f"expected an accuracy above 0 and at most 1 (e.g. 0.93), got '{text}'"
        )
    return value


def seed_list(text: str) -> list[int]:
    """Seeds separated by commas: ``0,1,2``."""
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected whole numbers separated by commas (e.g. 0,1,2), got '{text}'"
        ) from None


def names_of(choices: Sequence[str], what: str = "model") -> Callable[[str], list[str]]:
    """An argparse type: names separated by commas, each one of ``choices``."""

    def names(text: str) -> list[str]:
        given = text.split(",")
        for name in given:
            if name not in choices:
                raise argparse.ArgumentTypeError(unknown(name, choices, what))
        return given

    return names


def unknown(name: str, choices: Sequence[str], what: str) -> str:
    """An unknown ``what`` named, the one it may mean and the ones there are."""
    near = difflib.get_close_matches(name.lower(), choices, n=1)
    hint = f" (did you mean '{near[0]}'?)" if near else ""
    return (
        f"unknown {what} '{name}'{hint}; give one or more of {', '.join(choices)}, "
        f"separated by commas"
    )


def unwritable(path: Path) -> str | None:
    """Why the JSON cannot be written at ``path`` (a file written there and removed), or None."""
    if path.is_dir():
        return f"{path} is a folder; give a file name, e.g. {path / 'gpu.json'}"
    probe = path.with_name(path.name + ".part")  # what common.Report writes, then renames to path
    try:
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        return f"cannot write {path} ({e.strerror}); give a file in a folder you can write to"
    return None
