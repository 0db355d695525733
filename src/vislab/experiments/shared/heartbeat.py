"""A shared suite's worker beating its claims (claims.py): a thread that marks the runs it holds alive
every ``heartbeat_s``, on a connection of its own, so that no other worker takes them over."""

from __future__ import annotations

import threading
from collections.abc import Callable

from vislab.errors import RunFailed, UserError
from vislab.experiments.shared.postgres import (
    SharedStorage,
    close_quietly,
    connect_postgres,
    transaction,
)
from vislab.experiments.shared.sql import BEAT


class Heartbeat:
    """The beat of ``worker``'s claims on ``suite``: :meth:`start` once, :meth:`stop` at the end (or
    ``stopping``, the worker's own event, set: no more beats). A missed beat (the database unreachable
    for a while) is logged; the next one may get through."""

    def __init__(
        self,
        storage: SharedStorage,
        suite: str,
        worker: str,
        log: Callable[[str], None],
        stopping: threading.Event,
    ):
        self.storage, self.log, self.stopping = storage, log, stopping
        self._params = dict(suite=suite, worker=worker)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start beating (again: nothing changes)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="vislab-heartbeat")
            self._thread.daemon = True
            self._thread.start()

    def stop(self) -> None:
        """Stop beating: the thread ends (waited for up to 10 s)."""
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        """Beat every heartbeat_s, on a connection of its own, until :meth:`stop`."""
        conn = None
        while not self.stopping.wait(self.storage.heartbeat_s):
            try:
                conn = conn or connect_postgres(self.storage)
                with transaction(conn, self.storage) as cur:
                    cur.execute(BEAT, self._params)
            except (UserError, RunFailed) as e:  # a missed beat; the next one may get through
                self.log(f"heartbeat: {e}")
                conn = close_quietly(conn)
        close_quietly(conn)
