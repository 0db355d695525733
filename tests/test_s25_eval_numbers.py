"""What eval prints and writes (session 25): its AUC and top-5 on the terminal and in scores_<split>.json
under summary.json's names; the train split's scores named apart from summary.json's train_acc; a class
the split has no image of shown as n/a, not 0, in the table and the normalised confusion matrix; the ROC
figure's macro average."""

from __future__ import annotations

import json

import numpy as np
import torch

from vislab.cli import main
from vislab.plotting.roc import roc_figure
from vislab.plotting.runs import confusion_figure
from vislab.training.metrics import compute_metrics


def _run(capsys, *args) -> tuple[int, str, str]:
    """``vislab ARGS`` in-process: (exit code, stdout, stderr), neither holding a traceback."""
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err, out.out + out.err
    return code, out.out, out.err


def test_eval_prints_and_writes_the_auc_and_top5_summary_json_holds(trained, tmp_path, capsys):
    """run.evaluate() had the AUC, summary.json test_auc too; eval's line and scores_test.json had not."""
    code, out, err = _run(capsys, "eval", trained, "--out", tmp_path)
    assert code == 0, err
    summary = json.loads((trained / "summary.json").read_text())
    scores = json.loads((tmp_path / "scores_test.json").read_text())
    assert scores["test_auc"] == summary["test_auc"]
    assert scores["test_top5_acc"] == summary["test_top5_acc"]
    first = out.splitlines()[0]
    assert f"top-5 {summary['test_top5_acc']:.4f}" in first, first
    assert f"AUC (macro OvR) {summary['test_auc']:.4f}" in first, first


def test_eval_on_the_train_split_names_its_scores_apart_from_summary_train_acc(
    trained, tmp_path, capsys
):
    """scores_train.json's train_acc (best.pt on the train split) was another figure than summary.json's
    train_acc (the best epoch's training batches), under the same name."""
    code, _, err = _run(capsys, "eval", trained, "--split", "train", "--out", tmp_path)
    assert code == 0, err
    scores = json.loads((tmp_path / "scores_train.json").read_text())
    assert "train_acc" not in scores and "train_loss" not in scores
    assert 0 <= scores["train_eval_acc"] <= 1 and scores["train_eval_loss"] > 0
    assert "summary.json's train_acc" in scores["note"]


def test_a_class_with_no_test_image_is_na_not_zero(trained, tmp_path, capsys):
    """`eval --normalize` on 5 test images of 10 classes showed 0.00 rows for the classes with none."""
    sets = ["--set", "data.limit_eval=5"]
    code, out, err = _run(capsys, "eval", trained, *sets, "--normalize", "--out", tmp_path)
    assert code == 0, err
    table = [line for line in out.splitlines() if line.startswith("│")]
    empty = [line.split("│")[1].strip() for line in table if line.split("│")[3].strip() == "0"]
    assert len(empty) >= 5  # 5 images cannot cover 10 classes
    cells = [[c.strip() for c in line.split("│")[1:4]] for line in table]
    assert all(acc == "n/a" for _, acc, n in cells if n == "0")
    said = " ".join(out.split())
    assert f"no test images of classes {', '.join(empty[:-1])} and {empty[-1]}:" in said, said
    assert "their accuracy is n/a, not 0" in said
    assert "the normalised confusion matrix leaves their rows blank" in said


def test_the_normalised_confusion_matrix_leaves_a_row_of_no_sample_blank():
    cm = np.array([[3, 1, 0], [0, 0, 0], [1, 0, 2]])
    fig = confusion_figure(cm, ["cat", "dog", "owl"], "r: test", normalize=True)
    ax = fig.axes[0]
    rows = {round(t.get_position()[1]) for t in ax.texts}
    assert rows == {0, 2} and len(ax.texts) == 6  # no number in dog's row
    assert "no samples of class dog: its row is blank" in ax.get_title()
    counts = confusion_figure(cm, ["cat", "dog", "owl"], "r: test")
    assert len(counts.axes[0].texts) == 9  # counts: dog's row of 0s is true
    assert "blank" not in counts.axes[0].get_title()


def test_the_roc_legend_gives_the_macro_auc_summary_json_records():
    rng = np.random.default_rng(0)
    labels = np.arange(60) % 3
    logits = rng.normal(size=(60, 3)) + 2 * np.eye(3)[labels]
    m = compute_metrics(torch.tensor(logits), torch.tensor(labels), 3, with_roc=True)
    fig = roc_figure(m.roc, ["a", "b", "c"], "r: ROC (test)")
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts[-1] == f"macro AUC {m.auc:.3f}", texts
    assert len(texts) == 4


def test_eval_scores_a_channels_last_cnn_to_the_same_floats_as_its_summary(tmp_path, capsys):
    """A CNN trained (and scored) in NHWC, eval'd in NCHW: val_loss 0.6344623565673828 in summary.json,
    0.6344624757766724 in scores_val.json and run.evaluate("val")["loss"]."""
    import vislab
    from conftest import tiny_config
    from vislab.training.trainer import train

    run = tmp_path / "cnn"
    train(
        tiny_config("model.name=cnn", "data.limit=null", "train.epochs=1"),
        run,
        quiet=True,
    )
    summary = json.loads((run / "summary.json").read_text())
    for split in ("val", "test"):
        code, _, err = _run(capsys, "eval", run, "--split", split, "--out", tmp_path / "e")
        assert code == 0, err
        scores = json.loads((tmp_path / "e" / f"scores_{split}.json").read_text())
        assert scores[f"{split}_loss"] == summary[f"{split}_loss"]
        assert scores[f"{split}_acc"] == summary[f"{split}_acc"]
    assert scores["test_auc"] == summary["test_auc"]
    assert vislab.load_run(run).evaluate("val")["loss"] == summary["val_loss"]


def test_a_roc_of_seeds_pooled_says_its_macro_auc_is_the_pooled_predictions():
    """A seeded row's ROC pools its seeds' predictions: its macro AUC is not the mean of their test_auc
    the tables give, and its label said nothing of it."""
    rng = np.random.default_rng(1)
    labels = np.arange(60) % 3
    logits = rng.normal(size=(60, 3)) + np.eye(3)[labels]
    m = compute_metrics(torch.tensor(logits), torch.tensor(labels), 3, with_roc=True)
    fig = roc_figure(m.roc, ["a", "b", "c"], "r: ROC (test, 2 seeds pooled)", pooled=2)
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts[-1] == f"macro AUC {m.auc:.3f} (of 2 seeds pooled)", texts
