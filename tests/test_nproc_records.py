"""`vislab train --nproc`: what a launched run records when it ends early — "failed" for a worker's error,
as one process records it, "interrupted" for a signal — and no empty default folder left behind; a resume's
refusals and help that say what may change on a resume."""

import json
import os
import shutil
import signal
import textwrap
from pathlib import Path

import pytest
import torch
from torch.distributed.elastic.multiprocessing.api import SignalException
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError, ProcessFailure

import vislab
import vislab.training.launch as launch
from conftest import cli, one_line
from test_distributed import vislab_forked
from vislab.errors import UserError
from vislab.training.launch import check_gpu_count, launch_torchrun


@pytest.fixture
def run(trained, tmp_path):
    """A copy of a finished 1-epoch digits run (its last.pt at the end of epoch 1) to write into."""
    return shutil.copytree(trained, tmp_path / "r")


def _ended(tmp_path, rank_1: int, rank_0: int = 130):
    """torchrun's end: rank 1 ended with ``rank_1`` (an exit code; negative: a signal), then rank 0
    with ``rank_0`` (130: it saw its peer end) in the same second."""
    no_file = str(tmp_path / "no-error-file.json")

    def ended(args):
        failures = {
            1: ProcessFailure(1, 11, rank_1, no_file),
            0: ProcessFailure(0, 10, rank_0, no_file),
        }
        raise ChildFailedError("vislab", failures)

    return ended


def _status(run) -> tuple[str, int]:
    summary = json.loads((run / "summary.json").read_text())
    return summary["status"], summary["epochs_run"]


@pytest.mark.parametrize("left", ["none", "rank 0's"])
def test_a_worker_that_failed_leaves_a_failed_summary(run, tmp_path, monkeypatch, left):
    """Rank 1's code raised (exit 2) and rank 0 ended "interrupted" as its peer went (or wrote nothing): the
    run's summary.json says "failed", as one process records it, at last.pt's epoch end."""
    (run / "summary.json").unlink()
    if left == "rank 0's":
        (run / "summary.json").write_text(
            json.dumps(dict(status="interrupted", epochs_run=1, step=0))
        )
    monkeypatch.setattr(launch, "run", _ended(tmp_path, rank_1=2))
    assert launch_torchrun(2, ["train", "--resume", str(run), "--nproc", "2"], folder=run) == 2
    assert _status(run) == ("failed", 1)


def test_a_failure_before_the_first_epoch_end_is_failed_at_epoch_0(run, tmp_path, monkeypatch):
    """No last.pt yet (the worker's message says: run it again): "failed" at epoch 0, not a resumable
    "interrupted"."""
    (run / "summary.json").unlink()
    (run / "checkpoints" / "last.pt").unlink()
    monkeypatch.setattr(launch, "run", _ended(tmp_path, rank_1=1))
    assert launch_torchrun(2, ["train", "--nproc", "2"], folder=run) == 1
    assert _status(run) == ("failed", 0)


def test_signals_still_leave_interrupted_and_a_complete_run_stays_complete(
    run, tmp_path, monkeypatch
):
    (run / "summary.json").unlink()
    monkeypatch.setattr(launch, "run", _ended(tmp_path, rank_1=130))
    assert launch_torchrun(2, ["train", "--nproc", "2"], folder=run) == 130
    assert _status(run) == ("interrupted", 1)
    (run / "summary.json").write_text(json.dumps(dict(status="complete", epochs_run=1, step=0)))
    monkeypatch.setattr(launch, "run", _ended(tmp_path, rank_1=2))
    assert launch_torchrun(2, ["train", "--nproc", "2"], folder=run) == 2
    assert _status(run) == ("complete", 1)


_BAD_NET = """
import os
from torch import nn


class Net(nn.Module):
    def __init__(self, num_classes, input_shape):
        super().__init__()
        self.fc = nn.Linear(64, num_classes)
        self.calls = 0

    def forward(self, x):
        self.calls += self.training
        if os.environ.get("RANK") == "1" and self.calls > {after}:
            raise RuntimeError("rank 1 broke")
        return self.fc(x.flatten(1))
"""


@pytest.mark.slow
@pytest.mark.parametrize("after", [2, 60])
def test_nproc_run_whose_code_raises_on_rank_1_records_failed(tmp_path, zygote, after):
    """The user's model raises on rank 1 only, in epoch 1 (no checkpoint yet: "run it again") or later
    (its last checkpoint kept): summary.json says "failed", as one process would, where it stopped."""
    (tmp_path / "badnet.py").write_text(textwrap.dedent(_BAD_NET.format(after=after)))
    sets = ["data.name=digits", "model.name=badnet.py:Net", "train.epochs=6", "train.figures=false"]
    argv = ["train", "--nproc", "2", "-q", "-o", "np2"]
    argv += [a for s in (*sets, "train.device=cpu") for a in ("--set", s)]
    log = tmp_path / "launcher.log"
    pid = vislab_forked(zygote, log, *argv, pre=f"os.chdir({str(tmp_path)!r})")  # in tmp_path
    code = zygote.wait(pid, 120)
    text = one_line(log.read_text())
    assert code == 2 and "your code raised RuntimeError" in text, text
    status, epochs_run = _status(tmp_path / "np2")
    assert status == "failed", text
    if after == 2:
        assert epochs_run == 0 and "after fixing your code, run it again" in text, text
    else:
        assert epochs_run > 0 and "resume with: vislab train --resume np2 --nproc 2" in text, text


@pytest.mark.parametrize("end", ["failed", "signal"])
def test_a_launched_run_that_fails_leaves_no_empty_default_folder(
    tmp_path, monkeypatch, capsys, end
):
    """Without --out the launcher makes the run's folder (runs/<model>-<data>-<time>); a run that fails
    or is stopped before writing in it leaves none, as one process does; a run that wrote keeps it."""
    monkeypatch.chdir(tmp_path)
    stopped = lambda args: (_ for _ in ()).throw(SignalException("got SIGTERM", signal.SIGTERM))  # noqa: E731
    monkeypatch.setattr(launch, "run", _ended(tmp_path, rank_1=2) if end == "failed" else stopped)
    args = ["train", "--nproc", "2", "--set", "data.name=digits", "--set", "model.name=mlp"]
    code, _ = cli(capsys, *args)
    assert code == (2 if end == "failed" else 130)
    assert list((tmp_path / "runs").iterdir()) == []

    def wrote(args):
        (tmp_path / "runs" / next(iter(os.listdir("runs"))) / "config.yaml").write_text("")
        _ended(tmp_path, rank_1=2)(args)

    monkeypatch.setattr(launch, "run", wrote)
    assert cli(capsys, *args)[0] == 2
    assert len(list((tmp_path / "runs").iterdir())) == 1


def test_resume_refusal_with_epochs_given_says_to_drop_the_set(run, capsys):
    """--epochs given and --set train.epochs too: the refusal names the --set to drop (not "give
    --epochs", which was given); vislab.train's epochs= with train__epochs= the same in its words."""
    code, text = cli(capsys, "train", "--resume", run, "--epochs", "4", "--set", "train.epochs=4")
    text = one_line(text)
    assert code == 2 and "drop --set train.epochs=4" in text and "give --epochs" not in text, text
    with pytest.raises(UserError) as e:
        vislab.train(out=run, resume=True, epochs=4, train__epochs=4)
    message = one_line(str(e.value))
    assert "leave out train__epochs=4" in message and "give epochs=" not in message, message
    assert "--" not in message


def test_too_few_gpus_suggests_the_cpu_for_a_resume_too(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(UserError) as e:
        check_gpu_count(2, "cuda")
    message = one_line(str(e.value))
    assert "--set train.device=cpu" in message and "(a new run)" not in message, message
    assert "--resume" in message


def test_train_help_says_what_a_resume_may_change(capsys):
    code, text = cli(capsys, "train", "--help")
    text = one_line(text.replace("│", " "))
    resume = text[text.index("--resume") : text.index("--overwrite")]
    assert code == 0
    assert all(k in resume for k in ("data.root", "train.device", "train.threads", "track.")), (
        resume
    )


def test_rank_0_stopped_by_the_failure_does_not_hide_the_error(tmp_path, monkeypatch, capfd):
    """Rank 1 failed and torchrun's SIGTERM made rank 0 print only that it was stopped: rank 1's error,
    from its log, is printed too (the run failed; "interrupted" alone would hide why)."""

    def fake_run(args):
        Path(os.environ["VISLAB_RANK0_SAID"]).write_text("interrupted")
        log = Path(args.log_dir) / "job_x" / "attempt_0" / "1"
        log.mkdir(parents=True)
        (log / "stderr.log").write_text("error: rank 1 says why\n")
        _ended(tmp_path, rank_1=2)(args)

    monkeypatch.setattr(launch, "run", fake_run)
    assert launch_torchrun(2, ["train", "--set", "data.name=digits", "--nproc", "2"]) == 2
    assert capfd.readouterr().err.count("error: rank 1 says why") == 1
