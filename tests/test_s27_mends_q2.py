"""Session 27, mend Q2: what a model declares is read once. A subclass of mlp-scratch's network is built (and
dry-run) as itself; a suite refuses a setting the own step ignores only where set-up does (a run trained
afresh, not one resumed); the texts summary.json's ``scored`` holds are written from the declaration that
reads them back."""

import math
from types import SimpleNamespace

import pytest
import torch
import yaml

import vislab
from conftest import tiny_base
from vislab.errors import ConfigError
from vislab.models.registry import register_model, unregister_model
from vislab.models.scratch import ScratchMLP
from vislab.training import scoring, setup
from vislab.training.ema import WeightEMA
from vislab.training.rundir import RunDir
from vislab.training.state import LoopState
from vislab.training.summary import SCORED_TEXTS, RunSummary

SGD_MOMENTUM = {"optim.name": "sgd", "optim.momentum": 0.9}


class AdamScratch(ScratchMLP):
    """mlp-scratch's network, trained by torch.optim at every level (a user's subclass)."""

    trained_by = "optimizer"
    plain_sgd = None

    def __init__(self, input_shape: tuple[int, ...], num_classes: int, impl: str = "manual"):
        super().__init__(math.prod(input_shape), [8], num_classes, impl, 0.3)


@pytest.fixture
def adam_scratch():
    register_model("adam-scratch")(AdamScratch)
    yield "adam-scratch"
    unregister_model("adam-scratch")


def _suite(tmp_path, **runs) -> str:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"base": tiny_base(), "runs": runs}, sort_keys=False))
    return str(path)


def test_a_subclass_of_the_scratch_network_dry_runs_as_it_trains(tmp_path, adam_scratch, capsys):
    """Was: the dry run read the subclass as mlp-scratch's manual level and refused the whole suite with
    mlp-scratch's words, though vislab.train trains it with momentum."""
    run = vislab.train(model=adam_scratch, data="digits", data__limit=200, train__epochs=1,
                       out=tmp_path / "run", quiet=True, **SGD_MOMENTUM)  # fmt: skip
    assert run.summary.complete
    spec = _suite(tmp_path, adam={"model.name": adam_scratch, **SGD_MOMENTUM})
    vislab.run_suite(spec, out=tmp_path / "out", dry_run=True, quiet=False)
    said = capsys.readouterr().out
    assert "updates its weights by hand" not in said and "adam: start" in said, said


class _StopAfterOne(vislab.Callback):
    def on_epoch_end(self, row: dict) -> None:
        raise KeyboardInterrupt("enough")


@pytest.mark.filterwarnings("ignore::vislab.Note")  # the older run's notes on optim.*
def test_a_resumed_run_is_not_refused_what_it_started_with(tmp_path, monkeypatch, capsys):
    """A run of mlp-scratch started with train.class_weights (as an older vislab let it) resumes with
    vislab train --resume; was: the suite refused it as a new run."""
    row = {"model.name": "mlp-scratch", "train.class_weights": "balanced", "train.epochs": 2}
    spec = _suite(tmp_path, scratch=row)
    with monkeypatch.context() as older:  # an older vislab: no refusal at set-up
        older.setattr(setup, "check_own_step", lambda cfg, network: None)
        with pytest.raises(KeyboardInterrupt):
            vislab.train(config=tiny_base(), out=tmp_path / "out" / "scratch", quiet=True,
                         callbacks=[_StopAfterOne()], **row)  # fmt: skip
    vislab.run_suite(spec, out=tmp_path / "out", dry_run=True, quiet=False)
    said = capsys.readouterr().out
    assert "scratch: resume" in said and "updates its weights by hand" not in said, said
    # a new run of it is still refused, as its set-up refuses it
    with pytest.raises(ConfigError, match="updates its weights by hand"):
        vislab.run_suite(spec, out=tmp_path / "new", dry_run=True, quiet=False)


def _scored(run: RunDir, monkeypatch, best: bool, fitted: bool, ema: bool) -> str:
    """The ``scored`` text scoring.load_scored writes for a run with(out) best.pt, fitted, with train.ema."""
    model = torch.nn.Linear(2, 2)
    run.ckpt_dir.mkdir(parents=True)
    if best:  # best.pt of epoch 3, as load_checkpoint reads it
        (run.ckpt_dir / "best.pt").touch()
        held = SimpleNamespace(state_dict=model.state_dict(), epoch=3)
        monkeypatch.setattr(scoring, "load_checkpoint", lambda path: held)
    loop = LoopState(epoch=4, best_epoch=3)
    return scoring.load_scored(
        run, model, fitted, loop, WeightEMA(model, 0.9) if ema else None
    ).said


@pytest.mark.parametrize(
    ("best", "fitted", "ema", "file"),
    [
        (True, False, False, "best.pt"),
        (True, True, False, "best.pt"),
        (False, False, False, "last.pt"),
        (False, False, True, "last.pt"),
    ],
)
def test_every_scored_text_is_read_back_to_its_file(tmp_path, monkeypatch, best, fitted, ema, file):
    """Every text scoring.py writes names the file it scored (was: parsed by literal prefixes, so a
    reworded text made scored_file() None)."""
    said = _scored(RunDir(tmp_path / "run"), monkeypatch, best, fitted, ema)
    assert RunSummary(status="complete", scored=said).scored_file() == file, said


def test_each_declared_text_names_its_own_file():
    for text in SCORED_TEXTS:
        summary = RunSummary(status="complete", scored=text.said(7))
        assert summary.scored_file() == text.file, text
