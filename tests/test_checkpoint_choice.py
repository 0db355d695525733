"""Which checkpoint scores, predicts and exports a run, and saying so: a run interrupted before its first
evaluation has no best.pt, so it is used through its mid-epoch last.pt — with a warning (Python) or a
``note:`` on stderr (CLI) naming the file, epoch and step; ``--checkpoint best|last`` chooses; an
export's JSON records the checkpoint file, epoch (step mid-epoch) and the run's test accuracy.

The interrupted run is a real one: a SIGTERM in epoch 1 (as tests/test_resume.py sends it), which leaves
summary.json "interrupted" with best_epoch None, no best.pt, and a mid-epoch last.pt.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import warnings

import pytest

import vislab
import vislab.training.optim as optim_mod
from conftest import cli, one_line, tiny_config
from vislab.cli import main
from vislab.errors import DataError, TrainingInterrupted, UserError
from vislab.export import export_run
from vislab.predict import score_split
from vislab.training.checkpoint import CheckpointNote, load_checkpoint, pick_checkpoint
from vislab.training.trainer import train

SETS = ("train.figures=false",)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished 2-epoch tiny run (best.pt and an end-of-epoch-2 last.pt)."""
    run = tmp_path_factory.mktemp("choice") / "done"
    train(tiny_config(*SETS), run, quiet=True)
    return run


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    """A tiny run stopped by SIGTERM after its 4th step of epoch 1, as Ctrl-C leaves one."""
    run = tmp_path_factory.mktemp("choice") / "intr"
    real, sent = optim_mod.lr_factor, []

    def lr_factor(cfg, step, *a):
        if step == 3 and not sent:
            sent.append(step)
            os.kill(os.getpid(), signal.SIGTERM)  # the handler lets the step run, then saves
        return real(cfg, step, *a)

    with pytest.MonkeyPatch.context() as mp, pytest.raises(TrainingInterrupted):
        mp.setattr(optim_mod, "lr_factor", lr_factor)
        train(tiny_config(*SETS), run, quiet=True)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["best_epoch"] is None
    assert not (run / "checkpoints" / "best.pt").exists()
    assert load_checkpoint(run / "checkpoints" / "last.pt").resume.loop.step == 4
    return run


NOTE = r"no checkpoints/best.pt: it stopped in epoch 1, before its first evaluation on val\. Using "
NOTE += r"checkpoints/last.pt, its weights at epoch 1, step 4\."


def test_the_python_api_warns_which_checkpoint_scored_an_interrupted_run(stopped):
    run = vislab.load_run(stopped)
    with pytest.warns(CheckpointNote, match=NOTE):
        got = run.evaluate()
    want = score_split(stopped / "checkpoints" / "last.pt", "test").metrics
    assert got["acc"] == want.acc
    with pytest.warns(CheckpointNote, match=NOTE):
        run.model()


def test_eval_and_predict_note_the_checkpoint_on_stderr(stopped, capsys, digit_png):
    assert main(["eval", str(stopped), "--mistakes", "0"]) == 0
    out, err = capsys.readouterr()
    assert "test: acc" in out and "note" not in out
    assert f"note: run '{stopped}' has no checkpoints/best.pt" in one_line(err), err
    # the figures say which checkpoint they are of, as for `vislab eval RUN/checkpoints/last.pt`
    assert (stopped / "figures" / "confusion_test_last.png").is_file()
    assert main(["predict", str(stopped), str(digit_png), "-k", "1"]) == 0
    out, err = capsys.readouterr()
    assert "epoch 1, step 4" in one_line(err) and "note" not in out


def test_explain_and_model_info_say_the_note_as_a_line(stopped, capsys, digit_png, tmp_path):
    """Commands without --checkpoint still say it in the CLI's words, not in Python's warning format."""
    code, text = cli(
        capsys, "explain", stopped, digit_png, "--method", "saliency", "--out", tmp_path
    )
    assert code == 0 and "CheckpointNote" not in text, text
    assert f"note: run '{stopped}' has no checkpoints/best.pt" in one_line(text), text
    code, text = cli(capsys, "model", "info", stopped)
    assert code == 0 and "CheckpointNote" not in text and "note: run" in text, text


def test_eval_checkpoint_last_scores_last_pt_and_best_stays_the_default(finished, capsys):
    code, text = cli(capsys, "eval", finished, "--checkpoint", "last", "--mistakes", "0")
    last = score_split(finished / "checkpoints" / "last.pt", "test").metrics
    assert code == 0 and f"test: acc {last.acc:.4f}" in text and "note" not in text, text
    code, text = cli(capsys, "eval", finished, "--mistakes", "0")
    best = vislab.load_run(finished).summary["test_acc"]
    assert code == 0 and f"test: acc {best:.4f}" in text and "note" not in text, text
    assert (finished / "figures" / "confusion_test.png").is_file()  # named as before


def test_an_export_records_its_checkpoint_epoch_and_test_accuracy(finished):
    summary = vislab.load_run(finished).summary
    _, spec = vislab.load_run(finished).export("torchscript")
    assert json.loads(spec.read_text())["checkpoint"] == {
        "file": "checkpoints/best.pt",
        "epoch": summary["best_epoch"],
        "step": None,
        "ema_average": False,
        "test_acc": summary["test_acc"],
    }
    # last.pt after 2 epochs: epoch 2, the best epoch: the very weights summary.json scored (its
    # accuracy is None where they differ: test_s23_f5_cli)
    assert summary["best_epoch"] == 2
    _, spec = export_run(finished, "torchscript", finished / "last", checkpoint="last")
    assert json.loads(spec.read_text())["checkpoint"] == {
        "file": "checkpoints/last.pt",
        "epoch": 2,
        "step": None,
        "ema_average": False,
        "test_acc": summary["test_acc"],
    }


def test_exporting_an_interrupted_run_says_it_is_its_mid_epoch_last_pt(stopped, capsys):
    assert main(["export", str(stopped), "--format", "torchscript"]) == 0
    out, err = capsys.readouterr()
    assert f"note: run '{stopped}' has no checkpoints/best.pt" in one_line(err), err
    # what was written: on stderr
    assert "(from checkpoints/last.pt, epoch 1, step 4)" in one_line(err), err
    spec = json.loads((stopped / "export" / "model_last.torchscript.json").read_text())
    assert spec["checkpoint"] == {
        "file": "checkpoints/last.pt",
        "epoch": 1,
        "step": 4,
        "ema_average": False,
        "test_acc": None,
    }


def test_checkpoint_choices_that_cannot_be_met(finished, stopped, tmp_path, capsys):
    best = finished / "checkpoints" / "best.pt"
    code, text = cli(capsys, "eval", best, "--checkpoint", "last")
    assert code == 2 and f"'{best}' is a checkpoint file: give the run directory" in one_line(text)
    code, text = cli(capsys, "export", finished, "--format", "onnx", "--checkpoint", "newest")
    assert code == 2 and "newest" in text
    with pytest.raises(UserError, match="the checkpoint must be best or last, not 'newest'"):
        pick_checkpoint(finished, "newest")
    no_last = tmp_path / "run"
    shutil.copytree(finished, no_last)
    (no_last / "checkpoints" / "last.pt").unlink()
    with pytest.raises(
        DataError, match="has no checkpoints/last.pt: it trained, but the checkpoint is gone"
    ):
        pick_checkpoint(no_last, "last")
    early = tmp_path / "early"  # stopped before its first save: its summary says epoch 0, step 0
    shutil.copytree(finished, early)
    shutil.rmtree(early / "checkpoints")
    (early / "summary.json").write_text('{"status": "failed", "epochs_run": 0, "step": 0}')
    with pytest.raises(DataError, match="it stopped before saving its first checkpoint"):
        pick_checkpoint(early)
    (tmp_path / "notarun").mkdir()  # no config.yaml: no run at all, not one that never started
    with pytest.raises(DataError, match="'.*notarun' is not a vislab run directory"):
        pick_checkpoint(tmp_path / "notarun")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # asked for: no warning
        picked = pick_checkpoint(stopped, "last")
        picked.show_note()
        assert picked.path == stopped / "checkpoints" / "last.pt"


def test_run_methods_take_the_checkpoint_the_cli_takes(finished, stopped):
    run = vislab.load_run(finished)
    last = score_split(finished / "checkpoints" / "last.pt", "test").metrics
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # asked for, or best.pt: no warning
        assert run.evaluate(checkpoint="last")["acc"] == last.acc
        assert run.evaluate(checkpoint="best")["acc"] == run.summary["test_acc"]
        assert vislab.load_run(stopped).evaluate(checkpoint="last")["n"] > 0
        _, spec = run.export("torchscript", run.path / "x", checkpoint="last")
    assert json.loads(spec.read_text())["checkpoint"]["file"] == "checkpoints/last.pt"
    with pytest.raises(UserError, match="the checkpoint must be best or last, not 'final'"):
        run.model(checkpoint="final")
