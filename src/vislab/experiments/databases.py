"""What a sweep's study storage (Optuna RDB: SQLite or PostgreSQL) and a shared suite's PostgreSQL
database have in common: the heartbeat timing of their workers, and how their URLs and errors are shown."""

from __future__ import annotations

import re

# A worker beats every HEARTBEAT_S seconds; a trial or claim silent for GRACE_S is taken as abandoned.
HEARTBEAT_S, GRACE_S = 20, 90


def public_url(url: str) -> str:
    """The storage URL as given (SQLAlchemy's rendering would URL-encode ``sqlite:///file:PATH`` as
    ``file%3A``), its password shown as ``***``: the one after ``user:`` (up to the last ``@`` before
    the query, so a password holding ``@`` or ``/`` is hidden whole) and a ``password=`` query parameter (libpq's
    form) — for files and messages, also where the URL is malformed."""
    scheme, sep, rest = url.partition("://")
    before, q, query = rest.partition("?")
    userinfo, at, after = before.rpartition("@")
    if at and ":" in userinfo and not rest.startswith("/"):  # "/...": no host, a path (sqlite's)
        rest = f"{userinfo.split(':', 1)[0]}:***@{after}{q}{query}"
    return _PASSWORD_PARAMETER.sub(r"\1***", scheme + sep + rest)


_PASSWORD_PARAMETER = re.compile(r"(?i)([?&]password=)[^&]*")


def first_line(e: BaseException) -> str:
    """The first line of an error's message (drivers add lines of context)."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
