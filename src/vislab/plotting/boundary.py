"""Decision boundary of any model on 2-D feature data (e.g. `circles`), as a PNG (RDFIA 1-ab).

Drawn in the units of the points given: a run's raw features, with the run's normalisation (``prepare``)
applied to every grid point on its way into the model, so that the plane reads as ``Run.predict``'s
coordinates."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from vislab.errors import UserError
from vislab.plotting.canvas import NotebookFigure, literal, save_figure
from vislab.plotting.images import class_colors, class_markers, feature_label

SHADE_KEY = "probability of the predicted class (grey shade)"
Prepare = Callable[[torch.Tensor], torch.Tensor]  # N×2 points as drawn → the model's input


def plot_decision_boundary(
    model: torch.nn.Module,
    x,
    y,
    path: str | Path,
    class_names: Sequence[str] | None = None,
    resolution: int = 200,
    title: str = "",
    prepare: Prepare | None = None,
) -> Path:
    """:func:`decision_boundary_figure` written to ``path``."""
    fig = decision_boundary_figure(model, x, y, class_names, resolution, title, prepare)
    return save_figure(fig, path)


@torch.no_grad()
def decision_boundary_figure(
    model: torch.nn.Module,
    x,
    y,
    class_names: Sequence[str] | None = None,
    resolution: int = 200,
    title: str = "",
    prepare: Prepare | None = None,
) -> Figure:
    """Colour the plane by the model's predicted class (shade = its softmax confidence) and scatter the points.

    ``x``: N×2 features, ``y``: their labels (tensors or arrays). ``prepare``: what turns points of the
    plane into the model's input (a run's normalisation, ``record.inputs.prepare``): the axes are then in
    raw units ("x₁ (raw)"); None: the model takes ``x`` as it is. Classes take the colours and
    axes the names of the samples' scatter (:func:`~vislab.plotting.images.plot_feature_scatter`). A
    Figure outside pyplot."""
    x = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    y = np.asarray(torch.as_tensor(np.asarray(y)).long())
    if x.ndim != 2 or x.shape[1] != 2:
        raise UserError(
            f"a decision boundary needs 2-D feature data (N×2, e.g. data.name=circles), "
            f"not data of shape {tuple(x.shape)}."
        )
    if len(x) == 0:
        raise UserError("a decision boundary needs at least one data point.")
    raw = prepare is not None
    prepare = prepare or (lambda points: points)
    g0, g1 = _plane(x, resolution)
    xx, yy = np.meshgrid(g0, g1)
    device = next((t.device for t in [*model.parameters(), *model.buffers()]), torch.device("cpu"))
    grid = prepare(torch.from_numpy(np.stack([xx.ravel(), yy.ravel()], 1).astype(np.float32)))
    probs = _grid_probs(model, grid, device)
    pred = probs.argmax(1).numpy().reshape(xx.shape)
    conf = probs.max(1).values.numpy().reshape(xx.shape)
    n_classes = max(probs.shape[1], int(y.max()) + 1)  # x (and so y) is not empty
    names = list(class_names) if class_names is not None else [str(i) for i in range(n_classes)]
    colors = class_colors(n_classes)
    fig = NotebookFigure(figsize=(5.5, 5))
    ax = fig.subplots()
    _draw_regions(ax, (g0, g1), pred, conf, colors)
    _scatter_classes(ax, x, y, names, colors)
    acc = float((predict_classes(model, prepare(x), device) == torch.from_numpy(y)).float().mean())
    ax.set(
        xlabel=feature_label(0, raw),
        ylabel=feature_label(1, raw),
        title=(f"{title}: " if title else "") + f"decision boundary (accuracy {acc:.3f})",
    )
    ax.legend(loc="upper right", fontsize=8, framealpha=0.8)
    return fig


def _plane(x: torch.Tensor, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """The grid coordinates along each feature: the data's range plus a 10% margin."""
    lo, hi = x.min(0).values.numpy(), x.max(0).values.numpy()
    pad = 0.1 * np.maximum(hi - lo, 1e-3)
    g0 = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    g1 = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    return g0, g1


def _grid_probs(model: torch.nn.Module, grid: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Softmax of the model's logits at every grid point, as the model takes it (eval mode, in chunks;
    CPU float32)."""
    was_training = model.training
    model.eval()
    try:
        logits = torch.cat([model(chunk.to(device)).float().cpu() for chunk in grid.split(8192)])
    finally:
        model.train(was_training)
    return logits.softmax(1)


def _draw_regions(ax, axes: tuple[np.ndarray, np.ndarray], pred, conf, colors: list) -> None:
    """The predicted class as coloured regions, confidence as grey shades keyed by a colour bar
    (:data:`SHADE_KEY`; ``conf`` None: none), the class borders as lines."""
    g0, g1 = axes
    n_classes = len(colors)
    ax.imshow(
        pred,
        origin="lower",
        extent=(g0[0], g0[-1], g1[0], g1[-1]),
        aspect="auto",
        alpha=0.25,
        cmap=ListedColormap(colors),
        vmin=-0.5,
        vmax=n_classes - 0.5,
        interpolation="nearest",
    )
    xx, yy = np.meshgrid(g0, g1)
    if conf is not None:
        levels = np.linspace(1 / n_classes, 1, 6)
        shades = ax.contourf(xx, yy, conf, levels=levels, cmap="Greys", alpha=0.15)
        key = ax.figure.colorbar(shades, ax=ax, shrink=0.6, pad=0.03)
        key.set_label(SHADE_KEY, fontsize=8)
        key.ax.tick_params(labelsize=8)
    if n_classes > 1:
        ax.contour(xx, yy, pred, levels=np.arange(n_classes - 1) + 0.5, colors="k", linewidths=1)


def _scatter_classes(ax, x: torch.Tensor, y: np.ndarray, names: list[str], colors: list) -> None:
    """The data points, one colour (and marker: :func:`class_markers`) and legend entry per class."""
    markers = class_markers(len(colors))
    for k in range(len(colors)):
        sel = y == k
        if sel.any():
            ax.scatter(
                x[sel, 0],
                x[sel, 1],
                s=10,
                color=colors[k],
                marker=markers[k],
                edgecolors="k",
                linewidths=0.3,
                label=literal(names[k]) if k < len(names) else str(k),
            )


MAX_PANELS = 6  # boundary_epochs.png: the epochs shown


def shown_epochs(n: int, most: int = MAX_PANELS) -> list[int]:
    """Which of ``n`` recorded epochs (their positions) get a panel: at most ``most``, spread evenly
    over the run, the first and the last among them."""
    return sorted({round(i) for i in np.linspace(0, n - 1, min(n, most))}) if n else []


def plot_boundary_epochs(
    axes: tuple[np.ndarray, np.ndarray],
    epochs: Sequence[tuple[int, float | None, np.ndarray]],
    x,
    y,
    path: str | Path,
    class_names: Sequence[str],
    title: str = "",
) -> Path:
    """The decision boundary as training went: a panel for each of up to :data:`MAX_PANELS` of
    ``epochs`` (:func:`shown_epochs`), each (epoch, val accuracy or None, the predicted class over the
    grid of ``axes``, rows along x₂), titled with its epoch and val accuracy, the points ``x`` (N×2, raw
    units) with labels ``y`` scattered on each. Written to ``path``."""
    shown = [epochs[i] for i in shown_epochs(len(epochs))]
    if not shown:
        raise UserError("no epoch's decision boundary was recorded: nothing to draw.")
    x, y = np.asarray(x, np.float32), np.asarray(y).astype(np.int64)
    colors = class_colors(max(len(class_names), int(y.max(initial=0)) + 1))
    names = [*class_names, *map(str, range(len(class_names), len(colors)))]
    cols = min(len(shown), 3)
    rows = -(-len(shown) // cols)
    fig = NotebookFigure(figsize=(3.3 * cols, 3.2 * rows + 0.4))
    panels = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, (epoch, acc, pred) in zip(panels, shown):
        _draw_regions(ax, axes, np.asarray(pred), None, colors)
        _scatter_classes(ax, torch.from_numpy(x), y, names, colors)
        said = "epoch 0 (untrained)" if epoch == 0 else f"epoch {epoch}"
        ax.set_title(said + (f": val acc {acc:.3f}" if acc is not None else ""), fontsize=10)
        ax.set(xlabel=feature_label(0, True), ylabel=feature_label(1, True))
    for ax in panels[len(shown) :]:
        ax.set_axis_off()
    panels[0].legend(loc="upper right", fontsize=7, framealpha=0.8)
    head = f"{literal(title)}: " if title else ""
    fig.suptitle(f"{head}decision boundary per epoch (val points)")
    fig.tight_layout()
    return save_figure(fig, path)


def predict_classes(model: torch.nn.Module, x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """The predicted classes of ``x`` (eval mode, no grad)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return model(x.to(device)).argmax(1).cpu()
    finally:
        model.train(was_training)
