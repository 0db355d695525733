"""benchmarks/gpu.py's side-by-side modes, run as a user runs them (``--device cpu --tiny``) on small
Fashion-MNIST and CIFAR-10 files written in their official formats: the JSON each mode prints has its
fields with sane values, and the tensors written for airbench hold exactly the dataset's images.
Every mode runs small models (``--set model.widths=[16,32,32]``) that draw no figures/
(``--set train.figures=false``): the code path is the same, and the overrides are checked to reach the
model and the JSON.

The figures themselves (times, ratios) are never asserted: benchmarks print them. On a machine with
CUDA, ``test_tiny_modes_on_cuda`` (selected by ``pytest -k cuda``) runs the same modes on the GPU,
airbench's ``train94`` included.
"""

from __future__ import annotations

import importlib.util
import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import vislab
from conftest import REPO
from fixtures import write_cifar, write_mnist
from vislab.models import build_model

GPU_BENCH = REPO / "benchmarks" / "gpu.py"
TINY_TRAIN, TINY_TEST = 384, 128  # airbench_side.TINY: the images --tiny keeps of each dataset
# --set for a smoke run's small models: fast's stages (default [64,256,256]) and cnn's ([32,64,64])
SMALL = "model.widths=[16,32,32]"
# and without the run's figures/, drawn after the timed epochs (a third of a tiny run's time; not checked)
NO_FIGURES = "train.figures=false"
# all but one case train a few steps; the CUDA cases each start Python (seconds of imports)
pytestmark = pytest.mark.slow


def run_bench(*args: str | Path, cwd: Path) -> dict:
    """``python benchmarks/gpu.py ARGS`` in a new Python (on a GPU: timings of a process of their own);
    the one JSON object it prints."""
    env = dict(os.environ)  # the benchmark imports the vislab these tests import
    src = str(Path(vislab.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    out = subprocess.run(
        [sys.executable, str(GPU_BENCH), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_bench_here(monkeypatch, capsys, *args: str | Path, cwd: Path) -> dict:
    """``python benchmarks/gpu.py ARGS`` as ``python`` runs the script (``__main__``), in this process (on
    the CPU a new Python's seconds of imports were most of a tiny mode's time); the one JSON object it
    prints. What it changes for the process is undone after: its modules (imported from beside it), the
    data sources it registers, cuDNN's autotuner switch (importing airbench sets it) and torch's seed."""
    from vislab.data.sources.registry import SOURCES, unregister_source

    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", [str(GPU_BENCH), *map(str, args)])
    monkeypatch.setattr(sys, "path", list(sys.path))  # the script puts benchmarks/ first
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", torch.backends.cudnn.benchmark)
    modules, sources, rng = set(sys.modules), set(SOURCES), torch.get_rng_state()
    try:
        runpy.run_path(str(GPU_BENCH), run_name="__main__")
    finally:
        for name in set(sys.modules) - modules:
            if Path(getattr(sys.modules[name], "__file__", None) or "/").parent == GPU_BENCH.parent:
                del sys.modules[name]
        for name in set(SOURCES) - sources:
            unregister_source(name)
        torch.set_rng_state(rng)
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> dict:
    """Small Fashion-MNIST (idx.gz) and CIFAR-10 (python batches) folders, and what they hold."""
    root = tmp_path_factory.mktemp("bench-data")
    fashion = write_mnist(root / "fashion", n_train=TINY_TRAIN + 16, n_test=TINY_TEST + 8)
    cifar = write_cifar(root / "cifar" / "cifar-10-batches-py", n=80)
    return dict(root=root, fashion=fashion, cifar=cifar)


def data_args(datasets: dict) -> list:
    root = datasets["root"]
    return ["--fashion-root", root / "fashion", "--cifar-root", root / "cifar"]


def in_unit_interval(value: float) -> bool:
    return 0.0 <= value <= 1.0


def check_vislab_side(side: dict, n_train: int) -> None:
    (run,) = side["runs"]
    assert run["train_s"] > 0 and run["whole_run_s"] >= run["train_s"]
    assert in_unit_interval(run["test_acc"]) and run["epochs"] == 1
    assert run["n_train"] == n_train  # every training image, as airbench trains on
    assert side["train_s_mean"] == run["train_s"]


def check_airbench_skipped(side: dict, n_train: int, n_test: int) -> None:
    """Without CUDA airbench's side says why it did not train (and, if installed, that it read the files)."""
    if importlib.util.find_spec("airbench") is None:
        assert "airbench is not installed" in side["skipped"] and "vislab[bench]" in side["skipped"]
        return
    assert ".cuda()" in side["skipped"] and "cannot train on the CPU" in side["skipped"]
    check = side["loader_check"]
    assert check["train"] == dict(images_shape=[n_train, 3, 32, 32], labels_match=True)
    assert check["test"] == dict(images_shape=[n_test, 3, 32, 32], labels_match=True)


def check_tensors(folder: Path, x: np.ndarray, y: np.ndarray) -> None:
    """train.pt in airbench's format holds ``x`` (N×32×32×3 uint8) and ``y``."""
    saved = torch.load(folder / "train.pt", weights_only=True)
    assert set(saved) == {"images", "labels", "classes"} and len(saved["classes"]) == 10
    assert saved["images"].dtype == torch.uint8 and saved["labels"].dtype == torch.int64
    assert np.array_equal(saved["images"].numpy(), x)
    assert np.array_equal(saved["labels"].numpy(), y)


def test_vs_airbench_on_cpu(datasets, tmp_path, monkeypatch, capsys):
    kept = tmp_path / "tensors"
    args = ["--vs-airbench", "--device", "cpu", "--tiny", "--seeds", "1", "--keep-tensors", kept]
    args += ["--set", SMALL, "--set", NO_FIGURES, *data_args(datasets)]
    result = run_bench_here(monkeypatch, capsys, *args, cwd=tmp_path)
    assert result["benchmark"] == "gpu-vs-airbench" and result["missing"] == {}
    assert result["vislab_sets"] == ["train.cudnn_benchmark=true"]  # cuDNN autotuned, as airbench's
    assert result["vislab_set"] == [SMALL, NO_FIGURES]  # on the CPU only: nothing is compared
    small = build_model("fast", (3, 32, 32), 10, widths=[16, 32, 32])
    fashion, cifar = result["datasets"]
    assert (fashion["dataset"], cifar["dataset"]) == ("fashion-mnist", "cifar10")
    assert (fashion["n_train"], fashion["n_test"]) == (TINY_TRAIN, TINY_TEST)
    assert (cifar["n_train"], cifar["n_test"]) == (TINY_TRAIN, 80)  # test_batch holds 80
    for d in (fashion, cifar):
        check_vislab_side(d["vislab"], TINY_TRAIN)
        assert d["vislab"]["runs"][0]["params"] == sum(p.numel() for p in small.parameters())
        check_airbench_skipped(d["airbench"], d["n_train"], d["n_test"])
        assert "time_ratio_vislab_over_airbench" not in d  # nothing to divide by
    # Fashion-MNIST: 28×28 zero-padded by 2, grey copied to three channels
    x, y = datasets["fashion"]["train"]
    padded = np.repeat(np.pad(x[:TINY_TRAIN], ((0, 0), (2, 2), (2, 2)))[..., None], 3, axis=3)
    check_tensors(kept / "fashion-mnist" / "cifar10", padded, y[:TINY_TRAIN])
    # CIFAR-10: data_batch_1..5 in order (80 images each), as airbench's own loader would save them
    batches = [datasets["cifar"][f"data_batch_{i}"] for i in range(1, 6)]
    x = np.concatenate([b[0] for b in batches])[:TINY_TRAIN]
    y = np.concatenate([b[1] for b in batches])[:TINY_TRAIN]
    check_tensors(kept / "cifar10" / "cifar10", x, y)


def test_missing_datasets_are_named(tmp_path, monkeypatch, capsys):
    args = ["--fashion-root", tmp_path / "none", "--cifar-root", tmp_path / "none"]
    result = run_bench_here(
        monkeypatch, capsys, "--vs-airbench", "--device", "cpu", "--tiny", *args, cwd=tmp_path
    )
    assert result["datasets"] == []
    assert set(result["missing"]) == {"fashion-mnist", "cifar10"}
    assert str(tmp_path / "none") in result["missing"]["fashion-mnist"]


def test_vs_plain_on_cpu(tmp_path, monkeypatch, capsys):
    args = ["--vs-plain", "--models", "cnn", "--device", "cpu", "--tiny", "--set", SMALL]
    result = run_bench_here(monkeypatch, capsys, *args, "--set", NO_FIGURES, cwd=tmp_path)
    assert result["benchmark"] == "gpu-vs-plain" and result["epochs"] == 1
    assert result["vislab_set"] == [SMALL, NO_FIGURES]
    (row,) = result["models"]
    small = build_model("cnn", (3, 32, 32), 10, widths=[16, 32, 32], batchnorm=True, dropout=0.5)
    assert row["model"] == "cnn" and row["params"] == sum(p.numel() for p in small.parameters())
    assert row["steps_per_epoch"] == (256 - 5) // 32  # vislab's train split (2 % carved), drop_last
    assert row["vislab_images_per_s"] > 0 and row["plain_images_per_s"] > 0
    ratio = row["vislab_images_per_s"] / row["plain_images_per_s"]
    assert row["ratio_vislab_over_plain"] == pytest.approx(ratio, rel=0.01)


def test_profile_on_cpu(tmp_path, monkeypatch, capsys):
    args = ["--profile", "--models", "fast,cnn", "--device", "cpu", "--tiny", "--set", SMALL]
    result = run_bench_here(monkeypatch, capsys, *args, "--set", NO_FIGURES, cwd=tmp_path)
    assert result["vislab_set"] == [SMALL, NO_FIGURES]
    fast, cnn = result["models"]
    assert (fast["model"], cnn["model"]) == ("fast", "cnn")
    assert "plain" not in fast  # fast's whitening, EMA and flips are vislab's own
    for side in (fast["vislab"], cnn["vislab"], cnn["plain"]):
        assert side["busy_of"] == "host time in torch ops (no CUDA)"
        # ≤ 1 up to the profiler's and perf_counter's clocks disagreeing by a few ms
        assert 0 < side["busy_share"] <= 1.02 and side["epochs_counted"] == 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("mode", ["--vs-airbench", "--vs-plain", "--profile"])
def test_tiny_modes_on_cuda(mode, datasets, tmp_path):
    if mode == "--vs-airbench":
        pytest.importorskip("airbench", reason="the bench extra: pip install 'vislab[bench]'")
    args = [mode, "--device", "cuda", "--tiny", "--seeds", "1", *data_args(datasets)]
    result = run_bench(*args, cwd=tmp_path)
    if mode == "--vs-airbench":
        for d in result["datasets"]:
            ours, theirs = d["vislab"], d["airbench"]
            assert theirs["train_s_mean"] > 0 and in_unit_interval(theirs["test_acc_mean"])
            ratio = ours["train_s_mean"] / theirs["train_s_mean"]
            assert d["time_ratio_vislab_over_airbench"] == pytest.approx(ratio, rel=0.01)
    elif mode == "--profile":
        for row in result["models"]:
            assert row["vislab"]["busy_of"] == "CUDA kernel time"
            assert 0 < row["vislab"]["busy_share"] <= 1.02
    else:
        assert all(row["ratio_vislab_over_plain"] > 0 for row in result["models"])
