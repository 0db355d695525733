"""Divergence: a loss that turns NaN/inf after good epochs (noticed at the epoch's end, or when a signal arrives
first) marks the run diverged, exits 2, and keeps the last good checkpoint instead of saving NaN weights.
"""

from __future__ import annotations

import json
import os
import signal

import pytest
import torch
import torch.nn.functional as F

from conftest import cli, one_line, tiny_config, tiny_sets
from vislab.errors import TrainingDiverged
from vislab.training.checkpoint import load_checkpoint
from vislab.training.parts import Optimisation
from vislab.training.trainer import train


def raw_checkpoint(path):
    """A checkpoint file's contents as saved (the on-disk dict)."""
    return load_checkpoint(path).to_dict()


def test_nan_after_a_good_epoch_keeps_the_last_good_checkpoint(capsys, tmp_path, monkeypatch):
    calls = []

    # finite for epoch 1 (8 steps), NaN from the middle of epoch 2
    def cross_entropy(logits, y, **kw):
        calls.append(1)
        loss = F.cross_entropy(logits, y, **kw)
        return loss * float("nan") if len(calls) > 11 else loss

    monkeypatch.setattr(Optimisation, "loss", lambda _, logits, y: cross_entropy(logits, y))
    run = tmp_path / "run"
    code, out = cli(capsys, "train", *tiny_sets("train.epochs=3"), "--out", run, "-q")
    assert (
        code == 2
        and "became NaN/inf in epoch 2" in out
        and f"{run / 'checkpoints' / 'last.pt'} (after epoch 1)" in one_line(out)
    ), out
    summary = json.loads((run / "summary.json").read_text())
    # its last.pt is at the end of epoch 1, not mid-epoch 2 (step 0)
    assert (summary["status"], summary["epochs_run"], summary["step"]) == ("diverged", 1, 0)
    kept = raw_checkpoint(run / "checkpoints" / "last.pt")
    assert kept["state"]["epoch"] == 1 and all(
        torch.isfinite(v).all() for v in kept["state_dict"].values()
    )
    assert raw_checkpoint(run / "checkpoints" / "best.pt")["epoch"] == 1
    # the advice keeps the epoch trained: a new run from last.pt at a tenth of the lr, which works
    last = run / "checkpoints" / "last.pt"
    assert (
        f"To keep its 1 epoch, start a new run from them with a lower lr: --init-from {last}"
        in one_line(out)
    )
    # vislab's own model, its last good weights finite: the lr is blamed, not the model's forward
    said = one_line(out)
    assert "Lower optim.lr" in said and "already maps" not in said and "hold NaN/inf" not in said
    monkeypatch.undo()
    code, text = cli(
        capsys, "train", *tiny_sets("train.epochs=1"), "--init-from", last, "--set", "optim.lr=0.0001",
        "--out", tmp_path / "again", "-q",
    )  # fmt: skip
    assert code == 0, text


def test_signal_after_an_unnoticed_nan_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    """The loss turns NaN mid-epoch (not yet noticed: quiet runs check at epoch ends), then SIGTERM arrives: the
    run is marked diverged and the NaN weights are not saved over the last good last.pt."""
    calls = []

    # 8 steps per epoch: NaN from step 11, SIGTERM handled after step 13
    def cross_entropy(logits, y, **kw):
        calls.append(1)
        if len(calls) == 13:
            os.kill(os.getpid(), signal.SIGTERM)
        loss = F.cross_entropy(logits, y, **kw)
        return loss * float("nan") if len(calls) >= 11 else loss

    monkeypatch.setattr(Optimisation, "loss", lambda _, logits, y: cross_entropy(logits, y))
    with pytest.raises(TrainingDiverged, match="epoch 2"):
        train(tiny_config("train.epochs=3"), tmp_path / "r", quiet=True)
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["status"] == "diverged"
    kept = raw_checkpoint(tmp_path / "r" / "checkpoints" / "last.pt")
    assert kept["state"]["epoch"] == 1 and kept["state"]["step"] == 0
    assert all(torch.isfinite(v).all() for v in kept["state_dict"].values())


def test_nan_after_a_mid_epoch_resume_keeps_and_names_the_steps_last_pt_holds(
    capsys, tmp_path, monkeypatch
):
    """SIGTERM at step 3 of epoch 1 saves those steps in last.pt; the resumed run's loss turns NaN before
    it saves again: last.pt, its 3 steps, is the last good checkpoint (not "none"), summary.json says so,
    and the advice starts a new run from them."""
    calls = []

    def stopped_at_step_3(logits, y, **kw):
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return F.cross_entropy(logits, y, **kw)

    monkeypatch.setattr(Optimisation, "loss", lambda _, logits, y: stopped_at_step_3(logits, y))
    run = tmp_path / "run"
    code, out = cli(capsys, "train", *tiny_sets("train.epochs=3"), "--out", run, "-q")
    assert code == 130 and "epoch 1, step 3" in out, out

    def nan(logits, y, **kw):
        return F.cross_entropy(logits, y, **kw) * float("nan")

    monkeypatch.setattr(Optimisation, "loss", lambda _, logits, y: nan(logits, y))
    code, out = cli(capsys, "train", "--resume", run, "-q")
    last = run / "checkpoints" / "last.pt"
    said = one_line(out)
    assert code == 2 and "became NaN/inf in epoch 1" in said, out
    assert f"last good checkpoint: {last} (epoch 1, step 3)." in said, said
    assert (
        f"To keep its 3 steps, start a new run from them with a lower lr: --init-from {last}"
        in said
    )
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["status"], summary["epochs_run"], summary["step"]) == ("diverged", 0, 3)
    kept = raw_checkpoint(last)
    assert (kept["state"]["epoch"], kept["state"]["step"]) == (0, 3)
    assert all(torch.isfinite(v).all() for v in kept["state_dict"].values())
