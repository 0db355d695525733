"""Tables that average or rank runs only where that is fair: a suite's seed trained on since with other
settings (``vislab train --resume SUITE/<run> --epochs 2``) is no seed of its row in results.md, `vislab
compare`, report.html or the paper — a row of its own, a note naming it and the setting, the line on how
the runs were made saying so — and runs scored on different test sets (another train.seed, so another
split) are said to be, and not ranked against each other in bold."""

import shutil
from pathlib import Path

import pytest
import yaml

import vislab
from conftest import cli, first_table, one_line, tiny_suite
from vislab.cli import main
from vislab.experiments.records import SuiteInfo
from vislab.experiments.results.data_used import data_line
from vislab.experiments.suites.runner import write_results
from vislab.report.build import provenance_of
from vislab.report.plan import plan_report
from vislab.report.seeds import own_splits, plan_rows, table_context

DIFFER = "mlp-s0, mlp-s1 differ in train.epochs (mlp-s0 2, mlp-s1 1)"
APART = "Rows scored on different test images"


@pytest.fixture(scope="module")
def suites(tmp_path_factory) -> tuple[Path, Path]:
    """The tiny suite (majority, mlp: 1 epoch) with 2 seeds in ``s``, and its copy ``ext`` whose mlp-s0
    was resumed for 2 epochs (suite.json still records it complete, as the suite trained it)."""
    root = tmp_path_factory.mktemp("xp-tables")
    spec = root / "suite.yaml"
    spec.write_text(yaml.safe_dump(tiny_suite(name="xp"), sort_keys=False))
    args = ["suite", spec, "--seeds", "2", "--out", root / "s", "-q", "--no-report"]
    assert main([str(a) for a in args]) == 0
    shutil.copytree(root / "s", root / "ext")
    assert main(["train", "--resume", str(root / "ext" / "mlp-s0"), "--epochs", "2", "-q"]) == 0
    assert SuiteInfo.read(root / "ext").runs["mlp-s0"].status == "complete"
    return root / "s", root / "ext"


def _rows(text: str) -> list[str]:
    """The runs (first cells) of the first pipe table of ``text``."""
    lines = [line for line in first_table(text) if line.startswith("| ")]
    return [line.split("|")[1].strip() for line in lines[1:]]


def test_compare_does_not_average_a_suite_seed_trained_on_since(capsys, suites):
    s, ext = suites
    code, text = cli(capsys, "compare", ext)
    assert code == 0, text
    assert _rows(text) == ["majority", "mlp-s0", "mlp-s1"]  # no row mlp of 2 seeds, 2 and 1 epochs
    said = one_line(text)
    assert f"Not averaged as seeds, though named <row>-s<i>: {DIFFER}" in said
    assert "vislab suite FILE --out DIR --seeds N" in said  # the fix: the suite trains it again
    assert "(no command-line changes)." not in said  # the provenance line says they differ
    assert f"but not all: {DIFFER}, though seeds of mlp" in said
    assert list(vislab.compare(ext)["run"]) == ["majority", "mlp-s0", "mlp-s1"]
    # of two suite folders: no verdict pairs ext's "mlp" with s's, as ext has no such row
    code, both = cli(capsys, "compare", s, ext)
    assert code == 0, both
    assert "s/mlp" in _rows(both) and "ext/mlp" not in _rows(both)
    assert "vs s/mlp" not in one_line(both)


def test_report_and_paper_do_not_average_a_suite_seed_trained_on_since(capsys, suites, tmp_path):
    _, ext = suites
    plan = plan_report(ext, log=lambda s: None)
    assert plan_rows(plan) == {
        "majority": ["majority-s0", "majority-s1"],
        "mlp-s0": ["mlp-s0"],
        "mlp-s1": ["mlp-s1"],
    }
    table = table_context(plan)
    assert [row["run"] for row in table["rows"]] == ["majority", "mlp-s0", "mlp-s1"]
    assert DIFFER in table["settings_note"]
    assert DIFFER in provenance_of(plan)
    code, said = cli(capsys, "paper", ext, "--out", tmp_path / "p", "--no-figures")
    assert code == 0, said
    tables = one_line((tmp_path / "p" / "tables.md").read_text())
    assert "| mlp | 2 |" not in tables and "| mlp-s0 | 1 |" in tables
    assert f"but not all: {DIFFER}" in tables


def test_a_suite_results_md_written_again_does_not_average_it_either(suites):
    _, ext = suites
    write_results(ext, SuiteInfo.read(ext), log=lambda s: None)  # as catch_up writes it again
    md = (ext / "results.md").read_text()
    assert _rows(md) == ["majority", "mlp-s0", "mlp-s1"]
    assert DIFFER in one_line(md)


def test_runs_scored_on_different_test_sets_are_said_to_be_and_not_ranked(capsys, suites, tmp_path):
    s, _ = suites
    # seeds 0 and 1 drew their own splits: their test images differ
    code, text = cli(capsys, "compare", s / "mlp-s0", s / "majority-s1")
    assert code == 0, text
    said = one_line(text)
    assert f"{APART} (their train/val/test splits differ" in said
    assert "test set 1: mlp-s0; test set 2: majority-s1" in said
    assert "**" not in text  # neither is the best of the other's test set
    # one seed, one split: nothing to say, the better one bold
    code, text = cli(capsys, "compare", s / "mlp-s0", s / "majority-s0")
    assert APART not in text and "**" in text
    # nor for a seeded suite's rows, each over the same seeds' splits
    code, text = cli(capsys, "compare", s)
    assert APART not in text
    # a folder of the two: report.html's data line and its table's bold, as the paper's
    for run in ("mlp-s0", "majority-s1"):
        shutil.copytree(s / run, tmp_path / "two" / run)
    plan = plan_report(tmp_path / "two", log=lambda s: None)
    assert APART in data_line(plan.complete, own_splits(plan))
    assert table_context(plan)["bold"] == set()
