"""A suite's runs after its epochs were raised and it was stopped, and a suite's run whose --jobs process
was killed outright, resumed to its end since: what suite.json and results.md say of each."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import yaml

import vislab
import vislab.experiments.suites.jobs as jobs
from conftest import cli, tiny_suite
from vislab.errors import TrainingInterrupted
from vislab.experiments.records import RunOutcome, SuiteInfo
from vislab.experiments.suites.pool import _killed
from vislab.experiments.suites.runner import write_results

QUIET = {"log": lambda line: None}


def _epochs_run(run: Path) -> int:
    return json.loads((run / "summary.json").read_text())["epochs_run"]


def test_a_suite_stopped_after_its_epochs_were_raised_leaves_the_runs_it_did_not_reach(
    tmp_path, monkeypatch
):
    """Epochs raised, then Ctrl-C while the first run trains: the second run stays in its folder as it
    was (not moved aside), suite.json does not call it complete, results.md lists it as not trained with
    these settings, with the command that trains it; the same command then trains both."""
    spec = tmp_path / "two.yaml"
    spec.write_text(
        yaml.safe_dump(tiny_suite(name="two", runs={"a": {}, "b": {"model.hidden": [8]}}))
    )
    out = tmp_path / "s"
    vislab.run_suite(str(spec), out=out, **QUIET)

    real_train = jobs.train

    def stopped(cfg, run_dir, **kw):  # Ctrl-C while run a trains
        raise TrainingInterrupted("training stopped by SIGINT at epoch 1, step 2")

    monkeypatch.setattr(jobs, "train", stopped)
    with pytest.raises(TrainingInterrupted):
        vislab.run_suite(str(spec), out=out, epochs=2, **QUIET)
    assert _epochs_run(out / "b") == 1 and not (out / "b.epochs-1").exists()
    assert (out / "a.epochs-1").is_dir()  # a's own retraining started: moved aside then
    runs = SuiteInfo.read(out).runs
    assert runs["a"].status == "interrupted" and runs["b"].status != "complete"
    results = (out / "results.md").read_text()
    assert "| b |" not in results  # its 1-epoch run is in no table
    assert "**b**: not trained with these settings" in results
    assert "--only b" in results and "**a**: training stopped by SIGINT" in results

    monkeypatch.setattr(jobs, "train", real_train)
    vislab.run_suite(str(spec), out=out, epochs=2, **QUIET)  # the fix the message gives
    assert _epochs_run(out / "a") == _epochs_run(out / "b") == 2
    assert _epochs_run(out / "b.epochs-1") == 1
    assert {r.status for r in SuiteInfo.read(out).runs.values()} == {"complete"}


def test_a_run_whose_jobs_process_was_killed_is_caught_up_once_resumed_to_its_end(tmp_path, capsys):
    """The suite recorded mlp failed, its --jobs process killed (kill -9), resumable; `vislab train
    --resume s/mlp`, the fix results.md gives, finishes it: suite.json and results.md then say so."""
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(tiny_suite(name="tiny")))
    out = tmp_path / "s"
    vislab.run_suite(str(spec), out=out, **QUIET)
    summary = out / "mlp" / "summary.json"
    summary.write_text(json.dumps({**json.loads(summary.read_text()), "status": "interrupted"}))
    info = SuiteInfo.read(out)
    killed = _killed(signal.SIGKILL, out / "mlp")
    info.runs["mlp"] = RunOutcome(status="failed", message=killed, seconds=0.0)
    info.write(out)
    write_results(out, info, **QUIET)  # as the suite wrote them
    assert f"vislab train --resume {out / 'mlp'}" in (out / "results.md").read_text()

    code, text = cli(capsys, "train", "--resume", out / "mlp")
    assert code == 0, text
    assert SuiteInfo.read(out).runs["mlp"].status == "complete"
    results = (out / "results.md").read_text()
    assert "| mlp |" in results and "killed" not in results
    assert "mlp (failed → complete)" in text


def test_a_run_the_suite_failed_otherwise_keeps_its_record(tmp_path):
    """Only a killed --jobs process's run is caught up: one failed for its folder keeps its record."""
    from vislab.experiments.suites.catch_up import caught_up

    (tmp_path / "cnn").mkdir()
    (tmp_path / "cnn" / "summary.json").write_text('{"status": "complete", "epochs_run": 1}')
    failed = RunOutcome(
        status="failed", message="its --jobs process ended (a run of another config)"
    )
    assert caught_up(tmp_path, SuiteInfo(runs={"cnn": failed}), print).runs == {"cnn": failed}
