"""A suite's record brought up to date with its runs (a run resumed to its end after the suite recorded it
interrupted: the report, the paper and results.csv say it finished), a Ctrl-C while a suite's or sweep's
report is written (what was kept, and the command that writes it), and a paper of run folders (which
folders it names, and the runs it leaves out, said on the terminal)."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

import vislab
from conftest import cli, table_run, tiny_suite, tiny_sweep
from figures_skipped import skip_report_figures
from vislab.experiments.records import RunOutcome, SuiteInfo
from vislab.experiments.suites.runner import write_results

STOPPED = "interrupted by Ctrl-C at epoch 1 (step 3)"


@pytest.fixture(scope="module")
def _suite_once(tmp_path_factory) -> Path:
    """The tiny suite (majority, mlp), trained once for the module; no test sees it."""
    root = tmp_path_factory.mktemp("suite-once")
    spec = root / "tiny.yaml"
    spec.write_text(yaml.safe_dump(tiny_suite(name="tiny")))
    vislab.run_suite(str(spec), out=root / "s", log=lambda line: None)
    return root / "s"


@pytest.fixture
def resumed_since(_suite_once, tmp_path) -> Path:
    """A copy of the suite as it is once its mlp, recorded interrupted (suite.json, results.csv/.md
    written then), was resumed to its end by `vislab train --resume s/mlp`: its summary.json complete."""
    out = tmp_path / "s"
    shutil.copytree(_suite_once, out)
    summary = out / "mlp" / "summary.json"
    finished = summary.read_text()
    summary.write_text(json.dumps({**json.loads(finished), "status": "interrupted"}))
    info = SuiteInfo.read(out)
    info.runs["mlp"] = RunOutcome(status="interrupted", message=STOPPED, halted=True)
    info.write(out)
    write_results(out, info, log=lambda line: None)  # as the interrupted suite wrote them
    assert "mlp" not in set(pd.read_csv(out / "results.csv")["run"])
    summary.write_text(finished)  # resumed to its end
    return out


def test_report_of_a_run_resumed_since_the_suite_says_it_finished(resumed_since, capsys):
    out = resumed_since
    with pytest.MonkeyPatch.context() as mp:
        skip_report_figures(mp)
        code, text = cli(capsys, "report", out)
    assert code == 0, text
    page = (out / "report.html").read_text()
    assert "Failed or unfinished" not in page and STOPPED not in page
    assert SuiteInfo.read(out).runs["mlp"].status == "complete"
    table = pd.read_csv(out / "results.csv")
    assert list(table["run"]) == ["majority", "mlp"]
    pd.testing.assert_frame_equal(vislab.compare([out]), table)
    assert STOPPED not in (out / "results.md").read_text()
    assert "mlp (interrupted → complete)" in text  # what it brought up to date


def test_paper_of_a_run_resumed_since_the_suite_keeps_it_in_every_file(resumed_since, capsys):
    out = resumed_since
    code, text = cli(capsys, "paper", out, "--out", out / "paper", "--no-figures")
    assert code == 0, text
    texts = (out / "paper" / "texts.tex").read_text()
    assert "did not finish" not in texts and "interrupted" not in texts
    assert "| mlp |" in (out / "paper" / "tables.md").read_text()
    assert list(pd.read_csv(out / "results.csv")["run"]) == ["majority", "mlp"]
    assert "mlp (interrupted → complete)" in text and "did not finish" not in text


def _report_cut_short(monkeypatch) -> None:
    """A Ctrl-C in the report a suite or sweep writes once its runs are done."""
    import vislab.report.build as build

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(build, "build_report", ctrl_c)


def test_ctrl_c_in_a_suites_report_says_what_was_kept_and_how_to_write_it(
    tmp_path, monkeypatch, capsys
):
    spec, out = tmp_path / "tiny.yaml", tmp_path / "s"
    spec.write_text(yaml.safe_dump(tiny_suite(name="tiny")))
    with pytest.MonkeyPatch.context() as mp:
        _report_cut_short(mp)
        code, text = cli(capsys, "suite", spec, "--out", out, "-q")
    assert code == 130, text
    assert not text.rstrip().endswith("interrupted."), text
    said = " ".join(text.split())
    assert "Ctrl-C while the report was written" in said
    assert f"{out / 'report.html'} was not written" in said
    assert f"Write it: vislab report {out}" in said and "`vislab suite` command" in said
    assert (out / "results.md").is_file() and not (out / "report.html").exists()
    with pytest.MonkeyPatch.context() as mp:  # the fix it names
        skip_report_figures(mp)
        code, text = cli(capsys, "report", out)
    assert code == 0 and (out / "report.html").is_file(), text


def test_ctrl_c_as_an_ended_suites_table_is_printed_says_it_stopped_nothing(
    tmp_path, monkeypatch, capsys
):
    import vislab.cli.experiments as command

    spec, out = tmp_path / "tiny.yaml", tmp_path / "s"
    spec.write_text(yaml.safe_dump(tiny_suite(name="tiny")))

    def ctrl_c(folder):
        raise KeyboardInterrupt

    monkeypatch.setattr(command, "print_results", ctrl_c)
    code, text = cli(capsys, "suite", spec, "--out", out, "-q", "--no-report")
    assert code == 130, text
    said = " ".join(text.split())
    assert "once the suite had ended: it stopped nothing, every file is written" in said
    assert str(out / "results.md") in said


def test_ctrl_c_in_a_sweeps_report_says_what_was_kept_and_how_to_write_it(tmp_path, capsys):
    spec, out = tmp_path / "tiny.yaml", tmp_path / "sw"
    spec.write_text(yaml.safe_dump(tiny_sweep()))
    with pytest.MonkeyPatch.context() as mp:
        _report_cut_short(mp)
        code, text = cli(capsys, "sweep", spec, "--trials", "1", "--out", out)
    assert code == 130, text
    said = " ".join(text.split())
    assert "Ctrl-C while the report was written: the trials and their tables" in said
    assert f"Write it: vislab report {out}" in said and "`vislab sweep` command" in said
    assert (out / "results.md").is_file() and not (out / "report.html").exists()


def test_paper_of_run_folders_names_them_and_says_the_unfinished_one_once(tmp_path, capsys):
    a, b, stopped = (table_run(tmp_path, n) for n in ("r_a", "r_b", "r_int"))
    summary = stopped / "summary.json"
    summary.write_text(json.dumps({**json.loads(summary.read_text()), "status": "interrupted"}))
    paper = tmp_path / "pr"
    code, text = cli(capsys, "paper", a, b, stopped, "--out", paper, "--no-figures")
    assert code == 0, text
    texts = (paper / "texts.tex").read_text()
    assert f"from {a}, {b} and {stopped}".replace("_", "\\_") in texts
    assert f"from {paper}" not in texts
    assert text.count("r_int: not in the tables, it did not finish") == 1, text


def test_a_run_the_suite_failed_is_not_caught_up_from_its_folders_summary(tmp_path):
    """A run the suite recorded failed (e.g. its folder holds a run of another config, complete) keeps its
    record: its folder's summary.json is of that other run — it is not turned into a complete row."""
    from vislab.experiments.records import RunOutcome, SuiteInfo
    from vislab.experiments.suites.catch_up import caught_up

    run = tmp_path / "cnn"
    run.mkdir()
    (run / "summary.json").write_text('{"status": "complete", "epochs_run": 1}')
    failed = RunOutcome(status="failed", message="holds a run with a different config")
    info = SuiteInfo(runs={"cnn": failed})
    said: list[str] = []
    assert caught_up(tmp_path, info, said.append).runs == {"cnn": failed} and said == []


def test_resuming_a_suites_run_to_its_end_updates_its_results_table_at_once(
    _suite_once, tmp_path, capsys
):
    """`vislab train --resume s/mlp` of a run the suite recorded interrupted: results.csv/.md and
    suite.json say it finished as soon as it does (as `vislab compare s` does), not at the next report."""
    out = tmp_path / "s"
    shutil.copytree(_suite_once, out)
    summary = out / "mlp" / "summary.json"
    summary.write_text(json.dumps({**json.loads(summary.read_text()), "status": "interrupted"}))
    info = SuiteInfo.read(out)
    info.runs["mlp"] = RunOutcome(status="interrupted", message=STOPPED, halted=True)
    info.write(out)
    write_results(out, info, log=lambda line: None)
    code, text = cli(capsys, "train", "--resume", out / "mlp")
    assert code == 0, text
    assert json.loads(summary.read_text())["status"] == "complete"
    assert SuiteInfo.read(out).runs["mlp"].status == "complete"
    table = pd.read_csv(out / "results.csv")
    assert list(table["run"]) == ["majority", "mlp"]
    pd.testing.assert_frame_equal(vislab.compare([out]), table)
    assert "mlp (interrupted → complete)" in text


def test_a_suite_record_of_another_shape_is_no_traceback_in_report_or_resume(
    _suite_once, tmp_path, capsys
):
    """A suite.json record edited by hand (a message that is no text) beside a run without summary.json:
    `vislab report` lists the run as unfinished, and resuming another run of the suite (which writes the
    suite's tables again) still ends well: no traceback from reading the record as a summary."""
    out = tmp_path / "s"
    shutil.copytree(_suite_once, out)
    record = json.loads((out / "suite.json").read_text())
    record["runs"]["majority"] = {**record["runs"]["majority"], "status": "failed", "message": 5}
    (out / "suite.json").write_text(json.dumps(record))
    (out / "majority" / "summary.json").unlink()
    with pytest.MonkeyPatch.context() as mp:
        skip_report_figures(mp)
        code, text = cli(capsys, "report", out)
    assert code == 0 and "Traceback" not in text, text
    code, text = cli(capsys, "train", "--resume", out / "mlp")
    assert code == 0 and "Traceback" not in text, text
