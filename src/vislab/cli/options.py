"""The options several commands share, defined once: ``--set``, ``--config``, ``--trust-code`` and
``--checkpoint`` (checked here: a checkpoint file given to it is named as the command's TARGET); and the
check that a flag and a ``--set`` do not set one key twice."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from vislab.config.overrides import parse_value
from vislab.errors import UserError

SetOpt = typer.Option(
    None, "--set", "-s", help="Override a config key: key.sub=value (repeatable)."
)
ConfigOpt = typer.Option(None, "--config", "-c", help="YAML config file or preset name.")
TrustOpt = typer.Option(
    False,
    "--trust-code",
    help="Import the run's own model code (model.name=file.py:Net) even if the file is not the one "
    "the run recorded (by sha256). Only for code you trust: importing runs it.",
)
TrustRunsOpt = typer.Option(
    False,
    "--trust-code",
    help="Import the runs' own model code (model.name=file.py:Net) for the model figures even if "
    "the file is not the one the run recorded. Only for code you trust: importing runs it.",
)


class CheckpointChoice(str, Enum):
    best = "best"
    last = "last"


def _checkpoint_choice(ctx: typer.Context, value: str | None) -> CheckpointChoice | None:
    """``--checkpoint``'s value as a :class:`CheckpointChoice`; a bad one refused, a file with the command
    line that takes it as the TARGET, a name ending in .pt that is no file saying so."""
    if value is None or isinstance(value, CheckpointChoice):
        return value
    try:
        return CheckpointChoice(value)
    except ValueError:
        pass
    stem = value.removesuffix(".pt")
    if stem in CheckpointChoice.__members__ and not Path(value).exists():
        raise typer.BadParameter(f"it takes best or last, without .pt: --checkpoint {stem}.")
    if value.endswith(".pt") and not Path(value).is_file():
        raise typer.BadParameter(
            f"it takes best or last; '{value}' is no file (a checkpoint file is given as the TARGET)."
        )
    if Path(value).is_file():
        images = " IMAGES" if any(p.name == "images" for p in ctx.command.params) else ""
        raise typer.BadParameter(
            f"it takes best or last; '{value}' is a checkpoint file, which is given as the TARGET "
            f"instead of the run folder: vislab {ctx.info_name} {value}{images}."
        )
    raise typer.BadParameter(f"it takes best or last, not '{value}'.")


CheckpointOpt = typer.Option(
    None,
    "--checkpoint",
    parser=str,  # checked by the callback, which knows the command (the TARGET it names)
    callback=_checkpoint_choice,
    metavar="<best|last>",
    help="Which checkpoint of the run: best (checkpoints/best.pt, the epoch whose val score was best; "
    "the default) or last (checkpoints/last.pt, its latest weights; of a train.ema run, their average, "
    "which its evaluations scored). A run with no best.pt yet (stopped "
    "before its first evaluation) is used through last.pt, with a note on stderr saying so. A "
    "checkpoint file is the TARGET itself.",
    show_default=False,
)


def _sets_other(assignment: str, key: str, value: object) -> bool:
    """Whether ``assignment`` (a --set, ``key=value`` typed as YAML) sets ``key`` to another value."""
    given, _, typed = assignment.partition("=")
    return given.strip() == key and parse_value(typed.strip()) != value


def check_flags_and_sets(
    sets: list[str] | None, said: dict[str, str] | None = None, **flags: object
) -> None:
    """UserError when a flag (``--epochs 1``) and a ``--set`` (``train.epochs=3``) set the same config key
    to different values: one would silently win (the same value twice says nothing new). ``flags``:
    ``epochs`` (train.epochs) and ``data`` (data.name), None if absent; ``said``: how a command names one
    that is no flag (``{"data": "NAME"}``, an argument)."""
    keys = {"epochs": "train.epochs", "data": "data.name"}
    for flag, value in flags.items():
        clash = next((s for s in sets or [] if _sets_other(s, keys[flag], value)), None)
        if value is not None and clash is not None:
            given = (said or {}).get(flag, f"--{flag}")
            raise UserError(
                f"{given} {value} and --set {clash} both set {keys[flag]}: give one of them."
            )


def is_stdout(path: Path | None) -> bool:
    """Whether an output option names standard output: ``-``, as in ``--csv -``."""
    return path is not None and str(path) == "-"
