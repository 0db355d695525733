"""A user's own nn.Module, in a file of theirs, through the command line and through Python — using only the
names in ``vislab.__all__`` and the ``vislab`` command: the same seed and config give the same summary.json;
a run killed with SIGKILL resumes to the same result; it evaluates, predicts, and one of its kwargs sweeps."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import vislab

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

CONFIG = """
data: {name: digits}
model: {name: net.py:Net, width: 12}
train: {epochs: 4, batch_size: 64, seed: 3, device: cpu}
"""

# what differs between two runs of the same config by construction: times, memory, the folder name
NOT_COMPARED = {
    "run",
    "train_time_s",
    "test_time_s",
    "setup_s",
    "eval_s",
    "figures_s",
    "peak_rss_mb",
}


def _vislab(*args: str, env: dict | None = None, **kw) -> subprocess.Popen:
    cmd = [sys.executable, "-c", "import sys; from vislab.cli import main; sys.exit(main())", *args]
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, **kw
    )


def _check(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=240)
    assert proc.returncode == 0, out
    assert "Traceback" not in out, out
    return out


def _rows(run: vislab.Run):
    """metrics.jsonl without its wall-clock columns."""
    return run.history.drop(columns=["seconds"])


def _metrics(run: vislab.Run) -> dict:
    return {k: v for k, v in run.summary.items() if k not in NOT_COMPARED}


@pytest.mark.slow  # ~25 s: four trainings (three CLI processes), a kill, a resume and a 2-trial sweep
def test_own_model_through_cli_and_python(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("net.py").write_text(NET)
    Path("config.yaml").write_text(CONFIG)

    # the same config through the command line and through Python: the same summary.json
    _check(_vislab("train", "-q", "-c", "config.yaml", "--out", "cli"))
    py = vislab.train("config.yaml", out="py")
    cli = vislab.load_run("cli")
    assert py.summary["status"] == "complete" and py.summary["epochs_run"] == 4
    assert py.summary["model_code"]["sha256"] == cli.summary["model_code"]["sha256"]
    assert _metrics(py) == _metrics(cli)
    assert _rows(py).equals(_rows(cli))

    # killed (SIGKILL) mid-run from the command line, resumed from Python: the same result again
    env = {**os.environ, "NET_DELAY": "0.03"}
    proc = _vislab("train", "-q", "-c", "config.yaml", "--out", "killed", env=env)
    metrics = Path("killed/metrics.jsonl")
    deadline = time.monotonic() + 120
    while not (metrics.is_file() and len(metrics.read_text().splitlines()) >= 2):
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "the run wrote no second epoch row in 120 s"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not Path("killed/summary.json").is_file() or (
        vislab.load_run("killed").summary.get("status") != "complete"
    )
    resumed = vislab.train(out="killed", resume=True)
    assert _metrics(resumed) == _metrics(py)

    # evaluate: the best checkpoint scores what summary.json says, from Python and from the CLI
    scores = py.evaluate("test")
    assert scores["acc"] == pytest.approx(py.summary["test_acc"])
    out = _check(_vislab("eval", "py", "--split", "test"))
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
    out = _check(_vislab("predict", "py", *files, "-k", "1"))
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
