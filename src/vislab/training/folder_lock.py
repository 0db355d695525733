"""One vislab process writes a folder at a time: ``<folder>/.lock`` holds "pid host" of the one writing it.

A run folder (``rundir.RunDir``) and a paper folder (``api/written.recording``) take it. A lock whose
process is dead on this host is stale and taken over; one of another host (a shared file system) is
refused, naming the host, since this one cannot see its processes.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

from vislab.errors import UserError


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (a process of another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_holder(text: str) -> tuple[int, str]:
    """(pid, host) of a lock's content "pid host"; pid 0 when unreadable (a stale lock)."""
    pid_s, _, host = text.partition(" ")
    try:
        return int(pid_s), host.strip()
    except ValueError:
        return 0, host.strip()


class FolderLock:
    """The lock of folder ``path`` (which must exist to take it). ``kind`` names the folder in messages
    ("run directory"), ``other`` the way out ("choose another --out"); ``unwritable`` turns an OSError of
    the folder into the UserError to raise."""

    def __init__(
        self,
        path: str | Path,
        kind: str = "folder",
        other: str = "choose another --out (Python: out=)",
        unwritable: Callable[[OSError], UserError] | None = None,
    ):
        self.path, self.kind, self.other = Path(path), kind, other
        self.unwritable = unwritable or (
            lambda e: UserError(f"cannot write to {kind} '{self.path}': {e.strerror}.")
        )
        self.held = False

    def take(self) -> None:
        """Create ``.lock`` holding "pid host" in one step (write a temp file, hard-link it), so no process
        ever sees an empty lock; a lock whose pid is dead on this host is stale and taken over."""
        lock = self.path / ".lock"
        me = f"{os.getpid()} {socket.gethostname()}"
        for _ in range(5):
            if self._create(lock, me):
                self.held = True
                return
            try:
                seen = lock.read_text()
            except FileNotFoundError:
                continue  # released meanwhile: try again
            except OSError:
                seen = ""
            self.refuse_if_held(seen)
            # stale: move it aside atomically, then check that it is the stale one we read (another process
            # may have taken it over in between: then its lock goes back)
            aside = lock.with_name(f".lock.stale.{os.getpid()}")
            try:
                os.replace(lock, aside)
            except FileNotFoundError:
                continue
            except OSError as e:
                raise self.unwritable(e) from None
            try:
                if aside.read_text() != seen:
                    with contextlib.suppress(OSError):
                        os.link(aside, lock)
            finally:
                aside.unlink(missing_ok=True)
        raise UserError(
            f"could not take the lock '{lock}'; delete it if no vislab process uses '{self.path}'."
        )

    def _create(self, lock: Path, text: str) -> bool:
        """True if we created ``lock`` with ``text``; False if it exists."""
        try:
            fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".lock.", suffix=".tmp")
            try:
                with os.fdopen(fd, "w") as f:
                    f.write(text)
                try:
                    os.link(tmp, lock)
                except FileExistsError:
                    return False
                except OSError:  # no hard links on this file system: exclusive create, then write
                    try:
                        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                    except FileExistsError:
                        return False
                    with os.fdopen(fd, "w") as f:
                        f.write(text)
                return True
            finally:
                Path(tmp).unlink(missing_ok=True)
        except OSError as e:
            raise self.unwritable(e) from None

    def refuse_if_held(self, text: str) -> None:
        """UserError naming the process of lock content ``text`` ("pid host") if it may still be running."""
        pid, host = lock_holder(text)
        lock = self.path / ".lock"
        if host and host != socket.gethostname() and pid > 0:
            raise UserError(
                f"{self.kind} '{self.path}' is locked by vislab process {pid} on host '{host}' (shared file "
                f"system?). Wait for it to finish, or {self.other}. If no such process runs, delete '{lock}'."
            )
        if pid > 0 and pid != os.getpid() and pid_alive(pid):
            raise UserError(
                f"{self.kind} '{self.path}' is in use by another vislab process (pid {pid}). "
                f"Wait for it to finish, or {self.other}. If no such process runs, delete '{lock}'."
            )

    def check_free(self) -> None:
        """Raise the 'in use by pid N' UserError if another live process holds this folder's lock."""
        with contextlib.suppress(OSError):
            self.refuse_if_held((self.path / ".lock").read_text())

    def live_holder(self) -> int | None:
        """The pid of another live process of this host that holds this folder's lock; None when the
        folder is free, its lock stale, or held on another host (whose processes this one cannot see)."""
        try:
            pid, host = lock_holder((self.path / ".lock").read_text())
        except OSError:
            return None
        if host not in ("", socket.gethostname()) or pid <= 0 or pid == os.getpid():
            return None
        return pid if pid_alive(pid) else None

    def break_lock(self, host: str) -> bool:
        """Remove the lock of a process on another ``host`` known to be gone (e.g. a suite worker whose
        claim lapsed); True if one was removed. Locks of this host are left to ``take`` (it checks pids)."""
        lock = self.path / ".lock"
        try:
            held_by = lock.read_text().partition(" ")[2].strip()
        except OSError:
            return False
        if host == socket.gethostname() or held_by != host:
            return False
        lock.unlink(missing_ok=True)
        return True

    def release(self) -> None:
        """Remove the lock if this process holds it."""
        if self.held:
            (self.path / ".lock").unlink(missing_ok=True)
            self.held = False
