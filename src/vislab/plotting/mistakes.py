"""What a classifier gets wrong: the most confidently wrong images and the most confused class pairs.

The selections work on plain arrays (probabilities, labels, a confusion matrix) so that ``vislab eval``
(fresh logits) and the report (a run's ``predictions_test.npz``) pick the same images the same way."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from vislab.plotting.canvas import NotebookFigure, save_figure

GALLERY_SIZE = 16  # wrong images shown by default
TOP_PAIRS = 5  # confused (true, predicted) pairs shown


@dataclass(frozen=True)
class Mistake:
    """One wrong prediction: the sample's index in its split, its true and predicted class, and the
    probability the model gave the predicted class."""

    index: int
    true: int
    pred: int
    prob: float


def confident_mistakes(
    probs: np.ndarray, labels: np.ndarray, n: int = GALLERY_SIZE
) -> list[Mistake]:
    """The ``n`` wrong predictions (argmax ≠ label) with the highest predicted-class probability, most
    confident first; ties keep the split's order."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    pred = probs.argmax(1)
    wrong = np.flatnonzero(pred != labels)
    conf = probs[wrong, pred[wrong]]
    picked = wrong[np.argsort(-conf, kind="stable")[: max(n, 0)]]
    return [Mistake(int(i), int(labels[i]), int(pred[i]), float(probs[i, pred[i]])) for i in picked]


def confused_pairs(confusion: np.ndarray, k: int = TOP_PAIRS) -> list[tuple[int, int, int]]:
    """The ``k`` largest off-diagonal cells of a confusion matrix (rows = true, columns = predicted) as
    (true, predicted, count), largest first; (a, b) and (b, a) are separate pairs, empty cells left out."""
    cm = np.array(confusion, dtype=np.int64)
    np.fill_diagonal(cm, 0)
    flat = np.argsort(-cm, axis=None, kind="stable")[: max(k, 0)]
    rows, cols = np.unravel_index(flat, cm.shape)
    return [(int(i), int(j), int(cm[i, j])) for i, j in zip(rows, cols) if cm[i, j] > 0]


def pair_lines(pairs: list[tuple[int, int, int]], class_names: list[str]) -> list[str]:
    """Confused pairs as text: ``true → predicted: count``."""
    return [f"{class_names[i]} → {class_names[j]}: {c}" for i, j, c in pairs]


def mistakes_figure(
    images: np.ndarray | None,
    mistakes: list[Mistake],
    pairs: list[tuple[int, int, int]],
    class_names: list[str],
    title: str = "",
) -> Figure:
    """A gallery of wrong images (uint8 N×H×W×C of the split, indexed by ``Mistake.index``; None for
    feature data: no gallery), each titled true → predicted and the probability, above a bar chart of the
    most confused pairs."""
    shown = mistakes if images is not None else []
    cols = min(8, max(len(shown), 1))
    rows = -(-len(shown) // cols)
    fig = NotebookFigure(figsize=(max(1.3 * cols, 6), 1.5 * rows + 0.4 * max(len(pairs), 1) + 1.2))
    grid = fig.add_gridspec(
        rows + 1, cols, height_ratios=[1.5] * rows + [0.3 * max(len(pairs), 1) + 0.6]
    )
    for n, m in enumerate(shown):
        ax = fig.add_subplot(grid[n // cols, n % cols])
        img = images[m.index]
        grey = img.shape[-1] == 1
        ax.imshow(img[..., 0] if grey else img, cmap="gray" if grey else None, vmin=0, vmax=255)
        ax.set_title(f"{class_names[m.true]} → {class_names[m.pred]}\np={m.prob:.2f}", fontsize=7)
        ax.axis("off")
    ax = fig.add_subplot(grid[rows, :])
    labels = pair_lines(pairs, class_names)
    ax.barh(range(len(pairs)), [c for *_, c in pairs], color="C3")
    ax.set_yticks(range(len(pairs)), [s.rsplit(":", 1)[0] for s in labels], fontsize=8)
    ax.invert_yaxis()  # the largest pair on top
    ax.set_xlabel("images (true → predicted)")
    ax.set_title("most confused pairs" if pairs else "no wrong predictions", fontsize=9)
    head = "most confidently wrong (true → predicted, probability of the prediction)"
    fig.suptitle(f"{title}: {head}" if title else head, fontsize=10)
    return fig


def plot_mistakes(
    images: np.ndarray | None,
    mistakes: list[Mistake],
    pairs: list[tuple[int, int, int]],
    class_names: list[str],
    path: Path,
    title: str = "",
) -> Path:
    """:func:`mistakes_figure` as a PNG."""
    return save_figure(mistakes_figure(images, mistakes, pairs, class_names, title), path)
