"""Ctrl-C while a model is fitted, while the run is scored or its figures drawn: the run stops, keeping what
it wrote (a suite starts no further run, the CLI exits 130); a model returning a tuple in train mode only,
and one with nothing to train, get an error naming the model and the fix instead of a traceback."""

import json
import os
import signal
from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

import vislab
import vislab.plotting.runs as run_plots
from conftest import TINY_DIGITS, cli, one_line
from vislab.errors import ConfigError, TrainingInterrupted, UserCodeError
from vislab.models.baselines import Majority
from vislab.training import scoring as evaluate_module
from vislab.training import trainer
from vislab.training.model_checks import check_output


def ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)  # the trainer's handler takes it (training.state.StopFlag)


def summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


def test_ctrl_c_while_fitting_stops_the_run(tmp_path, monkeypatch):
    real = Majority.fit_arrays

    def fit(self, x, y):
        ctrl_c()  # a fit is not cut short: the stop comes once it returns
        real(self, x, y)

    monkeypatch.setattr(Majority, "fit_arrays", fit)
    out = tmp_path / "run"
    with pytest.raises(TrainingInterrupted) as e:
        vislab.train(model="majority", data="digits", data__limit=100, out=out)
    said = one_line(str(e.value))
    assert "stopped by SIGINT before majority's fit on the train split was saved" in said
    assert "nothing was kept" in said and "without --resume" in said
    assert summary(out)["status"] == "interrupted"
    assert not (out / "checkpoints" / "last.pt").exists()


SUITE = {
    "description": "two fitted baselines",
    "base": {
        "data": {"name": "digits", "limit": 100},
        "train": {"device": "cpu", "figures": False},
    },
    "runs": {
        "first": {"model.name": "majority", "train.figures": True},
        "second": {"model.name": "majority"},
    },
}


def test_ctrl_c_while_figures_are_drawn_keeps_the_scores_and_stops_the_suite(
    tmp_path, capsys, monkeypatch
):
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump(SUITE, sort_keys=False))
    real = run_plots.plot_curves

    def curves(*a, **kw):  # the first figure: drawn, then the signal
        real(*a, **kw)
        ctrl_c()

    monkeypatch.setattr(run_plots, "plot_curves", curves)
    out = tmp_path / "out"
    code, text = cli(capsys, "suite", spec, "--out", out, "-q", "--no-report")
    assert code == 130
    said = one_line(text)
    assert "interrupted:" in said and "while the run's figures were drawn" in said
    # within a suite, the way on is the suite's re-run (not the run's own vislab train --resume)
    assert "not drawn: confusion_test.png" in said and "re-running the suite resumes it" in said
    assert f"vislab train --resume {out / 'first'}" not in said
    first = summary(out / "first")
    # the scores stay written; the run is not complete until its figures are (a resume draws them)
    assert first["status"] == "interrupted" and first["figures_missing"] == ["confusion_test.png"]
    assert first["test_acc"] is not None
    assert (out / "first" / "figures" / "curves.png").is_file()
    assert not (out / "first" / "figures" / "confusion_test.png").exists()
    assert not (out / "second" / "summary.json").exists()  # the suite stopped there

    monkeypatch.setattr(run_plots, "plot_curves", real)
    code, text = cli(capsys, "suite", spec, "--out", out, "-q", "--no-report")
    assert code == 0, text
    first = summary(out / "first")
    assert first["status"] == "complete" and "figures_missing" not in first
    assert (out / "first" / "figures" / "confusion_test.png").is_file()
    assert summary(out / "second")["status"] == "complete"


def test_ctrl_c_while_scoring_without_figures_leaves_it_complete_and_stops(tmp_path, monkeypatch):
    real = evaluate_module.load_scored

    def load_scored(*a, **kw):  # the scoring's first step: it finishes, then the stop
        ctrl_c()
        return real(*a, **kw)

    monkeypatch.setattr(evaluate_module, "load_scored", load_scored)
    out = tmp_path / "run"
    with pytest.raises(TrainingInterrupted, match="the run is complete"):
        vislab.train(**TINY_DIGITS, out=out)
    done = summary(out)
    assert done["status"] == "complete" and done["test_acc"] is not None


def test_ctrl_c_while_a_suite_run_is_scored_keeps_it_complete_and_stops_the_suite(
    tmp_path, capsys, monkeypatch
):
    """The run whose scoring finished is complete in suite.json and in the table (not listed as
    unfinished); the suite starts no further run, and a re-run trains the rest only."""
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump({**SUITE, "runs": {"first": {"model.name": "majority"},
                                                       "second": {"model.name": "majority"}}}))  # fmt: skip
    real = evaluate_module.load_scored

    def load_scored(*a, **kw):
        ctrl_c()
        return real(*a, **kw)

    monkeypatch.setattr(evaluate_module, "load_scored", load_scored)
    out = tmp_path / "out"
    code, text = cli(capsys, "suite", spec, "--out", out, "-q", "--no-report")
    assert code == 130, text
    assert summary(out / "first")["status"] == "complete"
    assert json.loads((out / "suite.json").read_text())["runs"]["first"]["status"] == "complete"
    results = (out / "results.md").read_text()
    assert "| first |" in results and "first:" not in results.split("| first |")[-1], results
    assert not (out / "second" / "summary.json").exists()  # the suite stopped there
    monkeypatch.setattr(evaluate_module, "load_scored", real)
    code, text = cli(capsys, "suite", spec, "--out", out, "-q", "--no-report")
    assert code == 0, text
    assert summary(out / "second")["status"] == "complete"


def test_ctrl_c_in_the_last_evaluation_stops_before_scoring_and_resumes(tmp_path, monkeypatch):
    real = trainer.evaluate_and_checkpoint

    def evaluation(*a, **kw):
        real(*a, **kw)
        ctrl_c()

    monkeypatch.setattr(trainer, "evaluate_and_checkpoint", evaluation)
    out = tmp_path / "run"
    with pytest.raises(TrainingInterrupted) as e:
        vislab.train(**TINY_DIGITS, out=out)
    said = one_line(str(e.value))
    assert "after its last epoch (1), before the run was scored" in said
    assert f"vislab train --resume {out}" in said
    stopped = summary(out)
    assert stopped["status"] == "interrupted" and stopped["epochs_run"] == 1
    assert "test_acc" not in stopped

    monkeypatch.setattr(trainer, "evaluate_and_checkpoint", real)
    done = vislab.train(out=out, resume=True).summary
    assert done["status"] == "complete" and done["epochs_run"] == 1


AUXNET = """
import torch.nn as nn


class AuxNet(nn.Module):
    def __init__(self, num_classes, input_shape):
        super().__init__()
        self.flat = nn.Flatten()
        self.l = nn.Linear(64, num_classes)
        self.aux = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.flat(x)
        if self.training:  # an auxiliary head's output beside the logits, in training only
            return self.l(x), self.aux(x)
        return self.l(x)
"""


def test_a_tuple_returned_in_train_mode_only_is_named(tmp_path, capsys, monkeypatch):
    (tmp_path / "auxnet.py").write_text(AUXNET)
    monkeypatch.chdir(tmp_path)
    code, text = cli(
        capsys, "train", "--out", tmp_path / "run", "--set", "data.name=digits",
        "--set", "data.limit=100", "--set", "model.name=auxnet.py:AuxNet", "--set", "train.epochs=1",
    )  # fmt: skip
    assert code == 2
    said = one_line(text)
    assert "model 'auxnet.py:AuxNet': in train mode" in said
    assert "returned a tuple of 2 (a tensor of shape [2, 10], a tensor of shape [2, 10])" in said
    assert "Make forward return that one tensor in train mode too" in said


class TrainShapeOff(nn.Module):
    """Batch norm and dropout, and logits of the wrong width in train mode only."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Dropout(0.5))

    def forward(self, x):
        out = self.body(x + 1)
        return out if self.training else out[:, :3]


def test_the_train_mode_check_leaves_the_model_and_the_rng_as_they_were():
    model = TrainShapeOff()
    bn = model.body[2]
    stats = (bn.running_mean.clone(), bn.running_var.clone(), bn.num_batches_tracked.clone())
    rng = torch.get_rng_state()
    with pytest.raises(UserCodeError, match="in train mode"):
        check_output(model, "user-TrainShapeOff", (4,), 3, torch.device("cpu"), code=None)
    assert model.training  # its mode restored
    assert torch.equal(bn.running_mean, stats[0]) and torch.equal(bn.running_var, stats[1])
    assert torch.equal(bn.num_batches_tracked, stats[2])
    assert torch.equal(torch.get_rng_state(), rng)


class NoWeights(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.k = num_classes

    def forward(self, x):
        return x.flatten(1)[:, : self.k] * 2.0


def test_no_trainable_parameters_is_a_user_error(tmp_path, capsys):
    with pytest.raises(UserCodeError) as e:
        vislab.train(model=NoWeights, data="digits", data__limit=100, out=tmp_path / "a")
    said = one_line(str(e.value))
    assert "has no parameters to train" in said and "nn.Linear(..., 10)" in said

    with pytest.raises(ConfigError) as e:
        vislab.lr_find(**TINY_DIGITS, train__freeze=["*"], steps=10)
    said = one_line(str(e.value))
    assert "train.freeze=['*'] freezes every parameter of model 'mlp'" in said
    assert "Leave the layers to train out of the patterns" in said

    code, text = cli(capsys, "train", "--out", tmp_path / "b", "--set", "data.name=digits",
                     "--set", "data.limit=100", "--set", "train.freeze=['*']")  # fmt: skip
    assert code == 2 and "freezes every parameter of model" in one_line(text)
    assert not (tmp_path / "b").exists()  # refused before the run folder was made
