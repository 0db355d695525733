"""The model-hook contract (vislab.models.hooks): the trainer calls each declared hook at its moment,
and a plain nn.Module needs none."""

import json

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from conftest import tiny_config
from vislab.models import register_model, unregister_model
from vislab.models.hooks import ModelHooks, hooks_of
from vislab.training.trainer import train

CALLS: list[tuple] = []


class Recorder(ModelHooks, nn.Module):
    """A linear classifier that logs every hook call the trainer makes."""

    def __init__(self, d: int, k: int, trained_by: str, flip_policy: str = "random"):
        super().__init__()
        self.fc = nn.Linear(d, k)
        self.trained_by, self.flip_policy = trained_by, flip_policy

    def forward(self, x):
        return self.fc(x.flatten(1))

    def init_from_data(self, x):
        CALLS.append(("init_from_data", tuple(x.shape)))

    def after_step(self):
        CALLS.append(("after_step",))

    def fit_arrays(self, x, y):
        CALLS.append(("fit_arrays", len(y)))

    def manual_step(self, x, y, lr):
        CALLS.append(("manual_step", lr))
        logits = self(x)
        return F.cross_entropy(logits, y).detach(), logits.detach()


@pytest.fixture
def recorder():
    @register_model("hook-recorder")
    def build(input_shape, num_classes, trained_by: str = "optimizer"):
        d = int(torch.tensor(input_shape).prod())
        return Recorder(d, num_classes, trained_by)

    CALLS.clear()
    yield
    unregister_model("hook-recorder")


def rows(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def count(name):
    return sum(1 for c in CALLS if c[0] == name)


@pytest.mark.parametrize("trained_by", ["optimizer", "manual_step"])
def test_step_hooks_are_called_at_every_step(tmp_path, recorder, trained_by):
    cfg = tiny_config("model.name=hook-recorder", f"model.trained_by={trained_by}")
    summary = train(cfg, tmp_path / "run", quiet=True).to_json()
    steps = 2 * (300 // 32)  # 2 epochs of full batches (drop_last)
    assert CALLS[0] == ("init_from_data", (300, 1, 8, 8))  # once, before the first step
    assert count("init_from_data") == 1 and count("after_step") == steps
    assert count("manual_step") == (steps if trained_by == "manual_step" else 0)
    assert count("fit_arrays") == 0 and summary["epochs_run"] == 2


def test_fit_arrays_replaces_the_epochs(tmp_path, recorder):
    cfg = tiny_config("model.name=hook-recorder", "model.trained_by=fit_arrays")
    summary = train(cfg, tmp_path / "run", quiet=True).to_json()
    assert CALLS == [("fit_arrays", 300)]  # the whole train split at once; no step, no init
    assert [r["epoch"] for r in rows(tmp_path / "run")] == [1] and summary["best_epoch"] == 1


def test_resume_does_not_call_init_from_data_again(tmp_path, recorder):
    cfg = tiny_config("model.name=hook-recorder", "train.epochs=1")
    train(cfg, tmp_path / "run", quiet=True)
    last = tmp_path / "run" / "checkpoints" / "last.pt"
    ckpt = torch.load(last, weights_only=False)
    ckpt["config"]["train"]["epochs"] = 2  # continue for one more epoch
    torch.save(ckpt, last)
    CALLS.clear()
    train(cfg, tmp_path / "run", resume=True, quiet=True)
    assert count("init_from_data") == 0 and count("after_step") == 300 // 32


def test_a_plain_module_gets_the_default_hooks():
    hooks = hooks_of(nn.Linear(2, 2))
    assert hooks.trained_by == "optimizer" and hooks.flip_policy == "random"
    hooks.init_from_data(torch.zeros(1, 2))  # defaults do nothing
    hooks.after_step()
    model = Recorder(2, 2, "optimizer")
    assert hooks_of(model) is model
