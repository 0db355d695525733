"""Scaling out, as a user meets it: a ``--jobs`` process killed while it starts (the suite goes on once,
then stops honestly, not as a Ctrl-C), a sweep trial whose worker was killed (interrupted, as a Ctrl-C'd
one, its retry counting toward --trials), a suite refused because another holds its folder (naming the
process the user started, not its --jobs child), and a --storage URL shown as typed (no driver scheme, no
password)."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import Future
from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
import yaml

from conftest import cli, one_line, tiny_base, tiny_config
from test_suite_workers import write_suite
from vislab.experiments.suites import pool
from vislab.experiments.suites.plan import PlannedRun

# ------------------------------------------------------------------ 1. a --jobs process killed as it starts


def _drive(gen):
    """(what generator ``gen`` yielded, what it returned)."""
    got = []
    try:
        while True:
            got.append(next(gen))
    except StopIteration as e:
        return got, e.value


def _broken_pool(tmp_path, names):
    """(futures → planned runs in flight, a job process killed by SIGKILL that said no run, its queue)."""
    runs = {Future(): PlannedRun(n, tmp_path / n, "start", tiny_config()) for n in names}
    killed = {4242: SimpleNamespace(exitcode=-signal.SIGKILL, join=lambda timeout: None)}
    return runs, killed, SimpleNamespace(empty=lambda: True)


def test_a_jobs_process_killed_as_it_starts_lets_the_suite_go_on_once_then_stops_it_honestly(
    tmp_path, monkeypatch
):
    """Before: the suite stopped at once, each run "interrupted" (exit 130, as a Ctrl-C), "resumable from
    its last saved epoch" of runs that never started."""
    monkeypatch.setattr(pool, "_end_jobs", lambda run_dirs, grace_s: set())
    said = []
    futures, procs, queue = _broken_pool(tmp_path, ["a", "b"])
    got, back = _drive(pool._pool_broken(futures, procs, queue, said.append))
    assert got == [], got  # nothing ended: both go on in a new pool
    again, blind = back
    assert [(p.name, p.action) for p in again] == [("a", "start"), ("b", "start")]
    text = one_line("\n".join(said))
    assert "killed (SIGKILL, signal 9" in text and "trained none of the runs in flight" in text
    assert "the runs in flight go on in new --jobs processes" in text, text
    # the new pool broken so too, no run ended between: the suite stops, failed (exit 1), not interrupted
    futures, procs, queue = _broken_pool(tmp_path, ["a", "b"])
    source = pool._First([], pool.ListSource([PlannedRun("c", tmp_path / "c", "start")]))
    got, back = _drive(pool._pool_broken(futures, procs, queue, said.append, blind, source))
    assert back == (None, 2)
    outcomes = dict(got)
    assert {n: o.status for n, o in outcomes.items()} == {
        "a": "failed",
        "b": "failed",
        "c": "failed",
    }
    for name, done in (("a", "not finished"), ("b", "not finished"), ("c", "not started")):
        message = outcomes[name].message
        assert message.startswith(f"{done}: a --jobs process was killed (SIGKILL"), message
        assert "a second time before any run ended, so the suite stopped" in message
        assert "a re-run of the suite" in message and "resumable" not in message
    assert source.finished()  # nothing left to hand out


def _starting_job(pid: int, deadline: float) -> int:
    """The pid of a --jobs process of suite process ``pid`` once one has started (still importing)."""
    while time.monotonic() < deadline:
        for child in os.listdir("/proc"):
            try:
                stat = (Path("/proc") / child / "stat").read_text()
                argv = (Path("/proc") / child / "cmdline").read_bytes()
            except (OSError, ValueError):
                continue
            if stat.rpartition(")")[2].split()[1] == str(pid) and b"--multiprocessing-fork" in argv:
                return int(child)
        time.sleep(0.01)
    raise AssertionError("no --jobs process started")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds job processes in /proc")
def test_a_suite_whose_jobs_process_is_killed_as_it_starts_goes_on(zygote, tmp_path):
    """End to end: `vislab suite --jobs 2`, a --jobs process killed (SIGKILL) while it imports torch.
    Before: exit 130, both runs "interrupted" (resumable from a saved epoch they never had)."""
    spec = write_suite(tmp_path / "s.yaml", {"a": {}, "b": {"train.seed": 1}})
    out, log = tmp_path / "out", tmp_path / "suite.log"
    pid = zygote.start(["suite", spec, "--out", out, "-q", "--no-report", "--jobs", "2"], log)
    try:
        job = _starting_job(pid, time.monotonic() + 60)
        time.sleep(0.3)  # started, not yet training (importing takes seconds)
        os.kill(job, signal.SIGKILL)
        code = zygote.wait(pid, 120)
    finally:
        zygote.kill(pid)
    said = one_line(log.read_text())
    assert code == 0 and "Traceback" not in said, said
    assert (
        "trained none of the runs in flight (still starting" in said
        and "go on in new --jobs" in said
    )
    state = json.loads((out / "suite.json").read_text())["runs"]
    assert {r: state[r]["status"] for r in ("a", "b")} == {"a": "complete", "b": "complete"}


# ------------------------------------------------------------------ 2. a sweep worker killed outright


def test_a_trial_whose_worker_was_killed_is_interrupted_and_its_retry_counts(tmp_path, capsys):
    """Before: "failed" in trials.csv and the table's caption ("1 complete, 1 failed" for --trials 1), where the
    README counts failed trials toward --trials: one trial seemed trained beyond --trials."""
    out = tmp_path / "sw"
    out.mkdir()
    study = optuna.create_study(
        storage=f"sqlite:///{out / 'study.db'}", study_name="t", direction="maximize"
    )
    trial = study.ask()
    trial.suggest_float("optim.lr", 1e-3, 1e-1, log=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])  # the killed worker: gone
    dead.wait()
    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("pid", dead.pid)
    space = {"optim.lr": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}}
    spec = tmp_path / "t.yaml"
    spec.write_text(yaml.safe_dump({"name": "t", "base": tiny_base(), "space": space}))
    code, text = cli(capsys, "sweep", spec, "--trials", 1, "--out", out, "--no-report")
    assert code == 0, text
    assert f"its worker (pid {dead.pid}) is gone; marked interrupted, re-queued" in text, text
    with open(out / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["state"] for r in rows] == ["interrupted", "complete"], rows
    assert f"its worker (pid {dead.pid}) died during the trial" in rows[0]["error"]
    assert "1 complete, 1 interrupted" in one_line(text), text  # the table's caption


# ------------------------------------------------------------------ 3. a suite held by another's --jobs process


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads parent pids from /proc")
def test_a_suite_held_by_another_suites_jobs_process_names_that_suites_process(tmp_path, capsys):
    """Before: the message named the --jobs child's pid (kill it, and its suite only starts another);
    the process to wait for or stop is the suite's own (here: this test's process, the child's parent)."""
    run = tmp_path / "out" / "mlp"
    run.mkdir(parents=True)
    child = subprocess.Popen(  # as a spawned --jobs process's command line ends
        [sys.executable, "-c", "import time; time.sleep(60)", "--multiprocessing-fork"]
    )
    try:
        (run / ".lock").write_text(f"{child.pid} {socket.gethostname()}")
        spec = tmp_path / "s.yaml"
        spec.write_text(yaml.safe_dump({"name": "s", "base": tiny_base(), "runs": {"mlp": {}}}))
        code, text = cli(capsys, "suite", spec, "--out", tmp_path / "out")
    finally:
        child.kill()
        child.wait()
    said = one_line(text)
    me = os.getpid()
    assert code == 2 and "suite 's' is already running into" in said, said
    assert f"is in use by vislab process {me}, through its --jobs process {child.pid}" in said, said
    assert f"Wait for vislab process {me} to end, or stop it" in said and f"kill -INT {me}" in said


def test_the_command_of_a_suites_process_is_shown_as_typed_without_a_password():
    from vislab.experiments.suites.lock_owner import _command  # new with the fix

    argv = ["/venv/bin/python", "/venv/bin/vislab", "suite", "s.yaml", "--jobs", "2", "--storage"]
    shown = _command([*argv, "postgresql://u:s3cret@h/db"])
    assert shown == "vislab suite s.yaml --jobs 2 --storage 'postgresql://u:***@h/db'", shown
    assert _command(["python", "-m", "vislab", "suite", "x"]) == "python -m vislab suite x"
    assert _command(["python", "-c", "import vislab"]) == ""  # a script: not the user's words


# ------------------------------------------------------------------ 4. a --storage URL shown as typed


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:s3cret@127.0.0.1:1/db", "'postgresql://u:***@127.0.0.1:1/db'"),
        (
            "postgresql://u:s3cret@localhost:notaport/db",
            "'postgresql://u:***@localhost:notaport/db'",
        ),
    ],
    ids=["refused", "no-port"],
)
def test_a_sweep_storage_url_is_shown_as_typed(tmp_path, capsys, url, shown):
    """Before: 'postgresql+psycopg2://...' (the driver put in for SQLAlchemy), and a port that is not a
    number raised a traceback."""
    pytest.importorskip("psycopg2")
    spec = tmp_path / "t.yaml"
    space = {"optim.lr": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}}
    spec.write_text(yaml.safe_dump({"name": "t", "base": tiny_base(), "space": space}))
    code, text = cli(
        capsys, "sweep", spec, "--trials", 1, "--out", tmp_path / "sw", "--storage", url
    )
    said = one_line(text)
    assert code == 2 and f"cannot open the study storage {shown}" in said, said
    assert "+psycopg" not in said and "s3cret" not in said, said


def test_a_study_whose_storage_got_a_driver_is_named_by_the_url_typed(tmp_path, monkeypatch):
    """open_storage puts the installed driver into a postgresql:// URL (postgresql+psycopg2://): here
    into a SQLite one, to see it without a server. Before: the study's messages named the driver's URL."""
    from vislab.errors import UserError
    from vislab.experiments.sweeps import study as st
    from vislab.experiments.sweeps.spec import load_sweep

    typed = f"sqlite:///{tmp_path / 'studies.db'}"
    monkeypatch.setattr(st, "_with_driver", lambda url: url.replace("sqlite:", "sqlite+pysqlite:"))
    optuna.create_study(storage=typed, study_name="t", direction="maximize")
    spec = tmp_path / "t.yaml"
    space = {"optim.lr": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}}
    spec.write_text(
        yaml.safe_dump(
            {"name": "t", "base": tiny_base(), "space": space, "metric": "val_loss"}
        )  # a study of val_loss (minimize) where one that maximizes exists
    )
    with pytest.raises(UserError) as refused:
        st.open_study(load_sweep(spec), st.open_storage(typed))
    said = one_line(str(refused.value))
    assert f"study 't' in {typed} exists with direction maximize" in said, said
