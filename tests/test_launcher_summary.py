"""`vislab train --nproc`: when the workers end early, the run's summary.json says so even if no rank could
write it (rank 0 killed, or stuck in a collective until torchrun's SIGKILL): the launcher writes it."""

import json
import shutil
import signal

import pytest
from torch.distributed.elastic.multiprocessing.api import SignalException
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError, ProcessFailure

import vislab.training.launch as launch
from conftest import one_line
from vislab.errors import RunFailed
from vislab.training.checkpoint import load_checkpoint
from vislab.training.launch import launch_torchrun, summarise_stopped


@pytest.fixture
def run(trained, tmp_path):
    """A copy of a finished 1-epoch digits run (its last.pt at the end of epoch 1) to write into."""
    return shutil.copytree(trained, tmp_path / "r")


def _rank_1_killed(tmp_path):
    def killed(args):
        failure = ProcessFailure(1, 11, -signal.SIGKILL, str(tmp_path / "no-error-file.json"))
        raise ChildFailedError("vislab", {1: failure})

    return killed


def _launcher_stopped(args):
    raise SignalException("got SIGTERM", signal.SIGTERM)


def _summary(run) -> dict:
    return json.loads((run / "summary.json").read_text())


@pytest.mark.parametrize(
    "left",
    [None, {"status": "running"}, {"status": "interrupted", "epochs_run": 0, "step": 0}],
    ids=["none", "running", "from-before-the-resume"],
)
def test_a_killed_worker_leaves_an_interrupted_summary_at_last_pt(run, tmp_path, monkeypatch, left):
    """Rank 1 SIGKILLed and rank 0 wrote nothing (or summary.json still says "running", or is an earlier
    stop's, from before this --resume): the launcher writes what rank 0 would have — "interrupted" at
    last.pt's epoch end — and its message is today's: the rank, the signal, the resume command."""
    (run / "summary.json").unlink()
    if left is not None:
        (run / "summary.json").write_text(json.dumps(left))
    monkeypatch.setattr(launch, "run", _rank_1_killed(tmp_path))
    with pytest.raises(RunFailed) as e:
        launch_torchrun(2, ["train", "--resume", str(run), "--nproc", "2"], folder=run)
    message = one_line(str(e.value))
    assert message.startswith("worker rank 1 of 2 was killed by SIGKILL"), message
    assert f"resume it with: vislab train --resume {run} --nproc 2." in message, message
    loop = load_checkpoint(run / "checkpoints" / "last.pt").resume.loop
    assert _summary(run) == dict(
        status="interrupted", epochs_run=1, step=0, best_epoch=loop.best_epoch,
        train_time_s=loop.train_time_s,
    )  # fmt: skip
    assert loop.epoch == 1 and loop.step == 0


def test_a_stopped_launcher_leaves_an_interrupted_summary(run, monkeypatch):
    """Ctrl-C / SIGTERM to the launcher: exit 130, and summary.json says "interrupted" even where rank 0
    was killed before it could write it."""
    (run / "summary.json").unlink()
    monkeypatch.setattr(launch, "run", _launcher_stopped)
    assert launch_torchrun(2, ["train", "--resume", str(run), "--nproc", "2"], folder=run) == 130
    assert _summary(run)["status"] == "interrupted" and _summary(run)["epochs_run"] == 1


def test_the_runs_own_last_word_is_kept_and_no_run_gets_no_summary(run, tmp_path):
    """A summary rank 0 wrote about this end (complete, or interrupted at last.pt) stays as it is; a
    folder where no run started, or whose last.pt cannot be read, gets none."""
    before = (run / "summary.json").read_text()
    assert json.loads(before)["status"] == "complete"
    summarise_stopped(run)
    assert (run / "summary.json").read_text() == before
    mine = {"status": "interrupted", "epochs_run": 1, "step": 0, "note": "rank 0's"}
    (run / "summary.json").write_text(json.dumps(mine))
    summarise_stopped(run)
    assert _summary(run) == mine

    (run / "summary.json").unlink()
    (run / "checkpoints" / "last.pt").write_bytes(b"cut short")
    summarise_stopped(run)
    assert not (run / "summary.json").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    summarise_stopped(empty)
    summarise_stopped(None)
    assert list(empty.iterdir()) == []
