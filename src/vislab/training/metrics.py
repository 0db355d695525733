"""Classification metrics: accuracy, top-5 accuracy (10 classes or more), per-class accuracy (mean of class
recalls), confusion, ROC/AUC."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from vislab.errors import MetricsInputError
from vislab.training.roc import roc_auc_score, roc_curve
from vislab.training.summary import TOP5_MIN_CLASSES


@dataclass
class Metrics:
    n: int
    acc: float
    pacc: float  # per-class accuracy: the mean over classes of each class's recall
    per_class: list[float]  # recall per class (NaN for a class with no samples)
    confusion: np.ndarray  # rows = true class, columns = predicted class
    loss: float | None = None
    auc: float | None = None  # macro one-vs-rest ROC AUC over classes present
    roc: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)
    # the share of samples whose class is among the 5 highest scores; None under 10 classes
    top5_acc: float | None = None

    def as_dict(self, prefix: str) -> dict:
        """The figures an epoch row holds of this split, under ``<prefix>_`` keys (:func:`split_scores`)."""
        return split_scores(prefix, self.acc, self.pacc, self.top5_acc, self.loss)


def split_scores(
    prefix: str, acc: float | None, pacc: float | None, top5: float | None, loss: float | None
) -> dict:
    """A split's figures as metrics.jsonl's rows hold them: ``<prefix>_acc``, ``_pacc``, then ``_top5_acc``
    and ``_loss`` where known."""
    out = {f"{prefix}_acc": acc, f"{prefix}_pacc": pacc}
    if top5 is not None:
        out[f"{prefix}_top5_acc"] = top5
    if loss is not None:
        out[f"{prefix}_loss"] = loss
    return out


def _check(logits: torch.Tensor, labels: torch.Tensor, num_classes: int) -> None:
    if not isinstance(logits, torch.Tensor) or not isinstance(labels, torch.Tensor):
        raise MetricsInputError("metrics need torch tensors: logits N×K and labels N.")
    if logits.ndim != 2 or logits.shape[1] != num_classes:
        raise MetricsInputError(f"logits must be N×{num_classes}, got shape {tuple(logits.shape)}.")
    if not logits.is_floating_point():
        raise MetricsInputError(f"logits must be floating point, got {logits.dtype}.")
    if labels.ndim != 1 or labels.shape[0] != logits.shape[0]:
        raise MetricsInputError(
            f"labels must be a vector of {logits.shape[0]} entries, got shape {tuple(labels.shape)}."
        )
    if labels.is_floating_point() or labels.dtype == torch.bool:
        raise MetricsInputError(f"labels must be integer class indices, got {labels.dtype}.")
    if len(labels) == 0:
        raise MetricsInputError("no samples to score.")
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0 or hi >= num_classes:
        raise MetricsInputError(f"labels must lie in [0, {num_classes - 1}], found {lo}..{hi}.")


def top_k_accuracy(logits: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    """The share of samples whose label is among the ``k`` highest of their ``logits`` (N×K)."""
    top = logits.detach().float().topk(k, dim=1).indices.cpu()
    return float((top == labels.detach().cpu().long()[:, None]).any(1).double().mean())


def compute_metrics(
    logits: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    loss: float | None = None,
    with_roc: bool = False,
) -> Metrics:
    """Score class scores ``logits`` (N×K) against integer ``labels`` (N)."""
    _check(logits, labels, num_classes)
    y = labels.detach().cpu().long().numpy()
    pred = logits.detach().float().argmax(1).cpu().numpy()
    confusion = np.bincount(y * num_classes + pred, minlength=num_classes**2).reshape(
        num_classes, num_classes
    )
    support = confusion.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, np.diag(confusion) / np.maximum(support, 1), np.nan)
    m = Metrics(
        n=len(y),
        acc=float((pred == y).mean()),
        pacc=float(np.nanmean(recall)),
        per_class=[float(r) for r in recall],
        confusion=confusion,
        loss=loss,
        top5_acc=top_k_accuracy(logits, labels, 5) if num_classes >= TOP5_MIN_CLASSES else None,
    )
    if with_roc:
        probs = torch.softmax(logits.detach().float(), 1).cpu().numpy()
        aucs = []
        for k in range(num_classes):
            positives = y == k
            if 0 < positives.sum() < len(y):  # one-vs-rest needs both positives and negatives
                fpr, tpr, _ = roc_curve(positives, probs[:, k])
                m.roc[k] = (fpr, tpr)
                aucs.append(roc_auc_score(positives, probs[:, k]))
        m.auc = float(np.mean(aucs)) if aucs else None
    return m


#: the columns of eval's per_class_<split>.csv: recall is the class's accuracy, whose mean is pacc
PER_CLASS_FIELDS = ["class", "n", "correct", "recall", "precision", "f1"]
#: the first column of eval's confusion_<split>.csv, the true class; a column per predicted class follows
TRUE_FIELD = "true \\ predicted"


def per_class_table(confusion: np.ndarray, names: list[str]) -> tuple[list[str], list[dict]]:
    """A row per class of a scored split, from its ``confusion`` matrix (rows true): its images (n), those
    predicted right, recall (the class's accuracy; their mean over the classes is pacc, the balanced
    accuracy), precision and F1 (0 for a class never predicted right); a share with nothing to divide by
    (recall and F1: no image of the class; precision: never predicted) is None, an empty cell. The rows of
    eval's per_class_<split>.csv."""
    cm = np.asarray(confusion, dtype=np.int64)
    rows = []
    for i, name in enumerate(names):
        n, correct, predicted = int(cm[i].sum()), int(cm[i, i]), int(cm[:, i].sum())
        recall = correct / n if n else None
        precision = correct / predicted if predicted else None
        f1 = 2 * correct / (n + predicted) if n else None  # 2pr / (p + r); no recall, no F1
        row = dict(zip(PER_CLASS_FIELDS, (name, n, correct, recall, precision, f1)))
        rows.append(row)
    return PER_CLASS_FIELDS, rows


def confusion_table(confusion: np.ndarray, names: list[str]) -> tuple[list[str], list[dict]]:
    """The ``confusion`` matrix's counts as rows: the true class (:data:`TRUE_FIELD`), then how many of
    its images each class was predicted for, a column per class name. eval's confusion_<split>.csv."""
    cm = np.asarray(confusion, dtype=np.int64)
    rows = [{TRUE_FIELD: name, **dict(zip(names, map(int, cm[i])))} for i, name in enumerate(names)]
    return [TRUE_FIELD, *names], rows
