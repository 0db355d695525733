"""A train.ema run whose best.pt is gone: its best weights are last.pt's average, as the run's scores
(summary.json's ``scored``) are; the resume note and the checkpoint notes say which weights are used;
``checkpoint="last"`` gives the same average."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

import vislab
from conftest import cli, one_line, tiny_config, tiny_sets
from vislab.errors import CheckpointNote
from vislab.predict import load_model, score_split
from vislab.training.checkpoint import load_checkpoint, pick_checkpoint
from vislab.training.trainer import train

EMA = ("train.ema.decay=0.9", "train.epochs=2", "train.figures=false")


@pytest.fixture(scope="module")
def lost(tmp_path_factory):
    """A finished 2-epoch train.ema run whose best.pt was deleted, then scored again by a resume (its
    summary.json deleted too): summary.json's scores are of the average of its last weights."""
    run = tmp_path_factory.mktemp("ema") / "run"
    train(tiny_config(*EMA), run, quiet=True)
    (run / "checkpoints" / "best.pt").unlink()
    (run / "summary.json").unlink()
    train(None, run, resume=True, quiet=True)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["scored"] == "the train.ema average of the last weights, epoch 2"
    return run


def _same(model: torch.nn.Module, weights: dict) -> bool:
    return all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())


def test_the_resume_note_says_the_average_is_scored(tmp_path, capsys):
    run = tmp_path / "run"
    sets = tiny_sets("train.ema.decay=0.9", "train.figures=false")
    code, text = cli(capsys, "train", *sets, "--out", run)
    assert code == 0, text
    (run / "checkpoints" / "best.pt").unlink()
    (run / "summary.json").unlink()
    code, text = cli(capsys, "train", "--resume", run)
    said = one_line(text)
    assert code == 0 and "note:" in said, text
    assert "the train.ema average of the run's last weights (epoch 1) is scored" in said, text
    assert "done (the train.ema average of the last weights, epoch 1)" in said, text


def test_the_best_weights_without_best_pt_are_last_pts_average(lost):
    """What summary.json scored, eval's default scores again; last.pt asked for: the same average."""
    resume = load_checkpoint(lost / "checkpoints" / "last.pt").resume
    with pytest.warns(
        CheckpointNote, match="the train.ema average of its weights at the end of epoch 2"
    ):
        model, _ = load_model(lost)
    assert _same(model, resume.ema)
    with warnings.catch_warnings():
        warnings.simplefilter(
            "error", CheckpointNote
        )  # the weights every evaluation scored: no note
        last, _ = load_model(lost, checkpoint="last")
    assert _same(last, resume.ema)
    assert not _same(last, load_checkpoint(lost / "checkpoints" / "last.pt").state_dict)
    summary = json.loads((lost / "summary.json").read_text())
    with pytest.warns(CheckpointNote):
        val = score_split(lost, "val").metrics
        test = score_split(lost, "test").metrics
    assert (val.acc, test.acc) == (summary["val_acc"], summary["test_acc"])


def test_a_last_pt_asked_for_scores_what_summary_json_scored_without_a_note(lost):
    summary = json.loads((lost / "summary.json").read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("error", CheckpointNote)
        assert vislab.load_run(lost).evaluate("val", checkpoint="last")["acc"] == summary["val_acc"]


def test_the_notes_name_the_weights_they_use(lost):
    with pytest.warns(CheckpointNote) as notes:
        pick_checkpoint(lost).show_note()  # the best weights: last.pt's average stands in
    said = one_line(str(notes[0].message))
    assert "the train.ema average of its weights at the end of epoch 2" in said, said
    assert "live weights" not in said, said  # last.pt asked for gives the same average


def test_eval_and_run_evaluate_score_what_summary_json_scored(lost, capsys):
    """Needs the callers to load a run's best weights through checkpoint_target (run.py, cli/scores.py,
    export.py)."""
    summary = json.loads((lost / "summary.json").read_text())
    code, text = cli(capsys, "eval", lost, "--split", "val", "--mistakes", "0")
    said = one_line(text)
    assert code == 0 and f"val: acc {summary['val_acc']:.4f}" in said, text
    assert said.count("has no checkpoints/best.pt") == 1 and "train.ema average" in said, text
    assert (lost / "figures" / "confusion_val.png").is_file()  # the run's scored weights: its names
    with pytest.warns(CheckpointNote):
        assert vislab.load_run(lost).evaluate("val")["acc"] == summary["val_acc"]
    last = vislab.load_run(lost).evaluate("val", checkpoint="last")["acc"]
    assert (
        last
        == score_split(lost / "checkpoints" / "last.pt", "val").metrics.acc
        == summary["val_acc"]
    )
    code, text = cli(capsys, "export", lost, "--format", "torchscript")
    said = one_line(text)  # the weights line, and the note saying why (once each)
    assert code == 0 and said.count("weights: last.pt's train.ema average, epoch 2") == 1, text
    assert said.count("has no checkpoints/best.pt") == 1, text


def test_the_average_is_not_called_best_pt_s_where_the_best_epoch_was_another(tmp_path):
    """best.pt (epoch 1, which summary.json scored) deleted; last.pt at epoch 2: its average is not what
    best.pt held, and the note says which epoch best.pt was."""
    run = tmp_path / "run"
    train(tiny_config(*EMA), run, quiet=True)
    (run / "checkpoints" / "best.pt").unlink()
    last = run / "checkpoints" / "last.pt"
    state = torch.load(last, weights_only=False)
    state["state"]["best_epoch"] = 1  # as if epoch 1 had been the best
    torch.save(state, last)
    with pytest.warns(CheckpointNote) as caught:
        pick_checkpoint(run).show_note()
    said = one_line(str(caught[0].message))
    assert "written there at epoch 1" in said and "what best.pt would hold" not in said, said


def test_init_from_a_run_without_best_pt_starts_from_its_average(lost):
    """train.init_from=RUN takes the weights best.pt would hold, as its note says (it took last.pt's live
    weights); naming checkpoints/last.pt itself gives the same average, as eval of the file scores."""
    from vislab.training.finetune import init_from_run

    last = load_checkpoint(lost / "checkpoints" / "last.pt")
    model, _ = load_model(lost / "checkpoints" / "last.pt")
    model.load_state_dict(last.state_dict)  # the live weights, which init_from replaces
    with pytest.warns(CheckpointNote, match="the train.ema average of its weights"):
        init_from_run(model, str(lost))
    assert _same(model, last.resume.ema)
    model.load_state_dict(last.state_dict)
    init_from_run(model, str(lost / "checkpoints" / "last.pt"))
    assert _same(model, last.resume.ema)


def test_an_export_says_whether_it_holds_the_average(lost, tmp_path):
    """export's JSON: ``ema_average`` true for the best weights (last.pt's average, best.pt gone), and for
    last.pt asked for (the same average)."""
    from vislab.export import export_run

    with pytest.warns(CheckpointNote):
        _, spec = export_run(lost, "torchscript", tmp_path / "best")
    assert json.loads(spec.read_text())["checkpoint"]["ema_average"] is True
    _, spec = export_run(lost, "torchscript", tmp_path / "last", checkpoint="last")
    assert json.loads(spec.read_text())["checkpoint"]["ema_average"] is True


def test_a_best_pt_of_an_ema_run_exports_as_the_average(tmp_path):
    from vislab.export import export_run

    run = tmp_path / "run"
    train(tiny_config(*EMA), run, quiet=True)
    _, spec = export_run(run, "torchscript")
    assert json.loads(spec.read_text())["checkpoint"]["ema_average"] is True
