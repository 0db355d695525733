"""What a resumed run's folder still holds of its weights before the resume: report.html, explain/'s maps and
eval's CSVs drawn from them, said in a note once the resume has trained (its last.pt and summary.json
written anew)."""

from __future__ import annotations

from pathlib import Path

from vislab.training.rundir import RunDir


def written_at(run: Path) -> float | None:
    """When ``run``'s summary.json was last written (None: it has none)."""
    try:
        return (run / "summary.json").stat().st_mtime
    except OSError:
        return None


def stale_after(run: Path, before: float | None) -> str | None:
    """The note on what ``run`` holds of its weights from before a resume, where its summary.json was
    written at ``before`` (:func:`written_at`) and has been written again since: its report.html, the
    explain/ PNGs, eval's CSVs in figures/ (and the gallery beside them), each older than the new
    summary.json, and the commands that draw them again; None where the resume trained nothing or
    there are none."""
    trained = written_at(run)
    if trained is None or trained == before or not _trained_since(run, before):
        return None
    made = {
        "report.html": (
            [run / "report.html"],
            f"vislab report {run} (Python: vislab.write_report({str(run)!r}))",
        ),
        "explain/": ([run / "explain"], f"vislab explain {run} IMAGE..."),
        "eval's files in figures/": (
            sorted((run / "figures").glob("*.csv")),
            f"vislab eval {run} (with the --split and --set they were made with)",
        ),
    }
    try:
        older = {
            name: fix
            for name, (paths, fix) in made.items()
            if any(p.exists() and p.stat().st_mtime < trained for p in paths)
        }
    except OSError:  # a file gone meanwhile: nothing to say of it
        return None
    if not older:
        return None
    verb, them = ("shows", "it") if list(older) == ["report.html"] else ("show", "them")
    return (
        f"{run}'s {' and '.join(older)} {verb} the weights it had before this resume trained on: "
        f"draw {them} again with {'; '.join(older.values())}."
    )


def _trained_since(run: Path, before: float | None) -> bool:
    """Whether the resume of ``run`` trained an epoch: its last.pt, saved after each, written since
    ``before`` (a resume of a complete run may write its summary.json again, having trained nothing)."""
    if before is None:
        return True
    try:
        return (RunDir(run).ckpt_dir / "last.pt").stat().st_mtime > before
    except OSError:
        return False
