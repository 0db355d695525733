"""Which wrong predictions a report shows, picked from a split's predictions (no matplotlib: eval's
tables and notes use them without drawing): the most confident mistakes, the most confused class pairs,
and each as a table row or a line of text. plotting.mistakes draws them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GALLERY_SIZE = 16  # wrong images shown by default
TOP_PAIRS = 5  # confused (true, predicted) pairs shown


@dataclass(frozen=True)
class Mistake:
    """One wrong prediction: the sample's index in its split, its true and predicted class, the
    probability the model gave the predicted class, and its source file when known (an image folder)."""

    index: int
    true: int
    pred: int
    prob: float
    file: str | None = None


def confident_mistakes(
    probs: np.ndarray,
    labels: np.ndarray,
    n: int | None = GALLERY_SIZE,
    names: np.ndarray | None = None,
) -> list[Mistake]:
    """The ``n`` wrong predictions (argmax ≠ label; None: all) with the highest predicted-class
    probability, most confident first; ties keep the split's order. ``names``: the samples' files."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    pred = probs.argmax(1)
    wrong = np.flatnonzero(pred != labels)
    conf = probs[wrong, pred[wrong]]
    picked = wrong[np.argsort(-conf, kind="stable")[: None if n is None else max(n, 0)]]
    return [
        Mistake(
            int(i),
            int(labels[i]),
            int(pred[i]),
            float(probs[i, pred[i]]),
            None if names is None else str(names[i]),
        )
        for i in picked
    ]


def mistake_rows(mistakes: list[Mistake], class_names: list[str]) -> list[dict]:
    """The mistakes as table rows: file (empty when unknown), index in the split, true and predicted
    class, probability of the prediction."""
    return [
        {
            "file": m.file or "",
            "index": m.index,
            "true": class_names[m.true],
            "predicted": class_names[m.pred],
            "probability": round(m.prob, 6),
        }
        for m in mistakes
    ]


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
