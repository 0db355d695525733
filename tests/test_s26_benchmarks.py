"""The GPU benchmarks as benchmarks/gpu_check.sh runs them, on the CPU: ``--tiny`` is tiny in every mode,
a benchmark cut off by a signal keeps the results it finished (``--out``, rewritten after each one), its
vislab runs draw no figures and report summary.json's time split, pipeline.py says when its rounds
disagree, the help and missing-data messages are whole and name the benchmark's own flags, and
gpu_check.sh runs the CUDA sync tests in a step of their own before the others."""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import vislab
from conftest import REPO
from fixtures import write_mnist
from test_gpu_benchmark import GPU_BENCH, NO_FIGURES, SMALL, run_bench_here
from vislab.errors import Note

BENCHMARKS = REPO / "benchmarks"
SPLIT = {"setup_s", "train_time_s", "epochs_eval_s", "eval_s", "figures_s"}


def bench_env() -> dict:
    """The environment of a benchmark started as a new Python: it imports the vislab these tests import."""
    env = dict(os.environ)
    src = str(Path(vislab.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    return env


def test_tiny_is_tiny_in_the_default_mode_too(tmp_path, monkeypatch, capsys, recwarn):
    write_mnist(tmp_path / "fashion", n_train=400, n_test=100)  # --tiny keeps 256 train images
    out = tmp_path / "gpu.json"
    args = ["--device", "cpu", "--tiny", "--models", "cnn", "--set", SMALL]
    args += ["--fashion-root", tmp_path / "fashion", "--out", out]
    result = run_bench_here(monkeypatch, capsys, *args, cwd=tmp_path)
    assert result["finished"] is True and json.loads(out.read_text()) == result
    tta = result["time_to_accuracy"]
    assert tta["epochs"] == 1 and tta["n_train"] == 256  # not 10 epochs of the whole dataset
    assert {"data.limit=256", "data.limit_eval=64", NO_FIGURES} <= set(tta["overrides"])
    (row,) = result["throughput"]
    for split in (tta["time_split"], row["time_split"]):
        assert set(split) == SPLIT and split["train_time_s"] > 0
        assert split["figures_s"] is None  # train.figures=false: none drawn
    # tiny data's notes (a small val split, few batches, a dropped last batch) are not shown
    assert not [w for w in recwarn if issubclass(w.category, Note)]


@pytest.mark.slow  # a new Python: seconds of imports
def test_a_benchmark_stopped_by_a_signal_keeps_what_it_finished(tmp_path):
    out = tmp_path / "vs_plain.json"
    args = ["--vs-plain", "--models", "cnn,cnn,cnn", "--device", "cpu", "--tiny"]
    command = [sys.executable, str(GPU_BENCH), *args, "--set", SMALL, "--out", str(out)]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=bench_env()
    )
    deadline = time.monotonic() + 120
    while not (out.exists() and json.loads(out.read_text()).get("models")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1][-3000:]
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)  # as `timeout` stops a step at its limit
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-3000:]
    kept = json.loads(out.read_text())
    assert kept["finished"] is False and kept["models"][0]["model"] == "cnn"
    assert len(kept["models"]) < 3 and json.loads(stdout.splitlines()[-1]) == kept
    assert "stopped before it finished" in stderr and str(out) in stderr
    assert "Traceback" not in stderr and "Resume with" not in stderr  # its run folder is gone


def test_pipeline_says_when_its_rounds_disagree(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    pipeline = importlib.import_module("pipeline")
    rounds = dict(  # the explorer's busy machine: vislab's rounds 46× apart
        vislab=[11114, 50065, 401628, 8623, 29384],
        vislab_batch512=[60000, 61000, 59000, 60500, 60200],
        torchvision=[2000, 2100, 1900, 2050, 2010],
    )
    monkeypatch.setattr(pipeline, "measure", lambda args: rounds)
    monkeypatch.setattr(sys, "argv", ["pipeline.py"])
    pipeline.main()
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["rounds_spread"] == dict(vislab=46.58, vislab_batch512=1.03, torchvision=1.11)
    assert "vislab 46.58×" in result["warning"] and "not to be trusted" in result["warning"]
    assert "vislab_batch512" not in result["warning"]
    assert result["warning"] in captured.err

    rounds["vislab"] = [30000, 31000, 29000, 30500, 30200]  # an idle machine: no warning
    pipeline.main()
    assert "warning" not in json.loads(capsys.readouterr().out)


def test_help_is_whole_and_missing_data_names_the_benchmarks_flags(tmp_path, monkeypatch, capsys):
    with pytest.raises(SystemExit) as done:
        run_bench_here(monkeypatch, capsys, "--help", cwd=tmp_path)
    assert done.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "peak GPU memory, and time-to-accuracy on Fashion-MNIST." in help_text

    none = tmp_path / "none"
    args = ["--vs-airbench", "--device", "cpu", "--tiny", "--fashion-root", none]
    result = run_bench_here(monkeypatch, capsys, *args, "--cifar-root", none, cwd=tmp_path)
    cifar, fashion = result["missing"]["cifar10"], result["missing"]["fashion-mnist"]
    assert "give --cifar-root DIR" in cifar and "cifar-10-batches-py" in cifar
    assert "give --fashion-root DIR" in fashion and "train-images-idx3-ubyte.gz" in fashion
    for message in (cifar, fashion):
        assert str(none) in message and "data.root" not in message
        assert "data.download" not in message


FAKE_PYTHON = """#!/usr/bin/env bash
echo "$*" >> "$CALLS"
"""


def test_gpu_check_runs_the_sync_tests_first_in_a_step_of_their_own(tmp_path):
    """gpu_check.sh's steps, with a Python that only notes how it was called."""
    fake = tmp_path / "python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    env = dict(
        os.environ, PYTHON=str(fake), OUT=str(tmp_path / "out"), CALLS=str(tmp_path / "calls")
    )
    subprocess.run(["bash", str(BENCHMARKS / "gpu_check.sh")], env=env, check=True, timeout=60)
    calls = (tmp_path / "calls").read_text().splitlines()
    benches = [c for c in calls if c.startswith("benchmarks/gpu.py")]
    assert [c.split("--out ")[1] for c in benches] == [
        str(tmp_path / "out" / f) for f in ("vs_airbench.json", "vs_plain.json", "profile.json")
    ]  # each benchmark rewrites its JSON as its results finish
    sync, rest = [c for c in calls if c.startswith("-m pytest")]
    assert "tests/test_cuda_sync.py" in sync and "--ignore=tests/test_cuda_sync.py" in rest
    log = (tmp_path / "out" / "gpu_check.log").read_text()
    assert log.index("== CUDA sync tests: exit") < log.index("== CUDA tests: ")
