"""``vislab lr-find``: the learning-rate range test on the configured model and data — a loss-vs-lr plot
and a suggested ``optim.lr`` (the rule: ``vislab.training.lr_find``).

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
from vislab.cli.options import ConfigOpt, SetOpt
from vislab.config import load_config
from vislab.plotting.files import check_new_files, name_part

console = Console()


def lr_find(
    config: str | None = ConfigOpt,
    set_: list[str] | None = SetOpt,
    start_lr: float = typer.Option(1e-7, "--start-lr", help="Learning rate of the first step."),
    end_lr: float = typer.Option(10.0, "--end-lr", help="Learning rate of the last step."),
    steps: int = typer.Option(
        200, "--steps", min=10, help="Steps from --start-lr to --end-lr (exponential)."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="The plot (PNG, JPG, SVG or PDF; default lr_find_MODEL_DATA.png)."
    ),
    force: bool = typer.Option(False, "--force", help="Replace the plot if it exists."),
) -> None:
    """LR range test: train a few hundred steps at exponentially growing learning rates (stopping when
    the loss diverges), plot the loss against the lr and suggest an optim.lr. Writes only the plot."""
    # on use: torch & co. take seconds to load (module docstring)
    from vislab.plotting.canvas import save_figure
    from vislab.training.lr_find import RangeTest
    from vislab.training.lr_find import lr_find as range_test

    cfg = load_config(config, set_ or [])
    out = out or Path(f"lr_find_{name_part(cfg.model.name)}_{name_part(cfg.data.name)}.png")
    check_figure_path(out)
    check_new_files([out], force)
    test = RangeTest(start_lr, end_lr, steps)  # checks the range before any work
    k = cfg.train.accumulate
    header = (
        f"LR range test: {cfg.model.name} on {cfg.data.name}, {cfg.optim.name}, lr {start_lr:.3g} → "
        f"{end_lr:.3g} over {steps} steps of batch {cfg.train.batch_size}"
        + (f" × {k} accumulated (train.accumulate)" if k > 1 else "")
    )
    # said once the model is known to be trained by the optimizer (mlp-scratch is refused first)
    f = range_test(
        cfg, test, on_start=lambda: console.print(escape(header), highlight=False, soft_wrap=True)
    )
    path = save_figure(f.plot(), out)
    lines = [*f.lines(), f"train with --set optim.lr={f.suggestion:.2g}", f"plot: {path}"]
    for line in lines:
        console.print(escape(line), highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Mount ``vislab lr-find`` on the main app."""
    app.command("lr-find")(lr_find)
