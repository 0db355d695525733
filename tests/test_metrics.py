"""Metrics: accuracy, per-class accuracy, confusion, ROC; bad inputs rejected."""

import numpy as np
import pytest
import torch

from vislab.errors import MetricsInputError
from vislab.training.metrics import compute_metrics


def onehot_logits(pred, k):
    return torch.nn.functional.one_hot(torch.tensor(pred), k).float() * 5


def test_accuracy_and_per_class_accuracy_differ_on_imbalance():
    # 8 samples of class 0 (all right), 2 of class 1 (one right): acc 0.9, pacc = (1 + 0.5) / 2
    y = torch.tensor([0] * 8 + [1] * 2)
    pred = [0] * 8 + [1, 0]
    m = compute_metrics(onehot_logits(pred, 2), y, 2)
    assert m.acc == pytest.approx(0.9)
    assert m.pacc == pytest.approx(0.75)
    assert m.per_class == [1.0, 0.5]
    assert m.confusion.tolist() == [[8, 0], [1, 1]]


def test_absent_class_is_nan_and_ignored_in_pacc():
    m = compute_metrics(onehot_logits([0, 1], 3), torch.tensor([0, 1]), 3)
    assert np.isnan(m.per_class[2]) and m.pacc == 1.0


def test_roc_auc_perfect_and_random():
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    m = compute_metrics(onehot_logits([0, 0, 1, 1, 2, 2], 3), y, 3, with_roc=True)
    assert m.auc == pytest.approx(1.0) and set(m.roc) == {0, 1, 2}
    m = compute_metrics(torch.zeros(6, 3), y, 3, with_roc=True)
    assert m.auc == pytest.approx(0.5)


@pytest.mark.parametrize(
    "logits, labels, match",
    [
        (torch.zeros(4), torch.zeros(4, dtype=torch.long), "N×3"),
        (torch.zeros(4, 2), torch.zeros(4, dtype=torch.long), "N×3"),
        (torch.zeros(4, 3, dtype=torch.long), torch.zeros(4, dtype=torch.long), "floating"),
        (torch.zeros(4, 3), torch.zeros(5, dtype=torch.long), "vector of 4"),
        (torch.zeros(4, 3), torch.zeros(4), "integer"),
        (torch.zeros(4, 3), torch.tensor([0, 1, 2, 3]), r"\[0, 2\]"),
        (torch.zeros(4, 3), torch.tensor([0, -1, 2, 1]), r"\[0, 2\]"),
        (torch.zeros(0, 3), torch.zeros(0, dtype=torch.long), "no samples"),
    ],
)
def test_bad_inputs_rejected(logits, labels, match):
    with pytest.raises(MetricsInputError, match=match):
        compute_metrics(logits, labels, 3)
