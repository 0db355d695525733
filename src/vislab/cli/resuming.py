"""``vislab train --resume``: the options it cannot go with, and the config it is resumed with."""

from __future__ import annotations

from pathlib import Path

from vislab.config import Config, load_config
from vislab.errors import UserError


def check_resume_args(
    resume: Path,
    out: Path | None,
    overwrite: bool = False,
    init_from: Path | None = None,
) -> None:
    """UserError for the options --resume cannot go with: --overwrite, --init-from, another --out."""
    if overwrite:
        raise UserError(
            f"--resume {resume} continues that run; --overwrite deletes it to start afresh: give one."
        )
    if init_from is not None:
        raise UserError(
            f"--init-from starts a new run from another run's weights; --resume {resume} continues "
            f"that run with its own. Give one."
        )
    if out is not None and Path(out).resolve() != Path(resume).resolve():
        raise UserError(
            f"--resume {resume} continues that run in its own folder; --out {out} names another. "
            f"Drop --out, or start a new run there without --resume."
        )


def resumed_with(
    resume: Path, config: str | None, set_: list[str], epochs: int | None = None
) -> Config | None:
    """The config --resume was given: the run's saved config (its last.pt's) with --config and --set on
    top; None without them. The original command's options may be repeated and where and how the run
    runs may change (data.root, train.device, ...: ``RESULT_NEUTRAL_KEYS``, which the resumed run uses);
    settings that would change what it computes are refused rather than silently ignored (``epochs``:
    the --epochs given, which the refusal of a train.epochs names)."""
    if not (config or set_):
        return None
    from vislab.training.resume import refused_changes, resumable  # on use: torch (vislab.cli's)
    from vislab.training.rundir import RunDir

    stored = resumable(RunDir(resume)).record.config
    wanted = load_config(config, set_, base=stored)  # the options on top
    if refused := refused_changes(stored, wanted):
        changes, epochs_only = refused
        fix = (
            _epochs_fix(resume, wanted.train.epochs, config, set_, epochs)
            if epochs_only
            else "Resume without them, or start a new run (a new --out)."
        )
        raise UserError(
            f"--resume {resume} continues the run with its saved config, but these options change it: "
            f"{changes}. {fix}"
        )
    return wanted


def _epochs_fix(
    resume: Path, wanted: int, config: str | None, set_: list[str], epochs: int | None
) -> str:
    """How to go on when train.epochs alone was changed: --epochs trains a resumed run on (where its
    schedule allows); given already, the --set (or --config) of train.epochs is what to drop."""
    if epochs is None:
        return (
            f"To train it on to {wanted} epochs, give --epochs instead: vislab train --resume "
            f"{resume} --epochs {wanted}."
        )
    given = next((s for s in set_ if s.partition("=")[0].strip() == "train.epochs"), None)
    drop = f"--set {given}" if given is not None else f"train.epochs from --config {config}"
    return f"--epochs {epochs} says how far to train it on: drop {drop}."
