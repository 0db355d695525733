"""Figure file names: the parts that tell two figures apart, and no silent replacement of an earlier file."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

from vislab.errors import UserError


def name_part(text: str, limit: int = 60) -> str:
    """``text`` made safe inside a file name: runs of other characters than letters, digits, ``.``, ``_``
    and ``-`` become ``_`` (``my_models/net.py:Net`` → ``my_models_net.py_Net``); beyond ``limit``
    characters, cut and followed by 8 hex digits of its hash, so that two long texts keep two names."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "x"
    if len(safe) <= limit:
        return safe
    return f"{safe[:limit]}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"


def check_new_files(paths: Iterable[Path], force: bool, option: str = "--out") -> None:
    """UserError naming the first of ``paths`` that already exists, unless ``force`` (checked before any
    work, so a refused command leaves every earlier file as it was)."""
    if force:
        return
    for path in paths:
        if Path(path).exists():
            raise UserError(
                f"'{path}' already exists: give --force to replace it, or another {option}."
            )
