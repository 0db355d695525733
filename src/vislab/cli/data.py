"""``vislab data info NAME`` and ``vislab data preview NAME``.

Commands import the layers they drive when they run ("on use" below): those load torch,
scikit-learn, matplotlib and optuna (~3 s here), which `vislab --help`, tab completion and usage
errors should not wait for.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from vislab.cli.options import ConfigOpt, SetOpt, check_flags_and_sets
from vislab.config import Config, load_config
from vislab.errors import UserError, show_note
from vislab.plotting.files import check_new_files, name_part
from vislab.training.writable import check_writable

app = typer.Typer(no_args_is_help=True, help="Inspect datasets.")
console = Console(emoji=False)
err = Console(stderr=True, emoji=False)


def _config(name: str, config: str | None, set_: list[str] | None) -> Config:
    """The config of dataset ``name``: UserError if a --set data.name names another (as train refuses)."""
    check_flags_and_sets(set_, said={"data": "NAME"}, data=name)
    return load_config(config, [f"data.name={name}", *(set_ or [])])


@app.command()
def info(
    name: str,
    config: str | None = ConfigOpt,
    set_: list[str] | None = SetOpt,
) -> None:
    """Sizes, shapes, class counts and split sizes of a dataset on disk (downloads nothing unless given
    --set data.download=true)."""
    # on use: torch & co. take seconds to load (module docstring)
    from vislab.data import load_splits
    from vislab.data.limit_notes import limit_note

    cfg = _config(name, config, set_)
    if cfg.data.download == "auto":  # an inspection fetches nothing unasked
        cfg.data.download = False
    splits = load_splits(cfg.data, cfg.train.seed)
    x = splits.train.x
    kind = (
        f"images {x.shape[1]}×{x.shape[2]}×{x.shape[3]} uint8"
        if splits.train.is_image
        else f"{x.shape[1]}-D features"
    )
    # a line of its own: rich wraps a table's title to the table's width (fashion-mnist's: 39 columns)
    head = f"{name}: {kind}, {splits.num_classes} classes"
    console.print(head, markup=False, highlight=False, soft_wrap=True)
    table = Table()
    table.add_column("class")
    for split, _ in splits.items():
        table.add_column(split, justify="right")
    counts = {s: np.bincount(d.y, minlength=splits.num_classes) for s, d in splits.items()}
    for k, cname in enumerate(splits.class_names):
        table.add_row(cname, *(str(counts[s][k]) for s, _ in splits.items()))
    table.add_row("[bold]total", *(f"[bold]{len(d)}" for _, d in splits.items()))
    console.print(table)
    if cfg.data.limit_per_class is not None:
        seed = ("data.split_seed", cfg.data.split_seed)
        seed = seed if seed[1] is not None else ("train.seed", cfg.train.seed)
        drawn = f"data.limit_per_class, drawn with {seed[0]}={seed[1]}"
        console.print(
            f"train: {cfg.data.limit_per_class} images of each class ({drawn})", markup=False
        )
    note = limit_note(splits, cfg.data.limit)
    if note:
        err.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)


def check_figure_path(out: Path) -> None:
    """UserError unless ``out`` names a file type matplotlib writes in a folder that is, or can be
    made, writable, and is none of a run's own files (``training.rundir.RUN_OWN``, not even with
    --force, as export's --out) — checked before any work is done (an lr-find's steps are not run for
    nothing)."""
    from vislab.training.rundir import refuse_run_file  # on use (module docstring)

    if out.suffix.lower() not in (".png", ".jpg", ".jpeg", ".pdf", ".svg"):
        raise UserError(
            f"--out '{out}': give an image file name ending in .png, .jpg, .pdf or .svg."
        )
    refuse_run_file(out, "--out")
    check_writable(out, "the figure", is_file=True)


class Show(str, Enum):
    """What `data preview` draws under the originals."""

    augmented = "augmented"
    normalized = "normalized"


@app.command()
def preview(
    name: str,
    config: str | None = ConfigOpt,
    set_: list[str] | None = SetOpt,
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="The figure (default preview_NAME.png, preview_NAME_normalized.png).",
    ),
    force: bool = typer.Option(False, "--force", help="Replace the file if it exists."),
    n: int | None = typer.Option(
        None,
        "-n",
        min=1,
        max=64,
        help="Images per row (default: one of each class, 8 at least, 20 at most). The originals row "
        "takes one image of each class first: with more classes than N it shows the first N only.",
        show_default=False,
    ),
    show: Show = typer.Option(
        Show.augmented,
        "--show",
        help="augmented: rows of augmented copies (augment.*); normalized: the same images after "
        "data.normalize (standard or zca, fitted on train), as the model sees them.",
    ),
    copies: int | None = typer.Option(
        None, "--copies", min=1, max=8, help="Augmented rows (default 3; with --show augmented)."
    ),
) -> None:
    """PNG grid: a row of training originals (one per class first, labelled; -n N: the first N classes
    where the data has more), then rows of augmented copies (augment.* from --set, mixup and cutmix included,
    each row titled with what was done), or with --show normalized the originals after standardisation
    or ZCA whitening. 2-D feature data (circles): a scatter of the train points, coloured by class."""
    # on use: torch & co. take seconds to load (module docstring)
    from vislab.data.augment_words import normalized_preview_note
    from vislab.report.previews import preview_drawer

    suffix = "_normalized" if show is Show.normalized else ""
    out = out or Path(f"preview_{name_part(name)}{suffix}.png")
    check_figure_path(out)
    check_new_files([out], force)
    cfg = _config(name, config, set_)
    if show is Show.normalized and (note := normalized_preview_note(cfg.augment)):
        show_note(note)
    draw = preview_drawer(cfg, show.value, n, copies)
    console.print(f"wrote {draw(out)}")
