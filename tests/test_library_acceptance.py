"""A user's own nn.Module, in a file of theirs, through the command line and through Python — using only the
names in ``vislab.__all__`` and the ``vislab`` command: the same seed and config give the same summary.json;
a run killed with SIGKILL resumes to the same result; it evaluates, predicts, and one of its kwargs sweeps.

Each ``vislab`` command runs in a process of its own, forked from the tests' zygote (tests/fixtures.py): a
fresh ``vislab.cli.main`` that never imported the user's file, started in milliseconds instead of seconds."""

import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

import vislab
from fixtures import Zygote

NET = """
import os
import time

import torch.nn as nn

DELAY = float(os.environ.get("NET_DELAY", "0"))  # seconds per training step: gives the kill test time


class Net(nn.Module):
    def __init__(self, num_classes, input_shape, width: int = 16):
        super().__init__()
        c, h, w = input_shape
        self.body = nn.Sequential(
            nn.Flatten(), nn.Linear(c * h * w, width), nn.ReLU(), nn.Linear(width, num_classes)
        )

    def forward(self, x):
        if DELAY and self.training:
            time.sleep(DELAY)
        return self.body(x)
"""

# figures: false: the runs' figures/ are not what is checked here (drawing them took 3/4 of each training)
CONFIG = """
data: {name: digits}
model: {name: net.py:Net, width: 12}
train: {epochs: 4, batch_size: 64, seed: 3, device: cpu, figures: false}
"""

# what differs between two runs of the same config by construction: times, memory, the folder name
NOT_COMPARED = {
    "run",
    "train_time_s",
    "test_time_s",
    "setup_s",
    "eval_s",
    "epochs_eval_s",
    "figures_s",
    "peak_rss_mb",
}


def _vislab(zygote: Zygote, name: str, *args: str, env: dict | None = None) -> tuple[int, Path]:
    """Start ``vislab ARGS`` in the current folder, with ``env`` added to its environment; (pid, its log
    NAME.log). It computes with this process's torch threads: the tiny net's last digits depend on their
    number, and the zygote's children start with one."""
    import torch  # loaded by vislab already

    log = Path(f"{name}.log").resolve()
    pre = (
        f"import os, torch; os.chdir({os.getcwd()!r}); os.environ.update({env or {}!r}); "
        f"torch.set_num_threads({torch.get_num_threads()})"
    )
    return zygote.start(list(args), log, pre=pre), log


def _check(zygote: Zygote, started: tuple[int, Path]) -> str:
    """The command's output, once it ended with exit code 0."""
    pid, log = started
    code = zygote.wait(pid, 240)
    out = log.read_text()
    assert code == 0, out
    assert "Traceback" not in out, out
    return out


def _rows(run: vislab.Run):
    """metrics.jsonl without its wall-clock columns."""
    return run.history.drop(columns=["seconds"])


def _metrics(run: vislab.Run) -> dict:
    return {k: v for k, v in run.summary.to_json().items() if k not in NOT_COMPARED}


@pytest.mark.slow  # ~15 s: four trainings (two in CLI processes), a kill, a resume and a 2-trial sweep
def test_own_model_through_cli_and_python(tmp_path, monkeypatch, zygote):
    monkeypatch.chdir(tmp_path)
    Path("net.py").write_text(NET)
    Path("config.yaml").write_text(CONFIG)

    # the same config through the command line and through Python: the same summary.json
    _check(zygote, _vislab(zygote, "cli", "train", "-q", "-c", "config.yaml", "--out", "cli"))
    py = vislab.train("config.yaml", out="py")
    cli = vislab.load_run("cli")
    assert py.summary["status"] == "complete" and py.summary["epochs_run"] == 4
    assert py.summary["model_code"]["sha256"] == cli.summary["model_code"]["sha256"]
    assert _metrics(py) == _metrics(cli)
    assert _rows(py).equals(_rows(cli))

    # killed (SIGKILL) mid-run from the command line, resumed from Python: the same result again
    pid, log = _vislab(
        zygote,
        "killed",
        "train",
        "-q",
        "-c",
        "config.yaml",
        "--out",
        "killed",
        env={"NET_DELAY": "0.03"},
    )
    metrics = Path("killed/metrics.jsonl")
    deadline = time.monotonic() + 120
    while not (metrics.is_file() and len(metrics.read_text().splitlines()) >= 2):
        assert zygote.wait(pid, 0.02) is None, log.read_text()  # still running
        assert time.monotonic() < deadline, "the run wrote no second epoch row in 120 s"
    os.kill(pid, signal.SIGKILL)
    assert zygote.wait(pid, 30) == -signal.SIGKILL
    assert not Path("killed/summary.json").is_file() or (
        vislab.load_run("killed").summary.get("status") != "complete"
    )
    resumed = vislab.train(out="killed", resume=True)
    assert _metrics(resumed) == _metrics(py)

    # evaluate: the best checkpoint scores what summary.json says, from Python and from the CLI
    scores = py.evaluate("test")
    assert scores["acc"] == pytest.approx(py.summary["test_acc"])
    out = _check(zygote, _vislab(zygote, "eval", "eval", "py", "--split", "test"))
    assert f"{py.summary['test_acc']:.4f}" in out

    # predict: images as arrays (Python) and as files (CLI), the same classes
    images = np.random.default_rng(0).integers(0, 256, (3, 8, 8), dtype=np.uint8)
    top = py.predict(list(images), top_k=2)
    assert [len(t) for t in top] == [2, 2, 2]
    assert all(p1 >= p2 for (_, p1), (_, p2) in top)
    from PIL import Image  # the test writes image files as a user would

    files = []
    for i, img in enumerate(images):
        Image.fromarray(img).save(f"img{i}.png")
        files.append(f"img{i}.png")
    out = _check(zygote, _vislab(zygote, "predict", "predict", "py", *files, "-k", "1"))
    for (cls, _), f in zip((t[0] for t in top), files):
        line = next(row for row in out.splitlines() if f in row)
        assert cls in line.split(f, 1)[1], (cls, line)

    # sweep one of the model's kwargs for two trials
    spec = {
        "name": "width",
        "base": json.loads(json.dumps(py.config.to_dict())),
        "space": {"model.width": {"type": "categorical", "choices": [4, 24]}},
        "metric": "val_acc",
    }
    study = vislab.sweep(spec, out="sweep", trials=2, epochs=2, log=lambda _: None)
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(done) == 2
    assert {t.params["model.width"] for t in done} <= {4, 24}
    assert all(0.0 <= t.value <= 1.0 for t in done)
