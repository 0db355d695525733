"""A run's finer tracking in the report: its curves with the step losses, its learning rate when it changes,
its gradient norms per layer."""

from __future__ import annotations

from pathlib import Path

from vislab.config import Config, TrainConfig
from vislab.plotting.canvas import draw_once
from vislab.plotting.runs import plot_curves
from vislab.plotting.steps import lr_changes, plot_grad_norms, plot_lr
from vislab.report.figure_set import FigureSet
from vislab.training.optim import lr_per_step, optimizer_steps, scheduled_lr
from vislab.training.rundir import RunDir
from vislab.training.scoring import CURVES_PNG, GRAD_NORMS_PNG, LR_PNG, best_pt_epoch
from vislab.training.step_log import GRAD_FILE, STEPS_FILE
from vislab.training.summary import RunSummary


def tracking_figures(
    figs: FigureSet,
    name: str,
    run_dir: Path,
    cfg: Config | None,
    summary: RunSummary,
    row: str | None = None,
) -> list[dict]:
    """``train.log_every``: the run's loss curves with the step losses under them (the noisy updates,
    the first steps' loss); a schedule or warm-up: the learning rate (per step, from the run's ``cfg``
    and ``summary``); ``train.track_grad_norm``: the layer × epoch gradient-norm heat map. The curves
    take the colour of the run (or of its ``row``, a seed run's) in curves.png (``figs.colours``). Each
    is a copy of the run's own figure where it is the same picture (``draw_once``); rows: ``figs.files``."""
    run, s = RunDir(run_dir), figs.file_part(name)
    rows, steps = figs.files.metrics(run_dir), run.read_rows(STEPS_FILE)
    out = []
    if steps:
        every = "per step" if steps[0]["step"] == 1 else f"every {steps[0]['step']} steps"
        out.append(
            figs.make(
                f"steps_{s}.png",
                f"{name}: training loss {every} (faint) under the epoch curves",
                draw_once,
                plot_curves,
                rows,
                title=name,
                steps=steps,
                colour=figs.colours.get(row or name, 0),
                best_epoch=best_pt_epoch(summary),
                drawn=run.fig_dir / CURVES_PNG,
            )
        )
    schedule = schedule_per_step(cfg, summary, rows)
    if lr_changes(rows, steps, schedule):
        said = "at every optimizer step (line) and at each epoch's end (markers)"
        out.append(
            figs.make(
                f"lr_{s}.png",
                f"{name}: learning rate {said if schedule else 'per epoch (and at the logged steps)'}",
                draw_once,
                plot_lr,
                rows,
                title=f"{name}: learning rate",
                steps=steps,
                schedule=schedule,
                drawn=run.fig_dir / LR_PNG,
            )
        )
    out.append(_grad_norms_figure(figs, name, run))
    return [f for f in out if f]


def _grad_norms_figure(figs: FigureSet, name: str, run: RunDir) -> dict | None:
    """``train.track_grad_norm``: the run's layer × epoch gradient-norm heat map (None: not tracked)."""
    grads = run.read_rows(GRAD_FILE)
    if not grads:
        return None
    return figs.make(
        f"grad_norms_{figs.file_part(name)}.png",
        f"{name}: mean gradient L2 norm of each layer per epoch, at optimizer steps before clipping "
        f"(log colour scale)",
        draw_once,
        plot_grad_norms,
        grads,
        title=f"{name}: gradient norms (before clipping)",
        drawn=run.fig_dir / GRAD_NORMS_PNG,
    )


def schedule_per_step(
    cfg: Config | None, summary: RunSummary, rows: list[dict]
) -> list[tuple[float, float]] | None:
    """The lr at every optimizer step of the epochs of metrics ``rows`` (``training.optim.lr_per_step``),
    as the run's own figures/lr.png draws it: its schedule rebuilt from its config and the train split's
    size in its summary (``n_train``, ``world_size``); None when either is missing (the figure then shows
    the epochs' lr and the logged steps')."""
    if cfg is None or not summary.n_train:
        return None
    per_epoch = steps_per_epoch(cfg.train, summary.n_train, summary.world_size or 1)
    return lr_per_step(lambda step: scheduled_lr(cfg, step, per_epoch), per_epoch, rows)


def steps_per_epoch(train: TrainConfig, n_train: int, world: int = 1) -> int:
    """Optimizer steps per epoch as the trainer counts them: each process's share of the ``n_train``
    samples in whole batches (the last partial one dropped), one step per ``train.accumulate`` batches."""
    share = n_train // world if world > 1 else n_train
    return max(1, optimizer_steps(share // train.batch_size, train.accumulate))
