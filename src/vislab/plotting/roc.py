"""One-vs-rest ROC curves of a run's test split, one per class, their macro average and, from the raw scores,
the micro average (:func:`roc_figure`, and :func:`plot_roc` saving it as a PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from vislab.plotting.canvas import NotebookFigure, literal, save_figure
from vislab.plotting.legend import NOT_A_RUN, legend_beside, run_style

# classes past ROC_LINES: a ROC draws the ROC_EACH of lowest and of highest AUC, and the macro average
ROC_LINES, ROC_EACH = 20, 5
# the averages in black, no class line's colour (run_style), thicker than the classes' lines (1 pt), told
# apart from each other by their dashes; the chance diagonal thin and grey
MACRO_LINE = dict(color=NOT_A_RUN, ls="--", lw=2.2)
MICRO_LINE = dict(color=NOT_A_RUN, ls=":", lw=2.2)
CHANCE_LINE = dict(color="0.6", ls="-", lw=0.7)


def roc_figure(
    roc: dict[int, tuple[np.ndarray, np.ndarray]],
    class_names: list[str],
    title: str = "",
    pooled: int = 0,
    micro: tuple[np.ndarray, np.ndarray, float] | None = None,
) -> Figure:
    """One-vs-rest ROC curves, one per class (class index → (fpr, tpr)), told apart as the runs of the
    lines of every figure are (:func:`run_style`: the palette's colours but black, then each round of
    them with another marker and line style), the legend beside the axes, and their macro average
    (:func:`_macro_line`, :data:`MACRO_LINE`). Past :data:`ROC_LINES` classes, the :data:`ROC_EACH` of
    lowest and of highest AUC only (the macro average still of all), the legend's title saying so.
    ``pooled``: the number of seeds whose predictions the curves pool (0: one run's), which the macro
    line's label names, its AUC being the pooled predictions', not the mean of the seeds' test_auc the
    tables give. ``micro``: the micro average of the raw scores the curves are of (every one-vs-rest
    pair pooled: :func:`vislab.training.roc.micro_roc`'s false and true positive rates and area), drawn
    too with its AUC ("micro AUC 0.995", :data:`MICRO_LINE`); None: not drawn."""
    fig = NotebookFigure(figsize=(7, 4.6), layout="constrained")
    ax = fig.subplots()
    areas = {k: float(np.trapezoid(tpr, fpr)) for k, (fpr, tpr) in roc.items()}  # fpr rises
    shown = sorted(areas)
    if len(roc) > ROC_LINES:
        ranked = sorted(areas, key=lambda k: (areas[k], k))
        shown = ranked[:ROC_EACH] + ranked[-ROC_EACH:]
    for i, k in enumerate(shown):
        fpr, tpr = roc[k]
        color, marker, dashes = run_style(i)
        label = f"{literal(class_names[k])} (AUC {areas[k]:.3f})"
        ax.plot(
            fpr, tpr, color=color, marker=marker, ls=dashes, markevery=0.1, ms=4, lw=1, label=label
        )
    legend_title = None
    if len(shown) < len(roc):
        legend_title = f"{ROC_EACH} lowest and {ROC_EACH} highest AUC of {len(roc)} classes"
    if len(roc) > 1:
        _macro_line(ax, roc, areas, len(roc) if legend_title else 0, pooled)
    if micro is not None:
        fpr, tpr, area = micro
        label = f"micro AUC {area:.3f}" + (f" (of {pooled} seeds pooled)" if pooled else "")
        ax.plot(fpr, tpr, label=label, **MICRO_LINE)
    ax.plot([0, 1], [0, 1], **CHANCE_LINE)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    if roc:
        legend_beside(ax, ax.get_legend_handles_labels()[0])
        ax.get_legend().set_title(legend_title, prop={"size": 7})
    ax.set_title(literal(title or "ROC (one vs rest)"))
    return fig


def _macro_line(
    ax: Axes,
    roc: dict[int, tuple[np.ndarray, np.ndarray]],
    areas: dict[int, float],
    all_of: int,
    pooled: int,
) -> None:
    """The macro average of the classes' curves (their mean true positive rate), labelled with their
    mean AUC, summary.json's test_auc ("macro AUC 0.996"; ``all_of``: "of all N classes", where the
    figure draws some of them only; ``pooled``: "of 3 seeds pooled", for seeds' predictions pooled)."""
    grid = np.linspace(0, 1, 201)
    mean = np.mean([np.interp(grid, *roc[k]) for k in roc], axis=0)
    label = f"macro AUC {np.mean(list(areas.values())):.3f}"
    said = [f"of all {all_of} classes"] * bool(all_of) + [f"of {pooled} seeds pooled"] * bool(
        pooled
    )
    label += f" ({', '.join(said)})" if said else ""
    ax.plot(grid, mean, label=label, **MACRO_LINE)


def plot_roc(
    roc: dict[int, tuple[np.ndarray, np.ndarray]],
    class_names: list[str],
    path: Path,
    title: str = "",
    pooled: int = 0,
    micro: tuple[np.ndarray, np.ndarray, float] | None = None,
) -> Path:
    """One-vs-rest ROC curves, one per class, as a PNG (``pooled``, ``micro``: :func:`roc_figure`'s)."""
    return save_figure(roc_figure(roc, class_names, title, pooled, micro), path)
