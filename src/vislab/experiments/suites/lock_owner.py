"""Who holds a run folder's lock, in the user's terms: a suite's ``--jobs`` process (pool.py, a spawned
multiprocessing child) holds the folder of the run it trains, but the process the user started — the one
to wait for or stop — is the suite's own, its parent. Read from /proc (Linux); elsewhere unknown."""

from __future__ import annotations

import shlex
from pathlib import Path

from vislab.experiments.databases import public_url

_SHOWN = 160  # the longest command shown; a longer one is cut with "…"


def jobs_owner(pid: int) -> tuple[int, str] | None:
    """(pid, command) of the process whose ``--jobs`` process (a spawned multiprocessing child) ``pid``
    is — command "" where it is not a vislab command line — or None: not such a child, or unknown."""
    own = _argv(pid)
    if own is None or "--multiprocessing-fork" not in own:
        return None
    parent = _parent(pid)
    if parent is None or parent <= 1:  # orphaned: its suite's process is gone
        return None
    return parent, _command(_argv(parent) or [])


def _argv(pid: int) -> list[str] | None:
    """The command line of process ``pid`` (None: unknown)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.decode(errors="replace").split("\0")[:-1] or None


def _parent(pid: int) -> int | None:
    """The parent pid of process ``pid`` (None: unknown)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # after the command's name, which may hold spaces
    return int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None


def _command(argv: list[str]) -> str:
    """``argv`` as the user typed it (``vislab suite ...``, ``python -m vislab suite ...``), shortened;
    "" where it is not a vislab command (a script's interpreter: its own words are not the user's). A
    storage URL's password is shown as ``***``."""
    if len(argv) > 1 and Path(argv[1]).name == "vislab":
        words = ["vislab", *argv[2:]]
    elif argv[1:3] == ["-m", "vislab"]:
        words = ["python", "-m", "vislab", *argv[3:]]
    elif argv and Path(argv[0]).name == "vislab":
        words = ["vislab", *argv[1:]]
    else:
        return ""
    text = shlex.join(public_url(w) if "://" in w else w for w in words)  # no password shown
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"
