"""A run's mistakes in the report: the most confidently wrong test images (with their files, for an
image folder) and the most confused pairs, from the run's ``predictions_test.npz`` and its test images
(loaded as ``vislab eval`` loads them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vislab.config import Config
from vislab.data.types import ArraySet
from vislab.plotting.mistake_picks import (
    confident_mistakes,
    confused_pairs,
    mistake_rows,
    pair_lines,
)
from vislab.plotting.mistakes import plot_mistakes
from vislab.report.figure_set import FigureSet
from vislab.report.sections import saved_predictions
from vislab.training.summary import RunSummary


def mistake_section(
    figs: FigureSet,
    name: str,
    run_dir: Path,
    summary: RunSummary,
    cfg: Config | None,
    label: str | None = None,
) -> dict | None:
    """``{figures: [the gallery PNG], pairs: ["true → predicted: count", ...], files: [the gallery's
    rows of file, index, true, predicted, probability: an image folder's; else empty]}``, or None
    without saved test predictions. Without the test images (data not on this machine, or not the
    images the run scored) the figure shows the pairs only, and a note says why. ``summary``: the run's
    summary. ``label``: what the caption calls the run (default ``name``)."""
    saved = saved_predictions(figs.files, run_dir, summary)
    if saved is None:
        return None
    predictions, names = saved
    probs, labels = predictions.probs, predictions.labels
    k = probs.shape[1]
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (labels, probs.argmax(1)), 1)
    pairs = confused_pairs(confusion)
    if not pairs:  # every test image right: no figure (plot_mistakes draws none), a note says so
        figs.notes.append(f"{label or name}: no mistakes figure, no test image was misclassified")
        return {"figures": [], "pairs": [], "files": []}
    test = _test_set(figs, name, cfg, labels)
    images = test.x if test is not None else None
    wrong = confident_mistakes(probs, labels, names=test.names if test is not None else None)
    if images is not None:
        file = "file, " if any(m.file for m in wrong) else ""
        shows = (
            f"the most confidently wrong test images ({file}true → predicted, probability of the "
            "prediction) and the most confused class pairs"
        )
    else:
        shows = "the most confused class pairs of the test set (true → predicted)"
    label = label or name
    fig = figs.make(
        f"mistakes_{figs.file_part(name)}.png",
        f"{label}: {shows}",
        plot_mistakes,
        images,
        wrong,
        pairs,
        names,
        title=f"{name}, test",
    )
    files = mistake_rows(wrong, names) if any(m.file for m in wrong) else []
    return {"figures": [fig] if fig else [], "pairs": pair_lines(pairs, names), "files": files}


def _test_set(
    figs: FigureSet, name: str, cfg: Config | None, labels: np.ndarray
) -> ArraySet | None:
    """The run's test images (and their files) in the order of its predictions, or None (with a note
    when expected)."""
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
    return test
