"""The options several commands share, defined once: ``--set``, ``--config`` and ``--trust-code``; and the
check that a flag and a ``--set`` do not set one key twice."""

from __future__ import annotations

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
