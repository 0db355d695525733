"""Session 26, a sweep folder as a TA uses it: the command that trains a trial again from the study's base
config works for a swept list item, a sweep whose every combination is trained says so whatever --trials
asks, the notes on the trials' own figures, the repeats and the moved run folders are said where the
report, the paper and compare are, the paper's captions name the columns its tables have, and a study
database that is gone is named with a fix that exists."""

import ast
import re
import shutil

import pytest
import yaml

import vislab
from conftest import DROP, cli, one_line, tiny_sweep
from figures_skipped import skip_report_figures
from vislab.report.plan import plan_report

# a random search (seed 0) over a list item and a categorical lr: 4 combinations, of which 4 trials draw
# 4 complete and 1 repeated one (it queues values no trial drew)
SPACE = {
    "model.hidden.0": {"type": "categorical", "choices": [16, 32]},
    "optim.lr": {"type": "categorical", "choices": [0.001, 0.01]},
}


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """The sweep folder of SPACE, the base without model.hidden (its model's default list)."""
    folder = tmp_path_factory.mktemp("ta") / "sw"
    spec = tiny_sweep(name="cat", space=SPACE, base__model__hidden=DROP)
    with pytest.MonkeyPatch.context() as mp:
        skip_report_figures(mp)
        vislab.sweep(spec, out=folder, trials=4, quiet=True)
    assert "1 repeated" in (folder / "results.md").read_text()
    return folder


@pytest.fixture
def moved(swept, tmp_path, monkeypatch):
    """A copy of the sweep folder in ``tmp_path`` (the current folder), the trials/ its study records
    moved away (to ``tmp_path/away`` while the test runs)."""
    monkeypatch.chdir(tmp_path)
    skip_report_figures(monkeypatch)
    shutil.copytree(swept, tmp_path / "sw", ignore=shutil.ignore_patterns("trials"))
    shutil.move(swept / "trials", tmp_path / "away")
    try:
        yield tmp_path / "sw"
    finally:
        shutil.move(tmp_path / "away", swept / "trials")


def test_the_retrain_command_of_a_swept_list_item_trains_its_config(moved, capsys):
    """`sweep show` of a folder whose trials were moved prints a command over the study's base.yaml that
    sets the whole list (model.hidden=[32]), not its item: run as printed, on the command line and in
    Python, it trains the best trial's config."""
    code, text = cli(capsys, "sweep", "show", "sw")
    said = one_line(text)
    found = re.search(
        r"best trial: (\d+) .*?vislab train (--config .*?) --out NEW \(Python: (.*?)\)\)", said
    )
    assert code == 0 and found, said
    assert "model.hidden.0=" not in found.group(2) and "'model.hidden=[" in found.group(2), said
    args = [a.strip("'") for a in found.group(2).split()]
    assert cli(capsys, "train", *args, "--out", "again")[0] == 0
    wanted = yaml.safe_load((moved.parent / "away" / found.group(1) / "config.yaml").read_text())
    assert yaml.safe_load((moved.parent / "again" / "config.yaml").read_text()) == wanted
    call = re.fullmatch(r"vislab\.train\('(\S+)', out='NEW', \*\*(\{.*\})", found.group(3))
    assert call, found.group(3)
    vislab.train(call.group(1), out="again_py", quiet=True, **ast.literal_eval(call.group(2)))
    assert yaml.safe_load((moved.parent / "again_py" / "config.yaml").read_text()) == wanted


def test_more_trials_of_a_trained_out_space_say_it_is_exhausted(swept, tmp_path, capsys):
    """Every combination trained: --trials 8 says the space holds 4 (quoting 8), that every combination
    is taken whatever --trials asks, and how to go on: widen the space or --overwrite; never 'give
    --trials 5', which would train nothing."""
    shutil.copytree(swept, tmp_path / "sw")
    (tmp_path / "cat.yaml").write_text(
        yaml.safe_dump(tiny_sweep(name="cat", space=SPACE, base__model__hidden=DROP))
    )
    code, text = cli(
        capsys,
        "sweep",
        "run",
        tmp_path / "cat.yaml",
        "--trials",
        "8",
        "--out",
        tmp_path / "sw",
        "--no-report",
    )
    said = one_line(text)
    assert code == 0, said
    assert "the space holds 4 combinations, fewer than the 8 trials" in said, said
    assert (
        "every combination of its space is taken, whatever --trials asks: widen the space, or --overwrite"
        in said
    )
    assert "counts all" not in said and "give --trials" not in said, said


def test_report_and_paper_name_the_trials_whose_own_figures_they_draw(swept):
    """4 complete trials: the report's and paper's plan names the best 3 whose own figures it draws, and
    how to draw another's."""
    notes = " ".join(plan_report(swept, log=lambda _: None).notes)
    found = re.search(
        r"drawn for the best 3 by val_pacc only, to keep the page short: "
        r"(trial-\d+(?:, trial-\d+)*)\. The other 1 trial's own figures",
        notes,
    )
    assert found and len(found.group(1).split(", ")) == 3, notes
    assert f"vislab report {swept}/trials/N" in notes


def test_compare_says_the_trials_line_of_results_md(swept, capsys):
    """`vislab compare SWEEP` says the line under results.md's table: its repeated trials among them."""
    line = next(
        t for t in (swept / "results.md").read_text().splitlines() if t.startswith("Trials:")
    )
    code, text = cli(capsys, "compare", swept)
    assert code == 0 and one_line(line) in one_line(text), text


def test_report_of_moved_trials_says_on_the_terminal_what_no_figure_draws(moved, capsys):
    """`vislab report` of a sweep whose run folders were moved says on the terminal, as `vislab paper`
    does, that those trials are in no figure drawn from run folders."""
    code, text = cli(capsys, "report", "sw")
    assert code == 0 and "are in no figure drawn from the trials' run folders" in one_line(text), (
        text
    )


def test_paper_captions_name_the_columns_its_tables_have(moved, capsys):
    """The paper of trials from the study database alone: its first table has val PACC alone, its
    cost table the epochs alone, and the captions say so."""
    assert cli(capsys, "paper", "sw", "--out", "P", "--no-figures")[0] == 0
    tex = (moved.parent / "P" / "tables.tex").read_text()
    captions = re.findall(r"\\caption\{([^.;]*)", tex)
    assert captions[:2] == ["Validation per-class accuracy (PACC), as fractions", "Epochs"], (
        captions
    )


def test_a_gone_study_database_is_named_with_a_fix_that_exists(moved, capsys):
    """study.db deleted: report warns and compare refuses, each naming the missing database and fixes
    that exist (put it back; `vislab sweep show NEW_DIR --storage URL --study cat`), not --storage."""
    (moved / "study.db").unlink()
    for args in (("report", "sw"), ("compare", "sw")):
        code, text = cli(capsys, *args)
        said = one_line(text)
        assert "the study database of sweep folder 'sw' is not at" in said, said
        assert "put the database back where sw/sweep.json records it" in said, said
        assert "`vislab sweep show NEW_DIR --storage URL --study cat`" in said, said
        assert "Give where it is: --storage" not in said, said
    assert code != 0
