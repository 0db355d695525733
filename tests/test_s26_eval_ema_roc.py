"""Session 26, fix D: a ``train.ema`` run's last.pt is scored, predicted and exported with the average it
holds (what every evaluation during training scored), eval's line saying so; the ROC figure draws the micro
average beside the macro one."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

import vislab
from conftest import cli, one_line, tiny_config
from vislab.errors import CheckpointNote
from vislab.predict import load_model
from vislab.training.checkpoint import load_checkpoint
from vislab.training.trainer import train

EMA = ("train.ema.decay=0.9", "train.epochs=3", "train.track_test=true", "train.figures=false")


@pytest.fixture(scope="module")
def ema_run(tmp_path_factory):
    """A finished 3-epoch train.ema run that scored the test split at every epoch."""
    run = tmp_path_factory.mktemp("ema") / "run"
    train(tiny_config(*EMA), run, quiet=True)
    return run


def _last_row(run) -> dict:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r.get("test_acc") is not None][-1]


def _same(model: torch.nn.Module, weights: dict) -> bool:
    return all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())


def test_eval_of_last_scores_the_average_the_last_epochs_row_scored(ema_run, capsys):
    row = _last_row(ema_run)
    assert row["epoch"] == 3
    code, text = cli(capsys, "eval", ema_run, "--checkpoint", "last", "--mistakes", "0")
    said = one_line(text)
    assert code == 0, text
    assert "weights: last.pt's train.ema average, epoch 3" in said, text
    assert f"test: acc {row['test_acc']:.4f}" in said, text
    assert f"loss {row['test_loss']:.4f}" in said, text
    assert "note:" not in said, text  # the weights every evaluation scored: nothing to warn


def test_run_evaluate_of_last_equals_the_last_epochs_test_figures(ema_run):
    row = _last_row(ema_run)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CheckpointNote)
        scores = vislab.load_run(ema_run).evaluate(checkpoint="last")
    assert scores["acc"] == pytest.approx(row["test_acc"], abs=1e-6)
    assert scores["loss"] == pytest.approx(row["test_loss"], abs=1e-4)


def test_every_loader_of_last_takes_the_average(ema_run, tmp_path):
    """load_model (predict, explain, Run.model) of the run's last or of the last.pt file, and export."""
    from vislab.export import export_run

    last = load_checkpoint(ema_run / "checkpoints" / "last.pt")
    assert not all(torch.equal(v, last.resume.ema[k]) for k, v in last.state_dict.items())
    for target in (ema_run, ema_run / "checkpoints" / "last.pt"):
        model, _ = load_model(target, checkpoint="last")
        assert _same(model, last.resume.ema), target
    assert _same(vislab.load_run(ema_run).model(checkpoint="last"), last.resume.ema)
    _, spec = export_run(ema_run, "torchscript", tmp_path / "last", checkpoint="last")
    assert json.loads(spec.read_text())["checkpoint"]["ema_average"] is True


def test_a_fitted_models_last_pt_gets_no_note_of_an_average(tmp_path, capsys):
    """A fitted model (majority) never gets a train.ema average: its last.pt is its weights, no note."""
    run = tmp_path / "maj"
    train(tiny_config("model.name=majority", "train.ema.decay=0.9"), run, quiet=True)
    code, text = cli(capsys, "eval", run, "--checkpoint", "last", "--mistakes", "0")
    said = one_line(text)
    assert code == 0 and "note:" not in said, text
    assert "weights: last.pt, epoch 1" in said, text


# ------------------------------------------------- mend L: eval's claimed-score check, reads, export
CLAIM = "records val_acc"


def _summary_says(run, **fields) -> None:
    summary = json.loads((run / "summary.json").read_text())
    summary.update(fields)
    (run / "summary.json").write_text(json.dumps(summary))


def test_a_later_last_pt_standing_in_for_best_pt_is_not_said_to_disagree(ema_run, tmp_path, capsys):
    """summary.json scored epoch 1's best.pt, since deleted; last.pt holds epoch 3's average: another
    score of other weights, not an edited file. Once summary.json's best epoch is last.pt's, its score
    is checked again."""
    import shutil

    run = tmp_path / "lrx"
    shutil.copytree(ema_run, run)
    (run / "checkpoints" / "best.pt").unlink()
    _summary_says(run, best_epoch=1, scored="best.pt, epoch 1", val_acc=0.0123)
    last = run / "checkpoints" / "last.pt"
    for args in ((run, "--checkpoint", "last"), (last,), (run,)):
        code, text = cli(capsys, "eval", *args, "--split", "val", "--mistakes", "0")
        assert code == 0 and CLAIM not in text, (args, text)
    _summary_says(run, best_epoch=3, scored="the train.ema average of the last weights, epoch 3")
    code, text = cli(capsys, "eval", last, "--split", "val", "--mistakes", "0")
    said = one_line(text)
    assert (
        code == 0 and f"'{run / 'summary.json'}' records val_acc 0.0123 for these weights" in said
    )


def test_eval_of_last_reads_last_pt_once(ema_run, monkeypatch, capsys):
    reads = []
    real = torch.load

    def counted(f, *args, **kwargs):
        reads.append(str(f))
        return real(f, *args, **kwargs)

    monkeypatch.setattr(torch, "load", counted)
    code, text = cli(capsys, "eval", ema_run, "--checkpoint", "last", "--mistakes", "0")
    assert code == 0, text
    assert reads == [str(ema_run / "checkpoints" / "last.pt")], reads
    reads.clear()
    code, text = cli(capsys, "eval", ema_run, "--split", "val", "--mistakes", "0")
    assert code == 0 and reads == [str(ema_run / "checkpoints" / "best.pt")], reads


def test_export_of_an_ema_runs_last_pt_at_its_best_epoch_gives_the_runs_test_acc(tmp_path):
    """One epoch: last.pt's average is best.pt's weights, so summary.json's test_acc is theirs."""
    from vislab.export import export_run

    run = tmp_path / "one"
    train(tiny_config("train.ema.decay=0.9", "train.epochs=1"), run, quiet=True)
    summary = json.loads((run / "summary.json").read_text())
    _, spec = export_run(run, "torchscript", tmp_path / "x", checkpoint="last")
    origin = json.loads(spec.read_text())["checkpoint"]
    assert origin["file"] == "checkpoints/last.pt" and origin["ema_average"] is True, origin
    assert origin["test_acc"] == summary["test_acc"] is not None, origin


# ------------------------------------------------------------------------------------ D2: micro ROC
def _micro_label(fig) -> str:
    labels = fig.axes[0].get_legend_handles_labels()[1]
    return next(label for label in labels if label.startswith("micro AUC"))


def test_the_roc_figure_draws_the_micro_average_sklearn_gives(ema_run):
    from sklearn.metrics import roc_auc_score, roc_curve

    from vislab.training.roc import micro_roc

    saved = np.load(ema_run / "predictions_test.npz")
    probs, labels = saved["probs"], saved["labels"]
    onehot = np.eye(probs.shape[1])[labels]
    want = roc_auc_score(onehot, probs, average="micro")
    fig = vislab.load_run(ema_run).plot("roc")
    assert _micro_label(fig) == f"micro AUC {want:.3f}"
    fpr, tpr, area = micro_roc(labels, probs)
    sk_fpr, sk_tpr, _ = roc_curve(onehot.ravel(), probs.ravel())
    assert area == pytest.approx(want, abs=1e-12)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    macro = next(t for t in fig.axes[0].get_legend_handles_labels()[1] if t.startswith("macro"))
    assert macro, "the macro average stays"


def test_the_micro_line_of_another_split_is_of_its_scores(ema_run):
    """val, scored anew: its micro AUC is the one of val's own scores (Run.evaluate's pooled pairs)."""
    from vislab.predict import score_split

    scored = score_split(ema_run, "val")
    from sklearn.metrics import roc_auc_score

    onehot = np.eye(scored.probs.shape[1])[scored.data.y]
    want = roc_auc_score(onehot, scored.probs, average="micro")
    assert (
        _micro_label(vislab.load_run(ema_run).plot("roc", split="val")) == f"micro AUC {want:.3f}"
    )
