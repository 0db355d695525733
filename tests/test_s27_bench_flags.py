"""The benchmark scripts fed a wrong flag: one line on stderr naming the flag and what it takes, exit 2, no
traceback, before any work (no JSON printed, nothing trained). A bad ``--set`` of gpu.py is found before
its first run too, for every model and for the time to accuracy."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from fixtures import write_mnist
from test_gpu_benchmark import SMALL
from test_s26_benchmarks import bench_env

BENCHMARKS = REPO / "benchmarks"


def run_here(monkeypatch, capsys, script: str, *args: str | Path) -> tuple[int, str, str]:
    """``python benchmarks/SCRIPT ARGS`` as ``__main__`` in this process (a new Python's imports would take
    seconds): its exit status, stdout and stderr. The modules it imported from beside it are dropped after."""
    path = BENCHMARKS / script
    monkeypatch.setattr(sys, "argv", [str(path), *map(str, args)])
    monkeypatch.setattr(sys, "path", [str(BENCHMARKS), *sys.path])
    modules = set(sys.modules)
    try:
        with pytest.raises(SystemExit) as done:
            runpy.run_path(str(path), run_name="__main__")
    finally:
        for name in set(sys.modules) - modules:
            if Path(getattr(sys.modules[name], "__file__", None) or "/").parent == BENCHMARKS:
                del sys.modules[name]
    captured = capsys.readouterr()
    return done.value.code, captured.out, captured.err


def assert_one_line(err: str, script: str, *said: str) -> None:
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith(f"{script}: error: ")
    for words in said:
        assert words in err


WRONG_FLAGS = [  # script, its flags, what its one line says
    ("gpu.py", ["--device", "gpu", "--tiny"], ["argument --device", "'cpu', 'cuda'"]),
    (
        "gpu.py",
        ["--models", "CNN"],
        ["argument --models", "unknown model 'CNN'", "did you mean 'cnn'", "cnn, vit"],
    ),
    ("gpu.py", ["--models", "mlp"], ["unknown model 'mlp'", "cnn, vit, resnet18, fast"]),
    ("gpu.py", ["--vs-airbench", "--seeds", "abc"], ["argument --seeds", "'abc'", "1 or more"]),
    ("gpu.py", ["--target", "93"], ["argument --target", "at most 1", "0.93"]),
    ("gpu.py", ["--n", "100"], ["argument --n", "no training batch of 512", "--batch"]),
    ("train_epoch.py", ["--models", "resnet18"], ["unknown model 'resnet18'", "cnn, vit"]),
    ("train_epoch.py", ["--seeds", "abc"], ["argument --seeds", "'abc'", "0,1,2"]),
    ("train_epoch.py", ["--workers", "-1"], ["argument --workers", "0 or more"]),
    ("pipeline.py", ["--device", "gpu"], ["argument --device", "'cpu', 'cuda'"]),
    ("pipeline.py", ["--rounds", "0"], ["argument --rounds", "1 or more", "'0'"]),
    ("startup.py", ["--repeat", "0"], ["argument --repeat", "1 or more"]),
    ("vit_init.py", ["--models", "vit"], ["unknown model 'vit'", "plain, xavier, timm"]),
    ("vit_init.py", ["--seeds", "1,x"], ["argument --seeds", "'1,x'"]),
]


@pytest.mark.parametrize(
    "script, args, said", WRONG_FLAGS, ids=[f"{s} {' '.join(a)}" for s, a, _ in WRONG_FLAGS]
)
def test_a_wrong_flag_is_one_line_naming_it_and_exit_2(monkeypatch, capsys, script, args, said):
    code, out, err = run_here(monkeypatch, capsys, script, *args)
    assert code == 2 and out == ""
    assert_one_line(err, script, *said)


def test_an_out_that_cannot_be_written_is_refused_before_any_work(monkeypatch, capsys, tmp_path):
    missing = tmp_path / "no-such-folder" / "gpu.json"
    code, out, err = run_here(monkeypatch, capsys, "gpu.py", "--device", "cpu", "--out", missing)
    assert code == 2 and out == ""
    assert_one_line(err, "gpu.py", f"argument --out: cannot write {missing}", "a folder you can")
    code, out, err = run_here(monkeypatch, capsys, "gpu.py", "--device", "cpu", "--out", tmp_path)
    assert code == 2 and out == ""
    assert_one_line(err, "gpu.py", f"{tmp_path} is a folder", "give a file name")
    assert list(tmp_path.iterdir()) == []  # the probe of the folder left nothing behind


def gpu_bench(tmp_path: Path, *args: str | Path) -> tuple[subprocess.CompletedProcess, dict]:
    """``python benchmarks/gpu.py --device cpu --tiny ARGS --out FILE`` in a new Python, as the explorer
    ran it: the process and the JSON object in FILE."""
    out = tmp_path / "gpu.json"
    command = [sys.executable, str(BENCHMARKS / "gpu.py"), "--device", "cpu", "--tiny"]
    proc = subprocess.run(
        [*command, *map(str, args), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=bench_env(),
        timeout=300,
    )
    return proc, json.loads(out.read_text())


def test_a_misspelt_set_key_is_one_line_and_nothing_trains(tmp_path):
    proc, kept = gpu_bench(tmp_path, "--models", "cnn", "--set", "train.compil=true")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert_one_line(
        proc.stderr, "gpu.py", "Invalid config (--set): unknown config key 'train.compil'"
    )
    assert "Did you mean 'train.compile'?" in proc.stderr
    assert kept["finished"] is False and kept["throughput"] == []
    assert kept["error"] in proc.stderr


@pytest.mark.parametrize(
    "args, said",
    [
        # fine for the cnn, not for the vit after it: the cnn is not trained first
        (["--models", "cnn,vit", "--set", SMALL], "model 'vit' has no option 'model.widths'"),
        # the time to accuracy's run comes after every throughput: its mistake is found before them
        (["--models", "cnn", "--set", SMALL, "--tta-set", "train.epoch=3"], "'train.epoch'"),
    ],
    ids=["a-later-model", "the-time-to-accuracy"],
)
def test_a_bad_set_is_found_before_the_first_run(monkeypatch, capsys, tmp_path, args, said):
    write_mnist(tmp_path / "fashion")  # the time to accuracy is planned: Fashion-MNIST is found
    argv = ["--device", "cpu", "--tiny", *args, "--fashion-root", tmp_path / "fashion"]
    code, out, err = run_here(monkeypatch, capsys, "gpu.py", *argv)
    assert code == 2
    assert_one_line(err, "gpu.py", said)
    kept = json.loads(out.splitlines()[-1])
    assert kept["throughput"] == [] and kept["error"] in err
