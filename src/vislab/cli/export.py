"""``vislab export RUN --format onnx|torchscript``: the trained model and a JSON of what inference needs.

Commands import the layers they drive when they run ("on use" below): those load torch,
scikit-learn, matplotlib and optuna (~3 s here), which `vislab --help`, tab completion and usage
errors should not wait for.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape

from vislab.cli.options import CheckpointChoice, CheckpointOpt, TrustOpt

if TYPE_CHECKING:
    from vislab.export_spec import Exported, WeightsOrigin

err = Console(stderr=True, emoji=False)  # what was written: stderr, as every command says it


def export(
    target: Path = typer.Argument(..., help="Run directory or checkpoint file."),
    fmt: str = typer.Option(..., "--format", "-f", help="onnx | torchscript (any case)"),
    out: str | None = typer.Option(  # str: a trailing / says "folder", which Path drops
        None,
        "--out",
        "-o",
        help="Model file or folder (default RUN/export/model.onnx or model.torchscript.pt; --checkpoint "
        "last: model_last.onnx, model_last.torchscript.pt; a name ending in / or without a suffix is a "
        "folder, made if missing); the JSON goes beside the model: X.json for X.onnx, X.torchscript.json "
        "for X.pt or X.torchscript.",
    ),
    which: CheckpointChoice | None = CheckpointOpt,
    trust_code: bool = TrustOpt,
    force: bool = typer.Option(
        False,
        "--force",
        help="Replace files already at --out (the run's own export/ always is; a run's checkpoints, "
        "config.yaml, summary.json, ... never are).",
    ),
    opset: int | None = typer.Option(
        None,
        "--opset",
        help="The ONNX opset version to write (default: torch's exporter's own); checked against the "
        "installed onnx and onnxruntime.",
        show_default=False,
    ),
) -> None:
    """Export the run's best model (or --checkpoint last) as ONNX (the 'onnx' extra) or TorchScript, with
    a JSON inference spec that names the checkpoint and its epoch."""
    # on use: torch & co. take seconds to load (module docstring)
    from vislab.cli.scores import chosen_checkpoint, say_weights
    from vislab.export import export_run

    chosen = chosen_checkpoint(target, which and which.value)
    exported = export_run(chosen, fmt, out, trust_code=trust_code, force=force, opset=opset)
    say_weights(exported.weights)
    _say(exported)


def _say(exported: Exported) -> None:
    """The files written, where the weights come from and how the export was checked (on stderr)."""
    check = exported.check
    err.print(
        escape(f"model: {exported.model_file} (from {_origin(exported.origin)})"),
        highlight=False,
        soft_wrap=True,
    )
    err.print(
        escape(
            f"inference spec: {exported.spec_file} (input shape, normalisation, class names, recipe; "
            f"also inside the model file); "
            f"the export matches PyTorch within {check.max_abs_diff_vs_pytorch:.2g} on batches of "
            f"{', '.join(map(str, check.batch_sizes))}"
        ),
        highlight=False,
        soft_wrap=True,
    )


def _origin(origin: WeightsOrigin) -> str:
    """The spec's ``checkpoint`` in words: ``checkpoints/best.pt, epoch 2, test acc 0.9310``."""
    if origin.epoch is None:  # a hand-made checkpoint file
        return origin.file
    step = f", step {origin.step}" if origin.step else ""
    acc = f", test acc {origin.test_acc:.4f}" if origin.test_acc is not None else ""
    return f"{origin.file}, epoch {origin.epoch}{step}{acc}"


def register(app: typer.Typer) -> None:
    """Mount ``vislab export`` on the main app."""
    app.command("export")(export)
