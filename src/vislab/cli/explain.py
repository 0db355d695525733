"""``vislab explain``: what a finished run looks at — attention maps and rollout (ViTs), Grad-CAM and
saliency (any convolutional model / any model), one PNG per image (the logic: ``vislab.explain``, which
asks the model's hooks what it offers).

Commands import the layers they drive when they run ("on use" below): those load torch,
scikit-learn, matplotlib and optuna (~3 s here), which `vislab --help`, tab completion and usage
errors should not wait for.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from vislab.cli.options import CheckpointChoice, CheckpointOpt, TrustOpt
from vislab.errors import UserError

console = Console(emoji=False)


class Method(str, Enum):
    attention = "attention"
    rollout = "rollout"
    gradcam = "gradcam"
    saliency = "saliency"


MethodOpt = typer.Option(
    None,
    "--method",
    "-m",
    help="attention: each head's attention to the patches in one block (ViTs, --block): the class "
    "token's, or without one (vit model.pool=mean) the mean over all tokens; rollout: attention "
    "rollout through all blocks (ViTs); gradcam: Grad-CAM at the model's Grad-CAM layer (by default "
    "its last conv feature maps after their activation); saliency: |gradient| (any model); both of "
    "the predicted class (as predict's, with the run's train.tta), through captum. Default: rollout "
    "for a ViT, gradcam for a convolutional network, else saliency.",
    show_default=False,
)
BlockOpt = typer.Option(
    None,
    "--block",
    help="The block --method attention shows, counted from 0 (0: first, -1: last; default the last): "
    "the PNG's name has this number (IMAGE_attention_block0.png), its title counts from 1 (block 1 of "
    "2 (--block 0)). Without --method it means --method attention (a ViT); refused with the other "
    "methods, which draw no single block.",
    show_default=False,
)
OutOpt = typer.Option(
    None,
    "--out",
    "-o",
    help="Folder for the PNGs (default RUN/explain), named IMAGE_METHOD[_blockB].png, IMAGE an image "
    "file's stem, or for an image in a folder given its path under it (cat/0.png: cat_0_gradcam.png); a "
    "checkpoint file other than best.pt adds its name: IMAGE_METHOD_last.png for RUN/checkpoints/last.pt.",
)
ClassOpt = typer.Option(
    None,
    "--class",
    help="The class gradcam and saliency explain, by name (default: the predicted class); the PNG's "
    "name ends _classK (K its index), its title names it and its probability. Refused with attention "
    "and rollout, whose maps are the same for every class.",
    show_default=False,
)
ForceOpt = typer.Option(False, "--force", help="Replace PNGs an earlier explain wrote.")


def explain(
    run: Path = typer.Argument(..., help="Run directory or checkpoint file."),
    images: list[Path] = typer.Argument(
        ...,
        help="Image files or folders (each image under it, sorted, named by its path there: cat/0.png), "
        "preprocessed as `vislab predict` does (resize, centre crop, normalise).",
    ),
    method: Method | None = MethodOpt,
    block: int | None = BlockOpt,
    class_: str | None = ClassOpt,
    out: Path | None = OutOpt,
    force: bool = ForceOpt,
    trust_code: bool = TrustOpt,
    which: CheckpointChoice | None = CheckpointOpt,
) -> None:
    """One PNG per image: the image, then the map(s) of --method over it, titled with the prediction.
    An image that fails is reported and the others still drawn; then the exit code is 2."""
    # on use: torch & co. take seconds to load (module docstring)
    from vislab.cli.scores import chosen_checkpoint, print_image_error
    from vislab.explain import explain_images
    from vislab.training.rundir import refuse_run_file

    if out is not None:  # not into a run's checkpoints/ nor over its records or figures (RUN_OWN)
        refuse_run_file(out, "--out")
    target = chosen_checkpoint(run, which and which.value)
    failures = 0
    for image, png in explain_images(
        target, images, method and method.value, out, block, trust_code, force, class_
    ):
        if isinstance(png, UserError):
            failures += 1
            print_image_error(image, png)
        else:
            console.print(escape(str(png)), highlight=False, soft_wrap=True)
    if failures:
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    """Mount ``vislab explain`` on the main app."""
    app.command("explain")(explain)
