"""A seeded suite's row figures against its seed runs' saved test predictions
(``from seed_scores import drawn, seed_scores, check_row_numbers``): the report's (test_seed_figures) and
the paper's (test_paper) confusion matrix is the seeds' counts added, the per-class accuracy their mean
with ± 1 std error bars (cut at 0 and 1)."""

from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure


def drawn(fig: Figure) -> dict:
    """What a confusion or per-class figure shows: the cells' numbers, the bars and their error bars'
    (low, high) ends."""
    ax = fig.axes[0]
    cells = [t.get_text() for t in ax.texts]
    bars = [p.get_height() for p in ax.patches]
    errs = None
    for bar in (c for c in ax.containers if getattr(c, "errorbar", None) is not None):
        [lines] = bar.errorbar.lines[2]  # a vertical segment per bar: mean ± std, cut at 0 and 1
        errs = [(float(seg[0][1]), float(seg[1][1])) for seg in lines.get_segments()]
    return dict(cells=cells, bars=bars, errs=errs)


def seed_scores(suite: Path, row: str, seeds=(0, 1)) -> tuple[np.ndarray, np.ndarray]:
    """(each seed's confusion matrix, each seed's per-class recall) from its saved test predictions."""
    confusions, recalls = [], []
    for i in seeds:
        with np.load(suite / f"{row}-s{i}" / "predictions_test.npz") as f:
            probs, labels = f["probs"], f["labels"]
        cm = np.zeros((probs.shape[1],) * 2, np.int64)
        np.add.at(cm, (labels, probs.argmax(1)), 1)
        confusions.append(cm)
        with np.errstate(invalid="ignore"):
            recalls.append(np.diag(cm) / cm.sum(1))
    return np.array(confusions), np.array(recalls)


def check_row_numbers(shown: dict, suite: Path, row: str) -> None:
    """``shown`` ({figure stem: :func:`drawn`}) holds ``row``'s seeds 0 and 1 combined."""
    confusions, recalls = seed_scores(suite, row)
    cells = [int(t) for t in shown[f"confusion_{row}"]["cells"]]
    k = confusions.shape[1]
    assert np.array_equal(
        np.array(cells).reshape(k, k), confusions.sum(0)
    )  # the seeds' counts added
    bars = shown[f"per_class_{row}"]
    assert bars["bars"] == pytest.approx(np.nanmean(recalls, 0))
    mean, std = np.nan_to_num(np.nanmean(recalls, 0)), np.nan_to_num(np.std(recalls, 0, ddof=1))
    assert [lo for lo, _ in bars["errs"]] == pytest.approx(np.clip(mean - std, 0, 1))
    assert [hi for _, hi in bars["errs"]] == pytest.approx(np.clip(mean + std, 0, 1))
