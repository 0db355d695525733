"""The options several commands share, defined once: ``--set``, ``--config`` and ``--trust-code``."""

from __future__ import annotations

import typer

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
