"""What vislab wrote a folder as (a run, a suite or a sweep), what in it is vislab's own, and emptying one
to start it over — never a file vislab did not write."""

from __future__ import annotations

import fnmatch
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
# what vislab writes into each kind of folder (names or patterns); .*.tmp: an atomic write cut short
_TOOLS = ("report.html", "figures", "paper", ".*.tmp")  # `vislab report`, `vislab paper`
OWN_ENTRIES = {
    "run": (*RUN_MARKS, "config.yaml", "steps.jsonl", "grad_norms.jsonl", "predictions_*.npz",
            "tensorboard", "wandb", "explain", "export", *_TOOLS),
    "suite": ("suite.json", "results.csv", "results.md", *_TOOLS),  # and its runs' folders
    "sweep": ("sweep.json", "study.db*", "sweep.yaml", "spec.yaml", "trials",
              "trials.csv", "results.csv", "results.md", "narrow", *_TOOLS),
}  # fmt: skip


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


def foreign_entries(folder: Path, kind: str) -> list[Path]:
    """The entries of ``folder`` that are not what vislab writes into a ``kind`` folder (a suite's run
    folders count as its own: a folder holding only a run's names)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if not _own(p, kind))


def _own(entry: Path, kind: str) -> bool:
    if any(fnmatch.fnmatchcase(entry.name, pattern) for pattern in OWN_ENTRIES[kind]):
        return True
    return kind == "suite" and entry.is_dir() and not foreign_entries(entry, "run")


def check_new(folder: str | Path, kind: str, keep: Path | None = None) -> None:
    """Refuse to start a new ``kind`` in a folder that holds files and is no vislab folder (say a project
    folder given as --out .): its files would mix with the run's. ``keep``: a sweep's spec file."""
    folder = Path(folder)
    if folder_kind(folder) is not None or not folder.is_dir():
        return
    kept = keep.resolve() if keep is not None else None
    others = [p for p in foreign_entries(folder, kind) if p.resolve() != kept]
    if others:
        raise UserError(
            f"'{folder}' holds files that are not a vislab {kind}'s ({_listed(others)}), and a {kind} "
            f"writes its own files into its folder. Give a new or empty folder, e.g. --out "
            f"runs/<name> (Python: out=...)."
        )


def _listed(paths: list[Path], most: int = 4) -> str:
    names = ", ".join(p.name + ("/" if p.is_dir() else "") for p in paths[:most])
    return names + (f" and {len(paths) - most} more" if len(paths) > most else "")


def start_over(
    folder: str | Path, kind: str, keep: Path | None = None, storage: str | None = None
) -> None:
    """Empty ``folder``, which vislab wrote as a ``kind`` ("run", "suite" or "sweep"), so that one starts
    afresh there: everything in it goes but ``keep`` (a sweep's spec file). A missing or empty folder is
    left alone; any other folder, one holding files vislab does not write (:func:`foreign_entries`), one a
    live process is writing a run of, or a suite or sweep shared through a ``storage`` URL (its record
    there would outlive the folder) is refused (UserError) and left untouched."""
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
    others = [p for p in foreign_entries(folder, kind) if p.resolve() not in kept]
    if others:
        raise UserError(
            f"'{folder}' holds files vislab did not write ({_listed(others)}), so starting the {kind} "
            f"over will not empty it: vislab deletes only its own files. Move them elsewhere, or choose "
            f"another folder."
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
