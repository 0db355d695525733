"""The figures of one report build: drawn into a private folder, published together, failures noted."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from vislab.config import Config
from vislab.data import load_splits
from vislab.data.types import Splits
from vislab.errors import UserError
from vislab.files import DISK_FAILURES, atomic_write_text
from vislab.plotting.canvas import draw_once, holds, key_in
from vislab.report.run_files import RunFiles

# optional packages → the vislab extra that installs them (pyproject.toml's optional-dependencies)
EXTRAS = {
    "captum": "explain",
    "timm": "timm",
    "tensorboard": "tensorboard",
    "wandb": "wandb",
    "psycopg2": "postgres",
    "onnx": "onnx",
    "onnxruntime": "onnx",
    "onnxscript": "onnx",
}


def install_hint(what: str, package: str) -> str:
    """One line for a part of a report that needs a package not installed here: what and how to get it."""
    extra = EXTRAS.get(package)
    how = f"pip install 'vislab[{extra}]'" if extra else f"pip install {package}"
    return f"{what} needs {package}: {how}"


def out_of_room(e: Exception) -> bool:
    """Whether ``e`` is the disk's (full, failing, read-only), which no other figure would escape: the
    build stops with it, rather than each figure noted as not drawn and the command ending well."""
    return isinstance(e, OSError) and e.errno in DISK_FAILURES


def failure_note(what: str, e: Exception) -> str:
    """One line for a part of a report that could not be made: a missing package's install hint, a
    UserError's own first line (it names the fix), else the exception's type and first line (a bug)."""
    if isinstance(e, ModuleNotFoundError) and e.name:
        return install_hint(what, e.name.split(".")[0])
    first = next(iter(str(e).strip().splitlines()), "")
    if isinstance(e, UserError):
        return f"{what}: {first}"
    return f"{what}: not drawn ({type(e).__name__}: {first})" if first else f"{what}: not drawn"


def guarded(notes: list[str], label: str, fn: Callable, *args, default=None):
    """``fn(*args)``, or ``default`` plus a note when it fails (a report shows what it can)."""
    try:
        return fn(*args)
    except Exception as e:
        if out_of_room(e):
            raise
        notes.append(failure_note(f"{label} skipped", e))
        return default


def wide(fig: dict | None) -> dict | None:
    """``fig`` (a :meth:`FigureSet.make` result) marked to be shown on a row of its own at its own size:
    its text is drawn to be read at 100 %."""
    if fig is not None:
        fig["wide"] = True
    return fig


def safe_name(name: str) -> str:
    """``name`` as a file-name part: anything but letters, digits and ``-_.`` becomes ``_`` (names
    that differ only there share it: :func:`unique_names` tells them apart)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def unique_names(names: Iterable[str]) -> dict[str, str]:
    """Each of ``names`` → its file-name part, distinct for distinct names (also where case is all
    they differ in: a file system may not tell ``A`` from ``a``): its :func:`safe_name` where no
    other name shares that, else the safe name plus ``-`` and the start of the sha1 of the real name
    ("a b" and "a_b" → ``a_b-2d8e5f1c``, ``a_b-9a3c07e4``), the same in every build that has both."""
    names = list(dict.fromkeys(names))
    shared = Counter(safe_name(n).casefold() for n in names)
    plain = [n for n in names if shared[safe_name(n).casefold()] == 1]
    used = {safe_name(n).casefold() for n in plain}
    out = {n: safe_name(n) for n in plain}
    for n in names:
        if n not in out:
            out[n] = _suffixed(n, used)
    return {n: out[n] for n in names}


def _suffixed(name: str, used: set[str]) -> str:
    """``name``'s safe name with the shortest start (8 or more hex digits) of its sha1 that makes it
    none of ``used`` (case-folded), which it joins."""
    digest = hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()
    width = 8
    while f"{safe_name(name)}-{digest[:width]}".casefold() in used and width < len(digest):
        width += 1
    part = f"{safe_name(name)}-{digest[:width]}"
    used.add(part.casefold())
    return part


# in a report's figures/: the PNGs its last build drew, which the next may delete (FigureSet.drop_earlier)
DRAWN_FILE = ".drawn.json"


class FigureSet:
    """Draws figures into a private folder (several workers may build one report at once), then moves
    them into place; a figure that cannot be drawn becomes a note instead of an error."""

    def __init__(self, fig_dir: Path, notes: list[str], files: RunFiles | None = None):
        self.fig_dir, self.notes = fig_dir, notes
        # the runs' metrics.jsonl and predictions_test.npz, read once per build (the plan's)
        self.files = files if files is not None else RunFiles()
        self.tmp = fig_dir / f".tmp-{os.getpid()}-{time.time_ns()}"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.made: list[str] = []
        self._splits: dict[str, Splits] = {}
        self._parts: dict[str, str] = {}  # run or row name → its files' name part
        # run or row name → its colour's place in the palette in curves.png (plotting.legend.run_style):
        # the run's other figures take the same
        self.colours: dict[str, int] = {}

    def name_files(self, names: list[str]) -> None:
        """Name the files of the runs and rows ``names`` as :func:`unique_names` does among them (call
        before drawing any; a name met later gets a part no earlier one has: :meth:`file_part`)."""
        if not self._parts:
            self._parts = unique_names(names)
        for name in names:
            self.file_part(name)

    def file_part(self, name: str) -> str:
        """The part of its figures' file names for run or row ``name``, distinct from every other name's
        in this build: its :func:`unique_names` part, or for a name not given to :meth:`name_files` its
        safe name, suffixed when an earlier name has that."""
        if name not in self._parts:
            used = {p.casefold() for p in self._parts.values()}
            plain = safe_name(name)
            self._parts[name] = plain if plain.casefold() not in used else _suffixed(name, used)
        return self._parts[name]

    def splits(self, cfg: Config) -> Splits:
        """``cfg``'s data splits, loaded once per report for every run and figure that uses the same data
        (sample grids, model figures and mistakes galleries of a suite read one copy)."""
        key = json.dumps(
            [cfg.data.model_dump(mode="json", exclude={"device", "download"}), cfg.train.seed],
            sort_keys=True,
        )
        if key not in self._splits:
            self._splits[key] = load_splits(cfg.data, cfg.train.seed)
        return self._splits[key]

    def make(self, name: str, caption: str, fn: Callable, *args, **kw) -> dict | None:
        """``fn(*args, path=<tmp>/name, **kw)``; the figure's {name, caption}, or None (and a note). Drawn
        once (:func:`~vislab.plotting.canvas.draw_once`): the earlier build's file of this name is kept
        where it holds this very picture, as is a run's own figure that ``fn`` = ``draw_once`` offers
        (its ``drawn=``)."""
        drawn = [self.fig_dir / name]
        if (
            fn is draw_once
        ):  # offering a run's own figure (its drawn=): taken after the earlier build's
            fn, *args = args
            offered = kw.pop("drawn", None)
            drawn += [offered] if offered else []
        try:
            draw_once(fn, *args, path=self.tmp / name, drawn=drawn, **kw)
        except Exception as e:  # one broken figure must not cost the whole report
            if out_of_room(e):
                raise
            self.notes.append(failure_note(caption, e))
            return None
        self.made.append(name)
        return {"name": name, "caption": caption}

    def publish(self) -> None:
        """Move the new figures in (each replacing an earlier build's of its name), once all are drawn; an
        earlier build's file that holds the same picture stays as it is (its time and all)."""
        for name in self.made:
            new, old = self.tmp / name, self.fig_dir / name
            if new.is_file() and not holds(old, key_in(new)):
                os.replace(new, old)
        self.close()

    def close(self) -> None:
        """Remove the private folder and what it still holds (a build cut short publishes nothing)."""
        shutil.rmtree(self.tmp, ignore_errors=True)

    def drop_earlier(self) -> None:
        """Delete the PNGs the earlier build drew (:data:`DRAWN_FILE` names them) that this one did not
        (once its page no longer names them), then record this build's: a PNG of the user's in the folder,
        or one no build recorded, is kept."""
        record = self.fig_dir / DRAWN_FILE
        try:
            earlier = json.loads(record.read_text())
        except (OSError, ValueError):
            earlier = []
        names = earlier if isinstance(earlier, list) else []
        for name in {n for n in names if isinstance(n, str)} - set(self.made):
            if Path(name).name == name and name.endswith(".png"):  # a file of the folder's own
                (self.fig_dir / name).unlink(missing_ok=True)
        atomic_write_text(record, json.dumps(sorted(self.made)), option=None)
