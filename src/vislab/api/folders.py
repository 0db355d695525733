"""What vislab wrote a folder as (a run, a suite or a sweep), and emptying one to start it over."""

from __future__ import annotations

import shutil
from pathlib import Path

from vislab.errors import UserError
from vislab.training.rundir import RunDir

# ------------------------------------------------------------------------------------ start over
FOLDER_KINDS = {
    "run": "config.yaml, alone or beside summary.json, metrics.jsonl, checkpoints/ or figures/",
    "suite": "suite.json",
    "sweep": "sweep.json or study.db",
}
RUN_MARKS = {"summary.json", "metrics.jsonl", "checkpoints", "figures", ".lock"}


def folder_kind(folder: Path) -> str | None:
    """What vislab wrote ``folder`` as: "run", "suite" or "sweep" (by the files in :data:`FOLDER_KINDS`;
    a lone config.yaml is a run that stopped before its first epoch); None for any other folder."""
    names = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    if "suite.json" in names:
        return "suite"
    if names & {"sweep.json", "study.db"}:
        return "sweep"
    if "config.yaml" in names and (names & RUN_MARKS or names == {"config.yaml"}):
        return "run"
    return None


def start_over(
    folder: str | Path, kind: str, keep: Path | None = None, storage: str | None = None
) -> None:
    """Empty ``folder``, which vislab wrote as a ``kind`` ("run", "suite" or "sweep"), so that one starts
    afresh there: everything in it goes but ``keep`` (a sweep's spec file). A missing or empty folder is
    left alone; any other folder, one a live process is writing a run of, or a suite or sweep shared
    through a ``storage`` URL (its record there would outlive the folder) is refused (UserError) and
    left untouched."""
    if storage is not None:
        raise UserError(
            f"starting a {kind} over empties its folder, but a {kind} shared through a storage URL keeps "
            f"its record in that database, where other machines may be working on it: run it under a new "
            f"name (name: in its file) instead, or without the storage URL."
        )
    folder = Path(folder)
    kept = [keep.resolve(), *keep.resolve().parents] if keep is not None else []
    entries = [p for p in folder.iterdir() if p.resolve() not in kept] if folder.is_dir() else []
    if not entries:
        return
    found = folder_kind(folder)
    if found != kind:
        what = f"a vislab {found} folder" if found else "not a folder vislab wrote"
        raise UserError(
            f"'{folder}' is {what}, so starting a {kind} over will not delete it (vislab deletes only "
            f"a {kind} folder: {FOLDER_KINDS[kind]}). Choose another folder, or empty it yourself."
        )
    for lock in sorted(folder.rglob(".lock")):  # every run in it (a suite's, a sweep's trials)
        RunDir(lock.parent).check_free()
    for entry in entries:
        try:
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        except OSError as e:
            raise UserError(
                f"could not delete '{e.filename or entry}' to start '{folder}' over: {e.strerror}. "
                f"Check its permissions, or choose another folder."
            ) from None
