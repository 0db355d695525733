"""Trackers: TensorBoard event files read back, W&B offline files, clear errors for missing extras."""

import sys
import time

import pytest

from vislab.errors import UserError
from vislab.training.rundir import RunDir
from vislab.training.tracking import build_trackers, scalars
from vislab.training.trainer import train


def test_scalars_keep_finite_numbers_and_split_per_class():
    row = {
        "epoch": 3,
        "train_loss": 0.5,
        "lr": 0.1,
        "val_acc": float("nan"),
        "flag": True,
        "val_per_class": [0.5, 1.0],
        "note": "x",
    }
    assert scalars(row) == {
        "train_loss": 0.5,
        "lr": 0.1,
        "val_per_class/0": 0.5,
        "val_per_class/1": 1.0,
    }


def test_tensorboard_events_read_back(tmp_path, tiny):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(tiny("track.tensorboard=true"), tmp_path / "run", quiet=True)
    acc = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    assert {"train_loss", "train_acc", "val_acc", "val_pacc", "lr", "val_per_class/0"} <= set(tags)
    assert [e.step for e in acc.Scalars("train_loss")] == [1, 2]
    metrics = RunDir(tmp_path / "run").read_metrics()
    assert [e.value for e in acc.Scalars("val_pacc")] == pytest.approx(
        [r["val_pacc"] for r in metrics]
    )


def test_wandb_offline_run_files(tmp_path, tiny, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "wandb-cache"))
    train(tiny("track.wandb=true", "track.project=vislab-test"), tmp_path / "run", quiet=True)
    runs = list((tmp_path / "run" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    records = list(runs[0].glob("run-*.wandb"))  # the offline run's log, what `wandb sync` uploads
    assert len(records) == 1
    # wandb-core (a separate process) may still be flushing when finish() returns
    deadline, want = time.time() + 120, (b"train_loss", b"val_pacc", b"vislab-test")
    while not all(w in records[0].read_bytes() for w in want) and time.time() < deadline:
        time.sleep(0.2)
    data = records[0].read_bytes()
    assert b"train_loss" in data and b"val_pacc" in data and b"vislab-test" in data


@pytest.mark.parametrize(
    "key,module", [("tensorboard", "torch.utils.tensorboard"), ("wandb", "wandb")]
)
def test_missing_extra_is_a_user_error_naming_the_install(tmp_path, tiny, monkeypatch, key, module):
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    with pytest.raises(UserError, match=rf"pip install 'vislab\[{key}\]'"):
        build_trackers(tiny(f"track.{key}=true"), RunDir(tmp_path))


def test_missing_extra_through_the_cli_exits_2_with_the_install_line(tmp_path, monkeypatch, capsys):
    from vislab.cli import main

    monkeypatch.setitem(sys.modules, "wandb", None)
    code = main(
        [
            "train",
            "--set",
            "data.name=digits",
            "--set",
            "data.limit=100",
            "--set",
            "model.name=majority",
            "--set",
            "track.wandb=true",
            "--out",
            str(tmp_path / "run"),
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "pip install 'vislab[wandb]'" in err and "Traceback" not in err
