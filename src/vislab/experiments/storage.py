"""Shared storage. Sweeps: Optuna RDB studies (SQLite on one machine, PostgreSQL across several),
heartbeats, and re-queuing the trials of workers that died. Suites on several machines: the PostgreSQL
database and claim timing (SharedStorage) that experiments/claims.py works with."""

from __future__ import annotations

import importlib.util
import inspect
import os
import socket
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from vislab.errors import UserError
from vislab.experiments import space as sp
from vislab.training.rundir import pid_alive

HEARTBEAT_S, GRACE_S = 20, 90
_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg2")


def default_storage(out: Path) -> str:
    return f"sqlite:///{(Path(out) / 'study.db').resolve()}"


def public_url(url: str) -> str:
    """The storage URL without its password (for files and messages)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def _retry_callback():
    """Re-queue a failed trial's parameters as a WAITING trial (at most 3 times per original trial)."""
    cls = (
        getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
        or optuna.storages.RetryFailedTrialCallback
    )
    with sp.known_optuna_warnings():
        return cls(max_retry=3)


def requeue(study: optuna.Study, trial: FrozenTrial) -> None:
    """Queue a failed trial's parameters again (what the heartbeat does for stale trials)."""
    _retry_callback()(study, trial)


def open_storage(url: str, attempts: int = 6) -> optuna.storages.RDBStorage:
    """An RDB storage with heartbeats (stale RUNNING trials of dead workers are failed and retried).

    Workers starting together race to create the tables: a failed first attempt is retried."""
    url = _with_driver(url)
    params = inspect.signature(optuna.storages.RDBStorage).parameters
    cb_key = (
        "heartbeat_stale_trial_callback"
        if "heartbeat_stale_trial_callback" in params
        else "failed_trial_callback"
    )
    sqlite = url.startswith("sqlite")
    engine = {"connect_args": {"timeout": 120}} if sqlite else {"pool_pre_ping": True}
    for attempt in range(attempts):
        try:
            if sqlite:
                _sqlite_wal(url)
            with sp.known_optuna_warnings():
                storage = optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=engine,
                    heartbeat_interval=HEARTBEAT_S,
                    grace_period=GRACE_S,
                    **{cb_key: _retry_callback()},
                )
            break
        except ImportError as e:
            hint = " pip install 'vislab[postgres]'." if "postgres" in url else ""
            raise UserError(
                f"no database driver for storage '{public_url(url)}' ({e}).{hint}"
            ) from None
        except (ArgumentError, DBAPIError, ValueError) as e:
            racing = isinstance(e, DBAPIError) and any(
                w in str(e).lower() for w in ("already exists", "locked", "duplicate", "unique")
            )
            if racing and attempt + 1 < attempts:
                time.sleep(0.5 * (attempt + 1))
                continue
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UserError(
                f"cannot open the study storage '{public_url(url)}': {first}. Check the URL "
                f"(e.g. sqlite:///DIR/study.db or postgresql://user:pass@host/db) and that the server "
                f"runs."
            ) from None
    if sqlite:  # fewer fsyncs per commit: WAL makes NORMAL safe against process crashes
        event.listen(
            storage.engine, "connect", lambda conn, _: conn.execute("PRAGMA synchronous=NORMAL")
        )
        storage.engine.dispose()
    return storage


def _with_driver(url: str) -> str:
    """``postgresql://`` → the PostgreSQL driver that is installed (SQLAlchemy 2.1 assumes psycopg 3;
    the vislab[postgres] extra installs psycopg2)."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme in ("postgresql", "postgres"):
        for module, dialect in (
            ("psycopg2", "postgresql+psycopg2"),
            ("psycopg", "postgresql+psycopg"),
        ):
            if importlib.util.find_spec(module) is not None:
                return f"{dialect}://{rest}"
    return url


def _sqlite_wal(url: str) -> None:
    """Put a local SQLite study file in WAL mode: workers read while another writes, commits fsync less."""
    db = make_url(url).database
    if not db or db == ":memory:":
        return
    Path(db).parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(db, timeout=120) as conn:
        conn.execute("PRAGMA journal_mode=WAL")


def fail_dead_trials(study: optuna.Study, log: Callable[[str], None]) -> None:
    """RUNNING trials whose worker process on this host is gone → FAIL, and re-queued with the same params."""
    storage, host = study._storage, socket.gethostname()
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = t.user_attrs.get("pid")
        if (
            t.user_attrs.get("host") != host
            or not isinstance(pid, int)
            or pid == os.getpid()
            or pid_alive(pid)
        ):
            continue
        try:
            if storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL):
                requeue(study, storage.get_trial(t._trial_id))
                log(
                    f"trial {t.number}: its worker (pid {pid}) is gone; marked failed and re-queued"
                )
        except optuna.exceptions.UpdateFinishedTrialError:
            pass  # another worker got there first


def open_study(
    spec: dict,
    storage: optuna.storages.RDBStorage,
    name: str | None = None,
    seed: int | None = None,
) -> optuna.Study:
    """Create the study, or join it (load_if_exists) — how several workers share one."""
    name = name or spec["name"]
    with sp.known_optuna_warnings():
        study = optuna.create_study(
            storage=storage,
            study_name=name,
            direction=spec["direction"],
            sampler=sp.build_sampler(spec, seed),
            pruner=sp.build_pruner(spec),
            load_if_exists=True,
        )
    if study.direction.name.lower() != spec["direction"]:
        raise UserError(
            f"study '{name}' in {public_url(storage.url)} exists with direction "
            f"{study.direction.name.lower()}, but the sweep file asks for {spec['direction']}. "
            f"Give the sweep another name: (or another --storage)."
        )
    if "metric" not in study.user_attrs:
        study.set_user_attr("metric", spec["metric"])
        study.set_user_attr("space", sp.space_yaml(spec["distributions"]))
    return study


def load_existing_study(storage_url: str, name: str) -> optuna.Study:
    storage = open_storage(storage_url)
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        names = optuna.get_all_study_names(storage)
        raise UserError(
            f"no study '{name}' in {public_url(storage_url)}; "
            f"it holds: {', '.join(names) or 'none'}."
        ) from None


# ------------------------------------------------------------------------ suites: PostgreSQL
@dataclass(frozen=True)
class SharedStorage:
    """The database several machines share a suite through, and the claims' timing (seconds): each worker
    beats every ``heartbeat_s``; a claim silent for ``lapse_s`` is taken over."""

    url: str
    heartbeat_s: float = HEARTBEAT_S
    lapse_s: float = GRACE_S

    def __post_init__(self) -> None:
        scheme = self.url.partition("://")[0].lower() if "://" in self.url else ""
        if scheme not in _POSTGRES_SCHEMES:
            raise UserError(
                f"--storage {public_url(self.url)}: a suite shares its runs through PostgreSQL, "
                f"postgresql://user:password@host:port/database (pip install 'vislab[postgres]'), "
                f"not '{scheme or self.url}'. On one machine leave --storage out (--jobs N trains "
                f"several runs at once)."
            )
        if not 0 < self.heartbeat_s < self.lapse_s:
            raise UserError(
                f"--heartbeat-lapse {self.lapse_s:g} must be longer than --heartbeat "
                f"{self.heartbeat_s:g} (both in seconds, > 0): a live worker's claim would lapse "
                f"between two beats. A lapse of 3-5 heartbeats is usual."
            )

    @classmethod
    def timed(
        cls, url: str, heartbeat_s: float | None = None, lapse_s: float | None = None
    ) -> SharedStorage:
        """Defaults: a beat every HEARTBEAT_S; a lapse of GRACE_S, or of 4 beats when that is longer."""
        beat = HEARTBEAT_S if heartbeat_s is None else heartbeat_s
        return cls(url, beat, max(GRACE_S, 4 * beat) if lapse_s is None else lapse_s)

    @property
    def dsn(self) -> str:
        """The URL as libpq takes it (``postgresql://``, no SQLAlchemy driver suffix)."""
        return "postgresql://" + self.url.partition("://")[2]


def postgres_driver(storage: SharedStorage):
    """The psycopg2 module (UserError saying how to install it)."""
    try:  # on use: the optional `postgres` extra
        import psycopg2
    except ImportError:
        raise UserError(
            f"--storage {public_url(storage.url)} needs the PostgreSQL driver: "
            f"pip install 'vislab[postgres]'."
        ) from None
    return psycopg2


def connect_postgres(storage: SharedStorage):
    """A psycopg2 connection (UserError naming the database when it cannot be reached)."""
    psycopg2 = postgres_driver(storage)
    try:
        return psycopg2.connect(storage.dsn, connect_timeout=10, application_name="vislab suite")
    except psycopg2.Error as e:
        raise UserError(
            f"cannot open the suite database {public_url(storage.url)}: {first_line(e)}. Check the "
            f"URL (postgresql://user:password@host:port/database) and that the server runs."
        ) from None


def first_line(e: BaseException) -> str:
    """The first line of an error's message (drivers add lines of context)."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
