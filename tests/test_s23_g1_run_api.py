"""A run's records in Python: Run.evaluate's loss and top-5 accuracy agree with summary.json, its confusion
matrix comes with the class names, and Run.classes names the classes without building the model."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import vislab
from conftest import TINY_RUN

THREE = ["zero", "one", "two"]


@pytest.fixture(scope="module")
def three_classes(tmp_path_factory):
    """A tiny run on the digits 0, 1 and 2 only (3 classes: summary.json has no top-5 accuracy)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    keep = d.target < 3
    x, y = (d.images[keep] * 15).astype(np.uint8), d.target[keep]
    out = tmp_path_factory.mktemp("three") / "run"
    return vislab.train(data=(x[:240], y[:240], THREE), out=out, **TINY_RUN)


def test_evaluate_gives_the_loss_and_top5_of_summary_json(trained):
    run = vislab.load_run(trained)
    scores, summary = run.evaluate(split="test"), run.summary
    assert scores["loss"] == pytest.approx(summary["test_loss"], rel=1e-5)
    assert scores["top5_acc"] == pytest.approx(summary["test_top5_acc"])
    assert scores["acc"] == pytest.approx(summary["test_acc"])
    val = run.evaluate(split="val")  # a checkpoint's val loss, as training recorded it
    assert val["loss"] == pytest.approx(summary["val_loss"], rel=1e-5)


def test_evaluate_has_no_top5_under_10_classes_as_summary_json(three_classes):
    scores = three_classes.evaluate()
    assert "test_top5_acc" not in three_classes.summary
    assert "top5_acc" not in scores
    assert scores["loss"] == pytest.approx(three_classes.summary["test_loss"], rel=1e-5)


def test_the_confusion_matrix_comes_with_its_class_names(three_classes):
    scores = three_classes.evaluate()
    assert scores["classes"] == THREE == list(scores["per_class"])
    assert len(scores["confusion"]) == len(THREE)
    # row i: the samples of class i; their count is the per-class table's n of that class
    counts = {r["class"]: r["n"] for r in scores["table"]}
    assert [sum(row) for row in scores["confusion"]] == [counts[c] for c in THREE]


def test_run_classes_names_the_classes_in_the_models_order(three_classes, trained):
    assert three_classes.classes == THREE
    assert vislab.load_run(trained).classes == [str(i) for i in range(10)]


def test_run_classes_of_a_run_without_summary_reads_its_checkpoint(three_classes, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(three_classes.path, copy)
    (copy / "summary.json").unlink()  # as a run still training: no summary.json yet
    assert vislab.load_run(copy).classes == THREE
