"""``vislab figure ...``: figures the course reports drew by hand, for any size.

``pos-embed``: the sinusoidal positional-encoding table of the RDFIA 1-e ViT (position × dimension) and
the cosine similarity of its positions, from the very function vislab's ``vit`` uses for
``model.pos_embed=sinusoidal``; or, with ``--run``, a trained transformer's own position embedding
(any model whose hooks offer one: vislab's ``vit``, timm ViTs).

Commands import the layers they drive when they run ("on use" below): those load torch,
scikit-learn, matplotlib and optuna (~3 s here), which `vislab --help`, tab completion and usage
errors should not wait for.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from vislab.cli.data import check_figure_path
from vislab.cli.options import TrustOpt
from vislab.errors import UserError
from vislab.plotting.files import check_new_files, name_part

app = typer.Typer(no_args_is_help=True, help="Figures the course reports drew by hand.")
console = Console(emoji=False)

# The similarity map is length × length and the table length × dim: 2048 × 2048 adds ~0.1 GB to the
# command's peak memory (4096: ~0.9 GB, matplotlib resamples both images), and is more than a figure shows.
MAX_SIZE = 2048
DEFAULT_LENGTH, DEFAULT_DIM = 100, 16  # the RDFIA 1-e figure


@app.command("pos-embed")
def pos_embed(
    length: int | None = typer.Option(
        None, "--length", help=f"Positions (tokens) in the table (default {DEFAULT_LENGTH})."
    ),
    dim: int | None = typer.Option(
        None, "--dim", help=f"Embedding dimension (default {DEFAULT_DIM}; odd is fine)."
    ),
    run: Path | None = typer.Option(
        None,
        "--run",
        help="Draw this trained ViT run's position embedding (learned or fixed) instead.",
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="The figure (default pos_embed_sinusoidal_LENGTHxDIM.png, or pos_embed_RUN.png with --run).",
    ),
    force: bool = typer.Option(False, "--force", help="Replace the file if it exists."),
    trust_code: bool = TrustOpt,
) -> None:
    """PNG: a positional-embedding table (position × dimension) and its cosine-similarity map."""
    # on use: torch & co. take seconds to load (module docstring)
    from vislab.models.vit import sinusoidal_table
    from vislab.position_embedding import PositionTable, position_table, run_label

    if out is not None:
        check_figure_path(out)
    if run is not None:
        if length is not None or dim is not None:
            raise UserError(
                f"--run {run} draws that model's own table, whose size its config fixes; "
                f"drop --length/--dim, or drop --run to draw a sinusoidal table of any size."
            )
        drawn = position_table(run, trust_code)  # its model's, or why not
        out = out or Path(f"pos_embed_{name_part(run_label(run))}.png")
    else:
        length = _checked_size("--length", DEFAULT_LENGTH if length is None else length)
        dim = _checked_size("--dim", DEFAULT_DIM if dim is None else dim)
        title = f"sinusoidal positional encoding ({length} positions, d={dim})"
        drawn = PositionTable(sinusoidal_table(length, dim), None, False, title)
        out = out or Path(f"pos_embed_sinusoidal_{length}x{dim}.png")
    check_new_files([out], force)
    console.print(escape(f"wrote {drawn.draw(out)}"), highlight=False, soft_wrap=True)


def _checked_size(option: str, value: int) -> int:
    """``value`` if 1 ≤ value ≤ MAX_SIZE, else UserError naming ``option``."""
    if not 1 <= value <= MAX_SIZE:
        raise UserError(
            f"{option} {value}: give a whole number from 1 to {MAX_SIZE} "
            f"(the RDFIA 1-e figure uses --length {DEFAULT_LENGTH} --dim {DEFAULT_DIM})."
        )
    return value
