"""Tests for training behaviours a mutation could break unseen (mutation testing of summaries, early
stopping, plateau, resume and fine-tuning)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

import test_mutants_t2
from conftest import cli, one_line, tiny_config
from test_resume import sigterm_at_step
from vislab.errors import TrainingDiverged, TrainingInterrupted, UserError
from vislab.models import build_model
from vislab.training.checkpoint import load_checkpoint
from vislab.training.finetune import init_from_run
from vislab.training.freezing import freeze
from vislab.training.plateau import Plateau
from vislab.training.resume import extend
from vislab.training.resume_checks import argument_clash
from vislab.training.state import Callback, LoopState
from vislab.training.trainer import train

scripted_val = test_mutants_t2.scripted_val  # the fixture: each val evaluation scores as told
NO_FIGURES = "train.figures=false"
# train.min_delta=1: val_pacc never improves by 1, so train.early_stop=1 stops the run after epoch 2 of 4
EARLY = ("train.epochs=4", "train.early_stop=1", "train.min_delta=1", NO_FIGURES)


def _summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


# ------------------------------------------------------------------------------ summary.json's numbers
def test_summary_times_are_last_pts_setup_and_training_seconds(trained):
    """summary.json's setup_s and train_time_s are the run's own two clocks (last.pt's), each rounded."""
    state = load_checkpoint(trained / "checkpoints" / "last.pt").resume.loop
    s = _summary(trained)
    assert s["setup_s"] == round(state.setup_s, 3)
    assert s["train_time_s"] == round(state.train_time_s, 3)


def test_summary_train_loss_is_the_best_epochs_not_the_last(tmp_path, scripted_val):
    """Epoch 1 of 2 scores best on val: summary.json's train loss and accuracy are epoch 1's row."""
    scripted_val += [(0.9, 0.9), (0.5, 0.5)]
    s = train(tiny_config(NO_FIGURES), tmp_path / "r", quiet=True).to_json()
    rows = _rows(tmp_path / "r")
    assert s["best_epoch"] == 1
    assert s["train_loss"] == pytest.approx(rows[0]["train_loss"])
    assert s["train_acc"] == pytest.approx(rows[0]["train_acc"])
    assert s["train_loss"] != pytest.approx(rows[1]["train_loss"])


def test_patience_running_out_at_the_last_epoch_is_not_an_early_stop(tmp_path, scripted_val):
    """train.early_stop=1 whose patience runs out at epoch 2 of 2: every epoch was trained, so neither
    summary.json nor the last metrics row says the run stopped early."""
    scripted_val += [(0.9, 0.9), (0.5, 0.5)]
    s = train(tiny_config("train.early_stop=1", NO_FIGURES), tmp_path / "r", quiet=True).to_json()
    assert (s["epochs_run"], s["stopped_early"]) == (2, False)
    assert not _rows(tmp_path / "r")[-1].get("stopped_early")


class _NanFromEpoch2(Callback):
    """From epoch 2 on, the loss is NaN (as with a diverging lr)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch

    def on_epoch_end(self, row) -> None:
        from vislab.training.parts import Optimisation

        nan_loss = lambda _, logits, y: logits.sum() * float("nan")  # noqa: E731
        self.monkeypatch.setattr(Optimisation, "loss", nan_loss)


def test_a_diverged_runs_summary_names_best_pts_epoch_and_last_pts_step(tmp_path, monkeypatch):
    """NaN in epoch 2: summary.json (status diverged) names best.pt's epoch, 1, and step 0, where its
    last.pt is (the end of epoch 1), not the step the NaN was seen at."""
    run = tmp_path / "r"
    with pytest.raises(TrainingDiverged):
        train(tiny_config("train.epochs=3", NO_FIGURES), run, quiet=True,
              callbacks=[_NanFromEpoch2(monkeypatch)])  # fmt: skip
    s = _summary(run)
    assert s["status"] == "diverged" and s["epochs_run"] == 1
    assert s["best_epoch"] == load_checkpoint(run / "checkpoints" / "best.pt").epoch == 1
    assert s["step"] == 0


def test_a_run_stopped_in_its_first_epoch_says_where_and_counts_its_training_time(
    tmp_path, monkeypatch
):
    """A signal in epoch 1 (no epoch finished): the message names epoch 1 (counted from 1), and
    summary.json's train_time_s counts the steps trained."""
    run = tmp_path / "r"
    with (
        sigterm_at_step(monkeypatch, lambda n: 1),
        pytest.raises(TrainingInterrupted) as stopped,
    ):
        train(tiny_config(NO_FIGURES), run, quiet=True)
    assert re.search(r"training stopped by SIGTERM at epoch 1, step [1-9]", str(stopped.value))
    s = _summary(run)
    assert (s["status"], s["epochs_run"]) == ("interrupted", 0)
    assert s["train_time_s"] > 0


# ----------------------------------------------------------------------------------------- plateau
def test_plateau_at_its_floor_no_longer_says_it_cut():
    """Cut by 10 to a floor of 1/20: two cuts (the second to the floor), then patience running out again
    changes nothing and is no cut (the "plateau: lr ..." line is printed for cuts only)."""
    rule, loop = Plateau(factor=0.1, patience=1, floor=0.05, warmup=0), LoopState()
    cuts = [rule.count(loop, improved=False, step=10 * i) for i in range(1, 5)]
    assert cuts == [True, True, False, False]
    assert loop.lr_drop == 0.05


def test_plateau_reaching_its_floor_by_float_products_cuts_no_more():
    """lr 0.1 cut by 10 to min_lr 0.001 (a floor of 1/100): two cuts, though 0.1 * 0.1 is a rounding above
    0.01 — a third "cut" to the floor changed no lr yet printed a third "plateau: lr" line."""
    rule, loop = Plateau(factor=0.1, patience=1, floor=0.001 / 0.1, warmup=0), LoopState()
    cuts = [rule.count(loop, improved=False, step=10 * i) for i in range(1, 5)]
    assert cuts == [True, True, False, False]
    assert loop.lr_drop == pytest.approx(0.01)


# ------------------------------------------------------------------------------------------ resume
def test_extending_an_early_stopped_run_words_its_stop_with_min_delta():
    """Refusing to extend an early-stopped run says what its patience counted, as nothing_to_train and the
    trainer do: evaluations that did not improve by more than train.min_delta."""
    sets = ["train.epochs=5", "train.early_stop=2", "train.min_delta=0.01"]
    loop = LoopState(epoch=4, bad_evals=2, stopped_early=True)
    with pytest.raises(UserError) as refused:
        extend(tiny_config(*sets), 10, loop, Path("runs/x"))
    said = one_line(str(refused.value))
    by = "by more than train.min_delta=0.01"
    assert f"val_pacc did not improve {by} for 2 evaluations (train.early_stop=2)" in said, said
    assert f"stop again at the first evaluation that does not improve {by}." in said, said
    with pytest.raises(UserError) as refused:
        extend(tiny_config(*sets[:2]), 10, loop, Path("runs/x"))
    said = one_line(str(refused.value))
    assert "min_delta" not in said and "that does not improve. Start a new run" in said, said


def test_extending_a_run_to_the_epochs_it_has_trained_is_refused():
    """--epochs 3 on a run that trained 3 of its 5 epochs would train nothing: refused."""
    with pytest.raises(UserError, match="it has trained 3 already"):
        extend(tiny_config("train.epochs=5"), 3, LoopState(epoch=3), Path("runs/x"))


def test_resuming_an_early_stopped_run_names_min_delta(tmp_path, capsys):
    """ "nothing left to train" of a run stopped early with train.min_delta says the patience counted
    evaluations that did not improve by more than it."""
    run = tmp_path / "run"
    train(tiny_config(*EARLY), run, quiet=True)
    code, text = cli(capsys, "train", "-q", "--resume", run)
    assert code == 0, text
    assert (
        "it stopped early after epoch 2: val_pacc did not improve by more than train.min_delta=1 "
        "for 1 evaluation (train.early_stop=1)"
    ) in one_line(text), text


def test_an_early_stopped_run_without_best_pt_scores_its_last_weights(tmp_path, capsys):
    """Resuming (to score again) a run stopped early whose best.pt is gone: the note says nothing is
    left to train and its last weights are scored, not that a best epoch will be written on."""
    run = tmp_path / "run"
    train(tiny_config(*EARLY), run, quiet=True)
    (run / "checkpoints" / "best.pt").unlink()
    (run / "summary.json").unlink()  # a damaged record: the resume scores the run again
    code, text = cli(capsys, "train", "-q", "--resume", run)
    said = one_line(text)
    assert code == 0, text
    assert "nothing is left to train: the run's last weights (epoch 2) are scored" in said, said
    assert "from epoch 3 on" not in said, said
    assert _summary(run)["scored"] == "the last weights, epoch 2"


def test_a_resume_changing_more_than_train_epochs_is_not_sent_to_epochs(trained, capsys):
    """--set train.epochs=3 with another setting: --epochs would not do it; resume without them or
    start a new run."""
    sets = ("--set", "train.epochs=3", "--set", "optim.lr=0.5")
    code, text = cli(capsys, "train", "-q", "--resume", trained, *sets)
    said = one_line(text)
    assert code == 2, text
    assert "give --epochs instead" not in said, said
    assert "Resume without them, or start a new run" in said, said


def test_out_naming_the_resumed_folder_another_way_is_no_clash(tmp_path, monkeypatch):
    """--out as the run's own folder, spelt absolute where the run is relative: the same folder."""
    monkeypatch.chdir(tmp_path)
    assert argument_clash("runs/x", out=tmp_path / "runs" / "x") is None
    assert argument_clash("runs/x", out=tmp_path / "runs" / "y").kind == "other_out"


# ------------------------------------------------------------------------------------- fine-tuning
def test_a_freeze_pattern_matching_nothing_is_named_not_the_first():
    """train.freeze=[1.*, nosuch.*]: the error names the pattern that matches nothing."""
    model = build_model("mlp", (1, 8, 8), 10, hidden=[32])
    with pytest.raises(UserError, match=r"pattern 'nosuch\.\*' matches no parameter"):
        freeze(model, ["1.*", "nosuch.*"], "mlp")


def test_init_from_lists_tensors_the_source_lacks_as_new_not_reinitialised(tmp_path):
    """From a 2-hidden-layer mlp into a 3-layer one: the layer whose shape differs is re-initialised, the
    layer the source has no tensor for is new, and only that."""
    source = tmp_path / "src"
    train(tiny_config("model.hidden=[32,32]", "train.epochs=1", NO_FIGURES), source, quiet=True)
    model = build_model("mlp", (1, 8, 8), 10, hidden=[32, 32, 32])
    start = init_from_run(model, str(source))
    assert start.reinitialised == ["5.bias", "5.weight"]
    assert start.new == ["7.bias", "7.weight"]
    assert torch.equal(
        model.state_dict()["1.weight"],
        load_checkpoint(source / "checkpoints" / "best.pt").state_dict["1.weight"],
    )
