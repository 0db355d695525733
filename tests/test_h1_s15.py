"""A fitted model's one row reaches the callbacks, marked as the run's last (a sweep never prunes it); a
user's model redefined with other layers since its run trained is named, with the parameter that differs,
when the run is resumed or reopened; a run too short for its batch norm's statistics gets a note."""

import json
from pathlib import Path

import pytest
import yaml
from optuna.trial import TrialState

import vislab
from conftest import cli, one_line, tiny_base, tiny_sets
from vislab.errors import UserCodeError
from vislab.experiments.sweeps.attrs import repeats
from vislab.experiments.sweeps.runner import run_sweep
from vislab.experiments.sweeps.spec import load_sweep


class _Rows(vislab.Callback):
    def __init__(self) -> None:
        self.rows: list[dict] = []

    def on_epoch_end(self, row: dict) -> None:
        self.rows.append(row)


def test_a_callback_gets_the_one_row_of_a_fitted_model_marked_as_the_runs_last(tmp_path):
    seen = _Rows()
    config = tiny_base(model={"name": "majority"})
    vislab.train(config, out=tmp_path / "majority", quiet=True, callbacks=[seen])
    written = [json.loads(line) for line in (tmp_path / "majority" / "metrics.jsonl").open()]
    assert seen.rows == written and len(written) == 1
    assert seen.rows[0]["epoch"] == 1 and seen.rows[0]["fitted"] is True


def test_a_sweep_trial_of_the_majority_baseline_is_reported_and_complete_not_pruned(tmp_path):
    """A pruner that stops every trial at epoch 1 of 2: a fitted trial's one row is its last."""
    spec = tmp_path / "s.yaml"
    base = tiny_base(model={"name": "majority"}, train__epochs=2)
    spec.write_text(
        yaml.safe_dump(
            {
                "name": "m",
                "base": base,
                "space": {"data.limit": {"type": "int", "low": 150, "high": 200}},
                "metric": "val_pacc",
                "sampler": "random",
                "pruner": {"name": "halving", "min_resource": 1, "bootstrap_count": 100},
            }
        )
    )
    study = run_sweep(load_sweep(spec), tmp_path / "sw", trials=2, log=lambda s: None)
    ran = [t for t in study.trials if repeats(t) is None]  # a repeat of drawn values is not trained
    assert [t.state for t in ran] == [TrialState.COMPLETE, TrialState.COMPLETE]
    assert all(t.intermediate_values == {1: t.value} for t in ran)


NET = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, num_classes, input_shape):
        super().__init__()
        c, h, w = input_shape
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, WIDTH), nn.ReLU())
        self.head = nn.Linear(WIDTH, num_classes)

    def forward(self, x):
        return self.head(self.body(x))
"""

REDEFINED = "body.1.weight was saved as 16×64, the model now has 24×64"
FIX = "Restore the definition of net.py:Net as it was when the run trained"


@pytest.fixture
def redefined(tmp_path, monkeypatch, capsys) -> Path:
    """A run of ``net.py:Net`` (16 hidden units), the file since edited to 24."""
    monkeypatch.chdir(tmp_path)
    net = tmp_path / "net.py"
    net.write_text(NET.replace("WIDTH", "16"))
    code, _ = cli(capsys, "train", *tiny_sets("model.name=net.py:Net", drop="model.hidden=[32]"),
                  "--out", "runs/a")  # fmt: skip
    assert code == 0
    net.write_text(NET.replace("WIDTH", "24"))
    return tmp_path / "runs" / "a"


def test_resuming_or_evaluating_a_run_whose_file_model_has_other_layers_now_says_which(
    redefined, capsys
):
    before = (redefined / "metrics.jsonl").read_text(), (redefined / "summary.json").read_text()
    for args in (["train", "--resume", "runs/a", "--epochs", "2"], ["eval", "runs/a"]):
        code, text = cli(capsys, *args, "--trust-code")
        text = one_line(text)
        assert code == 2, text
        assert "run 'runs/a'" in text and REDEFINED in text and FIX in text, text
        assert "or train a new run" in text and "size mismatch" not in text, text
    after = (redefined / "metrics.jsonl").read_text(), (redefined / "summary.json").read_text()
    assert after == before


def test_the_python_api_names_the_parameter_too(redefined):
    with pytest.raises(UserCodeError, match=REDEFINED) as resumed:
        vislab.train(out=redefined, resume=True, trust_code=True, epochs=2, quiet=True)
    assert FIX in str(resumed.value)
    with pytest.raises(UserCodeError, match=REDEFINED):
        vislab.load_run(redefined).model(trust_code=True)


@pytest.mark.parametrize(
    "model, batch, noted",
    [
        # 200 images in batches of 64, 1 epoch: 3 batches, where batch norm's statistics need 29
        (
            ["model.name=cnn", "model.batchnorm=true", "model.widths=[4,8]", "model.fc=[16]"],
            64,
            True,
        ),
        (
            ["model.name=cnn", "model.batchnorm=true", "model.widths=[4,8]", "model.fc=[16]"],
            6,
            False,
        ),
        (["model.name=mlp", "model.hidden=[16]"], 64, False),  # no batch norm
    ],
)
def test_a_run_of_too_few_batches_for_its_batch_norm_gets_a_note(
    tmp_path, capsys, model, batch, noted
):
    sets = ["data.name=digits", "data.limit=200", "train.epochs=1", f"train.batch_size={batch}",
            "train.device=cpu", "train.figures=false", *model]  # fmt: skip
    sets = [x for s in sets for x in ("--set", s)]
    code, text = cli(capsys, "train", *sets, "--out", tmp_path / "r")
    text = one_line(text)
    assert code == 0, text
    note = (
        "note: cnn uses batch norm, whose running statistics (what evaluation normalises with) move 0.1 "
        "of the way to each training batch's: they are the train data's only after 29 batches, but "
        "this run trains 3 in all (3 an epoch: 200 train images in batches of train.batch_size=64, 1 "
        "epoch): 73% of them is still their starting values then, so its evaluations may score well "
        "below what its weights can do. Give a smaller train.batch_size (at most 6), more "
        "train.epochs, or more data."
    )
    assert (note in text) == noted and ("batch norm" in text) == noted, text


def test_a_run_initialised_from_a_trained_batch_norm_gets_no_note(tmp_path, capsys):
    """train.init_from copies the running statistics in: they are not at their starting values."""
    sets = ["data.name=digits", "data.limit=200", "train.epochs=1", "train.device=cpu",
            "train.figures=false", "model.name=cnn", "model.batchnorm=true", "model.widths=[4,8]",
            "model.fc=[16]"]  # fmt: skip
    sets = [x for s in sets for x in ("--set", s)]
    code, text = cli(capsys, "train", *sets, "--set", "train.batch_size=6", "--out", tmp_path / "a")
    assert code == 0 and "batch norm" not in text, text
    code, text = cli(
        capsys, "train", *sets, "--set", "train.batch_size=64",
        "--set", f"train.init_from={tmp_path / 'a'}", "--out", tmp_path / "b",
    )  # fmt: skip
    assert code == 0 and "initialised from" in text and "batch norm" not in text, text
