"""The cells of a confusion matrix figure (:func:`vislab.plotting.runs.confusion_figure`): each row's
shares, a number in each cell, and the words for the rows of classes the split has no sample of, whose
shares are none (blank), not 0."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes

from vislab.plotting.canvas import literal
from vislab.words import and_list, first_few


def row_shares(confusion: np.ndarray) -> np.ndarray:
    """Each cell's share of its row (the true class); a row with no sample: NaN, drawn blank."""
    cm = np.asarray(confusion, dtype=float)
    support = cm.sum(1, keepdims=True)
    return np.where(support > 0, cm / np.maximum(support, 1), np.nan)


def draw_cells(ax: Axes, confusion: np.ndarray, normalize: bool, size: float) -> None:
    """Each cell's count, or with ``normalize`` its share of the row (none in a row with no sample), at
    ``size`` points: white on a dark shade."""
    cm, share = np.asarray(confusion, dtype=float), row_shares(confusion)
    k = len(cm)
    for i in range(k):
        for j in range(k):
            if normalize and np.isnan(share[i, j]):
                continue
            text = f"{share[i, j]:.2f}" if normalize else f"{int(cm[i, j])}"
            colour = "white" if share[i, j] > 0.5 else "black"
            ax.text(j, i, text, ha="center", va="center", fontsize=size, color=colour)


def empty_rows(confusion: np.ndarray, class_names: list[str]) -> str:
    """The title's words for the classes the matrix has no sample of, whose shares are none, not 0
    (``; no samples of classes 0, 1 and 6: their rows are blank``); "" where every class has some."""
    empty = [literal(n) for n, row in zip(class_names, np.asarray(confusion)) if not row.sum()]
    if not empty:
        return ""
    names = and_list(empty) if len(empty) <= 5 else first_few(empty, 5)
    if len(empty) == 1:
        return f"; no samples of class {names}: its row is blank"
    return f"; no samples of classes {names}: their rows are blank"
