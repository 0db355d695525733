"""Figures of the finer tracking: the step losses under the epoch curves, the layer × epoch gradient norms,
the learning rate of a schedule or warm-up (per optimizer step: ``training.optim.lr_per_step``).

Rows are the run's ``steps.jsonl`` (``{step, epoch, loss, lr}``, ``train.log_every``) and
``grad_norms.jsonl`` (``{epoch, grad_norm: {layer: norm}}``, ``train.track_grad_norm``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from vislab.plotting.canvas import NotebookFigure, save_figure


def step_positions(rows: list[dict]) -> list[float]:
    """Each step row's place on the epoch axis: epoch e runs from e - 1 to e (its last row, which closes
    the epoch's last window, ends at e), so the step losses line up with the per-epoch curves."""
    ends: dict[int, int] = {}
    for r in rows:
        ends[r["epoch"]] = max(ends.get(r["epoch"], 0), r["step"])
    xs = []
    for r in rows:
        e = r["epoch"]
        start = ends.get(e - 1, 0)  # every epoch has rows (its last window closes at its end)
        xs.append(e - 1 + (r["step"] - start) / max(ends[e] - start, 1))
    return xs


def draw_step_losses(ax: Axes, rows: list[dict], color: str, label: str = "") -> None:
    """The step losses as a thin, light line beneath the epoch curves of ``ax`` (the noisy updates)."""
    if not rows:
        return
    ax.plot(step_positions(rows), [r["loss"] for r in rows], "-", color=color, lw=0.7, alpha=0.35,
            zorder=1, label=label or "train (steps)")  # fmt: skip


def grad_norms_figure(rows: list[dict], title: str = "") -> Figure:
    """Mean gradient L2 norm of each layer (rows, in the model's order) in each epoch (columns), on a
    log colour scale: vanishing gradients show as the early layers fading out."""
    epochs = [r["epoch"] for r in rows]
    layers = list(rows[0]["grad_norm"]) if rows else []
    grid = np.array(
        [[r["grad_norm"].get(name, np.nan) for r in rows] for name in layers], dtype=float
    )
    fig = NotebookFigure(
        figsize=(max(5.0, 0.35 * len(epochs) + 3), max(3.0, 0.25 * len(layers) + 1.5))
    )
    ax = fig.subplots()
    positive = grid[np.isfinite(grid) & (grid > 0)]
    norm = LogNorm(positive.min(), positive.max()) if positive.size else None
    image = ax.imshow(np.where(grid > 0, grid, np.nan), aspect="auto", cmap="viridis", norm=norm,
                      interpolation="nearest")  # fmt: skip
    ax.set_yticks(range(len(layers)), layers, fontsize=7)
    step = max(1, len(epochs) // 15)
    ax.set_xticks(range(0, len(epochs), step), epochs[::step])
    ax.set_xlabel("epoch")
    ax.set_title(
        title or "gradient L2 norm per layer, before clipping (epoch mean of optimizer steps)"
    )
    fig.colorbar(image, ax=ax, label="‖gradient‖₂")
    return fig


def plot_grad_norms(rows: list[dict], path: Path, title: str = "") -> Path:
    """The layer × epoch gradient-norm heat map as a PNG."""
    return save_figure(grad_norms_figure(rows, title), path)


def lr_points(rows: list[dict], steps: list[dict] | None = None) -> tuple[list, list]:
    """The learning rate's (epoch, lr) points of the metrics rows (the epoch-0 row of
    ``train.eval_at_start``, before any step, left out) and its (position, lr) points of the step rows
    (:func:`step_positions`), each a list of (x, lr) pairs."""
    epochs = [(r["epoch"], r["lr"]) for r in rows if r.get("lr") is not None and r["epoch"] >= 1]
    logged = [r for r in steps or [] if r.get("lr") is not None]
    return epochs, list(zip(step_positions(logged), (r["lr"] for r in logged)))


def lr_changes(
    rows: list[dict],
    steps: list[dict] | None = None,
    schedule: list[tuple[float, float]] | None = None,
) -> bool:
    """Whether the learning rate changed during the run (a schedule, a warm-up — within an epoch too, which
    only ``schedule``, the (position, lr) of every optimizer step, shows): a constant one has no figure
    (a flat line says nothing the config does not)."""
    points = [*lr_points(rows, steps), schedule or []]
    values = [lr for pairs in points for _, lr in pairs]
    return bool(values) and not np.allclose(values, values[0], rtol=1e-6, atol=0.0)


def lr_figure(
    rows: list[dict],
    steps: list[dict] | None = None,
    title: str = "",
    schedule: list[tuple[float, float]] | None = None,
) -> Figure:
    """The learning rate at every optimizer step (``schedule``: (position on the epoch axis, lr) pairs, as
    the schedule set it) with a marker at each epoch's end, metrics.jsonl's ``lr`` (the epoch's last
    step's). Without ``schedule``, the epochs' markers and, when the run logged steps
    (``train.log_every``), the logged steps' lr as a thin line beneath."""
    epochs, at_steps = lr_points(rows, steps)
    fig = NotebookFigure(figsize=(5.5, 3.2), layout="constrained")
    ax = fig.subplots()
    if schedule:
        ax.plot(*zip(*schedule), "-", color="C0", lw=0.8, alpha=0.8, label="at each optimizer step")
    elif at_steps:
        ax.plot(*zip(*at_steps), "-", color="C0", lw=0.8, alpha=0.6, label="at logged steps")
    if epochs:
        style = "o" if schedule else ("o-" if len(epochs) < 40 else "-")
        ms = 3 if len(epochs) < 40 else 1.5
        ax.plot(*zip(*epochs), style, color="C0", ms=ms, label="per epoch")
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    ax.grid(alpha=0.3)
    if (schedule or at_steps) and epochs:
        ax.legend(fontsize=8)
    ax.set_title(title or "learning rate")
    return fig


def plot_lr(
    rows: list[dict],
    path: Path,
    title: str = "",
    steps: list[dict] | None = None,
    schedule: list[tuple[float, float]] | None = None,
) -> Path:
    """:func:`lr_figure` as a PNG."""
    return save_figure(lr_figure(rows, steps, title, schedule), path)
