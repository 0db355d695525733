"""A review's findings: a run's last-checkpoint exports are vislab's own files (--overwrite deletes them);
a suite's run or a sweep's trial whose files were lost gets a fix that works for it; a resumed run keeps
what train.init_from recorded; no train.init_head=keep hint where the head cannot fit; only the first conv
is adapted to other colours; a suite's dry run names train.init_from as a suite file sets it."""

from __future__ import annotations

import json
import re
import shutil
import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn
import yaml

import vislab
from conftest import cli, one_line, tiny_base
from vislab.api.folders import foreign_entries
from vislab.errors import Note
from vislab.models.weights import load_fitting

LAST_EXPORTS = ("model_last.onnx", "model_last.json", "model_last.torchscript.pt")


# ------------------------------------------------------------------- 1. exports of checkpoints/last.pt
def test_overwrite_deletes_the_exports_of_the_last_checkpoint(trained, tmp_path, capsys):
    """`vislab export RUN --checkpoint last` writes export/model_last.*: a later --overwrite of the run
    (and of a suite holding it) takes them as vislab's, while a user's own file there still blocks it."""
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    (run / "export").mkdir()
    for name in (*LAST_EXPORTS, "model_last.torchscript.json"):
        (run / "export" / name).write_bytes(b"x")
    suite = tmp_path / "suite"
    (suite / "a").mkdir(parents=True)
    (suite / "suite.json").write_text("{}")
    shutil.copytree(run, suite / "a", dirs_exist_ok=True)
    assert foreign_entries(suite, "suite") == []
    (run / "export" / "my_model_last.onnx").write_bytes(
        b"x"
    )  # the user's: no broad pattern takes it
    assert foreign_entries(run, "run") == [run / "export" / "my_model_last.onnx"]
    (run / "export" / "my_model_last.onnx").unlink()
    code, out = cli(capsys, "train", "--config", run / "config.yaml", "--out", run, "--overwrite")
    assert code == 0, out
    assert not (run / "export").exists()


# --------------------------------------------------------------------------- 2. files lost, by kind
def _lose_files(run) -> None:
    (run / "summary.json").unlink()
    shutil.rmtree(run / "checkpoints")


def test_a_suite_run_whose_files_were_lost_is_told_to_run_its_suite_again(
    tmp_path, capsys, monkeypatch
):
    """A suite folder copied in part: compare's fix is the suite run again (not a train --out inside the
    suite, which train refuses), and that command trains the run anew."""
    monkeypatch.chdir(tmp_path)
    spec = {"base": tiny_base(), "runs": {"a": {}, "b": {"model.name": "majority"}}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    code, out = cli(
        capsys, "suite", "s.yaml", "--out", "S", "--set", "train.threads=1", "--no-report"
    )
    assert code == 0, out
    shutil.copytree("S", "S4c")
    _lose_files(tmp_path / "S4c" / "a")
    code, out = cli(capsys, "compare", "S4c")
    said = one_line(out)
    assert "--overwrite" not in said, said
    fix = re.search(r"vislab suite (s\.yaml --out S4c --set train\.threads=1) \(", said)
    assert fix, said
    code, out = cli(capsys, "suite", *fix.group(1).split(), "--no-report")
    assert code == 0, out
    assert json.loads((tmp_path / "S4c" / "a" / "summary.json").read_text())["status"] == "complete"


def test_a_sweep_trial_whose_files_were_lost_is_told_to_train_outside_the_sweep(
    trained, tmp_path, capsys
):
    """A sweep's trial (which its sweep run again does not train anew) is trained from its config.yaml in
    a folder outside the sweep, as the message says; a plain run keeps its --overwrite fix."""
    sweep = tmp_path / "W"
    trial = sweep / "trials" / "0"
    shutil.copytree(trained, trial)
    (sweep / "sweep.json").write_text(json.dumps({"kind": "sweep"}))
    _lose_files(trial)
    code, out = cli(capsys, "compare", sweep)
    said = one_line(out)
    assert "--overwrite" not in said and "Copy the whole sweep folder again" in said, said
    fix = re.search(r"vislab train --config (\S+) --out (\S+) \(", said)
    assert fix and fix.group(2) == f"{sweep}-0", said
    code, out = cli(capsys, "train", "--config", fix.group(1), "--out", fix.group(2))
    assert code == 0, out
    plain = tmp_path / "plain"
    shutil.copytree(trained, plain)
    _lose_files(plain)
    code, out = cli(capsys, "compare", plain)
    assert f"--out {plain} --overwrite" in one_line(out)


# -------------------------------------------------------------------------- 3.-5. train.init_from
class Net(nn.Module):
    """Grey 8×8 images; ``width`` channels between the first conv and the second."""

    width = 4

    def __init__(self, num_classes: int, input_shape: tuple[int, ...] = (1, 8, 8)):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(input_shape[0], 4, 3, padding=1), nn.ReLU(),
            nn.Conv2d(4, self.width, 1), nn.ReLU(),
            nn.Conv2d(self.width, 8, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )  # fmt: skip
        self.head = nn.Linear(8, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class Narrow(Net):
    width = 1


class Wide(Net):
    width = 3


def _train(out, names, model=Net, **settings):
    """A 1-epoch run of random grey images into ``out``; (the run, its init Notes)."""
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (60, 8, 8), dtype=np.uint8), np.arange(60) % len(names)
    kw = dict(train__epochs=1, train__batch_size=16, train__figures=False, train__threads=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = vislab.train(model=model, data=(x, y, names), out=out, **kw, **settings)
    notes = [str(w.message) for w in caught if issubclass(w.category, Note)]
    return run, [n for n in notes if "initialised from" in n]


@pytest.mark.filterwarnings("ignore::vislab.errors.Note")
def test_a_resumed_run_keeps_what_its_first_start_loaded(tmp_path):
    """A run from another's weights, trained on (resume, more epochs): summary.json's init still says
    where its weights came from, beside what it froze."""
    source, _ = _train(tmp_path / "src", ["a", "b"])
    out = tmp_path / "frz"
    _train(out, ["a", "b"], train__init_from=str(source.path), train__freeze=["body.0.*"])
    init = json.loads((out / "summary.json").read_text())["init"]
    assert init["init_from"]["source"] == str(source.path) and "freeze" in init
    vislab.train(out=out, resume=True, epochs=2)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs_run"] == 2 and summary["init"] == init
    (
        out / "summary.json"
    ).unlink()  # deleted: the checkpoints' record still says where they came from
    vislab.train(out=out, resume=True, epochs=3)
    assert json.loads((out / "summary.json").read_text())["init"] == init


def test_no_keep_hint_where_the_head_cannot_fit(tmp_path):
    """A run of 3 classes from one of 2: the head is re-initialised as shapes differ, said so once, with
    no sentence on the classes nor a train.init_head=keep that could not load it."""
    source, _ = _train(tmp_path / "two", ["one", "zero"])
    _, notes = _train(tmp_path / "three", ["a", "b", "c"], train__init_from=str(source.path))
    assert len(notes) == 1, notes
    assert "re-initialised (shapes differ): head.bias, head.weight" in notes[0]
    assert "classes were" not in notes[0] and "init_head" not in notes[0], notes[0]


def test_only_the_first_conv_is_adapted_to_other_colours(tmp_path):
    """A deeper conv of 1 input channel in the source and 3 here (another width) is re-initialised and
    named, not averaged as if it saw colours; the first conv of RGB filters is still adapted to grey."""
    source, _ = _train(tmp_path / "narrow", ["a", "b"], model=Narrow)
    _, notes = _train(tmp_path / "wide", ["a", "b"], model=Wide, train__init_from=str(source.path))
    assert "adapted" not in notes[0] and "body.4.weight" in notes[0], notes
    model = nn.Sequential(nn.Conv2d(1, 3, 1), nn.Conv2d(3, 8, 1))
    sd = {"0.weight": torch.ones(3, 3, 1, 1), "0.bias": torch.zeros(3)}
    sd |= {"1.weight": torch.ones(8, 1, 1, 1), "1.bias": torch.zeros(8)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        left = load_fitting(model, sd, "weights")
    said = " ".join(str(w.message) for w in caught)
    assert left == ["1.weight"] and "re-initialised 1 " in said and "'0.weight' adapted" in said
    assert torch.equal(model[0].weight, torch.full((3, 1, 1, 1), 3.0))


# ------------------------------------------------------------------------------ 6. a suite's dry run
def test_a_suite_dry_run_names_init_from_as_the_suite_file_sets_it(tmp_path, capsys):
    """A suite run whose train.init_from is missing: the dry run lists it failed, exit 0 (a real run's
    failure is exit 1), the error naming the suite file's key."""
    spec = {"base": tiny_base(), "runs": {"a": {"train.init_from": str(tmp_path / "gone")}}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    code, out = cli(capsys, "suite", tmp_path / "s.yaml", "--out", tmp_path / "S", "--dry-run")
    said = one_line(out)
    assert code == 0 and "a: start, which fails" in said, said
    assert "suite file train.init_from: runs/NAME" in said, said


@pytest.mark.parametrize("kind", ["suite", "sweep"])
def test_a_run_of_a_suite_or_sweep_holds_its_last_exports(tmp_path, kind):
    """The same names in a suite's run and a sweep's trial folder are vislab's."""
    folder = tmp_path / kind
    run = folder / "a" if kind == "suite" else folder / "trials" / "0"
    (run / "export").mkdir(parents=True)
    (run / "config.yaml").write_text("{}")
    (folder / f"{kind}.json").write_text("{}")
    for name in LAST_EXPORTS:
        (run / "export" / name).write_bytes(b"x")
    assert foreign_entries(folder, kind) == []
