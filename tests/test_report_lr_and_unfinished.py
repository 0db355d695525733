"""The report's and paper's learning-rate figure draws the lr at every optimizer step, as the run's own
figures/lr.png does; a scored run whose figures were cut short is listed with the resume that draws them
(report, paper, compare); compare lists a run whose summary.json is cut short and compares the others."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import vislab
import vislab.plotting.steps as plotting_steps
import vislab.report.tracking as tracking
from conftest import cli, one_line, table_run, tiny_config
from vislab.errors import Note
from vislab.report.build import plan_report
from vislab.report.figure_set import FigureSet
from vislab.training.rundir import RunDir
from vislab.training.trainer import train


@pytest.fixture(scope="module")
def lr_runs(tmp_path_factory) -> tuple[Path, dict]:
    """Two tiny runs with a one-epoch warm-up (one cosine, one constant after it) and the per-step lr
    each one's own figures/lr.png was drawn from."""
    folder, drawn = tmp_path_factory.mktemp("lr-runs"), {}
    real = plotting_steps.plot_lr

    def spy(rows, path, title="", steps=None, schedule=None):
        drawn[Path(path).parent.parent.name] = schedule
        return real(rows, path, title, steps, schedule)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(plotting_steps, "plot_lr", spy)
        for name, extra in (("cos", ["schedule.name=cosine"]), ("warm", [])):
            sets = ("schedule.warmup_epochs=1", "optim.lr=0.01", "train.figures=true")
            cfg = tiny_config(*sets, *extra)
            train(cfg, folder / name, quiet=True)
    return folder, drawn


def report_lr(run: Path, monkeypatch) -> tuple[list[dict], list]:
    """The report's tracking figures of ``run`` and the per-step schedule its lr figure was drawn with."""
    seen = []

    def spy(rows, path, title="", steps=None, schedule=None):
        seen.append(schedule)
        return path

    monkeypatch.setattr(tracking, "plot_lr", spy)
    figs = FigureSet(run.parent / "report-figures", [])
    rd = RunDir(run)
    return tracking.tracking_figures(figs, run.name, run, rd.load_config(), rd.read_summary()), seen


@pytest.mark.parametrize("name", ["cos", "warm"])
def test_report_lr_figure_is_the_runs_own_per_step_lr(lr_runs, name, monkeypatch):
    folder, drawn = lr_runs
    _, seen = report_lr(folder / name, monkeypatch)
    assert drawn[name], "the run's own figures/lr.png draws the lr of every step"
    # a warm-up only run has an lr figure too (its epochs' lr are all 0.01)
    assert seen == [drawn[name]]
    assert seen[0][0][1] < 0.01 / 2  # the warm-up's first step: no straight line from epoch 1


def test_report_lr_caption_says_what_is_drawn(lr_runs, monkeypatch, tmp_path):
    (made,), _ = report_lr(lr_runs[0] / "cos", monkeypatch)
    assert "at every optimizer step" in made["caption"]
    run = tmp_path / "cos"  # no train split size in summary.json: the epochs' lr only, said so
    shutil.copytree(lr_runs[0] / "cos", run)
    (run / "summary.json").write_text(json.dumps({"status": "interrupted"}))
    (made,), seen = report_lr(run, monkeypatch)
    assert seen == [None] and "per epoch (and at the logged steps)" in made["caption"]


@pytest.fixture
def mixed(tmp_path) -> Path:
    """A folder of three runs: one finished, one scored but interrupted while its figures were drawn,
    one whose summary.json is cut short."""
    table_run(tmp_path, "done")
    stopped = table_run(tmp_path, "stopped")
    summary = json.loads((stopped / "summary.json").read_text())
    summary.update(status="interrupted", figures_missing=["lr.png", "confusion_test.png"])
    (stopped / "summary.json").write_text(json.dumps(summary))
    cut = table_run(tmp_path, "cut")
    (cut / "summary.json").write_text('{"status": "compl')
    return tmp_path


def test_report_and_paper_name_the_resume_of_figures_cut_short(mixed):
    plan = plan_report(mixed)  # its scores in the table, as compare's; its missing figures noted
    assert "stopped" in plan.table and "stopped" not in plan.failures
    why = " ".join(plan.notes)  # report.html's notes and the paper's
    assert f"vislab train --resume {mixed / 'stopped'}" in why
    assert "lr.png, confusion_test.png" in why


def test_compare_command_lists_cut_summary_and_resume_hint(mixed, capsys):
    code, out = cli(capsys, "compare", mixed)
    text = one_line(out)
    assert code == 0, text
    assert "| done |" in out
    assert "cut" in text and "summary.json' cannot be read" in text
    assert f"vislab train --resume {mixed / 'stopped'}" in text


def test_python_compare_goes_on_past_cut_summary(mixed):
    with pytest.warns(Note) as noted:
        frame = vislab.compare([mixed / "done", mixed / "cut", mixed / "stopped"])
    assert list(frame["run"]) == ["done", "stopped"]  # stopped as its figures were drawn: scored
    left = frame.attrs["left_out"]
    assert list(left) == ["cut"] and "cannot be read" in left["cut"]
    said = one_line(" ".join(str(n.message) for n in noted))
    assert "stopped: in the table, but not finished" in said
    assert "resume=True" in said and "lr.png" in said
