"""A suite stopped late: a Ctrl-C as its tables are written (the hint, and `vislab report` writing the
tables it left missing), and a run stopped while its figures were drawn (its scores in the tables, its
missing figures said once)."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

import vislab
from conftest import cli, one_line, tiny_suite
from figures_skipped import skip_report_figures
from vislab.errors import TrainingInterrupted
from vislab.experiments.records import RunOutcome, SuiteInfo
from vislab.experiments.suites.ending import tables_cut_short
from vislab.experiments.suites.runner import write_results

NOT_DRAWN = ["confusion_test.png", "per_class.png"]
CUT_SHORT = "Scored, but stopped while their figures were drawn"


@pytest.fixture(scope="module")
def _suite_once(tmp_path_factory) -> Path:
    """The tiny suite (majority, mlp), trained once for the module; no test sees it."""
    root = tmp_path_factory.mktemp("suite-once")
    spec = root / "tiny.yaml"
    spec.write_text(yaml.safe_dump(tiny_suite(name="tiny")))
    vislab.run_suite(str(spec), out=root / "s", log=lambda line: None)
    return root / "s"


def _tables_cut_short(mp: pytest.MonkeyPatch) -> None:
    """A Ctrl-C as the suite writes its tables, once its runs have ended."""
    import vislab.experiments.suites.runner as runner

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    mp.setattr(runner, "results_of", ctrl_c)


def _suite_cut_short(tmp_path: Path, out: Path, capsys) -> str:
    """`vislab suite` of the tiny suite into ``out``, a Ctrl-C as it writes its tables: what it said
    (exit 130, the tables named as what was cut short)."""
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(tiny_suite(name="tiny")))
    with pytest.MonkeyPatch.context() as mp:
        _tables_cut_short(mp)
        code, text = cli(capsys, "suite", spec, "--out", out, "-q")
    assert code == 130, text
    said = one_line(text)
    assert "Ctrl-C while the suite's tables were written, after its runs had ended" in said
    return said


def test_ctrl_c_as_the_tables_are_written_names_vislab_report_which_writes_them(tmp_path, capsys):
    out = tmp_path / "s"
    said = _suite_cut_short(tmp_path, out, capsys)
    assert f"Write them: vislab report {out} (Python: vislab.write_report(" in said
    assert "`vislab suite` command" in said
    assert not (out / "results.md").exists() and not (out / "report.html").exists()
    with pytest.MonkeyPatch.context() as mp:  # the fix it names
        skip_report_figures(mp)
        code, text = cli(capsys, "report", out)
    assert code == 0, text
    assert "results.csv and results.md written: the suite was stopped before it wrote them" in text
    assert list(pd.read_csv(out / "results.csv")["run"]) == ["majority", "mlp"]
    assert "| mlp |" in (out / "results.md").read_text()


def test_ctrl_c_as_a_stopped_suites_tables_are_written_says_to_rerun_it(tmp_path):
    stop = "mlp: interrupted by Ctrl-C at epoch 1 (step 3)"
    with pytest.raises(TrainingInterrupted) as e, tables_cut_short(tmp_path, stop):
        raise KeyboardInterrupt
    said = one_line(str(e.value))
    assert said.startswith(stop) and "results.csv were not written" in said
    assert "To finish, re-run the same `vislab suite` command" in said
    assert "vislab report" not in said


@pytest.fixture
def figures_cut_short(_suite_once, tmp_path) -> Path:
    """A copy of the suite as a signal left it that came while its mlp's figures were drawn: its
    summary.json scored but interrupted, naming the figures not drawn; suite.json and the tables written
    then, as the suite writes them."""
    out = tmp_path / "s"
    shutil.copytree(_suite_once, out)
    summary = out / "mlp" / "summary.json"
    scored = json.loads(summary.read_text())
    summary.write_text(
        json.dumps({**scored, "status": "interrupted", "figures_missing": NOT_DRAWN})
    )
    info = SuiteInfo.read(out)
    info.runs["mlp"] = RunOutcome(
        status="interrupted",
        message=f"training stopped by SIGINT while the run's figures were drawn; its scores are kept "
        f"in {summary} (status interrupted), its checkpoints too; not drawn: "
        f"{', '.join(NOT_DRAWN)}; re-running the suite resumes it to draw them.",
        halted=True,
    )
    info.write(out)
    write_results(out, info, log=lambda line: None)
    return out


def test_a_run_stopped_as_its_figures_were_drawn_is_in_the_suites_tables(figures_cut_short):
    out = figures_cut_short
    assert list(pd.read_csv(out / "results.csv")["run"]) == ["majority", "mlp"]
    md = (out / "results.md").read_text()
    assert "| mlp |" in md
    assert md.count("per_class.png") == 1 and md.count(CUT_SHORT) == 1
    assert "SIGINT" not in md  # not listed among the runs that did not finish


def test_paper_and_report_say_a_runs_missing_figures_once(figures_cut_short, capsys):
    out = figures_cut_short
    code, text = cli(capsys, "paper", out, "--out", out / "paper", "--no-figures")
    assert code == 0, text
    notes, texts = (
        (out / "paper" / "notes.md").read_text(),
        (out / "paper" / "texts.tex").read_text(),
    )
    assert "did not finish" not in notes + texts and one_line(notes).count(CUT_SHORT) == 1
    assert "| mlp |" in (out / "paper" / "tables.md").read_text()
    with pytest.MonkeyPatch.context() as mp:
        skip_report_figures(mp)
        code, text = cli(capsys, "report", out)
    assert code == 0, text
    page = (out / "report.html").read_text()
    assert "Failed or unfinished" not in page and one_line(page).count(CUT_SHORT) == 1


def test_a_ctrl_c_as_a_finished_suites_old_tables_are_rewritten_says_so(
    _suite_once, tmp_path, capsys
):
    """Every run skipped as finished, the old tables there: a Ctrl-C as they are written again is the
    tables' (exit 130, the way on), not 'the last run was scored' followed by the report."""
    out = tmp_path / "s"
    shutil.copytree(_suite_once, out)
    said = _suite_cut_short(tmp_path, out, capsys)
    assert "the last run was scored" not in said and not (out / "report.html").exists()
