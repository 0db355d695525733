"""What vislab wrote a folder as (a run, a suite or a sweep), what in it is vislab's own, and emptying one
to start it over — never a file vislab did not write."""

from __future__ import annotations

import contextlib
import fnmatch
import os
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

from vislab.api import written
from vislab.errors import UserError
from vislab.training.folder_lock import FolderLock, lock_holder, pid_alive

# what a run folder is: one rule, training/rundir.py's (the report, below the API, reads it too)
from vislab.training.rundir import RUN_MARKS as RUN_MARKS
from vislab.training.rundir import RUN_RECORDS, RunDir, folder_kind

# ------------------------------------------------------------------------------------ start over
FOLDER_KINDS = {
    "run": "config.yaml, alone or beside summary.json, metrics.jsonl, checkpoints/ or figures/",
    "suite": "suite.json",
    "sweep": "sweep.json, or study.db beside trials/",
}

# What vislab writes, as rules: a rule takes an entry of a folder and returns those of its files vislab
# did not write ([]: all of it is vislab's). A folder vislab and its user share, a paper folder (the user
# edits main.tex, adds sections), holds a record of the files vislab wrote (api/written.py): only those,
# unchanged, are vislab's. The other folders are judged by the names vislab gives its files.
Rule = Callable[[Path], list[Path]]


def _file(entry: Path) -> list[Path]:
    """A file (or a link) vislab names so: its own; a real folder of that name is not."""
    return [entry] if entry.is_dir() and not entry.is_symlink() else []


def _tree(entry: Path) -> list[Path]:
    """A folder a library writes for vislab (tensorboard/, wandb/) or a scratch folder: all its own."""
    return []


def _holding(rules: dict[str, Rule]) -> Rule:
    """A folder whose entries are judged by ``rules`` (:func:`_judged`); a file or link where the folder
    should be is not vislab's."""
    return lambda entry: (
        [entry] if entry.is_symlink() or not entry.is_dir() else _judged(entry, rules)
    )


def _judged(folder: Path, rules: dict[str, Rule]) -> list[Path]:
    """The files under ``folder`` vislab did not write: each entry judged by the first of ``rules`` (name
    pattern → rule) that matches its name; an entry none matches is not vislab's."""
    found = []
    for entry in sorted(folder.iterdir()):
        rule = next((r for pat, r in rules.items() if fnmatch.fnmatchcase(entry.name, pat)), None)
        found += rule(entry) if rule is not None else [entry]
    return found


PAPER: Rule = written.not_written  # `vislab paper`'s default DIR/paper: the files its record lists
_TEMP = {".*.tmp": _file}  # an atomic write cut short
# train, report (.tmp-*: its scratch) and eval write figures/, by these names only (a PNG the user saved
# there under another name, my_roc.png, is theirs): train's (training/scoring.py); eval's
# confusion_<split>…, mistakes_<split>… and per_class_<split>… (predict.py); a report's <figure>_<run>
# of each run (report/sections.py, tracking.py, model_figures.py, mistakes.py) and samples_<i> and
# augment_<i> of its data, and curves_report.png, a single run's report's curves (report/build.py); an
# earlier version's roc.png and boundary_epochs.png
_DRAWN = ("curves", "curves_report", "lr", "grad_norms", "roc")
_PER_RUN = ("confusion", "mistakes", "per_class", "roc", "steps", "lr", "grad_norms", "boundary",
            "vit_pos", "vit_attention", "vit_heads", "gradcam", "samples", "augment")  # fmt: skip
_FIGURE_NAMES = (
    {f"{name}.png": _file for name in _DRAWN}
    | {f"{name}_*.png": _file for name in _PER_RUN}
    | {f"{name}_*.csv": _file for name in ("mistakes", "per_class", "confusion")}  # eval's tables
    | {".tmp-*": _tree, **_TEMP}
)
FIGURES = _holding(_FIGURE_NAMES)  # a run's
# a report of several runs (a suite's, a sweep's) draws a figure of each group too, and a sweep's own
REPORT_FIGURES = _holding(
    _FIGURE_NAMES | {"curves_*.png": _file, "sweep_*.png": _file, ".drawn.json": _file}
)  # .drawn.json: the PNGs its last build drew (report.figure_set.DRAWN_FILE)
# the names of explain/ and export/ are explain.Explanation.file_name's and export.FORMATS' (with the
# spec .json beside)
# eval of RUN/checkpoints/<name>.pt wrote its figures beside it before it wrote them to RUN/figures/
# checkpoints/: the run's .pt files and a 2-D run's boundary record (training.boundary_epochs.BOUNDARY_FILE);
# eval of a checkpoint file writes its figures and tables beside it
CHECKPOINTS = _holding(
    dict.fromkeys(("*.pt", "boundary_epochs.npz", "confusion_*.png", "confusion_*.csv"), _file)
    | dict.fromkeys(("mistakes_*.png", "mistakes_*.csv", "per_class_*.csv"), _file)
    | _TEMP
)
EXPLAIN = _holding({f"*_{m}.png": _file for m in ("rollout", "gradcam", "saliency")}
                   | {"*_attention_block*.png": _file, **_TEMP})  # fmt: skip
# export's default names: model.* for the run's best, model_last.* for its last.pt (export._checkpoint_tag)
EXPORT = _holding({f"{stem}.{e}": _file for stem in ("model", "model_last")
                   for e in ("onnx", "json", "torchscript.pt", "torchscript.json")} | _TEMP)  # fmt: skip
# report, paper
_REPORTS = {"report.html": _file, "figures": REPORT_FIGURES, "paper": PAPER, **_TEMP}
RUN_RULES: dict[str, Rule] = (
    dict.fromkeys((*RUN_RECORDS, ".lock", ".lock.stale.*"), _file)
    | {"checkpoints": CHECKPOINTS, "explain": EXPLAIN, "export": EXPORT,
       "tensorboard": _tree, "wandb": _tree, **_REPORTS, "figures": FIGURES}
)  # fmt: skip


def _run_folder(entry: Path) -> list[Path]:
    """A run of a suite or a sweep trial (any name): judged as a run; a folder holding nothing of a run's
    is not vislab's, all of it."""
    found = _holding(RUN_RULES)(entry)
    return found if not found or folder_kind(entry) == "run" else [entry]


SUITE_RULES = dict.fromkeys(("suite.json", "results.csv", "results.md"), _file) | _REPORTS
SUITE_RULES["*"] = _run_folder  # last: its runs, by their names
SWEEP_RULES = dict.fromkeys(("sweep.json", "study.db*", "sweep.yaml", "spec.yaml", "base.yaml",
                             "trials.csv", "results.csv", "results.md"), _file) | _REPORTS  # fmt: skip
#: where each live worker of a sweep marks its folder (:func:`sweep_worker`): WORKERS/<host>-<pid>/.lock
WORKERS = ".workers"
SWEEP_RULES |= {
    "trials": _holding({"*": _run_folder}),
    WORKERS: _holding({"*": _holding({".lock": _file, ".lock.stale.*": _file, **_TEMP})}),
    "narrow": _holding(SWEEP_RULES),  # the second stage of a narrowed sweep, a sweep of its own
}
KINDS = {"run": RUN_RULES, "suite": SUITE_RULES, "sweep": SWEEP_RULES}


def foreign_entries(folder: Path, kind: str) -> list[Path]:
    """The files (or whole folders) under ``folder`` that vislab did not write into a ``kind`` folder, by
    the rules of :data:`KINDS`: a file vislab wrote in a paper folder and the user changed since is the
    user's (api/written.py)."""
    return _judged(folder, KINDS[kind]) if folder.is_dir() else []


def refuse_inside(folder: Path, kind: str) -> None:
    """Refuse a ``kind`` whose folder would be inside a suite's or a sweep's (SUITE/NEW, SWEEP/trials/NEW):
    those list their runs themselves (suite.json, the study), so the reports and ``vislab compare`` of
    that folder would leave it out, and starting it over would delete it. SWEEP/narrow, the narrowed
    stage of a sweep (:data:`SWEEP_RULES`), goes on as a sweep of its own."""
    parent = folder.resolve().parent
    holder = parent.parent if parent.name == "trials" else parent
    found = folder_kind(holder)
    if found not in ("suite", "sweep") or (kind, found, folder.name) == (
        "sweep",
        "sweep",
        "narrow",
    ):
        return
    shown = (
        holder if folder.is_absolute() or holder == Path.cwd() else Path(os.path.relpath(holder))
    )
    add = "; to add a run to the suite, add it to the suite's file and run the suite again"
    raise UserError(
        f"'{folder}' is inside the vislab {found} '{shown}', which holds only the runs of its own "
        f"{found}: its report, paper and compare would leave this {kind} out, and starting the {found} "
        f"over would delete it. Give the {kind} a folder outside it, e.g. --out "
        f"{beside(shown, folder.resolve().name)} (Python: out=...)"
        f"{add if found == 'suite' else ''}."
    )


def beside(folder: Path, suffix: str) -> str:
    """The folder beside ``folder`` named ``<its name>-<suffix>``, as a path to give --out: written as
    ``folder`` is, but for a folder with no name of its own there (``.``, ``..``), whose name is resolved
    (absolute if ``folder`` is, else relative to here); never with a leading '-' (a command-line option)."""
    if folder.name in ("", ".."):
        full = folder.resolve()
        parent = full.parent if folder.is_absolute() else Path(os.path.relpath(full.parent))
        folder = parent / (full.name or "folder")
    shown = str(folder.parent / f"{folder.name}-{suffix}")
    return f"./{shown}" if shown.startswith("-") else shown


def check_new(folder: str | Path, kind: str, keep: Path | None = None) -> None:
    """Refuse to start a new ``kind`` in a folder that holds files and is no vislab folder (say a project
    folder given as --out .), is a vislab folder of another kind (a run into a suite's folder): its files
    would mix with the new one's, or is inside a suite's or a sweep's folder (:func:`refuse_inside`).
    ``keep``: a sweep's spec file."""
    folder = Path(folder)
    refuse_inside(folder, kind)
    found = folder_kind(folder)
    if found is not None and found != kind:
        raise UserError(
            f"'{folder}' holds a vislab {found}, and a {kind} writes its own files into its folder: they "
            f"would mix. Give the {kind} another folder, e.g. --out {beside(folder, kind)} "
            f"(Python: out=...)."
        )
    if found is not None or not folder.is_dir():
        return
    kept = keep.resolve() if keep is not None else None
    others = [p for p in foreign_entries(folder, kind) if p.resolve() != kept]
    if others:
        raise UserError(
            f"'{folder}' holds files that are not a vislab {kind}'s ({written.listed(others, folder)}), "
            f"and a {kind} "
            f"writes its own files into its folder. Give a new or empty folder, e.g. --out "
            f"runs/<name> (Python: out=...)."
        )


def start_over(
    folder: str | Path, kind: str, keep: Path | None = None, storage: str | None = None
) -> None:
    """Empty ``folder``, which vislab wrote as a ``kind`` ("run", "suite" or "sweep"), so that one starts
    afresh there: everything in it goes but ``keep`` (a sweep's spec file). A missing or empty folder is
    left alone; any other folder is refused (UserError) and left untouched: one holding a file vislab did
    not write (:func:`foreign_entries`: by the names vislab gives its files; in a paper folder, the files
    its record lists unchanged, so an edited main.tex is the user's), one a live process is writing a run
    of or works on as a sweep's worker (:func:`sweep_worker`), or a suite or sweep shared through a
    ``storage`` URL (its record there would outlive the folder)."""
    if storage is not None:
        raise UserError(
            f"starting a {kind} over empties its folder, but a {kind} shared through a storage URL keeps "
            f"its record in that database, where other machines may be working on it: run it under a new "
            f"name (name: in its file) instead, or without the storage URL."
        )
    folder = Path(folder)
    refuse_inside(folder, kind)  # before anything is deleted
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
        papers = {a for p in others for a in p.parents if a.name == "paper" and folder in a.parents}
        why = written.explained(others, sorted(papers), folder)
        raise UserError(
            f"'{folder}' holds files vislab did not write ({written.listed(others, folder)}), so "
            f"starting the {kind} over deletes nothing: vislab deletes only its own files"
            f"{f' ({why})' if why else ''}. Move them out of '{folder}', or choose another folder "
            f"(--out; Python: out=)."
        )
    _refuse_live_writers(folder, kind)
    for entry in entries:
        try:
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        except OSError as e:
            raise UserError(
                f"could not delete '{e.filename or entry}' to start '{folder}' over: {e.strerror}. "
                f"Check its permissions, or choose another folder."
            ) from None


# ------------------------------------------------------------------------------- live sweep workers
@contextlib.contextmanager
def sweep_worker(folder: Path) -> Iterator[None]:
    """Mark sweep ``folder`` as worked on by this process while the block runs, between its trials too:
    a FolderLock of its own in ``folder/.workers/<host>-<pid>`` (the workers of one sweep share its
    folder), which :func:`start_over` refuses to delete while its process lives; the marker of a dead
    process is stale and blocks nothing. The folders it made are removed after, if left empty."""
    made = [d for d in (folder, *folder.parents) if not d.exists()]
    mine = folder / WORKERS / f"{socket.gethostname()}-{os.getpid()}"
    try:
        mine.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(
            f"cannot write to sweep folder '{folder}': {e.strerror}. Choose a writable location with "
            f"--out (Python: out=)."
        ) from None
    lock = FolderLock(mine, "sweep worker folder")
    lock.take()
    try:
        yield
    finally:
        lock.release()
        for d in (mine, mine.parent, *made):
            with contextlib.suppress(OSError):
                d.rmdir()


def _refuse_live_writers(folder: Path, kind: str) -> None:
    """UserError if a live process works on ``folder`` as a sweep's worker, or writes a run in it (a
    suite's, a sweep's trials): their locks, the workers' first."""
    locks = sorted(folder.rglob(".lock"))
    for lock in locks:
        if lock.parent.parent.name == WORKERS:
            _refuse_live_worker(folder, kind, lock)
    for lock in locks:
        if lock.parent.parent.name != WORKERS:
            RunDir(lock.parent).check_free()


def _refuse_live_worker(folder: Path, kind: str, lock: Path) -> None:
    """UserError naming the process of sweep worker marker ``lock`` (:func:`sweep_worker`) if it may still
    be running: starting ``folder`` over would delete the study and trials it goes on writing."""
    try:
        pid, host = lock_holder(lock.read_text())
    except OSError:
        return
    here = host in ("", socket.gethostname())
    if pid <= 0 or (here and (pid == os.getpid() or not pid_alive(pid))):
        return
    where = "" if here else f" on host '{host}', whose processes this machine cannot see"
    raise UserError(
        f"'{folder}' is being worked on by a live vislab sweep worker (pid {pid}{where}), so starting the "
        f"{kind} over deletes nothing: it would delete the study and trials that worker goes on writing. "
        f"Wait for it to finish (or stop it), or choose another folder (--out; Python: out=). If no such "
        f"process runs, delete '{lock.parent}'."
    )
