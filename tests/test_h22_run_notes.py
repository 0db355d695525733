"""The `note:` lines a run gives are kept: in its summary.json (``notes_given``: in-process, in a suite's
``--jobs`` process, and across a resume), under results.md's tables, in report.html's run sections and
in the paper's notes; `vislab report` says a figure it could not draw as a `note:` on the terminal."""

import json
from pathlib import Path

import pytest
import yaml

import vislab
from conftest import TINY_DIGITS, cli, one_line, tiny_base, tiny_suite
from figures_skipped import skip_report_figures
from vislab.experiments.results.texts import notes_markdown
from vislab.training.summary import RunSummary

# a step schedule whose step_size outlasts the run: the note "schedule.name=step does nothing"
STEP = {"schedule__name": "step", "schedule__step_size": 10}
IDLE_STEP = "schedule.name=step does nothing with schedule.step_size=10 ≥ train.epochs="


def notes_of(run: Path) -> list[str]:
    return json.loads((run / "summary.json").read_text()).get("notes_given", [])


@pytest.fixture(scope="module")
def noted_run(tmp_path_factory) -> Path:
    """A tiny run of one epoch whose step schedule does nothing (a note), with a run beside it without."""
    folder = tmp_path_factory.mktemp("runs")
    vislab.train(**TINY_DIGITS, **STEP, out=folder / "step", quiet=True)
    vislab.train(**TINY_DIGITS, out=folder / "plain", quiet=True)
    return folder


def test_a_run_keeps_its_notes_in_summary_json(noted_run):
    notes = notes_of(noted_run / "step")
    assert [n for n in notes if n.startswith(IDLE_STEP + "1")], notes
    assert len(notes) == len(set(notes))
    assert "notes_given" not in json.loads((noted_run / "plain" / "summary.json").read_text())


def test_results_md_and_report_html_show_the_notes(noted_run, capsys, tmp_path, monkeypatch):
    skip_report_figures(monkeypatch)  # the notes alone: no figure holds them
    code, text = cli(capsys, "report", noted_run)
    assert code == 0, text
    html = one_line((noted_run / "report.html").read_text())
    assert "Notes the run gave as it trained:" in html
    assert IDLE_STEP + "1" in html.replace("&ge;", "≥")
    code, text = cli(capsys, "compare", noted_run, "--md", tmp_path / "results.md")
    assert code == 0, text
    md = (tmp_path / "results.md").read_text()
    _, listed = md.split("Notes the runs gave:")
    assert f"- {IDLE_STEP}1" in listed and "(run: step)" in listed
    assert "plain" not in listed


def test_a_resume_keeps_the_earlier_notes_and_adds_its_own(tmp_path):
    run = tmp_path / "r"
    vislab.train(**TINY_DIGITS, **STEP, out=run, quiet=True)
    vislab.train(out=run, resume=True, epochs=2, quiet=True)
    notes = notes_of(run)
    assert [n for n in notes if n.startswith(IDLE_STEP + "1")], notes  # the first start's
    assert [n for n in notes if n.startswith(IDLE_STEP + "2")], notes  # the resume's


def test_old_summary_json_without_notes_reads_and_writes_unchanged():
    old = {"status": "complete", "run": "a", "val_acc": 0.5}
    summary = RunSummary.from_json(old)
    assert summary.notes_given is None
    assert summary.to_json() == old


def test_seeds_that_say_the_same_are_listed_once_per_row():
    said = {"a-s0": RunSummary(notes_given=["x", "y"]), "a-s1": RunSummary(notes_given=["x"])}
    text = notes_markdown(said, {"a": ["a-s0", "a-s1"]})
    assert "- x (run: a)\n" in text  # the row, once: both its seeds said it
    assert "- y (run: a-s0)\n" in text
    assert text.count("x") == 1
    assert notes_markdown({"b": RunSummary()}, None) == ""


def test_a_jobs_suite_records_each_runs_notes(tmp_path, capsys, monkeypatch):
    spec = tmp_path / "suite.yaml"
    base = tiny_base(schedule={"name": "step", "step_size": 10})
    spec.write_text(yaml.safe_dump(tiny_suite(base=base, runs={"mlp": {}})))
    out = tmp_path / "out"
    args = ["suite", spec, "--seeds", "2", "--out", out, "-q", "--jobs", "2", "--no-report"]
    code, text = cli(capsys, *args)
    assert code == 0, text
    runs = sorted(p for p in out.iterdir() if (p / "summary.json").is_file())
    assert len(runs) == 2
    for run in runs:
        assert [n for n in notes_of(run) if n.startswith(IDLE_STEP + "1")], run
    _, listed = (out / "results.md").read_text().split("Notes the runs gave:")
    assert listed.count(IDLE_STEP) == 1  # the row's, once: both seeds said it
    assert f"- {IDLE_STEP}1" in listed and listed.rstrip().endswith("(run: mlp)")
    skip_report_figures(monkeypatch)  # the notes alone: no figure holds them
    code, text = cli(capsys, "report", out)
    assert code == 0, text
    html = (out / "report.html").read_text()
    assert html.count(IDLE_STEP) == 1  # in the row's section, once for its seeds


def test_report_says_a_figure_it_could_not_draw_on_the_terminal(noted_run, capsys, monkeypatch):
    import vislab.report.run_sections as sections

    def broken(*args, **kw):
        raise ValueError("attention of shape (3,) is no token grid")

    monkeypatch.setattr(sections, "run_figures", broken)
    code, text = cli(capsys, "report", noted_run)
    assert code == 0, text
    lines = [line for line in text.splitlines() if line.startswith("note:")]
    for name in ("plain", "step"):
        assert [line for line in lines if f"{name}: test figures skipped" in line], text
    assert "no token grid" in (noted_run / "report.html").read_text()


def test_the_paper_notes_what_its_runs_said(noted_run, capsys, tmp_path):
    code, text = cli(capsys, "paper", noted_run, "--out", tmp_path / "paper", "--no-figures")
    assert code == 0, text
    said = one_line((tmp_path / "paper" / "texts.tex").read_text())
    assert "Said in training: schedule.name=step does nothing" in said
    assert "(run: step)" in said and "plain" not in said.split("Said in training")[1]
