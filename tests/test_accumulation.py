"""Gradient accumulation (train.accumulate) when k does not divide an epoch's batches, and the gradient
norms (train.track_grad_norm) it and train.grad_clip leave in grad_norms.jsonl."""

from __future__ import annotations

import copy
import json

import pytest
import torch
import torch.nn.functional as F

import vislab.training.trainer as trainer_mod
from conftest import tiny_config
from vislab.training.checkpoint import load_checkpoint
from vislab.training.trainer import train

# digits, 300 train samples: 9 batches of 32 per epoch (drop_last leaves 12 out), the same 288 as one
# batch of 288; an MLP without dropout, plain SGD
SGD = ("optim.name=sgd", "optim.lr=0.5", "model.dropout=0", "train.figures=false")


def _weights(run) -> dict[str, torch.Tensor]:
    return load_checkpoint(run / "checkpoints" / "last.pt").state_dict


def _grad_rows(run) -> list[dict]:
    return [json.loads(x) for x in (run / "grad_norms.jsonl").read_text().splitlines()]


def test_a_window_longer_than_the_epoch_is_one_full_batch(tmp_path):
    """accumulate=18 over an epoch of 9 batches: one optimizer step per epoch on the mean gradient of its
    288 samples, as batch_size=288 (it was half of it: each loss divided by 18, not 9)."""
    full = train(tiny_config(*SGD, "train.batch_size=288"), tmp_path / "full", quiet=True).to_json()
    acc = train(
        tiny_config(*SGD, "train.batch_size=32", "train.accumulate=18"),
        tmp_path / "acc",
        quiet=True,
    ).to_json()
    a, b = _weights(tmp_path / "full"), _weights(tmp_path / "acc")
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
    assert acc["val_loss"] == pytest.approx(full["val_loss"], abs=1e-5)


def test_each_step_applies_the_mean_gradient_of_its_window(tmp_path, monkeypatch):
    """accumulate=4 over 9 batches: windows of 4, 4 and 1; at each optimizer step the gradient is that of
    the mean loss over the window's samples (the short last window too)."""
    batches, checked = [], []
    real_step, real_opt = trainer_mod.train_step, trainer_mod._optimizer_step

    def train_step(network, optim, x, y, *rest):
        batches.append((x, y))
        return real_step(network, optim, x, y, *rest)

    def optimizer_step(network, optim, lr, *rest):
        model = copy.deepcopy(network.model)
        model.zero_grad(set_to_none=True)
        x, y = (torch.cat(t) for t in zip(*batches))
        F.cross_entropy(model(x), y).backward()
        for want, got in zip(model.parameters(), network.model.parameters()):
            torch.testing.assert_close(got.grad, want.grad, rtol=1e-5, atol=1e-7)
        checked.append(len(batches))
        batches.clear()
        real_opt(network, optim, lr, *rest)

    monkeypatch.setattr(trainer_mod, "train_step", train_step)
    monkeypatch.setattr(trainer_mod, "_optimizer_step", optimizer_step)
    cfg = tiny_config(*SGD, "train.epochs=1", "train.accumulate=4")
    train(cfg, tmp_path / "r", quiet=True)
    assert checked == [4, 4, 1]


def test_grad_norms_are_the_accumulated_windows_at_optimizer_steps(tmp_path):
    """batch 60 = batch 15 × 4 accumulated (300 samples: 5 steps per epoch either way): the same training,
    so the same grad_norms.jsonl (it averaged the part-accumulated gradients of every batch: smaller)."""
    track = (*SGD, "train.epochs=2", "train.track_grad_norm=true")
    train(tiny_config(*track, "train.batch_size=60"), tmp_path / "full", quiet=True)
    cfg = tiny_config(*track, "train.batch_size=15", "train.accumulate=4")
    train(cfg, tmp_path / "acc", quiet=True)
    full, acc = _grad_rows(tmp_path / "full"), _grad_rows(tmp_path / "acc")
    assert [r["epoch"] for r in acc] == [1, 2]
    for f, a in zip(full, acc):
        assert a["grad_norm"] == pytest.approx(f["grad_norm"], rel=1e-4)


def test_grad_norms_are_taken_before_clipping(tmp_path):
    """One optimizer step from the same initial weights, with and without train.grad_clip=1e-6: the same
    norms, those the model produced (they were the clipped ones, ~1e-7: a false vanishing gradient)."""
    one_step = (*SGD, "train.epochs=1", "train.batch_size=288", "train.track_grad_norm=true")
    train(tiny_config(*one_step), tmp_path / "free", quiet=True)
    train(tiny_config(*one_step, "train.grad_clip=1e-6"), tmp_path / "clipped", quiet=True)
    [free], [clipped] = _grad_rows(tmp_path / "free"), _grad_rows(tmp_path / "clipped")
    assert clipped["grad_norm"] == pytest.approx(free["grad_norm"], rel=1e-6)
    assert min(clipped["grad_norm"].values()) > 1e-3
