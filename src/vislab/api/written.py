"""What vislab wrote into a folder a user also writes into (a paper folder, where they edit main.tex and
add their own files): a record of each file it wrote and its SHA-256, ``<folder>/.vislab-written.json``.
The record is the one rule of what is vislab's there: a folder without one is not vislab's to write into
(unless empty), and a file counts as vislab's only while the record lists it with that same content: one a
user changed since, or added, is the user's, and no vislab command deletes or replaces it.

    with recording(folder, PAPER_FILES, "vislab paper", keeps=("main.tex",)) as kept:
        write_paper(...)  # refused: a file of the user's it would replace; but an edited main.tex is
                          # kept (in ``kept``): left unwritten, and listed still as vislab wrote it
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from vislab.errors import UserError
from vislab.files import atomic_write_text
from vislab.training.folder_lock import FolderLock
from vislab.words import first_few

RECORD = ".vislab-written.json"
#: what ``vislab paper`` replaces or deletes in its folder (paper_folder/build.py: _write_texts and the
#: figures of an earlier build); what --pdf compiles next to main.tex is replaced by LaTeX itself
PAPER_FILES = (
    "main.tex",
    "texts.tex",
    "tables.tex",
    "tables.md",
    "figures.tex",
    "tables/*_epochs.tex",
    "figures/*.pdf",
    "figures/*.png",
)


def _scratch(rel: str) -> bool:
    """A temp file of a write cut short (``.*.tmp``), in a report's scratch folder (``.tmp-*/``), or
    the folder's lock (``.lock``; ``.lock.stale.<pid>`` while one is taken over)."""
    parts = rel.split("/")
    return (
        fnmatch.fnmatchcase(parts[-1], ".*.tmp")
        or any(p.startswith(".tmp-") for p in parts[:-1])
        or rel == ".lock"
        or rel.startswith(".lock.stale.")
    )


def _matches(rel: str, pattern: str) -> bool:
    """Whether relative path ``rel`` matches ``pattern`` part by part (``*`` never crosses a /)."""
    parts, wanted = rel.split("/"), pattern.split("/")
    return len(parts) == len(wanted) and all(map(fnmatch.fnmatchcase, parts, wanted))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()  # a paper's files: kilobytes to a few MB


def _files(folder: Path) -> list[str]:
    """The files under ``folder`` (links too, never followed), as sorted posix paths relative to it."""
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_symlink() or not p.is_dir()
    )


def recorded(folder: Path) -> dict[str, str] | None:
    """The record of ``folder``: relative path → SHA-256 of each file vislab wrote; None when there is
    none (or it cannot be read: then nothing in the folder is known to be vislab's)."""
    try:
        files = json.loads((folder / RECORD).read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return files if isinstance(files, dict) else None


def unchanged(folder: Path, rel: str, record: dict[str, str] | None) -> bool:
    """Whether file ``rel`` of ``folder`` is as vislab wrote it (listed in ``record``, same content)."""
    path = folder / rel
    if record is None or rel not in record or path.is_symlink() or not path.is_file():
        return False
    try:
        return _digest(path) == record[rel]
    except OSError:
        return False


def not_written(folder: Path) -> list[Path]:
    """The files of ``folder`` vislab did not write, or that changed since (:func:`unchanged`); the record
    itself and scratch files are vislab's. A link is the user's, and so is a file (or link) where
    ``folder`` should be."""
    if folder.is_symlink() or not folder.is_dir():
        return [folder]
    record = recorded(folder)
    return [
        folder / rel
        for rel in _files(folder)
        if rel != RECORD and not _scratch(rel) and not unchanged(folder, rel, record)
    ]


def explained(paths: Sequence[Path], folders: Sequence[Path], top: Path) -> str:
    """For a message: why those of ``paths`` inside the recorded ``folders`` count as the user's (one
    changed since vislab wrote it; a folder with no record at all), names relative to ``top``; ''
    when none of ``paths`` is in one of ``folders``."""
    inside = {p: f for p in paths for f in folders if f in p.parents}
    if not inside:
        return ""
    edited = [p for p, f in inside.items() if p.relative_to(f).as_posix() in (recorded(f) or {})]
    bare = sorted({f for f in inside.values() if recorded(f) is None})
    why = [f"in a paper folder vislab's files are those its {RECORD} lists, unchanged"]
    if edited:
        them = "it: it counts" if len(edited) == 1 else "them: they count"
        why.append(f"{listed(edited, top)} changed since vislab wrote {them} as yours")
    if bare:
        where = "the folder" if bare == [top] else listed(bare, top)
        why.append(f"{where} has no such list: all in it counts as yours")
    return "; ".join(why)


@contextmanager
def recording(
    folder: Path | None, replaces: Sequence[str], command: str, keeps: Sequence[str] = ()
) -> Iterator[list[str]]:
    """Refuse (UserError, nothing written) a ``folder`` that holds files but no record (no folder vislab
    wrote: it writes only into a new or empty one, or its own), or a file matching ``replaces`` (patterns
    of relative paths: what ``command`` replaces or deletes) that is not vislab's (:func:`unchanged`) —
    but for one matching ``keeps`` that vislab wrote and the user edited since: the block is given those
    (relative paths), and must leave them as they are. Then run the block and record in ``folder`` the
    files it wrote, beside those recorded before (:func:`_record`). ``folder`` None: no folder is known
    yet, nothing to check or record."""
    if folder is None:
        yield []
        return
    with _locked(folder):
        kept = _check_replaceable(folder, replaces, command, keeps)
        before = _stamps(folder)
        try:
            yield kept
        finally:
            _record(folder, before)


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s lock (FolderLock: another live vislab process writing it is refused by pid, a
    dead one's lock taken over), creating the folder, and removing it again if it is left empty. A
    file where the folder should be is left to the writer to refuse."""
    if folder.exists() and not folder.is_dir():
        yield
        return
    made = [d for d in (*reversed(folder.parents), folder) if not d.exists()]
    unwritable = lambda e: UserError(  # noqa: E731
        f"cannot write --out '{folder}': {e.strerror}. Choose a folder you can write to (Python: out=)."
    )
    lock = FolderLock(folder, "folder", "choose another folder (--out; Python: out=)", unwritable)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise unwritable(e) from None
    try:
        lock.take()
        yield
    finally:
        lock.release()
        for d in reversed(made):
            with suppress(OSError):  # not empty: kept
                d.rmdir()


def _check_replaceable(
    folder: Path, replaces: Sequence[str], command: str, keeps: Sequence[str]
) -> list[str]:
    """The files of ``folder`` matching ``keeps`` that the user edited since vislab wrote them; UserError
    as :func:`recording` says."""
    if not folder.is_dir() or folder.is_symlink():
        return []
    record = recorded(folder)
    if record is None:  # not a folder vislab wrote: every file in it is the user's
        theirs = [rel for rel in _files(folder) if rel != RECORD and not _scratch(rel)]
        _refuse(folder, theirs, f"{command} writes only into a new or empty folder, or its own")
        return []
    theirs = [
        rel
        for rel in _files(folder)
        if any(_matches(rel, p) for p in replaces) and not unchanged(folder, rel, record)
    ]
    kept = [rel for rel in theirs if rel in record and any(_matches(rel, p) for p in keeps)]
    _refuse(folder, [rel for rel in theirs if rel not in kept], f"{command} would replace them")
    return kept


def _refuse(folder: Path, theirs: Sequence[str], clause: str) -> None:
    """UserError naming the user's files ``theirs`` of ``folder``, why they count as the user's, and the
    fix; nothing when there are none."""
    if not theirs:
        return
    paths = [folder / rel for rel in theirs]
    why = explained(paths, [folder], folder)
    raise UserError(
        f"'{folder}' holds files vislab did not write ({listed(paths, folder)}), and {clause}: nothing "
        f"was written ({why}). Move them out of '{folder}', or choose another folder (--out; "
        f"Python: out=)."
    )


def listed(paths: Sequence[Path], folder: Path, most: int = 4) -> str:
    """``paths`` relative to ``folder``, a folder with a trailing /: the first ``most``, then how many
    more."""
    names = [p.relative_to(folder).as_posix() + ("/" if p.is_dir() else "") for p in paths]
    return first_few(names, most)


def _stamps(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Each file's (inode, size, mtime in ns): one written over or replaced since changes it."""
    if not folder.is_dir():
        return {}
    out = {}
    for rel in _files(folder):
        with suppress(OSError):  # gone meanwhile
            st = (folder / rel).lstat()
            out[rel] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return out


def _record(folder: Path, before: dict[str, tuple[int, int, int]]) -> None:
    """Record the files written since ``before`` (new or changed), and keep the earlier entries of the
    files still there: one the user edited keeps what vislab wrote, so it stays theirs, edited (a kept
    main.tex); a link is never vislab's. Nothing changed: the record is left as it is."""
    if not folder.is_dir():
        return
    now, old = _stamps(folder), recorded(folder)
    files = {rel: sha for rel, sha in (old or {}).items() if rel in now}
    new = [rel for rel, stamp in now.items() if before.get(rel) != stamp and rel != RECORD]
    for rel in new:
        if not _scratch(rel) and not (folder / rel).is_symlink():
            with suppress(OSError):  # gone meanwhile: nothing to record
                files[rel] = _digest(folder / rel)
    if files != (old or {}):  # a refused or failed command leaves no record behind
        text = json.dumps({"files": dict(sorted(files.items()))}, indent=1) + "\n"
        atomic_write_text(folder / RECORD, text)
