"""A sweep's study and its storage: Optuna RDB studies (SQLite on one machine, PostgreSQL across several),
heartbeats, and re-queuing the trials of workers that died."""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import inspect
import os
import socket
import sqlite3
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy import event
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from vislab.errors import RunFailed, UserError, VislabError, show_note
from vislab.experiments.databases import GRACE_S, HEARTBEAT_S, first_line, public_url
from vislab.experiments.sweeps import attrs, samplers
from vislab.experiments.sweeps.space import space_yaml
from vislab.experiments.sweeps.spec import Sweep
from vislab.experiments.sweeps.sqlite_file import (
    check_storage_form,
    check_study_file,
    damage_named,
    damaged_storage,
    sqlite_path,
)
from vislab.training.folder_lock import pid_alive

# what a study's storage raises when its database fails (a lost server, a write it refuses): SQLAlchemy's
# errors, which Optuna wraps in StorageInternalError where it commits
STORAGE_ERRORS = (SQLAlchemyError, optuna.exceptions.StorageInternalError)

STORAGE_FORMS = (
    "vislab sweeps use sqlite:///PATH/study.db (one machine; the default is DIR/study.db) or "
    "postgresql://user:pass@host/db (several machines; its driver: pip install 'vislab[postgres]')."
)


def default_storage(out: Path) -> str:
    return f"sqlite:///{(Path(out) / 'study.db').resolve()}"


def absolute_storage(url: str, base: Path | None = None) -> str:
    """``url`` naming the same database from any folder: a relative SQLite path (``sqlite:///rel.db``, which
    SQLite opens in the current folder) made absolute, against ``base`` (default: the current folder);
    any other URL as given. UserError for a bare path or an absolute path missing its fourth slash
    (:func:`check_storage_form`)."""
    check_storage_form(url, Path(base or Path.cwd()))
    path = sqlite_path(url)
    if path is None or path.is_absolute():
        return url
    head, _, rest = url.partition(":///")
    _, q, query = rest.partition("?")
    return f"{head}:///{(Path(base or Path.cwd()) / path).resolve()}{q}{query}"


def check_storage_folder(url: str) -> None:
    """UserError when a SQLite ``--storage`` names a file in a folder that is not there (a typo in a shared
    path would start a separate study): naming the nearest folder that is, and how to make it."""
    path = sqlite_path(url)
    if path is None or path.parent.is_dir():
        return
    folder = path.resolve().parent
    near = next(p for p in (folder, *folder.parents) if p.exists())
    if not near.is_dir():  # a file where a folder should be: the storage's own check names it
        return
    raise UserError(
        f"--storage {public_url(url)}: the folder '{folder}' is not there (the nearest one that is: "
        f"'{near}'), so no study was made. Check the path (a typo starts a separate study); to make the "
        f"folder: mkdir -p '{folder}'."
    )


def _retry_callback(max_retry: int | None = 3) -> Callable[[optuna.Study, FrozenTrial], None]:
    """Re-queue a failed trial's parameters as a WAITING trial (at most ``max_retry`` times per original
    trial; None: always), with the user attribute ``resume_from``: the failed trial's run folder, which the
    new trial goes on from (``objective.py``)."""
    cls = (
        getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
        or optuna.storages.RetryFailedTrialCallback
    )
    with samplers.known_optuna_warnings():
        retry = cls(max_retry=max_retry)

    def requeue_resumable(study: optuna.Study, trial: FrozenTrial) -> None:
        run_dir = trial.user_attrs.get(attrs.RUN_DIR)
        if run_dir:  # the new trial inherits the failed one's user attributes
            trial = copy.copy(trial)
            trial.user_attrs = {**trial.user_attrs, attrs.RESUME_FROM: run_dir}
        retry(study, trial)

    return requeue_resumable


def requeue(study: optuna.Study, trial: FrozenTrial, max_retry: int | None = 3) -> None:
    """Queue a failed trial's parameters again (what the heartbeat does for stale trials)."""
    _retry_callback(max_retry)(study, trial)


def open_storage(url: str, attempts: int = 6) -> optuna.storages.RDBStorage:
    """An RDB storage with heartbeats (stale RUNNING trials of dead workers are failed and retried).

    Workers starting together race to create the tables: a failed first attempt is retried. Messages show
    ``url`` as given (:func:`given_url`), not with the driver put in for SQLAlchemy."""
    given, url = url, _with_driver(url)
    sqlite = url.startswith("sqlite")
    for attempt in range(attempts):
        try:
            storage = _rdb_storage(url, sqlite)
            break
        except ImportError as e:
            raise UserError(
                f"no database driver for storage '{public_url(given)}' ({first_line(e)}). {STORAGE_FORMS}"
                + (
                    ""
                    if "postgres" in url
                    else " Another database needs its SQLAlchemy driver installed "
                    "and named in the URL (e.g. pip install pymysql; mysql+pymysql://user@host/db)."
                )
            ) from None
        except (ArgumentError, DBAPIError, ValueError) as e:
            racing = isinstance(e, DBAPIError) and any(
                w in str(e).lower() for w in ("already exists", "locked", "duplicate", "unique")
            )
            if racing and attempt + 1 < attempts:
                time.sleep(0.5 * (attempt + 1))
                continue
            raise UserError(
                f"cannot open the study storage '{public_url(given)}': {first_line(e)}. {STORAGE_FORMS} "
                f"Check the URL and that the server runs."
            ) from None
    if sqlite:  # fewer fsyncs per commit: WAL makes NORMAL safe against process crashes
        event.listen(
            storage.engine, "connect", lambda conn, _: conn.execute("PRAGMA synchronous=NORMAL")
        )
        storage.engine.dispose()
    _GIVEN[storage] = given
    return storage


#: each storage open_storage opened → its URL as given (``postgresql://``, not the driver's scheme)
_GIVEN: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def given_url(storage: optuna.storages.RDBStorage) -> str:
    """The URL of ``storage`` as the user gave it to :func:`open_storage` (``postgresql://...``, not
    ``postgresql+psycopg2://...``), for messages (through :func:`public_url`: no password)."""
    return _GIVEN.get(storage, storage.url)


def _rdb_storage(url: str, sqlite: bool) -> optuna.storages.RDBStorage:
    """One attempt at opening the storage: heartbeats every HEARTBEAT_S, stale after GRACE_S, a failed
    trial's parameters queued again (the callback's keyword differs between Optuna versions)."""
    params = inspect.signature(optuna.storages.RDBStorage).parameters
    cb_key = (
        "heartbeat_stale_trial_callback"
        if "heartbeat_stale_trial_callback" in params
        else "failed_trial_callback"
    )
    engine = {"connect_args": {"timeout": 120}} if sqlite else {"pool_pre_ping": True}
    if sqlite:
        _sqlite_wal(url)
    with damage_named(url), samplers.known_optuna_warnings():
        return optuna.storages.RDBStorage(
            url,
            engine_kwargs=engine,
            heartbeat_interval=HEARTBEAT_S,
            grace_period=GRACE_S,
            **{cb_key: _retry_callback()},
        )


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
    path = sqlite_path(url)
    if path is None:
        return
    db = str(path)
    try:
        Path(db).parent.mkdir(parents=True, exist_ok=True)
        _say_if_locked(db)
        with sqlite3.connect(db, timeout=120) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
    except OSError as e:  # a file where a folder of its path should be, a folder it may not write
        file = next((p for p in Path(db).parents if p.is_file()), None)
        why = f"'{file}' is a file, not a folder" if file else f"{e.strerror}: '{e.filename}'"
        raise UserError(_unwritable(url, why)) from None
    except sqlite3.Error as e:  # a folder SQLite cannot create its file in (/sys, /proc, read-only)
        raise (damaged_storage(url, e) or UserError(_unwritable(url, first_line(e)))) from None


def _say_if_locked(db: str) -> None:
    """A note, once, when another process holds the SQLite file ``db`` locked for longer than a write takes
    (an open transaction: a program with it open, a stuck worker): the worker waits for it, up to 120 s."""
    conn = sqlite3.connect(db, timeout=LOCK_PROBE_S, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    except sqlite3.OperationalError as e:
        if "locked" in str(e):
            show_note(
                f"waiting for the study database '{db}': another process holds it locked (a program "
                f"with it open in a transaction, such as sqlite3 or a database browser, or a stuck "
                f"worker); this worker goes on once it is free, for up to 120 s."
            )
    finally:
        conn.close()


#: how long a write lock may be held before a worker says it waits (a worker's own writes take less)
LOCK_PROBE_S = 3.0


def dead_here(study: optuna.Study) -> list[FrozenTrial]:
    """The RUNNING trials whose worker was a process on this host that is dead (read only)."""
    host = socket.gethostname()
    return [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if t.user_attrs.get(attrs.HOST) == host
        and isinstance(pid := t.user_attrs.get(attrs.PID), int)
        and pid != os.getpid()
        and not pid_alive(pid)
    ]


def fail_dead_trials(study: optuna.Study, log: Callable[[str], None]) -> None:
    """RUNNING trials whose worker is gone → FAIL, and re-queued with the same params: a worker process on
    this host that is dead, or a worker anywhere whose heartbeat stopped for GRACE_S (``error`` says why,
    starting with :data:`attrs.INTERRUPTED`: such a trial counts as interrupted, as a Ctrl-C'd one, and
    its retry counts toward ``--trials`` in its place)."""
    for t in dead_here(study):
        pid = t.user_attrs[attrs.PID]
        why = f"{attrs.INTERRUPTED}: its worker (pid {pid}) died during the trial; its parameters were queued again"
        if _fail_and_requeue(study, t._trial_id, why):
            log(f"trial {t.number}: its worker (pid {pid}) is gone; marked interrupted, re-queued")
    storage = study._storage  # optuna's cache in front of the RDB storage, which beats
    if not hasattr(storage, "_get_stale_trial_ids") or storage.get_heartbeat_interval() is None:
        return
    why = (
        f"{attrs.INTERRUPTED}: its worker stopped sending heartbeats (none for over {GRACE_S} s: it died, "
        f"or lost the study database); its parameters were queued again"
    )
    for trial_id in storage._get_stale_trial_ids(study._study_id):  # what optuna's own check asks
        if _fail_and_requeue(study, trial_id, why):
            number = storage.get_trial(trial_id).number
            log(f"trial {number}: its worker sent no heartbeat for over {GRACE_S} s; marked "
                f"interrupted, re-queued")  # fmt: skip


def _fail_and_requeue(study: optuna.Study, trial_id: int, why: str) -> bool:
    """Fail a RUNNING trial with ``why`` in its ``error`` (trials.csv's error column) and queue its
    parameters again; False where another worker got there first."""
    storage = study._storage
    try:
        storage.set_trial_user_attr(trial_id, attrs.ERROR, why)
        if storage.set_trial_state_values(trial_id, state=TrialState.FAIL):
            requeue(study, storage.get_trial(trial_id))
            return True
    except optuna.exceptions.UpdateFinishedTrialError:
        pass
    return False


def storage_failure(e: BaseException) -> BaseException | None:
    """The failure of the study database behind ``e`` (``e`` itself, or what it was raised from or while
    handling: Optuna's trial loop raises its own error when the database fails under it), or None."""
    seen: set[int] = set()
    while e is not None and not isinstance(e, VislabError) and id(e) not in seen:
        if isinstance(e, STORAGE_ERRORS):
            return e.__cause__ if isinstance(e.__cause__, SQLAlchemyError) else e
        seen.add(id(e))
        e = e.__cause__ or (None if e.__suppress_context__ else e.__context__)
    return None


@contextlib.contextmanager
def storage_errors(url: str) -> Iterator[None]:
    """A failure of the study database (:func:`storage_failure`) → RunFailed naming it, and how to go on;
    a damaged SQLite file → UserError naming it (:func:`damage_named`)."""
    try:
        with damage_named(url):
            yield
    except Exception as e:
        failure = storage_failure(e)
        if failure is None:
            raise
        raise RunFailed(
            f"the study database {public_url(url)} failed: {first_line(failure)}. Run the same command "
            f"again to go on (finished trials are kept there; an interrupted trial resumes from its "
            f"last checkpoint)."
        ) from None


def open_study(
    sweep: Sweep,
    storage: optuna.storages.RDBStorage,
    name: str | None = None,
    seed: int | None = None,
) -> optuna.Study:
    """Create the study, or join it (load_if_exists) — how several workers share one."""
    name = name or sweep.name
    try:
        with samplers.known_optuna_warnings():
            study = optuna.create_study(
                storage=storage,
                study_name=name,
                direction=sweep.direction,
                sampler=samplers.build_sampler(sweep, seed),
                pruner=samplers.build_pruner(sweep),
                load_if_exists=True,
            )
    # creating the study is the first write: a storage that refuses writes fails here
    except STORAGE_ERRORS as e:
        cause = e.__cause__ if isinstance(e.__cause__, SQLAlchemyError) else e
        unwritable = UserError(_unwritable(given_url(storage), first_line(cause)))
        raise (damaged_storage(given_url(storage), e) or unwritable) from None
    check_same_metric(study, sweep.metric)
    check_same_direction(study, sweep.direction, given_url(storage))
    if attrs.METRIC not in study.user_attrs:
        study.set_user_attr(attrs.METRIC, sweep.metric)
        study.set_user_attr(attrs.SPACE, space_yaml(sweep.distributions))
    return study


def _unwritable(url: str, why: str) -> str:
    """Why a storage cannot hold a study (``why``: its error): it refuses writes, or failed."""
    return (
        f"cannot write to the study storage '{public_url(url)}': {why}. Every worker "
        f"writes its trials there: give --storage a database this user can write (a SQLite file "
        f"opened read-write, in a folder it can write; a PostgreSQL role allowed to INSERT and UPDATE "
        f"in it), or leave --storage out (DIR/study.db)."
    )


def check_same_metric(study: optuna.Study, metric: str) -> None:
    """UserError when the study scores its trials by another metric: one column would mix the two."""
    stored = study.user_attrs.get(attrs.METRIC)
    if stored is not None and stored != metric:
        raise UserError(
            f"study '{study.study_name}' scores its trials by {stored}, but this sweep asks for {metric}: "
            f"its trials would mix the two in one column. Join it with metric: {stored}, or start another "
            f"study for {metric}: another --out or --storage (Python: out=, storage=), or another study "
            f"name (the name: key of the sweep file)."
        )


def check_same_direction(study: optuna.Study, direction: str, url: str) -> None:
    """UserError when the study (in storage ``url``) was made to maximise where the sweep minimises, or
    the reverse."""
    held = study.direction.name.lower()
    if held != direction:
        raise UserError(
            f"study '{study.study_name}' in {public_url(url)} exists with direction {held}, but the sweep "
            f"file asks for {direction}. Join it with direction: {held}, or give the sweep another name "
            f"(the name: key of its file) or another --storage (Python: storage=)."
        )


def open_existing_storage(url: str) -> optuna.storages.RDBStorage:
    """:func:`open_storage` for reading a study: a SQLite file that is not there, or holds no study, is
    refused (:func:`check_study_file`), not made."""
    check_study_file(url)
    return open_storage(url)


def load_existing_study(storage_url: str, name: str) -> optuna.Study:
    """The study ``name`` in ``storage_url``: UserError when the database or the study is not there."""
    storage = open_existing_storage(storage_url)
    try:
        with damage_named(storage_url):
            return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        names = optuna.get_all_study_names(storage)
        raise UserError(
            f"no study '{name}' in {public_url(storage_url)}; "
            f"it holds: {', '.join(names) or 'none'}."
        ) from None
