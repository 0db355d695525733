"""A run's mistakes in the report: the most confidently wrong test images and the most confused pairs,
from the run's ``predictions_test.npz`` and its test images (loaded as ``vislab eval`` loads them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vislab.config import Config
from vislab.plotting.mistakes import confident_mistakes, confused_pairs, pair_lines, plot_mistakes
from vislab.report.figure_set import FigureSet, safe_name


def mistake_section(
    figs: FigureSet, name: str, run_dir: Path, summary: dict, cfg: Config | None
) -> dict | None:
    """``{figures: [the gallery PNG], pairs: ["true → predicted: count", ...]}``, or None without saved
    test predictions. Without the test images (data not on this machine, or not the images the run
    scored) the figure shows the pairs only, and a note says why."""
    npz = run_dir / "predictions_test.npz"
    if not npz.is_file():
        return None
    with np.load(npz) as f:
        probs, labels = f["probs"], f["labels"]
    k = probs.shape[1]
    names = list(summary.get("test_per_class") or {}) or [str(i) for i in range(k)]
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (labels, probs.argmax(1)), 1)
    pairs = confused_pairs(confusion)
    images = _test_images(figs, name, cfg, labels)
    if images is not None:
        shows = (
            "the most confidently wrong test images (true → predicted, probability of the "
            "prediction) and the most confused class pairs"
        )
    else:
        shows = "the most confused class pairs of the test set (true → predicted)"
    fig = figs.make(
        f"mistakes_{safe_name(name)}.png",
        f"{name}: {shows}",
        plot_mistakes,
        images,
        confident_mistakes(probs, labels),
        pairs,
        names,
        title=f"{name}, test",
    )
    return {"figures": [fig] if fig else [], "pairs": pair_lines(pairs, names)}


def _test_images(
    figs: FigureSet, name: str, cfg: Config | None, labels: np.ndarray
) -> np.ndarray | None:
    """The run's test images in the order of its predictions, or None (with a note when expected)."""
    if cfg is None:
        return None
    try:
        test = figs.splits(cfg).test
    except Exception as e:  # the data may live on another machine: the pairs still show
        figs.notes.append(f"{name}: test images not loaded for the mistakes gallery ({e})")
        return None
    if not test.is_image:
        return None
    if len(test.y) != len(labels) or not np.array_equal(test.y, labels):
        figs.notes.append(
            f"{name}: the test split loaded here is not the one the run scored (other labels or order); "
            f"the mistakes gallery shows the confused pairs only"
        )
        return None
    return test.x
