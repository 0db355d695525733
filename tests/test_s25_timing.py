"""The epoch-0 evaluation of ``train.eval_at_start`` gives its seconds (its line, its metrics.jsonl row)."""

from __future__ import annotations

import json
import re
import time

import pytest

import vislab.training.epoch_end as epoch_end
from conftest import cli, tiny_sets

PAUSE = 0.05  # seconds each evaluation of row 0 is made to take, at least


@pytest.fixture
def slow_evaluation(monkeypatch):
    """epoch_end's evaluations, each made to take at least PAUSE seconds longer."""
    real = epoch_end.evaluate

    def slow(*args, **kwargs):
        time.sleep(PAUSE)
        return real(*args, **kwargs)

    monkeypatch.setattr(epoch_end, "evaluate", slow)


def test_the_epoch_zero_evaluation_gives_its_seconds_on_its_line_and_row(
    capsys, tmp_path, slow_evaluation
):
    code, text = cli(
        capsys, "train", "--out", tmp_path / "r", *tiny_sets("train.eval_at_start=true")
    )
    assert code == 0, text
    row0, row1 = (
        json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()
    )
    # row 0 evaluates the train images and val: two evaluations, each PAUSE longer at least
    assert row0["epoch"] == 0 and row0["seconds"] >= 2 * PAUSE, row0
    assert row1["epoch"] == 1 and row1["seconds"] > 0, row1
    (line,) = [x for x in text.splitlines() if x.startswith("epoch 0/1")]
    assert re.search(rf"  {row0['seconds']:.1f}s$", line), line


def test_the_epoch_zero_row_times_the_tracked_test_evaluation_too(
    capsys, tmp_path, slow_evaluation
):
    sets = tiny_sets("train.eval_at_start=true", "train.track_test=true")
    code, text = cli(capsys, "train", "--out", tmp_path / "r", *sets)
    assert code == 0, text
    row0 = json.loads((tmp_path / "r" / "metrics.jsonl").read_text().splitlines()[0])
    assert "test_acc" in row0 and row0["seconds"] >= 3 * PAUSE, row0


def test_the_epochs_evaluations_have_a_time_field_of_their_own(tmp_path, capsys, slow_evaluation):
    """Each epoch's val evaluation (and row 0's) counted in no time field of summary.json, so that
    setup_s + train_time_s + eval_s + figures_s left out every evaluation but the final scoring."""
    over = ("train.epochs=2", "train.eval_at_start=true", "train.figures=false")
    code, text = cli(capsys, "train", *tiny_sets(*over), "--out", str(tmp_path / "r"))
    assert code == 0, text
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    rows = [
        json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()
    ]
    assert summary["epochs_eval_s"] >= 4 * PAUSE  # row 0: train images and val; each epoch: val
    assert summary["epochs_eval_s"] >= rows[0]["seconds"]


def test_a_fitted_models_evaluations_count_in_epochs_eval_s(tmp_path, capsys, monkeypatch):
    """majority's (or svm's) one row evaluates train, val and tracked test, timed into no field."""
    import vislab.training.fitted as fitted

    real = fitted.evaluate

    def slow(*args, **kwargs):
        time.sleep(PAUSE)
        return real(*args, **kwargs)

    monkeypatch.setattr(fitted, "evaluate", slow)
    sets = [*tiny_sets(drop="model.hidden=[32]"), "--set", "model.name=majority"]
    code, text = cli(capsys, "train", "--out", tmp_path / "m", *sets)
    assert code == 0, text
    summary = json.loads((tmp_path / "m" / "summary.json").read_text())
    assert summary["epochs_eval_s"] >= 2 * PAUSE, summary  # the train images and val
