"""What a sweep's study storage (Optuna RDB: SQLite or PostgreSQL) and a shared suite's PostgreSQL
database have in common: the heartbeat timing of their workers, and how their URLs and errors are shown."""

from __future__ import annotations

from sqlalchemy.engine import make_url

# A worker beats every HEARTBEAT_S seconds; a trial or claim silent for GRACE_S is taken as abandoned.
HEARTBEAT_S, GRACE_S = 20, 90


def public_url(url: str) -> str:
    """The storage URL without its password (for files and messages); one without a password as given
    (SQLAlchemy's rendering URL-encodes it: ``sqlite:///file:PATH`` would read ``file%3A``)."""
    try:
        parsed = make_url(url)
    except Exception:
        return url
    return url if parsed.password is None else parsed.render_as_string(hide_password=True)


def first_line(e: BaseException) -> str:
    """The first line of an error's message (drivers add lines of context)."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
