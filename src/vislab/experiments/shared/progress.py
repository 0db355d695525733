"""How far a shared suite is (``vislab suite FILE --storage URL --dry-run``): each run's state as its
database holds it — done, failed, claimed by which worker (its host, pid and last heartbeat), waiting —
read in one transaction that writes nothing."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from vislab.errors import UserError
from vislab.experiments.databases import public_url
from vislab.experiments.shared.postgres import (
    SharedStorage,
    close_quietly,
    connect_postgres,
    transaction,
)
from vislab.words import counted

_RUNS = """
    SELECT run, status, worker, host, pid, attempts, message,
           extract(epoch FROM now() - heartbeat_at), lapse_s
    FROM vislab_suite_run WHERE suite = %s ORDER BY position"""
_STATES = {"complete": "done", "failed": "failed", "running": "running", "pending": "waiting"}


@dataclass(frozen=True)
class RunState:
    """One run of a shared suite as its database holds it: ``state`` is done, failed, running or
    waiting; ``what`` says it in words (where it trained, why it failed, who holds it)."""

    run: str
    state: str
    what: str


@dataclass(frozen=True)
class SuiteProgress:
    """Each run's state of shared suite ``suite`` in the database at ``where``, and the worker that
    wrote its tables (None: not written yet)."""

    suite: str
    where: str
    runs: list[RunState]
    reported_by: str | None

    def lines(self) -> list[str]:
        """The state in lines: the suite's counts, a line per run, who writes the tables."""
        said = ", ".join(f"{n} {state}" for state, n in Counter(r.state for r in self.runs).items())
        lines = [f"suite {self.suite} in {self.where}: {counted(len(self.runs), 'run')} ({said})"]
        lines += [f"  {r.run}: {r.what}" for r in self.runs]
        if self.reported_by:
            lines.append(f"results: written by worker {self.reported_by} into its --out")
        else:
            lines.append(
                "results: not written yet (the worker that settles the last run writes them)"
            )
        return lines


def shared_progress(storage: SharedStorage, suite: str) -> SuiteProgress:
    """The state of each run of shared ``suite`` in ``storage`` and who writes its tables; UserError where
    the database holds no suite of that name."""
    conn = connect_postgres(storage)
    try:
        with transaction(conn, storage) as cur:
            cur.execute("SELECT to_regclass('vislab_suite_run') IS NOT NULL")
            runs, reported = [], None
            if cur.fetchone()[0]:
                cur.execute(_RUNS, (suite,))
                runs = cur.fetchall()
                cur.execute("SELECT reported_by FROM vislab_suite WHERE name = %s", (suite,))
                reported = (cur.fetchone() or (None,))[0]
    finally:
        close_quietly(conn)
    where = public_url(storage.url)
    if not runs:
        raise UserError(
            f"suite '{suite}' is not in {where}: no worker has started it there yet (or it has another "
            f"name: its file's name:). Start it with the same command without --dry-run."
        )
    states = [RunState(r[0], _STATES.get(r[1], r[1]), _run_words(*r[1:])) for r in runs]
    return SuiteProgress(suite, where, states, reported)


def _run_words(
    status: str,
    worker: str | None,
    host: str | None,
    pid: int | None,
    attempts: int,
    message: str | None,
    silent: float | None,
    lapse: float | None,
) -> str:
    """One run's state, in words."""
    if status == "complete":
        return f"done (trained on {host})"
    if status == "failed":
        why = f": {' '.join(message.split())}" if message else ""
        return f"failed on {host}{why} (a worker that joins tries it again)"
    if status == "running":
        beat = "no heartbeat yet" if silent is None else f"last heartbeat {float(silent):.0f} s ago"
        lapsed = silent is not None and lapse is not None and float(silent) > float(lapse)
        after = "; lapsed: the next worker to ask takes it over" if lapsed else ""
        return f"running, claimed by worker {worker} (host {host}, pid {pid}), {beat}{after}"
    tried = f" (handed back after {attempts} attempt{'s' * (attempts != 1)})" if attempts else ""
    return f"waiting for a worker{tried}"
