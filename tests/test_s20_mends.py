"""Session 20's mends of what earlier sessions left open."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
import torch.nn as nn

import vislab
from conftest import cli, tiny_config
from figures_skipped import skip_report_figures
from fixtures import write_image_folder
from vislab.data.sources import memory
from vislab.errors import ConfigError, DataError, TrainingDiverged
from vislab.models.registry import MODEL_PREFIXES
from vislab.training.trainer import train


def test_python_says_an_option_of_no_model_given_as_the_command_does(tmp_path):
    """Before: vislab.train(model__hidden=[8]) said "model 'cnn' has no option", naming a model the
    user never chose; the command said no model.name was given. Now both say so, before any folder."""
    with pytest.raises(ConfigError) as e:
        vislab.train(data="digits", model__hidden=[8], out=tmp_path / "run")
    said = str(e.value)
    assert "vislab.train arguments" in said and "no model.name was given" in said
    assert "model=" in said  # the fix in Python's words
    assert not (tmp_path / "run").exists()
    with pytest.raises(ConfigError, match="Did you mean 'model.dropout'"):  # a typo: corrected
        vislab.train(data="digits", model__dropuot=0.1, out=tmp_path / "run")


class _StopAfterFirstEpoch(vislab.Callback):
    def on_epoch_end(self, row):
        raise KeyboardInterrupt  # a user's Ctrl-C, in the run's first epoch's end


@pytest.mark.filterwarnings("ignore::vislab.errors.Note")
def test_a_run_stopped_before_its_first_summary_keeps_where_its_weights_came_from(tmp_path):
    """Before: a run from another's weights stopped before it was scored wrote a summary.json without
    ``init``, and its resume lost ``init.init_from`` for good. Now every checkpoint records it."""
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (48, 8, 8), dtype=np.uint8), np.arange(48) % 2
    kw = dict(data=(x, y, ["a", "b"]), train__batch_size=16, train__figures=False)
    source = vislab.train(
        model="mlp", model__hidden=[8], train__epochs=1, out=tmp_path / "src", **kw
    )
    out = tmp_path / "tuned"
    with pytest.raises(KeyboardInterrupt):
        vislab.train(
            model="mlp", model__hidden=[8], train__epochs=2, train__init_from=str(source.path),
            out=out, callbacks=[_StopAfterFirstEpoch()], **kw,
        )  # fmt: skip
    assert json.loads((out / "summary.json").read_text())["status"] == "interrupted"
    vislab.train(out=out, resume=True)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete"
    assert summary["init"]["init_from"]["source"] == str(source.path)


@pytest.mark.filterwarnings("ignore::vislab.errors.Note")
def test_a_resumed_run_with_its_own_head_rate_trains_as_one_never_stopped(tmp_path):
    """optim.head_lr's parameter groups after train.init_from come back from last.pt as they were: a
    run stopped after epoch 1 and resumed trains on exactly as the same run uninterrupted."""
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (48, 8, 8), dtype=np.uint8), np.arange(48) % 2
    kw = dict(data=(x, y, ["a", "b"]), train__batch_size=16, train__figures=False, train__threads=1)
    kw |= dict(model="cnn", model__widths=[4, 8])
    source = vislab.train(train__epochs=1, out=tmp_path / "src", **kw)
    kw |= dict(train__epochs=3, train__init_from=str(source.path), optim__head_lr=0.01)
    whole = vislab.train(schedule__name="cosine", out=tmp_path / "whole", **kw)
    with pytest.raises(KeyboardInterrupt):
        vislab.train(
            schedule__name="cosine", out=tmp_path / "b", callbacks=[_StopAfterFirstEpoch()], **kw
        )
    resumed = vislab.train(out=tmp_path / "b", resume=True)
    assert list(resumed.history["train_loss"]) == list(whole.history["train_loss"])
    assert list(resumed.history["lr"]) == list(whole.history["lr"])
    assert resumed.summary["test_acc"] == whole.summary["test_acc"]


class _Flat(nn.Module):
    def __init__(self, num_classes: int):
        super().__init__()
        self.fc = nn.Sequential(
            nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, num_classes)
        )

    def forward(self, x):
        return self.fc(x)


def test_a_timm_model_that_diverges_is_not_told_to_check_its_forward(tmp_path, monkeypatch):
    """Before: a timm model's NaN loss ended "check the forward of model 'timm:…'", as for the user's
    own code; a family vislab wraps is not the user's to check. A file's model still is told so."""
    monkeypatch.setitem(MODEL_PREFIXES, "timm", lambda name, shape, n, **kw: _Flat(n))
    huge = ("optim.name=sgd", "optim.lr=1e20")
    with pytest.raises(TrainingDiverged) as e:
        train(tiny_config("model.name=timm:stand_in", *huge), tmp_path / "timm", quiet=True)
    assert "first epoch" in str(e.value) and "check the forward" not in str(e.value)
    (tmp_path / "net.py").write_text(
        "import torch.nn as nn\n\nclass Net(nn.Module):\n    def __init__(self, num_classes):\n"
        "        super().__init__()\n        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), "
        "nn.ReLU(), nn.Linear(16, num_classes))\n\n    def forward(self, x):\n        return self.fc(x)\n"
    )
    own = f"model.name={tmp_path / 'net.py'}:Net"
    with pytest.raises(TrainingDiverged, match="check the forward of model"):
        train(tiny_config(own, *huge), tmp_path / "own", quiet=True)


@pytest.mark.filterwarnings("ignore::vislab.errors.Note")
def test_eval_reads_the_data_where_a_resume_moved_it(tmp_path, capsys):
    """Before: after `vislab train --resume RUN --set data.root=NEW` (the data moved), eval of best.pt, written
    before the move, read the old root: "data.root '…/a' is not a folder". Now the run's config.yaml says
    where its data is; the scores are the run's own."""
    write_image_folder(tmp_path / "a", per_class=10, seed=1)
    kw = dict(model="cnn", model__widths=[4], model__fc=[8], data__image_size=12)
    kw |= dict(train__batch_size=8, train__figures=False, train__threads=1)
    vislab.train(
        data="folder", data__root=str(tmp_path / "a"), out=tmp_path / "run", train__epochs=1, **kw
    )
    (tmp_path / "a").rename(tmp_path / "b")
    run = vislab.train(out=tmp_path / "run", resume=True, epochs=2, data__root=str(tmp_path / "b"))
    assert run.evaluate()["acc"] == pytest.approx(run.summary["test_acc"])
    code, text = cli(capsys, "eval", tmp_path / "run")
    assert code == 0 and "is not a folder" not in text, text


class _Pairs(torch.utils.data.Dataset):
    """A torch Dataset of (C×H×W float image, label) pairs, as torchvision's give them."""

    def __init__(self):
        g = torch.Generator().manual_seed(0)
        self.x, self.classes = torch.rand(40, 1, 8, 8, generator=g), ["a", "b"]

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], i % 2


@pytest.mark.filterwarnings("ignore::vislab.errors.Note")
def test_a_run_of_a_torch_dataset_is_evaluated_again_once_the_dataset_is_registered(tmp_path):
    """Before: the message said "register the same arrays again first: vislab.register_arrays(x, y,
    name=...)", and register_arrays(dataset, name=...) was refused. Now it takes the Dataset."""
    kw = dict(model="mlp", model__hidden=[8], train__epochs=1, train__batch_size=8)
    run = vislab.train(data=_Pairs(), out=tmp_path / "run", train__figures=False, **kw)
    name = run.config.data.name.split(":", 1)[1]
    memory._REGISTERED.pop(name)  # as a new process finds it: not registered
    with pytest.raises(DataError, match="register_arrays\\(dataset, name="):
        vislab.load_run(tmp_path / "run").evaluate()
    assert vislab.register_arrays(_Pairs(), name=name) == f"memory:{name}"
    acc = vislab.load_run(tmp_path / "run").evaluate()["acc"]
    assert acc == pytest.approx(run.summary["test_acc"])


def test_a_circles_run_is_started_over_by_overwrite(tmp_path, capsys):
    """Before: its checkpoints/boundary_epochs.npz (the boundary at each evaluation) was not counted as
    vislab's file: `vislab train --overwrite` refused every circles run, the mlp-basics suite's too."""
    sets = ("--set", "data.name=circles", "--set", "data.n_samples=120", "--set", "model.name=mlp")
    sets += ("--set", "model.hidden=[4]", "--set", "train.epochs=1", "--quiet")
    assert cli(capsys, "train", *sets, "--out", tmp_path / "c")[0] == 0
    assert (tmp_path / "c" / "checkpoints" / "boundary_epochs.npz").is_file()
    code, text = cli(capsys, "train", *sets, "--out", tmp_path / "c", "--overwrite")
    assert code == 0, text


def test_a_run_reported_on_its_own_is_started_over_by_overwrite(tmp_path, capsys, monkeypatch):
    """Before: `vislab report RUN` drew figures/curves_report.png into the run, which --overwrite then
    took for a file of the user's and refused to start the run over."""
    skip_report_figures(monkeypatch, keep=("curves",))  # the figure in the way before
    sets = ("--set", "data.name=circles", "--set", "data.n_samples=120", "--set", "model.name=mlp")
    sets += ("--set", "model.hidden=[4]", "--set", "train.epochs=1", "--quiet")
    assert cli(capsys, "train", *sets, "--out", tmp_path / "c")[0] == 0
    assert cli(capsys, "report", tmp_path / "c")[0] == 0
    assert (tmp_path / "c" / "figures" / "curves_report.png").is_file()
    code, text = cli(capsys, "train", *sets, "--out", tmp_path / "c", "--overwrite")
    assert code == 0, text


@pytest.mark.filterwarnings("ignore::vislab.errors.Note")
def test_a_cell_run_again_keeps_where_a_plain_resume_moved_its_data(tmp_path):
    """After `vislab.train(out=o, resume=True, data__root=NEW)` (the data moved), the notebook's cell run
    again with resume=True (its model and data again, no data__root) reset data.root to the default: the
    run looked for its data where it no longer is. Where and how it ran is now the run's own."""
    write_image_folder(tmp_path / "a", per_class=10, seed=1)
    cell = dict(model="cnn", model__widths=[4], model__fc=[8], data="folder", data__image_size=12)
    cell |= dict(data__root=str(tmp_path / "a"), train__batch_size=8, train__figures=False)
    vislab.train(out=tmp_path / "run", epochs=1, **cell)
    (tmp_path / "a").rename(tmp_path / "b")
    vislab.train(out=tmp_path / "run", resume=True, epochs=2, data__root=str(tmp_path / "b"))
    del cell["data__root"]  # the cell as first written, run again
    run = vislab.train(out=tmp_path / "run", resume=True, epochs=3, **cell)
    assert run.config.data.root == str(tmp_path / "b") and run.summary["epochs_run"] == 3


def test_a_rebuilt_report_keeps_a_figure_the_user_saved_in_its_folder(
    tmp_path, capsys, monkeypatch
):
    """Before: each build deleted every PNG of the report's figures/ it did not draw, a figure the user
    saved there too. Now it deletes only what the earlier build drew (figures/.drawn.json)."""
    # one figure of each run suffices
    skip_report_figures(monkeypatch, keep=("curves", "confusion_"))
    for name, lr in (("a", "0.01"), ("b", "0.05")):
        cfg = tiny_config("train.epochs=1", "train.figures=false", f"optim.lr={lr}")
        train(cfg, tmp_path / "runs" / name, quiet=True)
    assert cli(capsys, "report", tmp_path / "runs")[0] == 0
    figures = tmp_path / "runs" / "figures"
    (figures / "my_figure.png").write_bytes(b"the user's")
    drawn_of_b = {p.name for p in figures.glob("*_b.png")}
    assert drawn_of_b  # b's own figures
    shutil.rmtree(tmp_path / "runs" / "b")
    assert cli(capsys, "report", tmp_path / "runs")[0] == 0
    assert (figures / "my_figure.png").read_bytes() == b"the user's"
    assert not any((figures / name).exists() for name in drawn_of_b)  # gone with its run
