"""The SQLite file a sweep's study lies in: its path, from the storage URL (a bare path or an absolute path
missing its fourth slash named with the URL meant), and a damaged one (cut short, empty, no database) named
as such — with what still works: the trials' run folders, and starting the sweep over — rather than as a
file SQLite may not write; read only, so that reading a study never makes one."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from vislab.errors import UserError
from vislab.experiments.databases import first_line, public_url


def sqlite_path(url: str) -> Path | None:
    """The file a SQLite storage URL names, as written in it (perhaps relative); None for another
    database, an in-memory one, or a ``file:`` URI (opened as the URI says)."""
    try:
        parsed = make_url(url)
    # no URL (or a port that is not a number): the storage's own check names it
    except (ArgumentError, ValueError):
        return None
    db = parsed.database
    # a file: URI (sqlite:///file:PATH?mode=ro&uri=true) is opened as the URI says, never made here
    if (
        parsed.get_backend_name() != "sqlite"
        or not db
        or db == ":memory:"
        or parsed.query.get("uri")
    ):
        return None
    return None if db.startswith("file:") else Path(db)


def check_storage_form(url: str, here: Path) -> None:
    """UserError for a ``--storage`` that names a SQLite file in a form that misleads: a bare path
    (``/x/study.db``: no URL), or a three-slash URL whose relative path reads as an absolute one
    (``sqlite:///tmp/x/study.db`` from a folder ``here`` that holds no ``tmp``, which ``/`` holds: four
    slashes make a path absolute) — naming the URL meant."""
    if "://" not in url and ("/" in url or Path(url).suffix in (".db", ".sqlite", ".sqlite3")):
        meant = f"sqlite:///{url}"  # an absolute path's / makes the fourth slash
        raise UserError(
            f"--storage {url} is a path, but --storage takes a database URL: for that SQLite file, "
            f"--storage {meant} (Python: storage={meant!r}; sqlite:/// and then the path: four slashes "
            f"before an absolute path, three before one relative to the current folder)."
        )
    path = sqlite_path(url)
    if path is None or path.is_absolute() or len(path.parts) < 2:
        return
    first = path.parts[0]
    if (here / first).exists() or not (Path("/") / first).is_dir():
        return
    meant = url.replace(":///", ":////", 1)
    raise UserError(
        f"--storage {public_url(url)} names '{path}' relative to the current folder ('{here}', which "
        f"holds no '{first}'): after sqlite:// a third slash starts a relative path. An absolute path "
        f"needs four slashes: --storage {public_url(meant)} (Python: storage={public_url(meant)!r})."
    )


#: SQLite's primary result codes for a file it cannot read as a database: SQLITE_CORRUPT, SQLITE_NOTADB
_DAMAGE_CODES = (11, 26)
# ... and their words, for Python 3.10, whose sqlite3 errors hold no code
_DAMAGE_WORDS = ("database disk image is malformed", "file is not a database")


def sqlite_damage(e: BaseException | None) -> sqlite3.DatabaseError | None:
    """The SQLite error behind ``e`` (``e`` itself, or what it was raised from or while handling) that says
    the file is damaged — no database, or a malformed one —, or None (a permission, a lock: not damage)."""
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, sqlite3.DatabaseError) and _is_damage(e):
            return e
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return None


def _is_damage(e: sqlite3.DatabaseError) -> bool:
    """Whether SQLite's error ``e`` says its file is no database or a malformed one."""
    code = getattr(e, "sqlite_errorcode", None)
    return (
        (code & 0xFF) in _DAMAGE_CODES
        if code is not None
        else any(w in str(e) for w in _DAMAGE_WORDS)
    )


def damaged_storage(url: str, e: BaseException) -> UserError | None:
    """UserError naming the damaged SQLite study file behind ``e`` (:func:`sqlite_damage`) and what still
    works: its trials' run folders, and starting the sweep over; None where ``e`` is no such damage."""
    damage, path = sqlite_damage(e), sqlite_path(url)
    if damage is None or path is None:
        return None
    return _damaged(url, path, first_line(damage))


def check_study_file(url: str) -> None:
    """UserError naming the SQLite study file ``url`` names when it is not there (moved, deleted), or holds
    no study tables (an empty file, another program's database) or is no database
    (:func:`damaged_storage`): read only, so that reading a study never makes one."""
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        raise UserError(
            f"no study database at '{path.resolve()}' (moved, deleted or misspelt?): there is no study "
            f"to read, and none was made. Give where it is: --storage sqlite:///PATH/TO/{path.name} "
            f"(Python: storage=)."
        )
    if path is None or study_tables(url):
        return
    raise _damaged(
        url, path, "an empty file" if path.stat().st_size == 0 else "no Optuna study tables"
    )


def study_tables(url: str) -> bool:
    """Whether the SQLite file ``url`` names holds Optuna's study tables, read only (False: not there, or
    an empty file; True: one it cannot open, left to the storage's own message); UserError naming it when
    it is no database (:func:`damaged_storage`)."""
    rows = _read_only(url, "SELECT 1 FROM sqlite_master WHERE type='table' AND name='studies'")
    return rows is None or bool(rows)


def holds_study(url: str, name: str) -> bool:
    """Whether the SQLite file ``url`` names holds study ``name``, read only: no tables are made (True
    where it cannot be read, left to the storage's own message; UserError naming it when it is no
    database)."""
    if not study_tables(url):
        return False
    rows = _read_only(url, "SELECT 1 FROM studies WHERE study_name = ?", name)
    return rows is None or bool(rows)


def _read_only(url: str, sql: str, *args: object) -> list[tuple] | None:
    """The rows ``sql`` reads from the SQLite file ``url`` names, opened read only: [] where it is not
    there or an empty file, None where it cannot be read; UserError naming it when it is no database
    (:func:`damaged_storage`)."""
    path = sqlite_path(url)
    if path is None or not path.is_file() or path.stat().st_size == 0:
        return []
    try:
        with contextlib.closing(
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        ) as db:
            return db.execute(sql, args).fetchall()
    except sqlite3.DatabaseError as e:
        damaged = damaged_storage(url, e)
        if damaged is not None:
            raise damaged from None
        return None


def _damaged(url: str, path: Path, why: str) -> UserError:
    """The damaged study file ``path`` (``why``: SQLite's word for it) named, and what still works."""
    said = (
        f"the study database '{path}' is damaged ({why}): SQLite cannot read its study (a copy cut short, "
        f"a disk fault?), so nothing was run or changed."
    )
    folder = path.parent
    if path.name != "study.db" or not (
        (folder / "trials").is_dir() or (folder / "sweep.json").is_file()
    ):
        return UserError(  # another --storage: the sweep folder is not known here
            f"{said} The run folders of the trials stored there are kept: `vislab compare DIR/trials` (DIR: "
            f"a sweep folder) compares them. To start a sweep over, move '{path}' aside and run it into a "
            f"new folder: vislab sweep FILE --out NEWDIR --storage {public_url(url)}."
        )
    spec = folder / "sweep.yaml" if (folder / "sweep.yaml").is_file() else "FILE"
    return UserError(
        f"{said} Its trials' run folders are kept: `vislab compare {folder / 'trials'}` compares them. To "
        f"start the sweep over: vislab sweep {spec} --out {folder} --overwrite (Python: vislab.sweep(..., "
        f"out={str(folder)!r}, overwrite=True); it deletes its trials and study.db)."
    )


@contextlib.contextmanager
def damage_named(url: str) -> Iterator[None]:
    """An error of the block caused by a damaged SQLite study file → UserError naming it
    (:func:`damaged_storage`); any other error goes on as it is."""
    try:
        yield
    except Exception as e:
        damaged = damaged_storage(url, e)
        if damaged is None:
            raise
        raise damaged from None


def elsewhere_fix(folder: Path, study: str) -> str:
    """How a sweep folder's report, paper or comparison gets its study when the database is not where the
    folder's sweep.json records it (their commands have no --storage)."""
    return (
        f"put the database back where {Path(folder) / 'sweep.json'} records it, or write a sweep folder "
        f"that records where it is now, `vislab sweep show NEW_DIR --storage URL --study {study}`, and "
        f"give NEW_DIR instead."
    )


def recorded_there(folder: Path, url: str, study: str) -> str:
    """``url``, the storage ``folder``'s sweep.json records for ``study``: UserError naming the file and
    the fix (:func:`elsewhere_fix`) when it is a SQLite file that is not there."""
    path = sqlite_path(url)
    if path is None or path.is_file():
        return url
    raise UserError(
        f"the study database of sweep folder '{folder}' is not at '{path}', where its sweep.json records "
        f"it (moved or deleted?), so the rows of its trials whose run folders are not here cannot be "
        f"read: {elsewhere_fix(folder, study)}"
    )
