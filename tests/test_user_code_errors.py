"""Your own model (``model.name=file.py:Net``) raising while it trains, is evaluated or is swept by
``vislab lr-find``: vislab's one-paragraph message, then your code's frames only (exit 2, no vislab
traceback); summary.json says the run failed, and the message names the checkpoint kept and the command
that resumes once the code is fixed. A built-in model's exception is a bug and keeps its traceback; so
does the Python API's ``vislab.train(model=Net)``, whose caller gets Python's own exception.

Resuming after a failed evaluation ends as an uninterrupted run: tests/test_resume.py."""

import json
from pathlib import Path

import pytest
import torch

import vislab
from conftest import cli, one_line, tiny_config, tiny_sets
from vislab.cli import main
from vislab.models.code_errors import MARKER
from vislab.training.checkpoint import load_checkpoint
from vislab.training.trainer import train

NET = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, num_classes, input_shape=None, fail_at: int = 3):
        super().__init__()
        c, h, w = input_shape
        self.fc = nn.Linear(c * h * w, num_classes)
        self.fail_at, self.calls = fail_at, 0

    def forward(self, x):
        if self.training:
            self.calls += 1
            check(self.calls, self.fail_at)
        return self.fc(x.flatten(1))


def check(calls, fail_at):
    if calls == fail_at:
        raise ValueError(f"boom at step {calls}")


class EvalNet(nn.Module):
    def __init__(self, num_classes, input_shape=None):
        super().__init__()
        c, h, w = input_shape
        self.fc = nn.Linear(c * h * w, num_classes)

    def forward(self, x):
        if not self.training and x.abs().sum() > 0:  # real images, not the dummy batch of zeros
            raise RuntimeError("eval mode is broken")
        return self.fc(x.flatten(1))
"""


def run_cli(capsys, *args) -> tuple[int, str]:
    """``vislab ARGS`` in-process: (exit code, output); the output may hold the user's traceback."""
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out + out.err


def assert_users_frames_only(text: str, file: str, frame: str) -> str:
    """vislab's paragraph (no traceback) first, then only ``file``'s frames; returns the paragraph."""
    message, marker, user_part = text.partition(MARKER)
    assert marker and "Traceback" not in message, text
    assert user_part.lstrip().startswith("Traceback (most recent call last):"), text
    assert frame in user_part, text
    files = [ln.split('"')[1] for ln in user_part.splitlines() if ln.strip().startswith('File "')]
    assert files and all(Path(f).name == file for f in files), files
    return one_line(message)


def status(run: Path) -> str:
    return json.loads((run / "summary.json").read_text())["status"]


@pytest.fixture
def here(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.py").write_text(NET)
    return tmp_path


def test_forward_raising_in_training_exits_2_keeping_the_last_checkpoint(capsys, here):
    """Epoch 1 has 9 steps: the 12th call raises in epoch 2; epoch 1's last.pt is kept and named."""
    sets = tiny_sets(
        "model.name=net.py:Net", "model.fail_at=12", "train.epochs=2", drop="model.hidden=[32]"
    )
    code, text = run_cli(capsys, "train", "-q", "--out", "run", *sets)
    assert code == 2, text
    message = assert_users_frames_only(text, "net.py", 'raise ValueError(f"boom at step {calls}")')
    net = here / "net.py"
    assert f"your code raised ValueError in training epoch 2 at {net}, line 21" in message
    last = Path("run") / "checkpoints" / "last.pt"
    assert f"its last checkpoint, {last} (after epoch 1), is kept" in message, message
    assert "vislab train --resume run --trust-code" in message, message
    assert load_checkpoint(last).resume.loop.epoch == 1
    assert status(here / "run") == "failed"


def test_forward_raising_in_the_first_epoch_says_nothing_was_saved(capsys, here):
    sets = tiny_sets("model.name=net.py:Net", drop="model.hidden=[32]")  # raises at step 3
    code, text = run_cli(capsys, "train", "-q", "--out", "run", *sets)
    assert code == 2, text
    message = assert_users_frames_only(text, "net.py", "check(self.calls, self.fail_at)")
    assert "in training epoch 1" in message and "before its first checkpoint" in message, message
    assert not (here / "run" / "checkpoints" / "last.pt").exists()
    assert status(here / "run") == "failed"


def test_forward_raising_in_evaluation_saves_the_trained_epoch(capsys, here):
    sets = tiny_sets("model.name=net.py:EvalNet", "train.epochs=2", drop="model.hidden=[32]")
    code, text = run_cli(capsys, "train", "-q", "--out", "run", *sets)
    assert code == 2, text
    message = assert_users_frames_only(text, "net.py", 'raise RuntimeError("eval mode is broken")')
    assert "your code raised RuntimeError in the evaluation after training epoch 1" in message
    last = Path("run") / "checkpoints" / "last.pt"
    assert f"epoch 1's training is saved in {last}" in message, message
    assert "vislab train --resume run --trust-code" in message, message
    loop = load_checkpoint(last).resume.loop
    assert (loop.epoch, loop.step) == (0, 9)  # after epoch 1's last step, before its evaluation
    assert status(here / "run") == "failed"
    assert (here / "run" / "metrics.jsonl").read_text() == ""  # no row of an epoch not evaluated


def test_evaluation_before_training_raising(capsys, here):
    sets = tiny_sets(
        "model.name=net.py:EvalNet", "train.eval_at_start=true", drop="model.hidden=[32]"
    )
    code, text = run_cli(capsys, "train", "-q", "--out", "run", *sets)
    assert code == 2, text
    message = assert_users_frames_only(text, "net.py", 'raise RuntimeError("eval mode is broken")')
    assert "in the evaluation before training" in message and "run it again" in message, message
    assert status(here / "run") == "failed"
    # fixed: the same command starts the run again
    (here / "net.py").write_text(NET.replace("x.abs().sum() > 0", "False"))
    code, text = cli(capsys, "train", "-q", "--out", "run", *sets)
    assert code == 0, text


def test_lr_find_with_a_model_raising(capsys, here):
    sets = tiny_sets("model.name=net.py:Net", drop="model.hidden=[32]")
    code, text = run_cli(capsys, "lr-find", *sets, "--steps", "20", "--out", "lr.png")
    assert code == 2, text
    message = assert_users_frames_only(text, "net.py", "check(self.calls, self.fail_at)")
    assert "your code raised ValueError in the LR range test" in message, message
    assert not (here / "lr.png").exists()


def test_a_built_in_models_exception_keeps_its_traceback(tmp_path, monkeypatch):
    """A bug is not the user's: the exception itself comes through (the CLI shows its traceback)."""
    real = torch.nn.Sequential.forward  # the mlp is one

    def broken(self, x):
        if self.training:
            raise ValueError("a bug in a built-in model")
        return real(self, x)

    monkeypatch.setattr(torch.nn.Sequential, "forward", broken)
    with pytest.raises(ValueError, match="a bug in a built-in model"):
        train(tiny_config(), tmp_path / "run", quiet=True)


def test_the_python_api_keeps_pythons_exception(tmp_path):
    """``vislab.train(model=Net)``: a notebook user gets the exception and its whole traceback."""

    class Broken(torch.nn.Module):
        def __init__(self, num_classes, input_shape):
            super().__init__()
            self.fc = torch.nn.Linear(64, num_classes)

        def forward(self, x):
            if self.training:
                raise KeyError("in my notebook")
            return self.fc(x.flatten(1))

    cfg = {"data": {"name": "digits", "limit": 300}, "train": {"epochs": 1, "device": "cpu"}}
    with pytest.raises(KeyError, match="in my notebook"):
        vislab.train(cfg, model=Broken, out=tmp_path / "run", quiet=True)
