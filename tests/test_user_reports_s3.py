"""Seven defects users reported, each fixed where it was met:

1. a builder's ``nn.Sequential`` whose torch layer raises (no frame in the user's file) ends as a clear
   error naming the model and the layer (exit 2, no vislab traceback), the run marked failed;
2. a user model's ``init_from_data`` hook that raises is the user's error too, the hook named;
3. ``--nproc N`` beyond the GPUs a CUDA run would use is refused before anything starts;
4. the ``--nproc`` launcher's temporary log folder, left behind when the launcher is SIGKILLed, is swept by
   the next launch;
5. an ``mlp-scratch`` run's config.yaml says that only ``optim.lr`` of its optim section is used (its values
   unchanged: resuming it and re-running its suite still find the same run);
6. the "train on the test set" hint a suite prints says where the settings go in a suite (its ``--set``
   reaches every run).

(7, a killed ``--jobs`` child's lock, was no defect: its pid is dead, so the next suite takes the lock
over — tests/test_run_dir.py ``test_stale_foreign_and_garbage_locks`` holds that rule.)
"""

import json
import os
import socket
import tempfile
import time
from pathlib import Path

import pytest
import torch
import yaml

import vislab.training.launch as launch
from conftest import cli, one_line, tiny_sets
from fixtures import write_mnist
from vislab.errors import UserError
from vislab.models.code_errors import MARKER
from vislab.training.checkpoint import load_checkpoint

SEQ = """
import torch.nn as nn


def bad_size(input_shape, num_classes, hidden: int = 32):
    return nn.Sequential(nn.Flatten(), nn.Linear(100, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))


def with_bn(input_shape, num_classes):
    c, h, w = input_shape
    return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, 16), nn.BatchNorm1d(16), nn.Linear(16, num_classes))
"""

HOOKED = """
import torch.nn as nn
from vislab.models.hooks import ModelHooks


class Net(ModelHooks, nn.Module):
    def __init__(self, num_classes, input_shape=None):
        super().__init__()
        c, h, w = input_shape
        self.fc = nn.Linear(c * h * w, num_classes)

    def forward(self, x):
        return self.fc(x.flatten(1))

    def init_from_data(self, x):
        whiten(x)


def whiten(x):
    raise ValueError(f"cannot whiten {tuple(x.shape)}")
"""


def run_vislab(zygote, tmp_path: Path, *args, pre: str = "") -> tuple[int, str]:
    """``vislab ARGS`` in a process of its own (forked from the zygote): (exit code, its output)."""
    log = tmp_path / f"vislab-{time.monotonic_ns()}.log"
    pid = zygote.start([str(a) for a in args], log, pre=pre)
    code = zygote.wait(pid, 60)
    return code, log.read_text()


def status(run: Path) -> str:
    return json.loads((run / "summary.json").read_text())["status"]


# --------------------------------------------------------------- 1. torch's own layer raising in a user model
def test_a_builders_torch_layer_raising_in_training_is_a_clear_exit_2(zygote, tmp_path):
    """BatchNorm1d on batches of one image raises inside torch (no frame in seq.py): exit 2, the model, the
    epoch, the layer and torch's message, no traceback; summary.json says failed."""
    (tmp_path / "seq.py").write_text(SEQ)
    ref = f"{tmp_path / 'seq.py'}:with_bn"
    sets = tiny_sets(f"model.name={ref}", "train.batch_size=1", drop="model.hidden=[32]")
    code, text = run_vislab(zygote, tmp_path, "train", "-q", "--out", tmp_path / "run", *sets)
    assert code == 2, text
    assert "Traceback" not in text, text
    message = one_line(text.partition(MARKER)[0])
    assert f"model '{ref}': your code raised ValueError in training epoch 1" in message, message
    assert "in its layer '2' (BatchNorm1d(16," in message, message
    assert "Expected more than 1 value per channel when training" in text
    assert "before its first checkpoint" in message
    assert status(tmp_path / "run") == "failed"


def test_a_builders_layer_of_the_wrong_size_is_named_on_the_dummy_batch(capsys, tmp_path):
    (tmp_path / "seq.py").write_text(SEQ)
    ref = f"{tmp_path / 'seq.py'}:bad_size"
    sets = tiny_sets(f"model.name={ref}", drop="model.hidden=[32]")
    code, text = cli(capsys, "train", "-q", "--out", tmp_path / "run", *sets)
    assert code == 2, text
    flat = one_line(text)
    assert (
        "on a dummy batch of zeros (2 inputs of the data's shape, 1×8×8), in its layer '1' " in flat
    )
    assert "'1' (Linear(in_features=100, out_features=32" in flat, flat
    assert "mat1 and mat2 shapes cannot be multiplied (2x64 and 100x32)" in flat, flat


# ----------------------------------------------------------------------------- 2. init_from_data raising
def test_init_from_data_raising_is_the_users_error_naming_the_hook(zygote, tmp_path):
    hooked = tmp_path / "hooked.py"
    hooked.write_text(HOOKED)
    sets = tiny_sets(f"model.name={hooked}:Net", drop="model.hidden=[32]")
    code, text = run_vislab(zygote, tmp_path, "train", "-q", "--out", tmp_path / "run", *sets)
    assert code == 2, text
    message, marker, users = text.partition(MARKER)
    assert marker and "Traceback" not in message, text
    line = HOOKED.splitlines().index('    raise ValueError(f"cannot whiten {tuple(x.shape)}")') + 1
    assert (
        f"your code raised ValueError in its init_from_data hook (before training) at {hooked}, "
        f"line {line}" in one_line(message)
    ), text
    assert "Nothing was trained" in one_line(message)
    files = {ln.split('"')[1] for ln in users.splitlines() if ln.strip().startswith('File "')}
    assert files == {str(hooked)}, users  # the user's frames only
    assert "ValueError: cannot whiten (300, 1, 8, 8)" in users
    assert status(tmp_path / "run") == "failed"
    assert not (
        tmp_path / "run" / "checkpoints"
    ).exists()  # nothing to resume: the same command again


# ----------------------------------------------------------------------------- 3. --nproc beyond the GPUs
def test_nproc_beyond_the_gpu_count_is_refused_before_any_process_starts(
    capsys, tmp_path, monkeypatch
):
    launched = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(launch, "launch_torchrun", lambda *a, **k: launched.append(a) or 0)
    sets = tiny_sets(drop="train.device=cpu")  # auto: CUDA, as a GPU is seen
    code, text = cli(capsys, "train", "--nproc", "4", "--out", tmp_path / "r", *sets)
    flat = one_line(text)
    assert code == 2 and not launched, text
    assert "--nproc 4 starts 4 processes on CUDA, one GPU each, but this machine has 2 GPUs" in flat
    assert "Use --nproc 2 or fewer" in flat and "--set train.device=cpu" in flat, flat
    # on the CPU (gloo) the same count starts; so do as many processes as GPUs
    for nproc, more in (("4", ["--set", "train.device=cpu"]), ("2", [])):
        code, text = cli(capsys, "train", "--nproc", nproc, "--out", tmp_path / "r", *sets, *more)
        assert code == 0, text
    assert len(launched) == 2


# ------------------------------------------------------------------ 4. a SIGKILLed launcher's log folder
def test_a_sigkilled_launchers_log_folder_is_swept_by_the_next_launch(
    zygote, tmp_path, monkeypatch
):
    """The launcher is killed outright while its workers would run: its folder stays; the next launch
    removes it (its launcher is gone), keeps a live launcher's and another host's, and its own goes at
    its end."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    pre = (
        f"import tempfile, time, vislab.training.launch as L; tempfile.tempdir = {str(temp)!r}; "
        "L.run = lambda args: time.sleep(120)"
    )
    log = tmp_path / "launcher.log"
    pid = zygote.start(["train", "--nproc", "2", "--out", tmp_path / "r", *tiny_sets()], log, pre)
    deadline = time.monotonic() + 30
    while not (left := list(temp.glob(f"vislab-torchrun-{pid}-*"))):
        assert time.monotonic() < deadline and zygote.wait(pid, 0) is None, log.read_text()
        time.sleep(0.05)
    zygote.kill(pid)  # SIGKILL: no cleanup of its own runs
    assert left[0].is_dir()
    host = socket.gethostname()
    live = temp / f"vislab-torchrun-{os.getpid()}-{host}-abc"
    elsewhere = temp / f"vislab-torchrun-{pid}-another-host-abc"
    for folder in (live, elsewhere):
        folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    seen = []
    monkeypatch.setattr(launch, "run", lambda args: seen.append(Path(args.log_dir)))
    assert launch.launch_torchrun(2, ["train", *tiny_sets()]) == 0
    assert not left[0].exists() and live.is_dir() and elsewhere.is_dir()
    assert seen[0].name.startswith(f"vislab-torchrun-{os.getpid()}-{host}-")
    assert not seen[0].exists()


# --------------------------------------------------------------- 5. mlp-scratch's record of its optimizer
SCRATCH = ["data.name=circles", "model.name=mlp-scratch", "train.epochs=1", "train.device=cpu"]


def test_mlp_scratch_config_yaml_says_only_optim_lr_is_used_and_its_run_resumes(capsys, tmp_path):
    run = tmp_path / "suite" / "scratch"
    suite = tmp_path / "s.yaml"
    base = {"data": {"name": "circles"}, "model": {"name": "mlp-scratch"}}
    base["train"] = {"epochs": 1, "device": "cpu", "figures": False}
    suite.write_text(yaml.safe_dump({"description": "one", "base": base, "runs": {"scratch": {}}}))
    args = ["suite", suite, "--out", tmp_path / "suite", "-q", "--no-report"]
    code, text = cli(capsys, *args)
    assert code == 0, text
    text = (run / "config.yaml").read_text()
    optim = next(line for line in text.splitlines() if line.startswith("optim:"))
    assert optim.startswith(
        "optim:  # only optim.lr is used, since mlp-scratch updates its weights"
    )
    assert "plain SGD at optim.lr" in optim
    # the values stay what the run was given: the same run for a suite, a resume, a rebuild
    assert yaml.safe_load(text) == load_checkpoint(run / "checkpoints" / "last.pt").record.config
    code, text = cli(capsys, *args)
    assert code == 0 and "scratch: already complete, skipped" in text, text
    code, text = cli(capsys, "train", "--resume", run, "--epochs", "2", "-q")
    assert code == 0, text
    assert "optim:  # only optim.lr is used" in (run / "config.yaml").read_text()
    # a fitted model uses neither
    sets = tiny_sets("model.name=majority", drop="model.hidden=[32]")
    code, text = cli(capsys, "train", "-q", "--out", tmp_path / "maj", *sets)
    assert code == 0, text
    marked = [ln for ln in (tmp_path / "maj" / "config.yaml").read_text().splitlines() if "#" in ln]
    assert marked[:3] == [
        "augment:  # not used: majority is fitted once on the train split as it is (not augmented)",
        *(
            f"{key}:  # not used: majority is fitted once on the whole train split (no optimizer steps)"
            for key in ("optim", "schedule")
        ),
    ]
    assert marked[3].startswith("train:  # not used: train.epochs, train.batch_size, "), marked


# ------------------------------------------------------------------- 6. the test-set hint in a suite
def test_a_suites_test_set_only_hint_says_its_set_reaches_every_run(capsys, tmp_path):
    write_mnist(tmp_path / "data" / "mnist", sets=("test",))
    base = {"data": {"name": "digits", "limit": 200}, "model": {"name": "majority"}}
    runs = {"mnist": {"data.name": "mnist", "data.root": str(tmp_path / "data")}, "digits": {}}
    suite = tmp_path / "s.yaml"
    spec = {"description": "two", "base": base, "runs": runs}
    suite.write_text(yaml.safe_dump(spec, sort_keys=False))  # mnist first: the suite stops there
    code, text = cli(capsys, "suite", suite, "--out", tmp_path / "out", "-q", "--no-report")
    flat = one_line(text)
    assert code == 2, text
    assert "--set 'data.use=[test]' --set 'data.split=[8000,1000,1000]'" in flat, flat
    assert "A suite's --set applies to all of its runs" in flat, flat
    assert "put `data.use: [test]` and `data.split: [8000, 1000, 1000]` in the suite file" in flat
    assert (
        "in the runs on this data only" in flat
        and "another run given them would be refused" in flat
    )


def test_a_plain_torchrun_rank_beyond_the_gpu_count_names_the_count_and_the_fix(monkeypatch):
    """Plain torchrun (no --nproc check before it) with more processes than GPUs: the rank whose GPU is
    missing says so, instead of CUDA's 'invalid device ordinal' from inside set_device."""
    from vislab.training.runtime import Distributed

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", lambda i: pytest.fail("set_device reached"))
    for key, value in (("WORLD_SIZE", "4"), ("RANK", "3"), ("LOCAL_RANK", "3")):
        monkeypatch.setenv(key, value)
    with pytest.raises(UserError) as e:
        Distributed("auto")
    text = " ".join(str(e.value).split())
    assert "LOCAL_RANK 3 of 4" in text and "this machine has 2 GPUs" in text, text
    assert "--nproc-per-node 2" in text and "--set train.device=cpu" in text, text


def test_a_fitted_baseline_trains_on_a_train_split_smaller_than_the_batch(capsys, tmp_path):
    """majority fits the whole train split at once: train.batch_size (64) above its 50 samples is no
    reason to refuse it (a sweep over data.limit failed such trials)."""
    sets = ["data.name=digits", "model.name=majority", "data.limit=50", "train.figures=false"]
    code, text = cli(
        capsys, "train", "-q", "--out", tmp_path / "r", *[a for s in sets for a in ("--set", s)]
    )
    assert code == 0, text
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["n_train"] == 50
