"""A run's finer tracking in the report: its curves with the step losses, its learning rate when it changes,
its gradient norms per layer."""

from __future__ import annotations

from pathlib import Path

from vislab.plotting.runs import plot_curves
from vislab.plotting.steps import lr_changes, plot_grad_norms, plot_lr
from vislab.report.figure_set import FigureSet, safe_name
from vislab.training.rundir import RunDir
from vislab.training.step_log import GRAD_FILE, STEPS_FILE


def tracking_figures(figs: FigureSet, name: str, run_dir: Path) -> list[dict]:
    """``train.log_every``: the run's loss curves with the step losses under them (the noisy updates,
    the first steps' loss); a schedule or warm-up: the learning rate; ``train.track_grad_norm``: the
    layer × epoch gradient-norm heat map."""
    run, s = RunDir(run_dir), safe_name(name)
    rows, steps = run.read_metrics(), run.read_rows(STEPS_FILE)
    out = []
    if steps:
        every = "per step" if steps[0]["step"] == 1 else f"every {steps[0]['step']} steps"
        out.append(
            figs.make(
                f"steps_{s}.png",
                f"{name}: training loss {every} (faint) under the epoch curves",
                plot_curves,
                rows,
                title=name,
                steps=steps,
            )
        )
    if lr_changes(rows, steps):
        out.append(
            figs.make(
                f"lr_{s}.png",
                f"{name}: learning rate per epoch (and at the logged steps)",
                plot_lr,
                rows,
                title=f"{name}: learning rate",
                steps=steps,
            )
        )
    if grads := run.read_rows(GRAD_FILE):
        out.append(
            figs.make(
                f"grad_norms_{s}.png",
                f"{name}: mean gradient L2 norm of each layer per epoch, at optimizer steps before "
                f"clipping (log colour scale)",
                plot_grad_norms,
                grads,
                title=f"{name}: gradient norms (before clipping)",
            )
        )
    return [f for f in out if f]
