"""The LR range test's figure: training loss against the learning rate (log scale), raw and smoothed, with
the suggested learning rate and the one of the lowest smoothed loss marked.

``lr_find_figure`` returns a ``Figure``: the Python API's ``LRFinding.plot``, which ``vislab lr-find`` saves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from matplotlib.figure import Figure

from vislab.plotting.canvas import NotebookFigure


def lr_find_figure(
    lrs: Sequence[float],
    losses: Sequence[float],
    smoothed: Sequence[float],
    suggestion: float,
    min_loss_lr: float | None = None,
    title: str = "",
) -> Figure:
    """Loss vs learning rate: each step's loss (faint), its smoothed curve, the suggestion (and the lowest
    smoothed loss) as vertical lines. The y-axis stops at 1.5× the first smoothed loss, where a diverging
    run's last steps would otherwise squash the curve. Laid out constrained: the legend beside the axes
    and the axis labels are inside the figure, so a plain ``savefig`` keeps them."""
    fig = NotebookFigure(figsize=(6.5, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot(lrs, losses, color="C0", alpha=0.3, lw=0.8, label="loss per step")
    ax.plot(lrs, smoothed, color="C0", lw=1.8, label="smoothed loss")
    ax.axvline(suggestion, color="C3", ls="--", lw=1.2, label=f"suggested lr {suggestion:.2g}")
    if min_loss_lr is not None:
        ax.axvline(
            min_loss_lr, color="0.4", ls=":", lw=1.2, label=f"lowest loss at {min_loss_lr:.2g}"
        )
    finite = [v for v in (*smoothed, *losses) if math.isfinite(v)]
    if finite:
        start = smoothed[0] if math.isfinite(smoothed[0]) else max(finite)
        low, top = min(finite), min(max(finite), 1.5 * start)
        pad = 0.05 * (top - low) or 0.1
        ax.set_ylim(low - pad, top + pad)
    ax.set_xscale("log")
    ax.set(xlabel="learning rate (log scale)", ylabel="training loss", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return fig
