"""What runs a folder holds: itself (a run), a suite's runs, a sweep's trials, or the runs among its
sub-folders — what a report and ``vislab compare`` read (no optuna: a sweep is read from its files); and
what they say of a run whose figures were cut short (:func:`figures_fix`)."""

from __future__ import annotations

import json
from pathlib import Path

from vislab.errors import UserError
from vislab.experiments.results.provenance import suite_info
from vislab.training.rundir import RunDir, folder_kind


def discover(folder: Path) -> tuple[str, dict[str, Path], dict]:
    """(kind, {run name: run dir}, info): kind is run | suite | sweep | folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"'{folder}' is not a folder: give a run, suite or sweep directory.")
    if (folder / "summary.json").is_file() or (folder / "checkpoints").is_dir():
        return "run", {folder.name: folder}, {}
    if (folder / "sweep.json").is_file():
        trials = folder / "trials"
        dirs = (
            sorted(
                (p for p in trials.iterdir() if p.is_dir() and p.name.isdigit()),
                key=lambda p: int(p.name),
            )
            if trials.is_dir()
            else []
        )
        return (
            "sweep",
            {f"trial-{p.name}": p for p in dirs},
            json.loads((folder / "sweep.json").read_text()),
        )
    if (folder / "suite.json").is_file():
        state = suite_info(folder)
        return (
            "suite",
            {n: folder / n for n in state.get("order", []) if (folder / n).is_dir()},
            state,
        )
    # every sub-folder that is a run (folder_kind), finished or not, so that none is left out silently;
    # and any with a summary.json (a run assembled by hand, without its config.yaml)
    runs = {
        p.name: p
        for p in sorted(folder.iterdir())
        if p.is_dir() and (folder_kind(p) == "run" or (p / "summary.json").is_file())
    }
    if not runs:
        raise UserError(
            f"'{folder}' holds no runs (no run folder in it or its sub-folders: a run holds "
            f"config.yaml). Give a run, suite or sweep directory."
        )
    return "folder", runs, {}


def figures_fix(summary: dict | None, folder: Path | None) -> str:
    """For a run scored but stopped while its figures were drawn (summary.json's ``figures_missing``):
    which were not drawn and the resume that draws them; else ""."""
    missing = (summary or {}).get("figures_missing")
    if not missing or folder is None:
        return ""
    return (
        f"its scores are kept but these figures were not drawn: {', '.join(missing)}; resuming the run "
        f"draws them: vislab train --resume {folder} (Python: vislab.train(out={str(folder)!r}, "
        f"resume=True))"
    )


def no_summary_why(folder: Path) -> str:
    """Why a run folder has no summary.json yet, and what to do: a live process of this host writing it
    (its lock), or stopped with a last.pt to resume, or stopped before its first checkpoint."""
    run = RunDir(folder)
    if (pid := run.live_holder()) is not None:
        return f"no summary.json yet: process {pid} is still training it"
    if (run.ckpt_dir / "last.pt").is_file():
        return (
            f"stopped before writing its summary.json; continue it: vislab "
            f"train --resume {folder} (Python: vislab.train(out={str(folder)!r}, resume=True))"
        )
    return (
        "no summary.json and no checkpoint: stopped before its first, or another host is training it; "
        "nothing to resume"
    )
