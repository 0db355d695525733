"""Signals to a `vislab suite --jobs 2` from outside a terminal: SIGINT or SIGTERM to the suite's process
alone (``kill -INT PID``, ``timeout``, a job scheduler) stops its job processes' runs as a Ctrl-C to the
whole process group does; a job process killed outright (``kill -9``, the OOM killer) fails its own run
only, and the others go on."""

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from conftest import one_line
from test_suite_workers import write_suite
from vislab.experiments.suites.plan import plan_run
from vislab.experiments.suites.spec import load_suite, run_config

ENDLESS = {"train.epochs": 100_000}


def jobs_suite(zygote, tmp_path: Path, runs: dict, wait_for: str, stop) -> tuple[int, str, Path]:
    """`vislab suite --jobs 2` of ``runs`` (forked by the module's zygote, tests/fixtures.py);
    ``stop(pid, out)`` once each run wrote ``wait_for``: the suite's exit code, its output and its --out."""
    spec = write_suite(tmp_path / "s.yaml", runs)
    out, log = tmp_path / "out", tmp_path / "suite.log"
    pid = zygote.start(["suite", spec, "--out", out, "-q", "--no-report", "--jobs", "2"], log)
    try:
        deadline = time.monotonic() + 120
        while not all((out / r / wait_for).is_file() for r in runs):
            assert zygote.wait(pid, 0) is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)
        stop(pid, out)
        code = zygote.wait(pid, 60)
    finally:
        zygote.kill(pid)  # if it outlived the test (its job processes end with it)
    return code, log.read_text(), out


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_to_the_suite_process_alone_stops_its_runs_in_flight(zygote, tmp_path, sig):
    """Before: SIGINT let both runs train on (here: forever), SIGTERM ended the suite 143 saying nothing."""
    runs = {"a": ENDLESS, "b": {**ENDLESS, "train.seed": 1}}
    code, text, out = jobs_suite(
        zygote, tmp_path, runs, "metrics.jsonl", lambda pid, out: os.kill(pid, sig)
    )
    assert code == 130 and "Traceback" not in text, text
    said = one_line(text)
    assert "interrupted, and with it 2 runs" in said, text
    assert "- a: training stopped by SIGINT" in said and "- b: training stopped by SIGINT" in said
    assert "Re-run the same `vislab suite` command" in said
    state = json.loads((out / "suite.json").read_text())["runs"]
    assert {r: state[r]["status"] for r in runs} == {"a": "interrupted", "b": "interrupted"}
    suite = load_suite(tmp_path / "s.yaml")
    for r in runs:  # a re-run resumes both
        assert (out / r / "checkpoints" / "last.pt").is_file()
        assert plan_run(r, out / r, lambda r=r: run_config(suite, r)).action == "resume"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads job pids from run locks")
def test_a_job_process_killed_outright_fails_its_run_alone(zygote, tmp_path):
    """Before: the other run was interrupted too, and the suite ended 130 without naming a failure."""
    # b: 40 tiny epochs (~1 s) still train on long after a is killed at their first epoch end (the two
    # start together: b is one epoch ahead at most), and end in the pool that replaces the broken one
    runs = {"a": ENDLESS, "b": {"train.epochs": 40, "train.seed": 1}}

    def kill_a(pid, out):  # run a's job process, as the OOM killer does
        os.kill(int((out / "a" / ".lock").read_text().split()[0]), signal.SIGKILL)

    code, text, out = jobs_suite(zygote, tmp_path, runs, "checkpoints/last.pt", kill_a)
    assert code == 1 and "Traceback" not in text, text
    said = one_line(text)
    assert "1 of 2 runs of suite" in said and "failed" in said, text
    assert "a: FAILED — its --jobs process was killed by signal 9 (SIGKILL" in said
    assert "a re-run of the suite resumes it from its last saved epoch" in said
    state = json.loads((out / "suite.json").read_text())["runs"]
    assert {r: state[r]["status"] for r in runs} == {"a": "failed", "b": "complete"}
    assert json.loads((out / "b" / "summary.json").read_text())["epochs_run"] == 40
    suite = load_suite(tmp_path / "s.yaml")
    assert plan_run("a", out / "a", lambda: run_config(suite, "a")).action == "resume"
