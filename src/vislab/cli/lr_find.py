"""``vislab lr-find``: the learning-rate range test on the configured model and data — a loss-vs-lr plot
and a suggested ``optim.lr`` (the rule: ``vislab.training.lr_find``).

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

from vislab.cli.data import check_figure_path
from vislab.cli.endings import err
from vislab.cli.options import ConfigOpt, SetOpt
from vislab.config import Config
from vislab.errors import TrainingInterrupted
from vislab.plotting.files import check_new_files, name_part

if TYPE_CHECKING:
    from vislab.training.lr_finding import RangeTest

console = Console(emoji=False)


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
    the loss diverges: its moving average above 4× its minimum, or above the mean of its first 10
    steps by more than 20 % of it and 3× their noise), plot the loss against the lr and suggest an
    optim.lr (with optim.head_lr: both rates at their ratio, or the head's alone where only the head
    trains). Writes only the plot."""
    # on use: torch & co. take seconds to load (module docstring)
    from vislab.cli import checked_config  # the package imports this module: not at its top
    from vislab.plotting.canvas import save_figure
    from vislab.training.lr_find import lr_find as range_test
    from vislab.training.lr_finding import RangeTest

    # as `vislab train` checks them: the model's options before any data is loaded
    cfg = checked_config(config, set_ or [])
    out = out or Path(f"lr_find_{name_part(cfg.model.name)}_{name_part(cfg.data.name)}.png")
    check_figure_path(out)
    check_new_files([out], force)
    test = RangeTest(start_lr, end_lr, steps)  # checks the range before any work
    # said once the model is known to be trained by the optimizer (mlp-scratch is refused first)
    try:
        f = range_test(cfg, test, on_start=lambda: _say(_header(cfg, test)))
    except KeyboardInterrupt:  # before its first step: nothing to keep (after: ``f.interrupted``)
        raise TrainingInterrupted(
            "the LR range test stopped before its first step: nothing was run or written. Run the same "
            "`vislab lr-find` command again."
        ) from None
    path = save_figure(f.plot(), out)
    sets = " ".join(f"--set {key}={value:g}" for key, value in f.settings.items())
    for line in [*f.lines(), *([] if f.interrupted else [f"train with {sets}"])]:
        _say(line)
    err.print(escape(f"plot: {path}"), highlight=False, soft_wrap=True)  # what was written: stderr
    if f.interrupted:  # the steps taken are shown above: said, and exit 130
        raise TrainingInterrupted(
            f"the LR range test was cut short at lr {f.lrs[-1]:.3g}, after step {len(f.lrs)} of "
            f"{steps}, and suggests no lr; the plot ({path}) keeps the steps it took. For the whole "
            f"range and a suggested lr, run the same `vislab lr-find` command again with --force (it "
            f"replaces the plot)."
        )


def _header(cfg: Config, test: RangeTest) -> str:
    """The line that opens the range test: model, data, optimizer, the lr range and the batch."""
    k = cfg.train.accumulate
    return (
        f"LR range test: {cfg.model.name} on {cfg.data.name}, {cfg.optim.name}, lr {test.start_lr:.3g} "
        f"→ {test.end_lr:.3g} over {test.steps} steps of batch {cfg.train.batch_size}"
        + (f" × {k} accumulated (train.accumulate)" if k > 1 else "")
    )


def _say(line: str) -> None:
    console.print(escape(line), highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Mount ``vislab lr-find`` on the main app."""
    app.command("lr-find")(lr_find)
