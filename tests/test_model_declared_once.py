"""What the trainer may ask of a model is declared once (models/hooks.py), not probed: the check of a
model's output decides by its hooks wherever it runs (train, a suite's dry run, ``model_info``), the
settings a model leaves unread follow ``UNREAD_SECTIONS``, a user's code record is asked of the
registry by the name built, and unwrapping DDP is one function."""

from __future__ import annotations

import hashlib

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml

import vislab
from vislab.config.unread import UNREAD_SECTIONS
from vislab.errors import UserCodeError
from vislab.models.hooks import ModelHooks
from vislab.models.registry import build_model
from vislab.training.model_checks import check_output

QUICK = dict(
    data="digits", data__limit=300, train__epochs=1, train__device="cpu", train__figures=False
)


class AuxStep(ModelHooks, nn.Module):
    """Updates its own weights (``manual_step``); in train mode its forward also returns an auxiliary
    head's logits, which its own step uses and the trainer never sees."""

    trained_by = "manual_step"

    def __init__(self, num_classes: int):
        super().__init__()
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(64, num_classes))  # 8×8 digits
        self.aux = nn.Sequential(nn.Flatten(), nn.Linear(64, num_classes))

    def forward(self, x):
        logits = self.head(x)
        return (logits, self.aux(x)) if self.training else logits

    def manual_step(self, x, y, lr):
        logits, aux = self(x)
        loss = F.cross_entropy(logits, y) + 0.3 * F.cross_entropy(aux, y)
        self.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in self.parameters():
                p -= lr * p.grad
        return loss.detach(), logits.detach()


@pytest.mark.filterwarnings("ignore::vislab.errors.Note")  # optim.name: unused by its own step
def test_model_info_checks_a_model_as_train_does(tmp_path):
    # train checks a model with its own step in eval mode only (its forward is its own business in train
    # mode): model_info used to check it in train mode too, and refused a model train takes
    info = vislab.model_info(AuxStep, (1, 8, 8), 10)
    assert info.params == 2 * (64 * 10 + 10)
    run = vislab.train(model=AuxStep, out=tmp_path / "aux", optim__lr=0.05, **QUICK)
    assert run.summary["status"] == "complete" and run.summary["epochs_run"] == 1


class WrongShape(nn.Module):
    def __init__(self, num_classes: int):
        super().__init__()
        self.fc = nn.Linear(64, num_classes + 1)

    def forward(self, x):
        return self.fc(x.flatten(1))


def test_the_one_check_still_refuses_what_train_refuses():
    with pytest.raises(UserCodeError, match=r"expected logits of shape \[2, 10\]"):
        vislab.model_info(WrongShape, (1, 8, 8), 10)
    fitted = WrongShape(10)
    fitted.trained_by = "fit_arrays"  # type: ignore[attr-defined]  # not a ModelHooks: still optimizer
    with pytest.raises(UserCodeError):
        check_output(fitted, "user-WrongShape", (1, 8, 8), 10, torch.device("cpu"), code=None)


def test_a_fitted_models_config_yaml_marks_the_train_settings_it_never_reads(tmp_path):
    run = vislab.train(model="majority", out=tmp_path / "maj", **QUICK)
    text = (run.path / "config.yaml").read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith("train:"))
    unread = line.partition("# not used: ")[2]
    # train.epochs, batch_size, ema, ... do nothing for a model fitted once; its seed and device do
    for key in ("train.epochs", "train.batch_size", "train.ema", "train.early_stop"):
        assert key in unread, line
    kept = UNREAD_SECTIONS["fit_arrays"]["train"]
    assert not any(f"train.{k}," in unread or unread.startswith(f"train.{k} ") for k in kept), line
    assert "majority is fitted once on the whole train split" in unread
    assert yaml.safe_load(text)["train"]["epochs"] == 1  # the values stay: the same run again


NET = """
import torch.nn as nn

class Net(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        return self.fc(x.flatten(1))
"""


def test_the_registry_says_what_code_a_name_is_built_from(tmp_path, monkeypatch):
    from vislab.models.registry import code_of

    (tmp_path / "net.py").write_text(NET)
    monkeypatch.chdir(tmp_path)
    build_model("net.py:Net", (1, 8, 8), 10)
    sha = hashlib.sha256((tmp_path / "net.py").read_bytes()).hexdigest()
    assert code_of("net.py:Net") == {
        "reference": "net.py:Net",
        "path": str((tmp_path / "net.py").resolve()),
        "sha256": sha,
    }
    assert code_of("cnn") is None and code_of("timm:resnet18") is None  # vislab's own, timm's


class Wrapped(nn.Module):
    """A model whose own layers sit in an attribute named ``module``, as DDP's wrapper keeps the model."""

    def __init__(self):
        super().__init__()
        self.module = nn.Linear(2, 3)

    def forward(self, x):
        return -self.module(x)


def test_unwrap_takes_off_the_wrappers_only():
    from vislab.training.runtime import unwrap

    model = Wrapped()
    assert unwrap(model) is model  # its attribute named module is no wrapper
    # evaluation scores the eager model: a compiled one would compile an eval graph on top of training's
    assert unwrap(torch.compile(model)) is model


class Body(nn.Module):
    def __init__(self, num_classes: int):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, num_classes))

    def forward(self, x):
        return -self.body(x)


class Module(Body):
    """Body's very network, its layers in an attribute named ``module`` (as DDP keeps the model)."""

    def __init__(self, num_classes: int):
        super().__init__(num_classes)
        self.module = self.body
        del self.body

    def forward(self, x):
        return -self.module(x)


def test_a_model_with_an_attribute_named_module_is_scored_whole(tmp_path):
    # evaluation took any attribute named module for DDP's wrapper, and scored that layer alone
    twins = [vislab.train(model=m, out=tmp_path / m.__name__, **QUICK) for m in (Body, Module)]
    body, module = (run.summary["val_acc"] for run in twins)
    assert module == body


def test_a_built_model_carries_no_record_of_its_own(tmp_path, monkeypatch):
    # what the trainer asks of a model is its hooks; the code it was built from, the registry's
    (tmp_path / "net.py").write_text(NET)
    monkeypatch.chdir(tmp_path)
    model = build_model("net.py:Net", (1, 8, 8), 10)
    assert not hasattr(model, "vislab_code") and not hasattr(model, "vislab_name")
    run = vislab.train(model="net.py:Net", out=tmp_path / "run", **QUICK)
    assert run.summary["model_code"]["path"] == str((tmp_path / "net.py").resolve())
