"""Two training settings the DLVC reports use: ``train.early_stop_metric`` (early stopping on another
metric than the one best.pt keeps, e.g. val_loss while best.pt follows val_pacc) and ``optim.l1`` (an
L1 weight penalty in the training loss)."""

from __future__ import annotations

import contextlib
import dataclasses
import json

import pytest
import torch

import vislab.training.epoch_end as epoch_end_mod
from conftest import cli, one_line, tiny_config
from test_fast import _CountSyncs
from test_resume import sigterm_at_step
from vislab.config import build_config, config_notes
from vislab.data.loader import DeviceLoader
from vislab.errors import TrainingInterrupted
from vislab.training.checkpoint import load_checkpoint
from vislab.training.evaluate import evaluate
from vislab.training.parts import build_optimisation, build_parts
from vislab.training.runtime import Distributed
from vislab.training.trainer import train

# val_pacc rises at every evaluation while val_loss rises too (worse) from the second on
RISING = [(0.5, 1.0), (0.6, 1.1), (0.7, 1.2), (0.8, 1.3), (0.9, 1.4), (0.95, 1.5)]


def _scripted_val(monkeypatch, script: list[tuple[float, float]]) -> None:
    """Each val evaluation of the training loop scores (val_pacc, val_loss) as ``script`` says, in turn
    (the weights trained as usual; a resume goes on with the next)."""
    real, left = evaluate, list(script)

    def scripted(*args, **kwargs):
        pacc, loss = left.pop(0)
        return dataclasses.replace(real(*args, **kwargs), pacc=pacc, loss=loss)

    monkeypatch.setattr(epoch_end_mod, "evaluate", scripted)


def _rows(run) -> list[dict]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("watched", ["val_loss", None])
def test_early_stop_watches_its_own_metric_while_best_pt_keeps_select_metric(
    tmp_path, monkeypatch, capsys, watched
):
    _scripted_val(monkeypatch, RISING)
    over = ["train.epochs=6", "train.early_stop=2"]
    over += [f"train.early_stop_metric={watched}"] if watched else []
    summary = train(tiny_config(*over), tmp_path / "r", quiet=False).to_json()
    said = capsys.readouterr()
    out = one_line(said.out + said.err)
    if watched is None:  # val_pacc, train.select_metric, improves at every evaluation
        assert summary["epochs_run"] == 6 and not summary["stopped_early"]
        return
    # val_loss got worse at evaluations 2 and 3: stopped there; best.pt kept the best val_pacc so far
    assert summary["epochs_run"] == 3 and summary["stopped_early"]
    assert summary["best_epoch"] == 3
    assert [r.get("stopped_early", False) for r in _rows(tmp_path / "r")] == [False, False, True]
    assert (
        "early stop after epoch 3: val_loss did not improve for 2 evaluations (train.early_stop=2)"
        in out
    )


def test_min_delta_applies_to_the_watched_loss_downwards(tmp_path, monkeypatch):
    """val_loss falls by 0.001 an evaluation: no improvement by more than train.min_delta=0.01 (while
    val_pacc, train.select_metric, rises by 0.1)."""
    falling = [(0.4 + i / 10, 1.0 - i / 1000) for i in range(6)]
    _scripted_val(monkeypatch, falling)
    over = ["train.epochs=6", "train.early_stop=2", "train.early_stop_metric=val_loss"]
    summary = train(
        tiny_config(*over, "train.min_delta=0.01"), tmp_path / "a", quiet=True
    ).to_json()
    assert summary["epochs_run"] == 3 and summary["stopped_early"]
    _scripted_val(monkeypatch, falling)
    summary = train(tiny_config(*over), tmp_path / "b", quiet=True).to_json()
    assert summary["epochs_run"] == 6 and not summary["stopped_early"]


def test_a_resumed_run_keeps_counting_on_the_early_stop_metric(tmp_path, monkeypatch):
    """Stopped by a SIGTERM in epoch 3 (after one evaluation where val_loss got worse), then resumed:
    last.pt's count and config go on watching val_loss, so it stops after epoch 3 as the whole run
    does, though val_pacc (train.select_metric) improved all along."""
    over = ("train.epochs=6", "train.early_stop=2", "train.early_stop_metric=val_loss")
    _scripted_val(monkeypatch, RISING)
    whole = train(tiny_config(*over), tmp_path / "whole", quiet=True).to_json()
    _scripted_val(monkeypatch, RISING)
    with (
        sigterm_at_step(monkeypatch, lambda n: 2 * n + n // 2),
        pytest.raises(TrainingInterrupted),
    ):
        train(tiny_config(*over), tmp_path / "cut", quiet=True)
    loop = load_checkpoint(tmp_path / "cut" / "checkpoints" / "last.pt").resume.loop
    assert (loop.epoch, loop.bad_evals) == (2, 1)
    got = train(None, tmp_path / "cut", resume=True, quiet=True).to_json()
    assert (got["epochs_run"], got["stopped_early"], got["best_epoch"]) == (3, True, 3)
    assert got["epochs_run"] == whole["epochs_run"]


def test_early_stop_metric_without_early_stop_is_noted():
    cfg = build_config({}, ["train.early_stop_metric=val_loss"])
    assert config_notes(cfg) == [
        "train.early_stop_metric=val_loss does nothing with train.early_stop=null: it chooses the "
        "metric early stopping watches, and it is off."
    ]
    assert (
        config_notes(build_config({}, ["train.early_stop_metric=val_loss", "train.early_stop=2"]))
        == []
    )


def test_a_misspelled_early_stop_metric_names_the_choices(tmp_path, capsys):
    code, out = cli(
        capsys, "train", "--set", "train.early_stop_metric=loss", "--out", tmp_path / "r"
    )
    assert code != 0 and "Traceback" not in out
    assert "train.early_stop_metric" in out and "val_loss" in out, out


def _loss_of(cfg, x, y) -> tuple[torch.Tensor, dict[str, torch.nn.Parameter]]:
    cpu = torch.device("cpu")
    data, network = build_parts(cfg, cpu, Distributed())
    optim = build_optimisation(cfg, network, cpu, len(data.train))
    return optim.loss(network.model(x), y), dict(network.model.named_parameters())


@pytest.mark.parametrize("decay_bias_norm", [True, False])
def test_l1_adds_lambda_times_the_weights_abs_sum_to_the_loss(decay_bias_norm):
    """optim.l1=λ adds λ·Σ|w| to the training loss, over every weight, or (optim.decay_bias_norm=false)
    over the weights weight decay applies to: not the biases."""
    x, y = torch.randn(8, 64), torch.arange(8) % 10
    norms = f"optim.decay_bias_norm={str(decay_bias_norm).lower()}"
    plain, _ = _loss_of(tiny_config(norms), x, y)
    penalised, params = _loss_of(tiny_config(norms, "optim.l1=0.01"), x, y)
    counted = [p for p in params.values() if decay_bias_norm or p.ndim > 1]
    expected = 0.01 * sum(p.abs().sum() for p in counted)
    assert penalised.item() == pytest.approx(plain.item() + expected.item(), rel=1e-5)


def test_l1_is_in_the_train_loss_not_in_val_loss(tmp_path):
    """At a learning rate too small to move the weights, the train loss of metrics.jsonl rises by λ·Σ|w|
    (the loss minimised, as label smoothing's train loss is the smoothed one); val_loss stays plain."""
    over = ("train.epochs=1", "optim.lr=1e-12", "train.amp=false")
    train(tiny_config(*over), tmp_path / "a", quiet=True)
    train(tiny_config(*over, "optim.l1=0.001"), tmp_path / "b", quiet=True)
    plain, penalised = _rows(tmp_path / "a")[0], _rows(tmp_path / "b")[0]
    weights = load_checkpoint(tmp_path / "b" / "checkpoints" / "last.pt").state_dict
    extra = 0.001 * sum(w.abs().sum().item() for w in weights.values())
    assert penalised["train_loss"] == pytest.approx(plain["train_loss"] + extra, rel=1e-4)
    assert penalised["val_loss"] == pytest.approx(plain["val_loss"], rel=1e-6)


def test_l1_adds_no_host_sync_to_the_step(tmp_path, monkeypatch):
    real_epoch, syncs = DeviceLoader.epoch, _CountSyncs()

    def counted_epoch(self, epoch=0, start_step=0):
        with syncs if self.shuffle else contextlib.nullcontext():  # the train split: the step loop
            yield from real_epoch(self, epoch, start_step)

    monkeypatch.setattr(DeviceLoader, "epoch", counted_epoch)
    train(tiny_config("optim.l1=0.001"), tmp_path / "r", quiet=True)
    assert syncs.count <= 2 * 2  # the epoch-end means of 2 epochs


def test_l1_is_not_used_by_a_fitted_baseline(tmp_path):
    """svm is fitted on arrays, by no optimizer: config.yaml says its optim section, optim.l1 with it,
    is not used."""
    train(tiny_config("model.name=svm", "optim.l1=0.1"), tmp_path / "r", quiet=True)
    text = (tmp_path / "r" / "config.yaml").read_text()
    assert "optim:  # not used: svm is fitted once" in text and "l1: 0.1" in text
