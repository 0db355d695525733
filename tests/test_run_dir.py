"""One process per run directory: a second process (or two started together) is refused with the pid that holds
the lock; a stale or unreadable lock is taken over, one from another host is not; ``--resume`` of a run that never
started and ``--out`` onto an existing run are refused with the command to use instead.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time

from conftest import cli, one_line, tiny_sets
from fixtures import EPOCHS, KILL_ARGS
from vislab.training.rundir import RunDir


def _long_args(epochs: int = 500) -> list[str]:
    """KILL_ARGS trained for ``epochs``, on 200 samples: its first last.pt (and lock) within ~50 steps."""
    args = [a if a != f"train.epochs={EPOCHS}" else f"train.epochs={epochs}" for a in KILL_ARGS]
    return [*args, "--set", "data.limit=200"]


def test_second_process_on_the_same_run_dir_is_refused(capsys, tmp_path, zygote):
    run = tmp_path / "run"
    pid = zygote.start([*_long_args(), "--out", run], tmp_path / "first.log")
    try:
        deadline = time.monotonic() + 60
        # it holds the lock and has a checkpoint
        while not (run / "checkpoints" / "last.pt").is_file():
            assert zygote.wait(pid, 0.02) is None and time.monotonic() < deadline, (
                tmp_path / "first.log"
            ).read_text()
        assert (run / ".lock").read_text().split()[0] == str(pid)
        for args in ([*_long_args(), "--out", run], ["train", "--resume", run, "-q"]):
            code, out = cli(capsys, *args)
            assert code == 2 and f"in use by another vislab process (pid {pid})" in one_line(out), (
                out
            )
        assert zygote.wait(pid, 0) is None  # the first one is untouched and still running
    finally:
        zygote.kill(pid)


def test_two_processes_started_together_one_wins(tmp_path, zygote):
    run = tmp_path / "run"
    pids = [zygote.start([*_long_args(), "--out", run], tmp_path / f"{i}.log") for i in range(2)]
    try:
        deadline = time.monotonic() + 60
        codes = {}
        while not codes:
            assert time.monotonic() < deadline
            codes = {p: c for p in pids if (c := zygote.wait(p, 0.02)) is not None}
        ((loser, code),) = codes.items()
        winner = next(p for p in pids if p != loser)
        text = one_line((tmp_path / f"{pids.index(loser)}.log").read_text())
        assert code == 2 and f"in use by another vislab process (pid {winner})" in text, text
        assert (run / ".lock").read_text().split()[0] == str(winner)
    finally:
        for p in pids:
            zygote.kill(p)


def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_stale_foreign_and_garbage_locks(capsys, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    lock = run / ".lock"
    # a lock held by a process on another machine (shared file system): refused, naming host and pid
    lock.write_text("4242 some-other-host")
    code, out = cli(
        capsys, "train", "--set", "data.name=digits", "--set", "model.name=mlp", "--out", run, "-q"
    )
    assert code == 2 and "locked by vislab process 4242 on host 'some-other-host'" in one_line(
        out
    ), out
    # a stale lock (its process is dead) or an unreadable one is taken over, and released at the end
    for content in (f"{_dead_pid()} {socket.gethostname()}", "garbage", ""):
        lock.write_text(content)
        with RunDir(run) as rd:
            assert lock.read_text() == f"{os.getpid()} {socket.gethostname()}"
            assert rd._locked
        assert not lock.exists()
    lock.write_text(f"{_dead_pid()}")
    code, out = cli(capsys, "train", *tiny_sets("train.figures=false"), "--out", run, "-q")
    assert code == 0 and not lock.exists(), out


def test_run_directory_misuse(capsys, tmp_path, trained):
    code, out = cli(capsys, "train", "--resume", tmp_path / "never-started", "-q")
    assert code == 2 and "nothing to resume" in out and "without --resume" in one_line(out), out
    assert not (tmp_path / "never-started").exists()
    code, out = cli(capsys, "train", *tiny_sets(), "--out", trained, "-q")
    assert (
        code == 2
        and "already holds a run" in one_line(out)
        and f"--resume {trained}" in one_line(out)
    ), out
