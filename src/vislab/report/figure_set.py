"""The figures of one report build: drawn into a private folder, published together, failures noted."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from vislab.config import Config
from vislab.data import load_splits
from vislab.data.types import Splits
from vislab.errors import UserError

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
        notes.append(failure_note(f"{label} skipped", e))
        return default


def wide(fig: dict | None) -> dict | None:
    """``fig`` (a :meth:`FigureSet.make` result) marked to be shown on a row of its own at its own size:
    its text is drawn to be read at 100 %."""
    if fig is not None:
        fig["wide"] = True
    return fig


def safe_name(name: str) -> str:
    """``name`` as a file-name part: anything but letters, digits and ``-_.`` becomes ``_``."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


class FigureSet:
    """Draws figures into a private folder (several workers may build one report at once), then moves
    them into place; a figure that cannot be drawn becomes a note instead of an error."""

    def __init__(self, fig_dir: Path, notes: list[str]):
        self.fig_dir, self.notes = fig_dir, notes
        self.tmp = fig_dir / f".tmp-{os.getpid()}-{time.time_ns()}"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.made: list[str] = []
        self._splits: dict[str, Splits] = {}

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
        """``fn(*args, path=<tmp>/name, **kw)``; the figure's {name, caption}, or None (and a note)."""
        try:
            fn(*args, path=self.tmp / name, **kw)
        except Exception as e:  # one broken figure must not cost the whole report
            self.notes.append(failure_note(caption, e))
            return None
        self.made.append(name)
        return {"name": name, "caption": caption}

    def publish(self) -> None:
        """Move the new figures in (each replacing an earlier build's of its name), once all are drawn."""
        for name in self.made:
            if (self.tmp / name).is_file():
                os.replace(self.tmp / name, self.fig_dir / name)
        self.close()

    def close(self) -> None:
        """Remove the private folder and what it still holds (a build cut short publishes nothing)."""
        shutil.rmtree(self.tmp, ignore_errors=True)

    def drop_earlier(self) -> None:
        """Delete the PNGs of earlier builds that this one did not draw (once its page no longer names
        them)."""
        for old in self.fig_dir.glob("*.png"):
            if old.name not in self.made:
                old.unlink(missing_ok=True)
