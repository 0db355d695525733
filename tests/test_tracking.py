"""Trackers: TensorBoard event files read back, W&B offline files, clear errors for missing extras."""

import sys
import time
import types

import pytest

from conftest import one_line
from vislab.errors import Note, UserError
from vislab.training.rundir import RunDir
from vislab.training.state import Callback
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


class _FailingWriter:
    """A SummaryWriter stand-in that fails as a full disk would: at ``fail_at``'s epoch, or on close."""

    fail_at: int | None = None
    fail_close = False
    closed = 0

    def __init__(self, log_dir):
        pass

    def add_scalar(self, key, value, global_step):
        if global_step == self.fail_at:
            raise OSError(28, "No space left on device")

    def flush(self):
        pass

    def close(self):
        type(self).closed += 1
        if self.fail_close:
            raise OSError(28, "No space left on device")


@pytest.fixture
def failing_tensorboard(monkeypatch):
    """``torch.utils.tensorboard`` whose writer is a fresh subclass of _FailingWriter, returned."""
    writer = type("Writer", (_FailingWriter,), {})
    monkeypatch.setitem(
        sys.modules, "torch.utils.tensorboard", types.SimpleNamespace(SummaryWriter=writer)
    )
    return writer


def _cli(*args):
    from vislab.cli import main

    return main([*args, "--quiet"])


TRACKED = ["data.name=digits", "data.limit=100", "model.name=mlp", "train.epochs=3"]


def _sets(*sets: str) -> list[str]:
    return [a for s in sets for a in ("--set", s)]


def test_a_tracker_failing_mid_run_is_a_failure_naming_its_setting_and_a_resume_without_it(
    tmp_path, capsys, failing_tensorboard
):
    failing_tensorboard.fail_at = 2
    out = tmp_path / "run"
    code = _cli("train", *_sets(*TRACKED, "track.tensorboard=true"), "--out", str(out))
    err = one_line(capsys.readouterr().err)
    assert code == 1 and "Traceback" not in err  # the disk, not the user's input (RunFailed)
    assert "track.tensorboard=true: " in err and "could not log epoch 2's row" in err
    assert "No space left on device" in err
    resume = f"vislab train --resume {out} --set track.tensorboard=false"
    assert (
        f"{resume} (Python: vislab.train(out='{out}', resume=True, track__tensorboard=False))"
        in err
    )
    summary = RunDir(out).read_summary()
    assert summary.status == "failed" and summary.epochs_run == 2
    assert failing_tensorboard.closed == 1  # the writer closed all the same

    # the command the message gives goes on without the tracker, to the run's last epoch
    assert _cli(*resume.split()[1:]) == 0
    summary = RunDir(out).read_summary()
    assert summary.status == "complete" and summary.epochs_run == 3


def test_a_tracker_failing_to_close_is_a_note_the_run_complete(
    tmp_path, capsys, failing_tensorboard
):
    failing_tensorboard.fail_close = True
    out = tmp_path / "run"
    sets = _sets(
        "data.name=digits", "data.limit=100", "model.name=majority", "track.tensorboard=true"
    )
    code = _cli("train", *sets, "--out", str(out))
    err = one_line(capsys.readouterr().err)
    assert code == 0 and "Traceback" not in err
    assert "note: track.tensorboard=true: TensorBoardTracker could not close" in err
    assert "record may be incomplete" in err
    assert RunDir(out).read_summary().status == "complete"


def test_a_tracker_failing_to_close_after_failing_to_log_leaves_the_first_error(
    tmp_path, capsys, failing_tensorboard
):
    """TensorBoard's writer raises its stored error again on close: the error that stopped the run, and
    its resume, are what the user reads, the close a note beside it."""
    failing_tensorboard.fail_at, failing_tensorboard.fail_close = 2, True
    out = tmp_path / "run"
    code = _cli("train", *_sets(*TRACKED, "track.tensorboard=true"), "--out", str(out))
    err = one_line(capsys.readouterr().err)
    assert code == 1 and "could not log epoch 2's row" in err and "--resume" in err
    assert "could not close" in err
    assert RunDir(out).read_summary().status == "failed"


class _Closing(Callback):
    """A callback recording its close into ``closed``; ``fails``: its close raises, ``stops``: its
    on_epoch_end raises."""

    def __init__(self, name: str, closed: list, fails: bool = False, stops: bool = False):
        self.name, self.closed, self.fails, self.stops = name, closed, fails, stops

    def on_epoch_end(self, row: dict) -> None:
        if self.stops:
            raise ValueError(f"{self.name} stops the run")

    def close(self):
        self.closed.append(self.name)
        if self.fails:
            raise RuntimeError(f"{self.name} cannot close")


def test_every_callback_is_closed_when_one_fails_to(tmp_path, tiny):
    closed: list[str] = []
    callbacks = [_Closing("first", closed, fails=True), _Closing("second", closed)]
    with pytest.raises(RuntimeError, match="first cannot close"):
        train(tiny(), tmp_path / "run", quiet=True, callbacks=callbacks)
    assert closed == ["first", "second"]
    assert RunDir(tmp_path / "run").read_summary().status == "complete"


def test_a_callback_failing_to_close_does_not_hide_what_ended_the_run(tmp_path, tiny):
    closed: list[str] = []
    callbacks = [_Closing("first", closed, stops=True), _Closing("second", closed, fails=True)]
    with (
        pytest.raises(ValueError, match="first stops the run"),
        pytest.warns(Note, match=r"_Closing.close\(\) raised RuntimeError: second cannot close"),
    ):
        train(tiny(), tmp_path / "run", quiet=True, callbacks=callbacks)
    assert closed == ["first", "second"]
    assert RunDir(tmp_path / "run").read_summary().status == "failed"
