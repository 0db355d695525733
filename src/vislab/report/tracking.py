"""A run's finer tracking in the report: its curves with the step losses, its gradient norms per layer."""

from __future__ import annotations

from pathlib import Path

from vislab.plotting.runs import plot_curves
from vislab.plotting.steps import plot_grad_norms
from vislab.report.figure_set import FigureSet, safe_name
from vislab.training.rundir import RunDir
from vislab.training.step_log import GRAD_FILE, STEPS_FILE


def tracking_figures(figs: FigureSet, name: str, run_dir: Path) -> list[dict]:
    """``train.log_every``: the run's loss curves with the step losses under them (the noisy updates,
    the first steps' loss); ``train.track_grad_norm``: the layer × epoch gradient-norm heat map."""
    run, s = RunDir(run_dir), safe_name(name)
    out = []
    if steps := run.read_rows(STEPS_FILE):
        every = "per step" if steps[0]["step"] == 1 else f"every {steps[0]['step']} steps"
        out.append(
            figs.make(
                f"steps_{s}.png",
                f"{name}: training loss {every} (faint) under the epoch curves",
                plot_curves,
                run.read_metrics(),
                title=name,
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
