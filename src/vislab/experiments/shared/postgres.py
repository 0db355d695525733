"""The PostgreSQL database several machines share a suite through (``--storage postgresql://...``), and the
claims' timing: :class:`SharedStorage`; the psycopg2 connection (the optional ``vislab[postgres]`` extra)
and its transactions."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from vislab.errors import RunFailed, UserError
from vislab.experiments.databases import GRACE_S, HEARTBEAT_S, first_line, public_url

_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg2")
# the claims' timings, each in seconds, > 0: (option, run_suite's keyword, SharedStorage's field, what it
# times, its default)
_TIMINGS = (
    (
        "--heartbeat",
        "heartbeat",
        "heartbeat_s",
        "how often each worker beats",
        f"{HEARTBEAT_S:g} s",
    ),
    (
        "--heartbeat-lapse",
        "heartbeat_lapse",
        "lapse_s",
        "how long a claim may be silent before another worker takes its run over",
        f"{GRACE_S:g} s, or 4 heartbeats where longer",
    ),
)


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
        for option, python, seconds, means, default in _TIMINGS:
            value = getattr(self, seconds)
            if not value > 0:  # NaN too
                raise UserError(
                    f"{option} {value:g} (Python: {python}={value:g}) must be more than 0 seconds: it "
                    f"is {means}. Give a positive number, or leave it out for the default ({default})."
                )
        if not self.heartbeat_s < self.lapse_s:
            raise UserError(
                f"--heartbeat-lapse {self.lapse_s:g} must be longer than --heartbeat "
                f"{self.heartbeat_s:g} (both in seconds, > 0; Python: heartbeat_lapse=, heartbeat=): a "
                f"live worker's claim would lapse between two beats. A lapse of 3-5 heartbeats is usual."
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


@contextlib.contextmanager
def transaction(conn, storage: SharedStorage) -> Iterator[Any]:
    """A cursor in one transaction on ``conn`` (a connection to ``storage``): committed, or rolled back
    on an exception; a database failure is RunFailed (exit 1) naming the database."""
    try:
        with conn, conn.cursor() as cur:  # commits, or rolls back on an exception
            yield cur
    except postgres_driver(storage).Error as e:
        raise RunFailed(
            f"the suite database {public_url(storage.url)} failed: {first_line(e)}. Run "
            f"the same command again to go on (what finished is kept there)."
        ) from None


def close_quietly(conn) -> None:
    """Close a connection (if any) that may already be broken; returns None, to forget it."""
    if conn is not None:
        with contextlib.suppress(Exception):
            conn.close()
