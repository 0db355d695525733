"""A suite whose run folders a live vislab process holds is refused before anything trains or is written;
Ctrl-C while ``--jobs`` processes start ends their runs "interrupted" without a traceback; the dry run
reads how a run not started yet trains from its model's class (a fitted baseline lists no augment.*);
a suite asking for verdicts without seeds says why it has none."""

from __future__ import annotations

import json
import multiprocessing as mp
import signal
import threading
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool

import pytest
import torch
import torch.nn as nn

import vislab
from conftest import cli, one_line
from test_paper_verdicts import fake_suite
from test_suite_dry_run import plan_lines
from test_suite_report_data_more import held, write_suite  # noqa: F401  (held: a fixture)
from vislab.experiments.records import RunOutcome, SuiteInfo
from vislab.experiments.suites import job_signals
from vislab.experiments.suites import pool as jobs
from vislab.experiments.suites.runner import write_results
from vislab.interrupts import take_ctrl_c
from vislab.models.hooks import ModelHooks
from vislab.models.registry import register_model, unregister_model
from vislab.report.build import plan_report
from vislab.report.seeds import table_context


# ------------------------------------------------------------------ 1. a suite already running there
def test_a_suite_whose_run_a_live_process_holds_is_refused_before_anything_trains(
    tmp_path,
    capsys,
    held,  # noqa: F811  (the fixture imported above)
    train_spy,
):
    run, pid = held  # out/mlp, held as the first `vislab suite` holds the run it trains
    spec = write_suite(tmp_path / "s.yaml", {"mlp": {}, "mlp-fast": {"optim.lr": 0.1}})
    out = tmp_path / "out"
    code, text = cli(capsys, "suite", spec, "--out", out)
    assert code == 2, text
    said = one_line(text)
    assert "suite 's' is already running into" in said, said
    assert f"- mlp: run directory '{run}' is in use by another vislab process (pid {pid})" in said
    assert "the whole suite is refused" in said
    assert "Wait for that process to end, or give another --out" in said
    assert "mlp-fast" not in said.partition("error:")[2]  # only the busy run is named
    # nothing trained (not even the free run) or written: no table listing mlp as failed
    assert train_spy == []
    assert sorted(p.name for p in out.iterdir()) == ["mlp"]
    with pytest.raises(vislab.UserError, match=f"pid {pid}"):
        vislab.run_suite(spec, out=out, quiet=True)
    assert train_spy == []


# ------------------------------------------------------------------ 2. Ctrl-C while --jobs processes start
def test_a_jobs_process_starts_with_ctrl_c_held_and_remembers_it_once_it_can():
    # the suite's process starts each --jobs process with SIGINT blocked: the child inherits it, so a
    # Ctrl-C during its start-up (seconds importing torch) waits instead of a KeyboardInterrupt traceback
    with job_signals.ctrl_c_held():
        pool = mp.get_context("spawn").Pool(1)
    try:
        assert signal.SIGINT in pool.apply(signal.pthread_sigmask, (signal.SIG_BLOCK, ()))
    finally:
        pool.terminate()
        pool.join()
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, ())  # restored here
    # the child, once it has started, takes the Ctrl-C that waited: remembered (its run stops at its
    # first step, resumably), nothing raised
    old = signal.getsignal(signal.SIGINT)
    try:
        with job_signals.ctrl_c_held():
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)  # pressed meanwhile
            signal.signal(
                signal.SIGINT, signal.SIG_DFL
            )  # as a process Python started ignoring nothing
            job_signals.take_held_ctrl_c()
            assert take_ctrl_c()
    finally:
        signal.signal(signal.SIGINT, old)


def test_a_jobs_process_whose_run_was_interrupted_starts_no_other(monkeypatch):
    # a process ready first may have been handed both runs while its neighbour was still starting
    ran = []

    def interrupted(cfg, run_dir, *args):
        ran.append(run_dir)
        return RunOutcome(status="interrupted", message="training stopped by SIGINT", seconds=0.1)

    monkeypatch.setattr(jobs, "_execute", interrupted)
    monkeypatch.setattr(jobs, "_stopped", False)
    assert jobs._worker({}, "a", False, None).status == "interrupted"
    second = jobs._worker({}, "b", False, None)
    assert second.status == "interrupted" and second.message == "stopped before it started"
    assert ran == ["a"]


def test_a_run_whose_jobs_process_ended_with_the_ctrl_c_is_listed_interrupted(tmp_path):
    ended = Future()
    ended.set_running_or_notify_cancel()
    ended.set_exception(BrokenProcessPool("A process in the process pool was terminated abruptly"))
    outcome = jobs._outcome_when_stopped(ended)
    assert outcome.status == "interrupted"
    assert outcome.message.startswith("interrupted (Ctrl-C)") and "resum" in outcome.message
    assert "terminated abruptly" not in outcome.message
    # results.md lists it so
    out = fake_suite(tmp_path, {"a": [], "b": []})
    state = SuiteInfo.read(out)
    state.runs["b"] = RunOutcome(status="interrupted", message=outcome.message)
    (out / "b" / "summary.json").unlink()
    write_results(out, state, log=lambda _: None)
    assert "- **b**: interrupted (Ctrl-C)" in (out / "results.md").read_text()


# ------------------------------------------------------------------ 3. a fitted baseline in a dry run
class ToyFitted(ModelHooks, nn.Module):
    """A fitted baseline of this test: the class declares it; the dry run never builds it."""

    trained_by = "fit_arrays"

    def __init__(self, num_classes: int):
        super().__init__()
        self.register_buffer("prior", torch.zeros(num_classes))


@pytest.fixture
def toy_fitted():
    register_model("toy-fitted")(ToyFitted)
    yield "toy-fitted"
    unregister_model("toy-fitted")


def test_dry_run_lists_no_augment_settings_of_a_fitted_baseline_not_yet_trained(
    tmp_path, capsys, toy_fitted, train_spy
):
    runs = {
        "mlp": {"augment.hflip.p": 0.5},
        "toy": {"model.name": toy_fitted, "augment.hflip.p": 0.5},
        "mlp-plain": {},
    }
    spec, out = write_suite(tmp_path / "s.yaml", runs), tmp_path / "out"
    code, text = cli(capsys, "suite", spec, "--out", out, "--dry-run")
    assert code == 0, text
    assert f"3 runs, 1 epoch each ({toy_fitted}: fitted)" in text
    lines = plan_lines(text)
    assert "augment.hflip.p=0.5" in lines["mlp"]
    assert lines["toy"] == f"start — model {toy_fitted}", lines["toy"]
    assert train_spy == [] and not out.exists()


# ------------------------------------------------------------------ 4. verdicts asked for, no seeds
def test_a_suite_with_groups_but_one_seed_says_its_verdicts_need_seeds(tmp_path):
    out = fake_suite(tmp_path, {"base": [], "wide": ["model.hidden=[8]"], "deep": []})
    info = json.loads((out / "suite.json").read_text())
    info.update(groups={"width": ["base", "wide", "deep"]}, compare="baseline")
    (out / "suite.json").write_text(json.dumps(info))
    write_results(out, SuiteInfo.read(out), log=lambda _: None)
    md = (out / "results.md").read_text()
    note = "need at least 2 seeds per run"
    assert md.count(note) == 1, md
    said = one_line(md)
    assert "Verdicts (each run against the first of its group (the baseline), per group)" in said
    assert "run the suite with --seeds 3" in said
    assert note in table_context(plan_report(out))["spread_note"]  # report.html, under its table
    # a suite that asks for no verdicts says nothing of them
    (tmp_path / "plain").mkdir()
    plain = fake_suite(tmp_path / "plain", {"a": [], "b": []})
    write_results(plain, SuiteInfo.read(plain), log=lambda _: None)
    assert note not in (plain / "results.md").read_text()
    assert table_context(plan_report(plain))["spread_note"] == ""


def test_the_built_in_baselines_are_planned_as_fitted(tmp_path, capsys):
    """dlvc-compare's majority (a builder function) is known as fitted before it trains: its dry-run
    line lists none of the base's augmentation, and the header says it has no epochs."""
    code, text = cli(capsys, "suite", "dlvc-compare", "--dry-run", "--out", tmp_path / "d")
    assert code == 0, text
    assert "10 epochs each (majority: fitted)" in text
    assert plan_lines(text)["majority"] == "start — model majority"


def test_a_fitted_baselines_other_settings_are_listed_without_its_epochs(tmp_path, capsys):
    """A suite's majority trained with 1 epoch and data.limit=100, asked again with --epochs 2 and
    data.limit=80: refused for its data, and the refusal lists data.limit alone — train.epochs changes
    nothing of a fitted baseline (and alone, it is no difference: already complete)."""
    spec = write_suite(tmp_path / "s.yaml", {"maj": {"model.name": "majority", "data.limit": 100}})
    out = tmp_path / "out"
    code, text = cli(capsys, "suite", spec, "--out", out, "--epochs", "1", "-q")
    assert code == 0, text
    code, text = cli(capsys, "suite", spec, "--out", out, "--epochs", "2", "--dry-run")
    assert code == 0 and plan_lines(text)["maj"].startswith("already complete"), text
    again = ["--epochs", "2", "--set", "data.limit=80", "--dry-run"]
    code, text = cli(capsys, "suite", spec, "--out", out, *again)
    (listed,) = [line.strip() for line in text.splitlines() if line.strip().startswith("- maj:")]
    assert code == 2 and listed == "- maj: data.limit: 100 → 80", text  # no "train.epochs: 1 → 2"
