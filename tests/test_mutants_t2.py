"""What a user checks of settings that must change a run's numbers: train.tta in `vislab eval`, the last
epoch's evaluation when train.eval_every does not divide train.epochs, train.select_metric=val_pacc,
the majority baseline's class, train.seed in the epoch order and in data.limit's subset, and the N of a
seeded suite's row with a seed not yet trained."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import vislab
import vislab.training.epoch_end as epoch_end
from conftest import cli, tiny_config, tiny_suite
from test_explain_tta import _shifted_forward
from vislab.config import DataConfig
from vislab.data import load_splits
from vislab.data.loader import DeviceLoader
from vislab.data.preprocess import NormStats
from vislab.data.sources import register_source, unregister_source
from vislab.data.tta import TTA
from vislab.data.types import ArraySet, SourceData
from vislab.models.baselines import Majority
from vislab.training.checkpoint import load_checkpoint
from vislab.training.trainer import train


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


# ------------------------------------------------------------------ vislab eval of a train.tta run
def test_eval_of_a_tta_run_scores_with_its_tta_as_summary_json_does(tmp_path, capsys, monkeypatch):
    """A run whose test-time augmentation never predicts the plain pass's class: `vislab eval` scores
    with it, as training did, and prints summary.json's test accuracy."""
    monkeypatch.setattr(TTA, "forward", _shifted_forward)
    run = tmp_path / "run"
    sets = ["model.name=cnn", "model.widths=[8,16]", "model.fc=[16]", "train.epochs=1"]
    sets += ["train.tta=flip", "augment.hflip.p=0.5", "train.figures=false"]
    train(tiny_config(*sets), run, quiet=True)
    code, out = cli(capsys, "eval", run, "--mistakes", "0", "--out", tmp_path / "eval")
    assert code == 0, out
    assert f"test: acc {_summary(run)['test_acc']:.4f}," in out, out


# ------------------------------------------------------- scripted val scores: eval_every, select_metric
@pytest.fixture
def scripted_val(monkeypatch):
    """Each evaluation of val during training scores the next (acc, pacc) of the list it is given."""
    script: list[tuple[float, float]] = []
    real = epoch_end.evaluate

    def scored(*args, **kw):
        acc, pacc = script.pop(0)
        return dataclasses.replace(real(*args, **kw), acc=acc, pacc=pacc)

    monkeypatch.setattr(epoch_end, "evaluate", scored)
    return script


def test_the_last_epoch_is_evaluated_when_eval_every_does_not_divide_epochs(tmp_path, scripted_val):
    """epochs=3, eval_every=2: epochs 2 and 3 are scored on val, epoch 1 is not; epoch 3, the best,
    is best.pt's and summary.json's best epoch."""
    scripted_val += [(0.5, 0.5), (0.9, 0.9)]
    over = ("train.epochs=3", "train.eval_every=2", "train.figures=false")
    summary = train(tiny_config(*over), tmp_path / "r", quiet=True).to_json()
    assert [r.get("val_acc") for r in _rows(tmp_path / "r")] == [None, 0.5, 0.9]
    assert summary["best_epoch"] == 3
    assert load_checkpoint(tmp_path / "r" / "checkpoints" / "best.pt").epoch == 3


@pytest.mark.parametrize(("metric", "best"), [("val_pacc", 2), ("val_acc", 1)])
def test_select_metric_picks_the_epoch_best_by_that_metric(tmp_path, scripted_val, metric, best):
    """Epoch 1: acc 0.9, per-class acc 0.5; epoch 2: acc 0.8, per-class acc 0.7. val_pacc keeps epoch
    2, val_acc epoch 1."""
    scripted_val += [(0.9, 0.5), (0.8, 0.7)]
    over = (f"train.select_metric={metric}", "train.figures=false")
    summary = train(tiny_config(*over), tmp_path / "r", quiet=True).to_json()
    assert summary["best_epoch"] == best
    assert load_checkpoint(tmp_path / "r" / "checkpoints" / "best.pt").epoch == best


# ------------------------------------------------------------------------------ majority baseline
def test_majority_predicts_the_most_frequent_training_class():
    model = Majority(3)
    model.fit_arrays(torch.zeros(5, 4), torch.tensor([0, 0, 0, 1, 2]))
    assert model(torch.zeros(7, 4)).argmax(1).tolist() == [0] * 7


@pytest.fixture
def unbalanced():
    """A registered source with official train, val and test sets where class 1 is the most frequent
    (train: 30, 60 and 10 images of classes 0, 1, 2; test: 5, 12 and 3)."""

    def images(counts: list[int]) -> ArraySet:
        y = np.repeat(np.arange(3), counts)
        return ArraySet(np.random.default_rng(0).integers(0, 256, (len(y), 4, 4, 1), np.uint8), y)

    sets = {"train": images([30, 60, 10]), "val": images([5, 12, 3]), "test": images([5, 12, 3])}
    register_source("t2-unbalanced")(lambda cfg: SourceData(sets, ["a", "b", "c"]))
    yield "t2-unbalanced"
    unregister_source("t2-unbalanced")


def test_a_majority_runs_test_acc_is_the_test_share_of_trains_most_frequent_class(
    tmp_path, unbalanced
):
    """Class 1, train's most frequent, is 12 of the 20 test images: test accuracy 0.6."""
    over = ("model.name=majority", f"data.name={unbalanced}", "data.limit=null")
    summary = train(tiny_config(*over, "train.figures=false"), tmp_path / "r", quiet=True).to_json()
    assert summary["test_acc"] == pytest.approx(0.6)


# --------------------------------------------------------------------------- train.seed draws
def _epoch_orders(seed: int) -> list[list[int]]:
    """The sample order of epochs 0 and 1 of a shuffled loader with ``seed`` (labels = indices)."""
    data = ArraySet(np.zeros((64, 4, 4, 1), np.uint8), np.arange(64))
    ld = DeviceLoader(data, NormStats("none"), batch_size=8, shuffle=True, seed=seed)
    return [torch.cat([y for _, y in ld.epoch(e)]).tolist() for e in (0, 1)]


def test_the_epoch_order_is_drawn_with_the_seed():
    """Equal seeds give equal epoch orders; another seed another order, in every epoch."""
    first, again, other = _epoch_orders(0), _epoch_orders(0), _epoch_orders(1)
    assert first == again
    assert all(a != b for a, b in zip(first, other))


@pytest.fixture
def official_sets():
    """A registered source with official train (100 images, each its index), val and test sets: no
    split depends on the seed but data.limit's subset."""
    x = np.arange(100, dtype=np.uint8).reshape(100, 1, 1, 1).repeat(4, 1).repeat(4, 2)
    sets = {"train": ArraySet(x, np.arange(100) % 2)}
    sets |= {
        k: ArraySet(np.zeros((10, 4, 4, 1), np.uint8), np.arange(10) % 2) for k in ("val", "test")
    }
    register_source("t2-official")(lambda cfg: SourceData(sets, ["even", "odd"]))
    yield "t2-official"
    unregister_source("t2-official")


def test_data_limits_subset_is_drawn_with_the_seed(official_sets):
    """README: train.seed "also draws the split" — data.limit's 20 of the 100 training images too."""
    cfg = DataConfig(name=official_sets, limit=20)

    def subset(seed: int) -> set[int]:
        return set(load_splits(cfg, seed).train.x[:, 0, 0, 0].tolist())

    assert subset(0) == subset(0) and len(subset(0)) == 20
    assert subset(0) != subset(1)


# ----------------------------------------------------------------------------- seeded suite's N
def test_a_seeded_rows_n_counts_only_its_finished_seeds(tmp_path):
    """--seeds 3 with seeds 0 and 1 trained (--only): results.md's row says N 2, and results.csv."""
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump(tiny_suite()))
    out = tmp_path / "out"
    vislab.run_suite(spec, out=out, seeds=3, only=["majority-s0", "majority-s1"], quiet=True)
    assert not (out / "majority-s2" / "summary.json").exists()
    assert "| majority | 2 |" in (out / "results.md").read_text()
    with open(out / "results.csv") as f:
        header, row = f.readline().strip().split(","), f.readline().strip().split(",")
    assert dict(zip(header, row))["seeds"] == "2"
