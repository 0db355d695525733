"""Defects a student's session found around models: model info of a model whose forward pass fails at
the shape given (the error names --input / input_shape, not data; an nn.Module object shows the table);
a model of your own that updates its own weights (manual_step) named as you named it, and told that its own
step makes the update; ``train --out`` naming a file."""

from __future__ import annotations

import importlib
import sys

import pytest

import vislab
from conftest import cli, one_line
from vislab.cli import main
from vislab.errors import UserCodeError, UserError
from vislab.models.registry import MODELS, unregister_model

# a Linear sized for 5 features: its forward fails on 1×8×8 images (64 features)
BAD = """
import torch.nn as nn

class BadU1Net(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.fc = nn.Linear(5, num_classes)

    def forward(self, x):
        return self.fc(x.flatten(1))
"""

# a model of the user's that makes its own update (plain SGD here, but vislab cannot know that)
OWN_STEP = """
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from vislab.models.hooks import ModelHooks

class Net(ModelHooks, nn.Module):
    trained_by = "manual_step"

    def __init__(self, input_shape, num_classes):
        super().__init__()
        self.fc = nn.Linear(math.prod(input_shape), num_classes)

    def forward(self, x):
        return self.fc(x.flatten(1))

    def manual_step(self, x, y, lr):
        logits = self(x)
        loss = F.cross_entropy(logits, y)
        self.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in self.parameters():
                p -= lr * p.grad
        return loss.detach(), logits.detach()
"""

CIRCLES = ("data.name=circles", "data.n_samples=200", "train.epochs=1", "train.device=cpu")
CIRCLES += ("train.figures=false", "train.batch_size=60")  # 180 train points: none dropped


def _sets(*assignments: str) -> list[str]:
    return [x for a in assignments for x in ("--set", a)]


@pytest.fixture
def bad_net(tmp_path, monkeypatch):
    """bad1.py in the working directory, and its class imported (module u1_bad1; a name of its own:
    another test's class Net may hold 'user-Net' in this worker)."""
    (tmp_path / "bad1.py").write_text(BAD)
    monkeypatch.chdir(tmp_path)
    spec = importlib.util.spec_from_file_location("u1_bad1", tmp_path / "bad1.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "u1_bad1", module)
    spec.loader.exec_module(module)
    before = set(MODELS)
    yield module.BadU1Net
    for name in set(MODELS) - before:
        unregister_model(name)


def test_model_info_of_a_model_whose_forward_fails_names_the_shape_given(bad_net, capsys):
    """The model built from your class or file is checked as train checks it (README, model_info's
    docstring): UserCodeError, exit 2, your code's line — at the shape given by --input / input_shape,
    not "the data's shape" (there are no data); an nn.Module object is shown as it is, with the error."""
    for model in (bad_net, "bad1.py:BadU1Net"):
        with pytest.raises(UserCodeError) as e:
            vislab.model_info(model, (1, 8, 8))
        text = one_line(str(e.value))
        assert "2 inputs of the shape given, --input 1x8x8 / input_shape=(1, 8, 8)" in text, text
        assert "data" not in text.split("your code raised:")[0], text
        assert 'bad1.py", line 10, in forward' in str(e.value)
    info = vislab.model_info(bad_net(10), (1, 8, 8))
    assert "no output: the forward pass failed" in repr(info) and "mat1 and mat2" in repr(info)
    # main, not cli: the message shows the user's own traceback (cli refuses any)
    code = main(["model", "info", "bad1.py:BadU1Net", "--input", "1x8x8"])
    out = one_line(capsys.readouterr().err)
    assert code == 2, out
    assert "(2 inputs of the shape given, --input 1x8x8 / input_shape=(1, 8, 8))" in out, out
    assert "data's shape" not in out and "mat1 and mat2" in out


def test_own_manual_step_is_named_as_given_and_its_refusal_names_its_own_update(
    capsys, tmp_path, monkeypatch
):
    """model.name=mymlp.py:Net declaring trained_by="manual_step": the note names mymlp.py:Net, not the
    module vislab imported it as; optim.momentum=0.9 is refused because the model's own manual_step makes
    the update (not "what plain SGD does": that is mlp-scratch's); the value it gives trains."""
    (tmp_path / "mymlp.py").write_text(OWN_STEP)
    monkeypatch.chdir(tmp_path)
    code, text = cli(capsys, "train", "--out", "r1", *_sets(*CIRCLES, "model.name=mymlp.py:Net"))
    assert code == 0, text
    (note,) = [line for line in text.splitlines() if line.startswith("note: ")]
    assert note.startswith("note: mymlp.py:Net updates its weights by hand: its own manual_step"), (
        note
    )
    assert "vislab_user" not in note and "optim.name=adam (the default) is not used" in note
    own = (*CIRCLES, "model.name=mymlp.py:Net")
    code, text = cli(capsys, "train", "--out", "r2", *_sets(*own, "optim.momentum=0.9"))
    flat = one_line(text)
    assert code == 2, text
    assert "mymlp.py:Net updates its weights by hand: its own manual_step makes each update" in flat
    assert "would change nothing: optim.momentum=0.9" in flat, flat
    assert "plain SGD" not in flat and "vislab_user" not in flat and "model.impl" not in flat
    assert "Leave it out (or at a value that changes nothing: optim.momentum=0)" in flat
    code, text = cli(capsys, "train", "--out", "r3", *_sets(*own, "optim.momentum=0"))
    assert code == 0, text


def test_lr_find_of_an_own_manual_step_model_asks_for_its_optimizer_trained_form(
    capsys, tmp_path, monkeypatch
):
    """lr-find cannot drive a model's own manual_step: it says so in those words, and the way out for
    your class (not mlp-scratch's model.impl=optim, which it has not)."""
    (tmp_path / "mymlp.py").write_text(OWN_STEP)
    monkeypatch.chdir(tmp_path)
    own = _sets(*CIRCLES, "model.name=mymlp.py:Net")
    code, text = cli(capsys, "lr-find", *own, "--out", "lr.png")
    flat = one_line(text)
    assert code == 2, text
    assert "updates its own weights (its manual_step), not through a torch optimizer" in flat
    assert "its class without trained_by='manual_step'" in flat and "model.impl" not in flat, flat


def test_train_out_naming_a_file_says_it_is_a_file(capsys, tmp_path, monkeypatch):
    """`vislab train --out afile` says what `vislab suite` says of a file (exit 2, nothing started,
    another --out / out=), not "cannot create run directory: Not a directory"; Python says the same."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("mine")
    said = (
        f"--out 'afile': '{tmp_path / 'afile'}' is a file, not a folder, so the run cannot be saved "
        f"there; nothing was started. Choose another --out (Python: out=)."
    )
    code, text = cli(capsys, "train", "--out", "afile", *_sets(*CIRCLES, "model.name=mlp"))
    assert code == 2, text
    assert said in one_line(text), text
    with pytest.raises(UserError) as e:
        vislab.train(model="mlp", data="circles", out="afile", train__epochs=1)
    assert str(e.value) == said
    assert (tmp_path / "afile").read_text() == "mine"


def test_gradcheck_at_a_size_the_patches_do_not_divide_asks_for_another_input(capsys):
    """`vislab model gradcheck vit --input 1x7x7`: the shape was given by hand, so the fix is another
    --input / input_shape, as model info says (not data.resize: there are no data)."""
    code, text = cli(capsys, "model", "gradcheck", "vit", "--input", "1x7x7")
    assert code == 2, text
    assert "give inputs 4 or 8 a side, e.g. --input C×8×8 / input_shape=(C, 8, 8)" in one_line(text)
    assert "data.resize" not in text
    with pytest.raises(UserError, match=r"input_shape=\(C, 8, 8\)"):
        vislab.gradcheck("vit", (1, 7, 7), 10)


def test_hooks_declared_without_model_hooks_are_said_to_be_unused(capsys, tmp_path, monkeypatch):
    """The same class without ModelHooks among its bases: its trained_by and manual_step are never
    read (it trains by the optimizer): a note says so and how to declare it; with ModelHooks, no note."""
    plain = OWN_STEP.replace("class Net(ModelHooks, nn.Module):", "class Net(nn.Module):")
    (tmp_path / "plain.py").write_text(plain)
    monkeypatch.chdir(tmp_path)
    code, text = cli(capsys, "train", "--out", "r", *_sets(*CIRCLES, "model.name=plain.py:Net"))
    assert code == 0, text
    flat = one_line(text)
    assert (
        "model 'plain.py:Net' defines manual_step and trained_by, which vislab reads only" in flat
    )
    assert "Declare class Net(ModelHooks, nn.Module) to use them." in flat, flat
    (tmp_path / "mymlp.py").write_text(OWN_STEP)
    code, text = cli(capsys, "train", "--out", "r2", *_sets(*CIRCLES, "model.name=mymlp.py:Net"))
    assert code == 0 and "reads only from a class that subclasses" not in text, text
