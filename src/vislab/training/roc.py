"""One-vs-rest ROC curve and its area in numpy: the numbers scikit-learn's ``roc_curve`` and
``roc_auc_score`` give for one class's positives and scores (tests/test_startup.py compares them), without
importing scikit-learn — 1.3 s on 2 cores, paid by every run at its end (the test set's ROC)."""

from __future__ import annotations

import numpy as np


def roc_curve(positive: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false positive rates, true positive rates, thresholds): one point per distinct score from the
    highest down, after (0, 0) at threshold inf, less the points collinear with their neighbours. Needs
    both positives and negatives."""
    order = np.argsort(score, kind="stable")[::-1]
    score, hit = score[order], np.asarray(positive, dtype=np.float64)[order]
    ends = np.r_[
        np.nonzero(np.diff(score))[0], len(score) - 1
    ]  # last sample of each distinct score
    tps = np.cumsum(hit)[ends]
    fps = 1 + ends.astype(np.float64) - tps
    thresholds = score[ends].astype(np.float64)
    if len(fps) > 2:  # a point is kept where the curve turns
        keep = np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
        fps, tps, thresholds = fps[keep], tps[keep], thresholds[keep]
    fps, tps, thresholds = np.r_[0.0, fps], np.r_[0.0, tps], np.r_[np.inf, thresholds]
    return fps / fps[-1], tps / tps[-1], thresholds


def roc_auc_score(positive: np.ndarray, score: np.ndarray) -> float:
    """Area under :func:`roc_curve` (trapezoidal rule)."""
    fpr, tpr, _ = roc_curve(positive, score)
    return float(np.trapezoid(tpr, fpr))


def micro_roc(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The micro-average one-vs-rest ROC of N×K class scores ``probs`` for class indices ``labels``: every
    (sample, class) pair pooled, as scikit-learn's ``roc_curve`` on the raveled one-hot labels and
    ``roc_auc_score(average="micro")`` give it: (false positive rates, true positive rates, area)."""
    onehot = np.arange(probs.shape[1]) == np.asarray(labels)[:, None]
    fpr, tpr, _ = roc_curve(onehot.ravel(), probs.ravel())
    return fpr, tpr, float(np.trapezoid(tpr, fpr))
