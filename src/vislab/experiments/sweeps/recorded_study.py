"""The study a sweep folder's sweep.json names, loaded from the storage it records (:func:`load_study_of`;
:func:`study_or_why` where a caller goes on without it: ``vislab report``, ``vislab compare``), and that
storage found from wherever the folder is now (:func:`recorded_storage`)."""

from __future__ import annotations

from pathlib import Path

import optuna

from vislab.errors import UserError
from vislab.experiments.databases import public_url
from vislab.experiments.records import SweepInfo
from vislab.experiments.sweeps.sqlite_file import (
    check_study_file,
    elsewhere_fix,
    holds_study,
    recorded_there,
    sqlite_path,
)
from vislab.experiments.sweeps.study import (
    absolute_storage,
    default_storage,
    load_existing_study,
    open_storage,
)


def load_study_of(folder: Path) -> optuna.Study | None:
    """The study named by ``folder/sweep.json``, or None when its storage URL's password is not recorded.
    UserError naming the file and its fix when it is missing, damaged or names no study."""
    info = SweepInfo.strict(folder)
    if info is None or not info.study:
        what = "holds no sweep.json" if info is None else "has a sweep.json that names no study"
        raise UserError(f"'{folder}' {what}. Fix: {SweepInfo.FIX.format(folder=folder)}")
    url = recorded_storage(folder, info)
    if not url or "***" in url:
        return None
    return load_existing_study(
        recorded_there(folder, found_storage(folder, url), info.study), info.study
    )


def study_or_why(folder: Path) -> tuple[optuna.Study | None, str]:
    """(``folder``'s sweep study, "") or (None, why it cannot be loaded): :func:`load_study_of`'s
    UserError, or the storage its sweep.json records without the password the folder alone lacks; where
    the storage is what failed, with the command that gives it (said here alone, and once: not after
    :func:`~vislab.experiments.sweeps.sqlite_file.elsewhere_fix`'s, which names it)."""
    try:
        study = load_study_of(folder)
    except UserError as e:
        name = SweepInfo.read(folder).study
        # a sweep.json missing, damaged or naming no study: its own fix, no other storage; a database not
        # where it records (recorded_there): its fix names `vislab sweep show` already
        if not name or str(e).endswith(elsewhere_fix(folder, name)):
            return None, str(e)
        return None, f"{e} {_from_storage(folder)}"
    if study is not None:
        return study, ""
    url = SweepInfo.read(folder).storage
    what = f"its storage without the password ({url})" if url else "no storage"
    return None, (
        f"'{Path(folder) / 'sweep.json'}' records {what}, so its study cannot be loaded from the folder "
        f"alone. {_from_storage(folder)}"
    )


def _from_storage(folder: Path) -> str:
    """How to read ``folder``'s study where the storage its sweep.json records is what failed."""
    return (
        f"To read it from its storage: `vislab sweep show {folder} --storage URL`, which lists its "
        f"trials and writes the folder's tables and report."
    )


def recorded_storage(folder: Path, info: SweepInfo) -> str | None:
    """The storage URL ``folder``'s sweep.json ``info`` records (its password masked), None if none. A
    relative SQLite path (older vislab recorded ``--storage`` as typed, relative to the folder the sweep
    started in) is looked for in ``folder`` and each folder above it, then in the current folder: the
    first that holds it, made absolute; found in none, it is returned as recorded (:func:`found_storage`). A
    --narrow stage's study lies in its first stage's storage: in the first stage's own study.db, wherever
    the sweep folder is now (:func:`_in_first_stage_db`)."""
    if info.default_storage:
        return default_storage(folder)
    if _in_first_stage_db(folder, info):
        return default_storage(Path(folder).parent)
    url, path = info.storage, sqlite_path(info.storage or "")
    if path is None or path.is_absolute():
        return url
    here = Path(folder).resolve()
    for base in (here, *here.parents, Path.cwd()):  # the sweep's own places before the caller's
        if (base / path).is_file():
            return absolute_storage(url, base)
    return url


def _in_first_stage_db(folder: Path, info: SweepInfo) -> bool:
    """Whether ``folder`` (recording ``info``) is a --narrow stage, DIR/narrow, whose study is in DIR's own
    study.db: DIR's sweep.json records that storage as its default (a moved folder records the old path)."""
    if Path(folder).name != "narrow" or not info.storage:
        return False
    first = SweepInfo.read(Path(folder).parent)
    return bool(first.default_storage) and first.storage == info.storage


def found_storage(folder: Path, url: str) -> str:
    """``url``, recorded by ``folder``'s sweep.json, once it names the database from here: UserError when
    it is an older record's relative SQLite path that no folder holds (:func:`recorded_storage`)."""
    path = sqlite_path(url)
    if path is None or path.is_absolute():
        return url
    raise UserError(
        f"'{Path(folder) / 'sweep.json'}' records the storage {url}, a path relative to the folder its "
        f"sweep was started in (older vislab recorded --storage as typed), and neither the current folder nor "
        f"'{folder}' or a folder above it holds {path}, so nothing was read or made. Give the "
        f"database's place: --storage sqlite:///PATH/TO/{path.name} (Python: storage=)."
    )


def same_storage(recorded: str, url: str) -> bool:
    """Whether sweep.json's ``recorded`` storage is ``url``: the same URL (its password masked), or an older
    record's relative SQLite path that no folder holds (:func:`found_storage`) and ``url`` ends with."""
    if recorded in (url, public_url(url)):
        return True
    old, new = sqlite_path(recorded), sqlite_path(url)
    if old is None or new is None or old.is_absolute():
        return False
    return new.parts[-len(old.parts) :] == old.parts


def check_recorded_database(out: Path, held: str, url: str, storage_url: str) -> bool:
    """Whether the SQLite file ``url``, where ``out/sweep.json`` records study ``held``, is gone (moved,
    deleted) and ``storage_url``, another storage that holds study ``held``, is where it is now. UserError,
    before anything is trained or written, when that file is damaged (an empty one too) and this run would
    use it, or gone and ``storage_url`` does not hold that study: a new study would train every trial again
    beside the trials ``out`` holds."""
    path = sqlite_path(url)
    if path is None or not path.is_absolute():
        return False
    if path.is_file():
        if same_storage(url, storage_url):
            check_study_file(url)  # damaged or empty: named, with its fixes
        return False
    other = not same_storage(url, storage_url)
    if other and _holds_study(storage_url, held):
        return True
    given = _given(storage_url, held) if other else ""
    raise UserError(
        f"'{out}' holds the trials of sweep '{held}', whose study database is not at '{path}', where its "
        f"sweep.json records it (moved, deleted or misspelt?), so nothing was trained or written: a new "
        f"study would train every trial again.{given} To go on with it, put the database back there, or give "
        f"where it is now: --storage sqlite:///PATH/TO/{path.name} (Python: storage=); to start the "
        f"sweep over, --overwrite (Python: overwrite=True; deletes its trials); else choose another "
        f"folder (--out; Python: out=)."
    )


def _given(url: str, held: str) -> str:
    """Why the storage ``url`` given is not where study ``held`` is now: a SQLite file not there, or a
    storage that holds no such study."""
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        return f" The storage given, {public_url(url)}, names '{path}', which is not there (misspelt?)."
    return f" The storage given, {public_url(url)}, holds no study '{held}'."


def _holds_study(url: str, name: str) -> bool:
    """Whether the storage ``url`` holds study ``name``: a SQLite file read only (:func:`holds_study`: no
    tables made), another database through Optuna."""
    if sqlite_path(url) is not None:
        return holds_study(url, name)
    return name in optuna.get_all_study_names(open_storage(url))
