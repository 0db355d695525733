"""Several machines working through one suite: each run claimed once through a shared PostgreSQL database.

Two tables, created on first use:

    vislab_suite      one row per suite name: its runs with their resolved configs (as the first worker
                      registered them), and who wrote the results table (reported_by / reported_at)
    vislab_suite_run  one row per run: status (pending | running | complete | failed), the claim (worker,
                      host, pid, heartbeat_at, lapse_s, attempts), and the finished run's summary.json,
                      metrics.jsonl and config.yaml — so a machine without the others' folders can still
                      write the table

A worker claims the next pending run with ``SELECT ... FOR UPDATE SKIP LOCKED`` (two workers never get the
same row; the statements: sql.py) and a thread beats its claims every ``heartbeat_s`` (heartbeat.py). A
claim is taken over by the next worker that asks when its heartbeat is older than the lapse its worker set,
or at once when its process is gone on the asking worker's own host; a worker whose claim was taken over
but that completes the run anyway (it was stopped, not dead) records it, unless another has completed it.
Times are the server's (``now()``): the machines' clocks need not agree. The first worker to find every run
settled takes the report with one conditional UPDATE, so the table and report are written once.
The connection and its settings:
``postgres.SharedStorage``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import socket
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vislab.config import config_differences
from vislab.errors import RunFailed, UserError
from vislab.experiments.databases import public_url
from vislab.experiments.shared.heartbeat import Heartbeat
from vislab.experiments.shared.postgres import (
    SharedStorage,
    close_quietly,
    connect_postgres,
    transaction,
)
from vislab.experiments.shared.sql import CLAIM, HAND_BACK, LOCK_KEY, SCHEMA, TAKEABLE
from vislab.training.folder_lock import pid_alive


@dataclass
class Claim:
    """A run this worker now holds; ``previous_host``/``previous_pid``: the worker that held it before —
    which handed it back (``handed_back``: interrupted, e.g. by Ctrl-C) or went silent or died."""

    run: str
    attempts: int
    previous_host: str | None = None
    previous_pid: int | None = None
    silent_s: float | None = None
    handed_back: bool = False


class SuiteClaims:
    """This worker's view of one suite in the shared database (one connection; the heartbeat thread has
    its own). Every method is one short transaction; a database failure is RunFailed (exit 1)."""

    def __init__(self, storage: SharedStorage, suite: str, log: Callable[[str], None] = print):
        self.storage, self.suite, self.log = storage, suite, log
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.worker = f"{self.host}/{self.pid}/{secrets.token_hex(3)}"
        self._conn = connect_postgres(storage)
        self._stop = threading.Event()  # set: this worker beats its claims no more
        self._heartbeat = Heartbeat(storage, suite, self.worker, log, self._stop)
        self._mine: list[str] = []  # the runs this worker joined with (join)

    # ------------------------------------------------------------------------- transactions
    def _tx(self) -> contextlib.AbstractContextManager[Any]:
        """One transaction on this worker's connection (postgres.transaction)."""
        return transaction(self._conn, self.storage)

    # ------------------------------------------------------------------------- registration
    def join(self, runs: dict[str, dict | None]) -> bool:
        """Register the suite (run → resolved config; None for an invalid one), or check that it is the one
        registered under this name; failed runs go back to pending (a re-run tries them again).
        Returns whether every run was already settled (nothing left for anyone)."""
        registered = [{"run": n, "config": _jsonable(c)} for n, c in runs.items()]
        self._mine = list(runs)
        with self._tx() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            cur.execute(SCHEMA)
            cur.execute("SELECT runs FROM vislab_suite WHERE name = %s", (self.suite,))
            row = cur.fetchone()
            if row is None:
                cur.execute(
                    "INSERT INTO vislab_suite (name, runs) VALUES (%s, %s)",
                    (self.suite, json.dumps(registered)),
                )
                cur.executemany(
                    "INSERT INTO vislab_suite_run (suite, run, position) VALUES (%s, %s, %s)",
                    [(self.suite, r["run"], i) for i, r in enumerate(registered)],
                )
                settled = False
            elif added := _added_seeds(row[0], registered):
                self._add_runs(cur, registered, added)
                settled = False
            else:
                self._check_same(row[0], registered)
                settled = self._retry_failed(cur)
        self._heartbeat.start()
        return settled

    def _add_runs(self, cur, registered: list[dict], added: list[str]) -> None:
        """Register the runs ``added`` (more seeds of the suite's rows) as pending, after the others;
        the table is written again once they settle."""
        cur.execute(
            "SELECT coalesce(max(position), -1) FROM vislab_suite_run WHERE suite = %s",
            (self.suite,),
        )
        first = int(cur.fetchone()[0]) + 1
        cur.executemany(
            "INSERT INTO vislab_suite_run (suite, run, position) VALUES (%s, %s, %s)",
            [(self.suite, run, first + i) for i, run in enumerate(added)],
        )
        cur.execute(
            "UPDATE vislab_suite SET runs = %s, reported_by = NULL, reported_at = NULL WHERE name = %s",
            (json.dumps(registered), self.suite),
        )
        self.log(f"suite {self.suite}: more seeds registered in the database: {', '.join(added)}")

    def _check_same(self, stored: list[dict], mine: list[dict]) -> None:
        where = f"suite '{self.suite}' is in {public_url(self.storage.url)}"
        if renamed := _seeds_renamed(stored, mine):
            raise UserError(f"{where} {renamed}")
        diff = _run_differences(stored, mine)
        if diff:
            raise UserError(
                f"{where} with other runs "
                f"({'; '.join(diff[:5])}{'; …' if len(diff) > 5 else ''}), so its runs and these "
                f"would not be comparable. Join it with the same suite file and --data/--epochs/--set "
                f"options as the workers already on it, or give this suite its own name (a copy of "
                f"the suite file with name: NEW)."
            )

    def _retry_failed(self, cur) -> bool:
        cur.execute(
            "UPDATE vislab_suite_run SET status = 'pending', host = NULL, pid = NULL "
            "WHERE suite = %s AND status = 'failed' RETURNING run",  # tried anew: not handed back
            (self.suite,),
        )
        if cur.fetchall():
            cur.execute(
                "UPDATE vislab_suite SET reported_by = NULL, reported_at = NULL WHERE name = %s",
                (self.suite,),
            )
            return False
        return self._open_runs(cur) == 0

    def _open_runs(self, cur) -> int:
        cur.execute(
            "SELECT count(*) FROM vislab_suite_run WHERE suite = %s "
            "AND status IN ('pending', 'running')",
            (self.suite,),
        )
        return int(cur.fetchone()[0])

    # ------------------------------------------------------------------------- claims
    def claim(self, out: Path, skip: Collection[str] = ()) -> Claim | None:
        """The next run for this worker (pending, or held by a worker gone silent or dead), or None;
        never one of ``skip`` (e.g. runs whose folder a live process of this host still holds)."""
        with self._tx() as cur:
            params = self._takeable_params(cur)
            skip = [*skip, *self._unknown(cur)]  # more seeds another worker added: not its runs
            params.update(lapse=self.storage.lapse_s, out=str(Path(out).resolve()), skip=skip)
            cur.execute(CLAIM, params)
            row = cur.fetchone()
        if row is None:
            return None
        run, attempts, old_host, old_pid, silent, handed_back = row
        if attempts <= 1 or old_host is None:
            return Claim(run, attempts)
        return Claim(
            run, attempts, old_host, old_pid, float(silent) if silent is not None else None,
            bool(handed_back),
        )  # fmt: skip

    def release(
        self,
        run: str,
        status: str,
        message: str = "",
        files: dict | None = None,
        run_dir: Path | None = None,
    ) -> bool:
        """Settle a held run (trained in ``run_dir``): ``complete`` (``files``: its summary, metrics and
        config), ``failed``, or ``pending`` (handed back, e.g. interrupted). False if another worker had
        taken the claim over — but a ``complete`` run that no worker has completed is recorded all the
        same (a worker stopped for a while, e.g. by SIGSTOP, that finished it after all)."""
        with self._tx() as cur:
            cur.execute(
                "SELECT worker, status FROM vislab_suite_run WHERE suite = %s AND run = %s FOR UPDATE",
                (self.suite, run),
            )
            holder, now = cur.fetchone()
            mine = holder == self.worker and now == "running"
            late = not mine and status == "complete" and now != "complete"
            if mine or late:
                self._settle(cur, run, status, message, files or {}, run_dir)
        if late:
            self.log(
                f"{run}: another worker took this run over (this worker's heartbeat lapsed), but none "
                f"has completed it: this worker's complete result is recorded"
            )
        elif not mine:
            how = "and completed it" if now == "complete" else "(this worker's heartbeat lapsed)"
            self.log(
                f"{run}: another worker took this run over {how}; its outcome here ({status}) is "
                f"not recorded"
            )
        return mine or late

    def _settle(
        self, cur, run: str, status: str, message: str, files: dict, run_dir: Path | None
    ) -> None:
        """Write a run's outcome into its row, as this worker's."""
        cur.execute(
            "UPDATE vislab_suite_run SET status = %s, message = %s, summary = %s, metrics = %s, "
            "config = %s, heartbeat_at = now(), worker = %s, host = %s, pid = %s, "
            "run_dir = COALESCE(%s, run_dir) WHERE suite = %s AND run = %s",
            (
                status, message or None,
                json.dumps(files["summary"]) if files.get("summary") else None,
                files.get("metrics"), files.get("config"), self.worker, self.host, self.pid,
                str(Path(run_dir).resolve()) if run_dir is not None else None, self.suite, run,
            ),
        )  # fmt: skip

    def takeable(self) -> list[str]:
        """The runs :meth:`claim` may hand out now: pending, or held by a worker gone silent or dead."""
        with self._tx() as cur:
            params = self._takeable_params(cur)
            cur.execute(
                f"SELECT run FROM vislab_suite_run WHERE {TAKEABLE} ORDER BY position", params
            )
            return [run for (run,) in cur.fetchall()]

    def _takeable_params(self, cur) -> dict:
        """TAKEABLE's parameters: this worker, and the pids of this host's workers that are gone."""
        cur.execute(
            "SELECT DISTINCT pid FROM vislab_suite_run WHERE suite = %s AND status = 'running' "
            "AND host = %s AND pid <> %s",
            (self.suite, self.host, self.pid),
        )
        dead = [pid for (pid,) in cur.fetchall() if pid is not None and not pid_alive(pid)]
        return dict(suite=self.suite, worker=self.worker, host=self.host, pid=self.pid, dead=dead)

    def _unknown(self, cur) -> list[str]:
        """The suite's runs this worker did not join with: more seeds a later worker added."""
        if not self._mine:  # not joined: no run of its own to tell the others from
            return []
        cur.execute(
            "SELECT run FROM vislab_suite_run WHERE suite = %s AND run <> ALL(%s::text[])",
            (self.suite, self._mine),
        )
        return [run for (run,) in cur.fetchall()]

    def waiting_on(self) -> list[tuple[str, str, int]]:
        """Runs other workers hold: (run, host, pid)."""
        with self._tx() as cur:
            cur.execute(
                "SELECT run, host, pid FROM vislab_suite_run WHERE suite = %s "
                "AND status = 'running' AND worker <> %s ORDER BY position",
                (self.suite, self.worker),
            )
            return list(cur.fetchall())

    def settled(self) -> bool:
        """Whether no run is pending or running (every run complete or failed)."""
        with self._tx() as cur:
            return self._open_runs(cur) == 0

    def take_report(self) -> bool:
        """True for the one worker that writes the table and report (every run settled, not yet written),
        never one that does not know every run (others added more seeds since it joined)."""
        with self._tx() as cur:
            if self._unknown(cur):
                return False
            cur.execute(
                "UPDATE vislab_suite SET reported_by = %s, reported_at = now() "
                "WHERE name = %s AND reported_at IS NULL AND NOT EXISTS (SELECT 1 FROM "
                "vislab_suite_run WHERE suite = %s AND status IN ('pending', 'running')) "
                "RETURNING name",
                (self.worker, self.suite, self.suite),
            )
            return cur.fetchone() is not None

    def reported_by(self) -> str | None:
        with self._tx() as cur:
            cur.execute("SELECT reported_by FROM vislab_suite WHERE name = %s", (self.suite,))
            row = cur.fetchone()
        return row[0] if row else None

    def records(self) -> dict[str, dict]:
        """Run → its row: status, message, host, pid, attempts, run_dir, and summary/metrics/config if
        complete."""
        keys = (
            "status",
            "message",
            "host",
            "pid",
            "attempts",
            "run_dir",
            "summary",
            "metrics",
            "config",
        )
        with self._tx() as cur:
            cur.execute(
                f"SELECT run, {', '.join(keys)} FROM vislab_suite_run WHERE suite = %s "
                "ORDER BY position",
                (self.suite,),
            )
            return {row[0]: dict(zip(keys, row[1:])) for row in cur.fetchall()}

    # ------------------------------------------------------------------------- the end
    def close(self) -> None:
        """Stop the heartbeat; hand back (pending) any run still held, e.g. after Ctrl-C."""
        self._heartbeat.stop()
        with contextlib.suppress(RunFailed), self._tx() as cur:
            cur.execute(HAND_BACK, dict(suite=self.suite, worker=self.worker))
        close_quietly(self._conn)


def _jsonable(cfg: dict | None) -> dict | None:
    return None if cfg is None else json.loads(json.dumps(cfg, default=str))


SEED_RUN = re.compile(r"(.+)-s\d+")  # a run of a suite with seeds: <row>-s<i>


def _added_seeds(stored: list[dict], mine: list[dict]) -> list[str]:
    """The runs of ``mine`` that are more seeds of the registered suite (``stored``, run with seeds:
    every run ``<row>-s<i>``) where the runs it holds are all among them, alike; [] otherwise."""
    there = {r["run"] for r in stored}
    added = [r["run"] for r in mine if r["run"] not in there]
    matched = [SEED_RUN.fullmatch(n) for n in [*there, *added]]
    if not added or not all(matched):
        return []
    rows = {m[1] for m in matched[: len(there)]}
    if not {m[1] for m in matched[len(there) :]} <= rows:
        return []
    alike = not _run_differences(stored, [r for r in mine if r["run"] in there])
    return added if alike else []


def _seeds_renamed(stored: list[dict], mine: list[dict]) -> str:
    """Why the database's suite does not take these runs where one has seeds and the other not (each
    run has another name: ``mlp`` and ``mlp-s0``), and what to do; "" otherwise."""
    there, here = {r["run"] for r in stored}, {r["run"] for r in mine}
    seeded = [all(SEED_RUN.fullmatch(n) for n in names) for names in (there, here)]
    if there == here or seeded[0] == seeded[1]:
        return ""
    runs = ", ".join(sorted(there)[:3]) + (", …" if len(there) > 3 else "")
    if seeded[0]:
        return (
            f"with seeds (its runs: {runs}). Other --seeds make other runs, and a suite without "
            f"seeds names each run by its row. Give the same --seeds as its workers (or more: the "
            f"new seeds are added), or give this suite its own name (a copy of the suite file with "
            f"name: NEW)."
        )
    return (
        f"without seeds (its runs: {runs}). Other --seeds make other runs, named <row>-s<i>, and a "
        f"shared suite's runs are registered once, by name (one first run with --seeds N takes more "
        f"seeds later). Give the seeded suite its own name (a copy of the suite file with name: NEW) "
        f"and the same --out: it takes the runs trained there without seeds as seed 0 and trains "
        f"only the new seeds."
    )


def _run_differences(stored: list[dict], mine: list[dict]) -> list[str]:
    """What differs between the registered runs and these (run names; each run's config, ignoring where
    and how it runs: config.RESULT_NEUTRAL_KEYS)."""
    there = {r["run"]: r.get("config") for r in stored}
    here = {r["run"]: r.get("config") for r in mine}
    out = []
    if only := [n for n in there if n not in here]:
        out.append(f"runs only in the database: {', '.join(only)}")
    if only := [n for n in here if n not in there]:
        out.append(f"runs only here: {', '.join(only)}")
    for name in [n for n in here if n in there]:
        a, b = there[name], here[name]
        if (a is None) != (b is None):
            out.append(f"run '{name}': {'invalid' if b is None else 'valid'} config here only")
        elif a is not None and (diff := config_differences(a, b)):
            out.append(f"run '{name}': {', '.join(diff[:3])}")
    return out
