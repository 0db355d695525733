"""The trainer: run directory contract, determinism, best/last checkpoints, resume, early stop, NaN."""

import json
import os
import signal

import numpy as np
import pytest
import torch

from conftest import tiny_config
from vislab.config import ScheduleConfig
from vislab.errors import TrainingDiverged, TrainingInterrupted, UserError
from vislab.training.checkpoint import load_checkpoint
from vislab.training.optim import lr_factor
from vislab.training.state import Callback
from vislab.training.trainer import train


def raw_checkpoint(path):
    """A checkpoint file's contents as saved (the on-disk dict)."""
    return load_checkpoint(path).to_dict()


CONTRACT = [
    "val_acc",
    "val_pacc",
    "test_acc",
    "test_pacc",
    "train_time_s",
    "test_time_s",
    "best_epoch",
    "params",
]


def weights(run_dir, name="last.pt"):
    return raw_checkpoint(run_dir / "checkpoints" / name)["state_dict"]


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_run_directory_contract(tmp_path):
    s = train(
        tiny_config("train.epochs=3", "train.figures=true"), tmp_path / "run", quiet=True
    ).to_json()
    run = tmp_path / "run"
    for f in (
        "config.yaml",
        "metrics.jsonl",
        "summary.json",
        "checkpoints/best.pt",
        "checkpoints/last.pt",
        "figures/curves.png",
        "figures/confusion_test.png",
        "predictions_test.npz",
    ):
        assert (run / f).is_file(), f
    summary = json.loads((run / "summary.json").read_text())
    assert all(k in summary for k in CONTRACT) and summary == s
    # where the process's time went, beside training: set-up, final evaluation, figures
    assert all(summary[k] > 0 for k in ("setup_s", "train_time_s", "eval_s", "figures_s"))
    assert summary["status"] == "complete" and summary["params"] == 64 * 32 + 32 + 32 * 10 + 10
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    # the best epoch's, for the gap
    assert summary["train_acc"] == rows[summary["best_epoch"] - 1]["train_acc"]
    for r in rows:
        assert {
            "train_loss",
            "train_acc",
            "val_loss",
            "val_acc",
            "val_pacc",
            "val_per_class",
            "lr",
            "seconds",
        } <= set(r)
    assert summary["test_acc"] > 0.5  # 10 classes: far above chance after 3 epochs
    assert (
        "torch" in summary["versions"] and summary["device"] == "cpu" and summary["peak_rss_mb"] > 0
    )
    ckpt = raw_checkpoint(run / "checkpoints" / "best.pt")
    for key in (
        "model_name",
        "model_kwargs",
        "state_dict",
        "preprocess",
        "class_names",
        "config",
        "vislab_version",
    ):
        assert key in ckpt


def test_a_run_without_figures_writes_everything_else(tmp_path):
    s = train(tiny_config("train.figures=false"), tmp_path / "run", quiet=True).to_json()
    run = tmp_path / "run"
    assert not list(run.glob("figures/*.png"))
    assert "figures_s" not in s and s["status"] == "complete"
    for f in ("summary.json", "metrics.jsonl", "checkpoints/best.pt", "predictions_test.npz"):
        assert (run / f).is_file(), f


def test_best_checkpoint_is_the_best_val_pacc_epoch(tmp_path):
    s = train(tiny_config("train.epochs=4", "optim.lr=0.03"), tmp_path / "r", quiet=True).to_json()
    rows = [
        json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()
    ]
    best = max(rows, key=lambda r: r["val_pacc"])
    assert s["best_epoch"] == best["epoch"]
    assert raw_checkpoint(tmp_path / "r" / "checkpoints" / "best.pt")["epoch"] == best["epoch"]
    assert s["val_pacc"] == pytest.approx(best["val_pacc"])


def test_same_seed_same_numbers_on_cpu(tmp_path):
    # without figures/ (drawn after training, from its numbers; most of a tiny run's time): not compared
    over = (
        "augment.crop.p=0.5",
        "augment.crop.padding=1",
        "model.dropout=0.2",
        "train.figures=false",
    )
    a = train(tiny_config(*over), tmp_path / "a", quiet=True).to_json()
    b = train(tiny_config(*over), tmp_path / "b", quiet=True).to_json()
    train(tiny_config(*over, "train.seed=1"), tmp_path / "c", quiet=True)
    keys = ["val_acc", "val_pacc", "test_acc", "test_pacc", "val_loss", "test_loss", "best_epoch"]
    assert [a[k] for k in keys] == [b[k] for k in keys]
    assert same_weights(weights(tmp_path / "a"), weights(tmp_path / "b"))
    assert not same_weights(weights(tmp_path / "a"), weights(tmp_path / "c"))


class SignalAt(Callback):
    """Send ourselves SIGTERM after a given epoch (as a user's `kill` would)."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, row):
        if row["epoch"] == self.epoch:
            os.kill(os.getpid(), signal.SIGTERM)


@pytest.mark.parametrize("stop_after, eval_at_start", [(1, False), (2, True)])
def test_killed_and_resumed_run_matches_uninterrupted(tmp_path, stop_after, eval_at_start):
    over = (
        "train.epochs=3",
        "augment.crop.p=0.7",
        "augment.crop.padding=1",
        "augment.hflip.p=0.5",
        "model.dropout=0.3",
        "schedule.name=cosine",
        "optim.name=sgd",
        "optim.lr=0.05",
        "optim.momentum=0.9",
        f"train.eval_at_start={str(eval_at_start).lower()}",
        # no figures/ (drawn after training; not compared here): a resume that draws them is
        # test_resume.py's (KILL_ARGS)
        "train.figures=false",
    )
    ref = train(tiny_config(*over), tmp_path / "ref", quiet=True).to_json()
    with pytest.raises(TrainingInterrupted, match="--resume"):
        train(tiny_config(*over), tmp_path / "cut", quiet=True, callbacks=[SignalAt(stop_after)])
    status = json.loads((tmp_path / "cut" / "summary.json").read_text())
    assert status["status"] == "interrupted"
    ck = raw_checkpoint(tmp_path / "cut" / "checkpoints" / "last.pt")
    # stopped one step into the next epoch
    assert ck["state"]["epoch"] == stop_after and ck["state"]["step"] == 1
    # config comes from the checkpoint
    resumed = train(tiny_config(), tmp_path / "cut", resume=True, quiet=True).to_json()
    for k in (
        "val_acc",
        "val_pacc",
        "test_acc",
        "test_pacc",
        "val_loss",
        "test_loss",
        "best_epoch",
    ):
        assert resumed[k] == ref[k], k
    assert same_weights(weights(tmp_path / "ref"), weights(tmp_path / "cut"))
    rows = lambda d: [json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()]  # noqa: E731
    strip = lambda rs: [{k: v for k, v in r.items() if k != "seconds"} for r in rs]  # noqa: E731
    assert strip(rows(tmp_path / "ref")) == strip(rows(tmp_path / "cut"))


def test_eval_at_start_scores_the_untrained_model_and_changes_nothing_else(tmp_path):
    from vislab.data import prepare_data
    from vislab.data.loader import DeviceLoader
    from vislab.models import build_model
    from vislab.training.evaluate import evaluate

    # without figures/ (drawn after training, from its numbers): not compared
    over = (
        "augment.crop.p=0.5",
        "augment.crop.padding=1",
        "model.dropout=0.2",
        "optim.lr=0.01",
        "train.figures=false",
    )
    plain = train(tiny_config(*over), tmp_path / "plain", quiet=True).to_json()
    start = train(
        tiny_config(*over, "train.eval_at_start=true"), tmp_path / "start", quiet=True
    ).to_json()

    def rows(d):
        return [
            {k: v for k, v in json.loads(x).items() if k != "seconds"}  # noqa: E731
            for x in (d / "metrics.jsonl").read_text().splitlines()
        ]

    first, *rest = rows(tmp_path / "start")
    assert first["epoch"] == 0 and rest == rows(tmp_path / "plain")  # training itself is untouched
    assert all(start[k] == plain[k] for k in ("val_acc", "test_acc", "best_epoch"))
    # row 0 = the freshly initialised model, scored on val and on the (unaugmented) train images epoch 1
    # trains on: drop_last leaves the last partial batch out of both
    cfg = tiny_config(*over)
    splits, stats = prepare_data(cfg.data, cfg.train.seed)
    torch.manual_seed(cfg.train.seed)
    model = build_model(
        cfg.model.name, splits.sample_shape, splits.num_classes, **cfg.model.kwargs()
    )
    val = evaluate(model, DeviceLoader(splits.val, stats, 1000), splits.num_classes)
    bs = cfg.train.batch_size
    epoch1 = DeviceLoader(
        splits.train, stats, bs, shuffle=True, drop_last=True, seed=cfg.train.seed
    )
    seen = epoch1.order(0)[: len(epoch1) * bs]
    assert 0 < len(splits.train) - len(seen) < bs
    tr = evaluate(model, epoch1.unaugmented(1000, seen), splits.num_classes)
    assert (first["val_acc"], first["train_acc"]) == (val.acc, tr.acc)
    assert first["val_loss"] == pytest.approx(val.loss) and first["train_loss"] == pytest.approx(
        tr.loss
    )
    assert first["train_acc"] < 0.5 < rest[-1]["train_acc"]  # untrained: near chance (10 classes)


def test_existing_run_is_not_overwritten(tmp_path):
    # a run is recognised by its checkpoints/last.pt, not its figures/ (left out: most of its time)
    once = ("train.epochs=1", "train.figures=false")
    train(tiny_config(*once), tmp_path / "r", quiet=True)
    with pytest.raises(UserError, match="--resume"):
        train(tiny_config(*once), tmp_path / "r", quiet=True)
    with pytest.raises(UserError, match="nothing to resume"):
        train(tiny_config(), tmp_path / "empty", resume=True, quiet=True)


def test_early_stopping(tmp_path):
    # lr 0 → val never improves after the first evaluation → stops after 1 + patience epochs
    s = train(
        tiny_config("train.epochs=10", "train.early_stop=2", "optim.lr=1e-12"),
        tmp_path / "r",
        quiet=True,
    ).to_json()
    assert s["epochs_run"] == 3 and s["best_epoch"] == 1


def test_nan_loss_stops_with_message_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    from vislab.training.parts import Optimisation

    class PoisonAfterEpoch1(Callback):  # from epoch 2 on, the loss is NaN (as with a diverging lr)
        def on_epoch_end(self, row):
            nan_loss = lambda _, logits, y: logits.sum() * float("nan")  # noqa: E731
            monkeypatch.setattr(Optimisation, "loss", nan_loss)

    with pytest.raises(TrainingDiverged, match="optim.lr") as e:
        train(
            tiny_config("train.epochs=3"),
            tmp_path / "r",
            quiet=True,
            callbacks=[PoisonAfterEpoch1()],
        )
    assert "epoch 2" in str(e.value) and "last.pt" in str(e.value)
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["status"] == "diverged"
    kept = raw_checkpoint(tmp_path / "r" / "checkpoints" / "last.pt")
    assert kept["state"]["epoch"] == 1  # the last good checkpoint, all finite
    assert all(torch.isfinite(v).all() for v in kept["state_dict"].values())


def test_huge_lr_diverges_in_first_epoch(tmp_path):
    with pytest.raises(TrainingDiverged, match="first epoch"):
        train(tiny_config("optim.name=sgd", "optim.lr=1e12"), tmp_path / "r", quiet=True)


def test_majority_baseline(tmp_path):
    s = train(tiny_config("model.name=majority"), tmp_path / "m", quiet=True).to_json()
    assert s["test_pacc"] == pytest.approx(0.1)
    assert s["best_epoch"] == 1 and s["params"] == 10
    from vislab.data import prepare_data

    cfg = tiny_config()
    y = prepare_data(cfg.data, cfg.train.seed)[0].train.y
    # the majority class's share of train
    assert s["train_acc"] == pytest.approx(np.bincount(y).max() / len(y))
    rows = [
        json.loads(line) for line in (tmp_path / "m" / "metrics.jsonl").read_text().splitlines()
    ]
    assert [r["epoch"] for r in rows] == [1] and rows[0]["val_acc"] == pytest.approx(s["val_acc"])


@pytest.mark.parametrize(
    "name, expect",
    [
        ("none", [1, 1, 1, 1]),
        ("exponential", [1, 1, 0.5, 0.5]),
        ("step", [1, 1, 1, 1]),
    ],
)
def test_schedules_per_epoch(name, expect):
    cfg = ScheduleConfig(name=name, gamma=0.5, step_size=5)
    got = [lr_factor(cfg, step, steps_per_epoch=2, total_steps=8) for step in (0, 1, 2, 3)]
    assert got == pytest.approx(expect)


def test_cosine_warmup_and_onecycle_shapes():
    cos = ScheduleConfig(name="cosine", warmup_epochs=1)
    f = [lr_factor(cos, s, 10, 100) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[10:], f[11:])) and f[-1] < 0.01
    one = ScheduleConfig(name="onecycle")
    g = [lr_factor(one, s, 10, 100) for s in range(100)]
    peak = max(range(100), key=g.__getitem__)
    assert 20 <= peak <= 30 and g[0] < 0.1 and g[-1] < 0.01
