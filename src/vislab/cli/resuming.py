"""``vislab train --resume``: the options it cannot go with, and the config it is resumed with — checked
once for the command and vislab.train (``training.resume_checks``), refused here in the command's words."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from vislab.config import Config, load_config
from vislab.errors import UserError

if TYPE_CHECKING:
    from vislab.training.resume_checks import RefusedChanges


def check_resume_args(
    resume: Path,
    out: Path | None,
    overwrite: bool = False,
    init_from: Path | None = None,
) -> None:
    """UserError for the options --resume cannot go with: --overwrite, --init-from, another --out."""
    from vislab.training.resume_checks import argument_clash  # on use: torch (vislab.cli's)

    clash = argument_clash(resume, out=out, overwrite=overwrite, init_from=init_from)
    if clash is None:
        return
    words = {
        "overwrite": f"--resume {resume} continues that run; --overwrite deletes it to start afresh: "
        f"give one.",
        "init_from": f"--init-from starts a new run from another run's weights; --resume {resume} "
        f"continues that run with its own. Give one.",
        "other_out": f"--resume {resume} continues that run in its own folder; --out {out} names "
        f"another. Drop --out, or start a new run there without --resume.",
    }
    raise UserError(words[clash.kind])


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
    from vislab.training.resume import resumable  # on use: torch (vislab.cli's)
    from vislab.training.resume_checks import refused_changes
    from vislab.training.rundir import RunDir

    saved = resumable(RunDir(resume))
    stored, trained = saved.record.config, saved.resume.loop.epoch
    wanted = load_config(config, set_, base=stored)  # the options on top
    given = [(s, s.partition("=")[0].strip()) for s in set_]
    if refused := refused_changes(stored, wanted, epochs, given, trained=trained):
        raise UserError(
            f"--resume {resume} continues the run with its saved config, but these options change it: "
            f"{refused.listed}. {_fix(refused, resume, config, epochs)}"
        )
    return wanted


def _fix(refused: RefusedChanges, resume: Path, config: str | None, epochs: int | None) -> str:
    """The way on from a refused change, in the command's options: --epochs trains a resumed run on
    (where its schedule allows); given already, the --set (or --config) of train.epochs is what to drop."""
    if refused.fix == "epochs_instead":
        wanted = refused.asked.train.epochs
        return (
            f"To train it on to {wanted} epochs, give --epochs instead: vislab train --resume "
            f"{resume} --epochs {wanted}."
        )
    if refused.fix == "trained_more":
        given = refused.epochs_set_by
        drop = f"--set {given}" if given is not None else f"train.epochs from --config {config}"
        return (
            f"It has trained {refused.trained} epochs already, and a resume does not take epochs back: "
            f"`vislab eval {resume}` scores it as it is; to resume it, drop {drop}. A run of "
            f"{refused.asked.train.epochs} epochs is a new run (a new --out)."
        )
    if refused.fix == "drop_epochs_setting":
        given = refused.epochs_set_by
        drop = f"--set {given}" if given is not None else f"train.epochs from --config {config}"
        return f"--epochs {epochs} says how far to train it on: drop {drop}."
    return "Resume without them, or start a new run (a new --out)."
