"""benchmarks/gpu.py ends on a mistake of the user's as the vislab CLI does: a bad ``--set`` key or value,
an unknown model or data files missing in ``--fashion-root`` print the one message (no traceback) and exit
2, and what it finished stays in ``--out`` and on stdout, marked ``"finished": false`` with the error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from test_gpu_benchmark import GPU_BENCH, SMALL
from test_s26_benchmarks import bench_env

MNIST_TRAIN_IMAGES = "train-images-idx3-ubyte.gz"


def bench(tmp_path: Path, *args: str | Path) -> tuple[subprocess.CompletedProcess, dict]:
    """``python benchmarks/gpu.py --device cpu --tiny ARGS --out FILE`` in a new Python: the process and
    the JSON object in FILE."""
    out = tmp_path / "gpu.json"
    command = [sys.executable, str(GPU_BENCH), "--device", "cpu", "--tiny", *map(str, args)]
    proc = subprocess.run(
        [*command, "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=bench_env(),
        timeout=300,
    )
    return proc, json.loads(out.read_text())


def assert_user_error(proc: subprocess.CompletedProcess, kept: dict, *said: str) -> None:
    """Exit 2, one message naming ``said`` on stderr, no traceback; the partial object in --out and on
    stdout carries that message."""
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("gpu.py: error: ")
    for words in said:
        assert words in proc.stderr
    assert kept["finished"] is False and kept["error"] in proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == kept


@pytest.mark.parametrize(
    "setting, said",
    [
        ("model.nope=3", ["'model.nope'", "widths"]),
        ("model.widths=abc", ["model.widths", "'abc'"]),
        ("train.epochs=-1", ["train.epochs", "greater than or equal to 1"]),
        # its message lists timm's models: seconds of importing timm
        pytest.param("model.name=nope", ["unknown model 'nope'", "cnn"], marks=pytest.mark.slow),
    ],
    ids=["bad-key", "bad-value", "bad-range", "unknown-model"],
)
def test_a_bad_set_is_one_message_and_exit_2(tmp_path, setting, said):
    proc, kept = bench(tmp_path, "--models", "cnn", "--set", setting)
    assert_user_error(proc, kept, *said)
    assert kept["throughput"] == [] and kept["vislab_set"] == [setting]


def test_files_missing_in_fashion_root_are_one_message_naming_the_flag(tmp_path):
    half = tmp_path / "half"
    half.mkdir()
    (half / MNIST_TRAIN_IMAGES).write_bytes(b"")  # the labels and the test split missing
    proc, kept = bench(tmp_path, "--models", "none", "--fashion-root", half)
    assert_user_error(proc, kept, f"not found in {half}", "give --fashion-root DIR")
    assert "t10k-labels-idx1-ubyte.gz" in proc.stderr and "data.root" not in proc.stderr


def test_a_missing_fashion_root_folder_is_skipped_naming_the_flag(tmp_path):
    """A folder that is not there: the time to accuracy is skipped, saying so (as --vs-airbench lists a
    dataset it did not find), and the benchmark finishes."""
    none = tmp_path / "none"
    proc, kept = bench(tmp_path, "--models", "none", "--fashion-root", none)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and kept["finished"] is True
    skipped = kept["time_to_accuracy"]["skipped"]
    assert f"not found in {none}" in skipped and "give --fashion-root DIR" in skipped


def test_a_user_error_keeps_what_finished_before_it(tmp_path):
    half = tmp_path / "half"
    half.mkdir()
    (half / MNIST_TRAIN_IMAGES).write_bytes(b"")
    args = ["--models", "cnn", "--set", SMALL, "--set", "train.figures=false"]
    proc, kept = bench(tmp_path, *args, "--fashion-root", half)
    assert_user_error(proc, kept, "give --fashion-root DIR")
    (row,) = kept["throughput"]  # the cnn's throughput, finished before the time to accuracy failed
    assert row["model"] == "cnn" and row["train_images_per_s"] > 0
