"""The per-epoch metrics row (training/history.py ``EpochRow``): metrics.jsonl keeps the keys, their order
and values vislab has always written; callbacks get the same rows as dicts; a model fitted on arrays
writes its row in the same order as a trained one."""

import json

import pytest

from conftest import tiny_config
from vislab.training.state import Callback
from vislab.training.trainer import train

TRAINED = ["epoch", "train_loss", "train_acc", "lr", "seconds"]
VAL = ["val_acc", "val_pacc", "val_top5_acc", "val_loss", "val_per_class"]
TEST = ["test_acc", "test_pacc", "test_top5_acc", "test_loss"]
# a tiny run (eval_at_start, track_test, eval_every=2, 3 epochs), as vislab wrote it before EpochRow
EXPECTED = [
    (TRAINED + VAL + TEST, dict(epoch=0, train_loss=2.3602328, lr=None, val_acc=0.0864198, test_acc=0.0611111)),
    (TRAINED, dict(epoch=1, train_loss=2.3130513, lr=0.001)),
    (TRAINED + VAL + TEST, dict(epoch=2, train_loss=2.1927555, lr=0.001, val_acc=0.3641975, test_acc=0.3333333)),
    (TRAINED + VAL + TEST, dict(epoch=3, train_loss=2.0698076, lr=0.001, val_acc=0.4753086, test_acc=0.55)),
]  # fmt: skip


class Rows(Callback):
    def __init__(self) -> None:
        self.rows: list[dict] = []

    def on_epoch_end(self, row: dict) -> None:
        assert isinstance(row, dict)  # the public API: a plain dict
        self.rows.append(row)


def _lines(run) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_metrics_jsonl_keeps_its_keys_order_and_values(tmp_path):
    told = Rows()
    cfg = tiny_config(
        "train.eval_at_start=true", "train.track_test=true", "train.eval_every=2", "train.epochs=3"
    )
    train(cfg, tmp_path / "run", quiet=True, callbacks=[told])
    rows = _lines(tmp_path / "run")
    assert [list(r) for r in rows] == [keys for keys, _ in EXPECTED]
    for row, (_, values) in zip(rows, EXPECTED):
        assert {k: row[k] for k in values} == pytest.approx(values)
    assert told.rows == rows  # the callbacks' rows are metrics.jsonl's


def test_the_early_stopped_row_says_so_last(tmp_path):
    told = Rows()
    cfg = tiny_config("train.early_stop=1", "train.epochs=8", "optim.lr=0.5")
    train(cfg, tmp_path / "run", quiet=True, callbacks=[told])
    rows = _lines(tmp_path / "run")
    assert rows[-1]["epoch"] < 8 and list(rows[-1])[-1] == "stopped_early"
    assert rows[-1]["stopped_early"] is True and not any("stopped_early" in r for r in rows[:-1])
    assert told.rows == rows


def test_a_fitted_model_writes_its_row_in_the_same_order(tmp_path):
    train(tiny_config("model.name=majority", "train.track_test=true"), tmp_path / "run", quiet=True)
    [row] = _lines(tmp_path / "run")
    # marked as the run's last (no epoch follows: a sweep's pruner never judges it as epoch 1 of many)
    assert list(row) == TRAINED + VAL + TEST + ["fitted"] and row["fitted"] is True
    assert row["lr"] == 0.0 and row["epoch"] == 1


def test_a_stored_row_reads_back_as_it_was_written():
    from vislab.training.history import (
        EpochRow,
    )  # here: the other tests run on vislab before it too

    stored = {"epoch": 2, "train_loss": 0.5, "train_acc": 0.75, "lr": 0.1, "seconds": 1.5,
              "val_acc": 0.5, "val_pacc": 0.4, "val_loss": 0.9, "val_per_class": [0.5, 0.3],
              "stopped_early": True, "later_key": 7}  # fmt: skip
    row = EpochRow.from_json(stored)
    assert row.val_pacc == 0.4 and row.metric("val_loss") == 0.9 and row.stopped_early
    assert row.to_json() == stored and list(row.to_json()) == list(stored)
    # a fitted model's row in an early vislab's last.pt: no train figures, written back without them
    early = {
        "epoch": 1,
        "lr": 0.0,
        "seconds": 0.5,
        "val_acc": 0.5,
        "val_pacc": 0.5,
        "val_per_class": [0.5],
    }
    assert (
        EpochRow.from_json(early).train_loss is None
        and EpochRow.from_json(early).to_json() == early
    )
