"""A Ctrl-C keeps what was computed and says what is kept and how to go on: `vislab report`, `paper`,
`lr-find` and `eval` name the files they left (the earlier ones, as they were) and the command to run
again; an interrupted `vislab quickstart` names itself; a suite's last run whose Ctrl-C came as it was
scored (which finished first) ends the suite 0 (an earlier run's still stops it:
test_stops_and_model_checks.py); a model-option typo in a sweep or suite file names the
file. Each Ctrl-C is raised in-process, at a chosen step (monkeypatch)."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

import vislab.experiments.suites.jobs as jobs
import vislab.paper_folder.build as paper_build
import vislab.plotting.mistakes as mistakes_plot
import vislab.report.build as report_build
import vislab.training.lr_find as lr_find_module
from conftest import cli, one_line, tiny_config, tiny_sets, tiny_suite, tiny_sweep
from vislab.errors import TrainingInterrupted
from vislab.training.lr_find import lr_find
from vislab.training.lr_finding import RangeTest


def ctrl_c(*args, **kwargs):
    raise KeyboardInterrupt


def test_report_cut_short_keeps_the_earlier_page_and_says_so(capsys, monkeypatch, trained):
    code, _ = cli(capsys, "report", trained)
    page = trained / "report.html"
    assert code == 0 and page.is_file()
    earlier = page.read_bytes()
    with monkeypatch.context() as m:
        m.setattr(report_build, "draw_sections", ctrl_c)
        code, text = cli(capsys, "report", trained)
    said = one_line(text)
    assert code == 130, text
    assert f"nothing was written ({page} is the earlier one, as it was)" in said
    assert "Run the same `vislab report` command again" in said
    assert page.read_bytes() == earlier


def test_report_cut_short_after_its_figures_names_them(capsys, monkeypatch, tmp_path, trained):
    # a copy with no figures yet (an earlier report's would be kept, unchanged): the report draws them
    run = tmp_path / "run"
    shutil.copytree(trained, run, ignore=shutil.ignore_patterns("figures", "report.html"))
    with monkeypatch.context() as m:
        # the figures are drawn and moved in: the page not written
        m.setattr(report_build, "atomic_write_text", ctrl_c)
        code, text = cli(capsys, "report", run)
    said = one_line(text)
    assert code == 130, text
    assert "vislab report was cut short after it wrote (or deleted)" in said
    assert str(run / "figures") in said and "the other files are as they were" in said
    assert not (run / "report.html").exists()


def test_paper_cut_short_leaves_the_last_paper(capsys, monkeypatch, tmp_path, trained):
    out = tmp_path / "paper"
    code, _ = cli(capsys, "paper", trained, "--out", out, "--no-figures")
    assert code == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and ".vislab" not in p.name}
    with monkeypatch.context() as m:
        m.setattr(paper_build, "atomic_write_text", ctrl_c)  # before its first file
        code, text = cli(capsys, "paper", trained, "--out", out, "--no-figures")
    said = one_line(text)
    assert code == 130, text
    assert f"nothing was written ({out / 'main.tex'} is the earlier one, as it was)" in said
    assert "Run the same `vislab paper` command again" in said
    assert {p: p.read_bytes() for p in before} == before


def _interrupt_at_step(monkeypatch, k: int) -> None:
    """The range test's step ``k`` (1-based) is cut short by a Ctrl-C."""
    real, taken = lr_find_module._step, []

    def step(*args, **kwargs):
        taken.append(1)
        if len(taken) == k:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(lr_find_module, "_step", step)


def test_lr_find_cut_short_shows_the_steps_taken(capsys, monkeypatch, tmp_path):
    _interrupt_at_step(monkeypatch, 13)
    out = tmp_path / "lr.png"
    code, text = cli(capsys, "lr-find", *tiny_sets(), "--steps", "40", "--out", out)
    said = one_line(text)
    assert code == 130, text
    assert out.is_file()  # the plot of the 12 steps taken
    assert "ran 12 steps" in said and "suggested optim.lr" not in said and "train with" not in said
    assert "no lr suggested: the range was cut short before its end (lr 10)" in said
    assert "stopped: interrupted (Ctrl-C) after step 12 of 40" in said
    assert "cut short at lr 1.8e-05, after step 12 of 40, and suggests no lr" in said
    assert "run the same `vislab lr-find` command again with --force" in said


def test_lr_find_in_python_returns_the_steps_taken(monkeypatch):
    _interrupt_at_step(monkeypatch, 9)
    found = lr_find(tiny_config(), RangeTest(steps=30))
    assert found.interrupted and len(found.lrs) == len(found.losses) == 8
    assert "after step 8 of 30" in found.stopped and "(interrupted)" in repr(found)


def test_lr_find_before_its_first_step_says_nothing_was_run(capsys, monkeypatch, tmp_path):
    _interrupt_at_step(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        lr_find(tiny_config(), RangeTest(steps=30))
    _interrupt_at_step(monkeypatch, 1)
    code, text = cli(capsys, "lr-find", *tiny_sets(), "--steps", "20", "--out", tmp_path / "x.png")
    assert code == 130 and "stopped before its first step: nothing was run" in one_line(text)
    assert not (tmp_path / "x.png").exists()


def test_eval_cut_short_mid_figure_says_what_is_written(capsys, monkeypatch, trained):
    # after the confusion matrix and the ROC curves
    monkeypatch.setattr(mistakes_plot, "plot_mistakes", ctrl_c)
    code, text = cli(capsys, "eval", trained)
    said = one_line(text)
    assert code == 130, text
    assert "test: acc" in said  # the scores, printed before the figures
    assert "vislab eval was cut short after it wrote (or deleted) 2 file(s):" in said
    assert str(trained / "figures" / "confusion_test.png") in said
    assert str(trained / "figures" / "roc_test.png") in said
    assert "the scores above are complete" in said
    assert "Run the same `vislab eval` command again to draw them" in said


def test_an_interrupted_quickstart_says_run_quickstart_again(capsys, monkeypatch, tmp_path):
    def stopped(cfg, out, resume=False, **kw):
        raise TrainingInterrupted("training stopped by SIGINT at epoch 1, step 1")

    monkeypatch.setattr(jobs, "train", stopped)
    code, text = cli(capsys, "quickstart", "--out", tmp_path / "qs", "--epochs", "1", "-q")
    said = one_line(text)
    assert code == 130, text
    assert f"Run `vislab quickstart --out {tmp_path / 'qs'} --epochs 1` again to continue" in said
    assert "`vislab suite`" not in said


def test_a_ctrl_c_as_the_last_run_was_scored_ends_the_suite_0(capsys, monkeypatch, tmp_path):
    real = jobs.train

    def scored_then_ctrl_c(cfg, out, resume=False, **kw):
        real(cfg, out, resume=resume, **kw)  # a complete run, then the signal the scoring saw
        if cfg.model.name == "mlp":
            raise TrainingInterrupted(
                "SIGINT came while the run was scored; the scoring finished first: the run is "
                "complete, nothing is left to do for it.",
                complete=True,
            )

    monkeypatch.setattr(jobs, "train", scored_then_ctrl_c)
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(tiny_suite()))
    out = tmp_path / "o"
    code, text = cli(capsys, "suite", tmp_path / "s.yaml", "--out", out, "--no-report", "-q")
    assert code == 0, text
    assert (
        "note: the Ctrl-C came as the suite's last run was scored, which finished first"
        in one_line(text)
    )
    runs = json.loads((out / "suite.json").read_text())["runs"]
    assert runs["mlp"]["status"] == "complete" and (out / "results.md").is_file()


def test_a_model_option_typo_in_a_sweep_file_names_the_file(capsys, tmp_path):
    path = tmp_path / "sw.yaml"
    for space in (None, {"model.dropout": {"type": "float", "low": 0.0, "high": 0.5}}):
        sweep = tiny_sweep(base__model__hiden=[16], **({"space": space} if space else {}))
        path.write_text(yaml.safe_dump(sweep))
        code, text = cli(capsys, "sweep", path, "--out", tmp_path / "o", "--trials", "1")
        said = one_line(text)
        assert code == 2, text
        assert f"Invalid config ({path}, its base): model 'mlp' has no option 'model.hiden'" in said
        assert "space entry" not in said  # the base is at fault, not the space


def test_a_model_option_typo_in_a_suite_file_names_the_file(capsys, tmp_path):
    path = tmp_path / "su.yaml"
    path.write_text(yaml.safe_dump(tiny_suite(base__model__hiden=[16])))
    code, text = cli(capsys, "suite", path, "--out", tmp_path / "o", "--dry-run")
    said = one_line(text)
    assert code == 2, text
    assert f"so nothing was trained (suite file {path}):" in said
    assert "mlp: model 'mlp' has no option 'model.hiden'" in said
