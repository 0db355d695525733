"""Session 25, fix A: the verdicts over seeds pair only rows of one dataset and test set, each row against
the best of its data where no suite says how (the same pairs in `vislab compare`, results.md, report.html
and the paper); the per-class table says why the majority baseline is not bold; the macro one-vs-rest
AUC is a column of the comparison table. Fix H: a suite whose suite.json names no ``compare:`` is a
ladder everywhere; a row whose figures were edited is never the best, and its verdicts are not
weighed."""

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

import vislab
from conftest import cli, first_table, one_line
from vislab.experiments.records import SuiteInfo
from vislab.experiments.results.cells import best_row
from vislab.experiments.results.per_class import per_class_table
from vislab.experiments.results.spread import COMPARE, group_verdicts
from vislab.experiments.suites.runner import write_results
from vislab.report.plan import plan_report
from vislab.report.seeds import pairing, plan_verdicts
from vislab.training.rundir import RunDir
from vislab.training.summary import RunSummary

# (folder, row, dataset) → test accuracies over 3 seeds
RUNS = {
    ("digits", "cnn", "digits"): [0.90, 0.91, 0.92],
    ("digits", "mlp", "digits"): [0.80, 0.81, 0.79],
    ("digits", "majority", "digits"): [0.10, 0.11, 0.10],
    ("mnist", "cnn", "mnist"): [0.95, 0.94, 0.96],
    ("mnist", "mlp", "mnist"): [0.85, 0.84, 0.86],
}
# each row against the best of its dataset: never a digits row against an mnist one
PAIRS = {
    ("digits/cnn", "digits/majority"),
    ("digits/cnn", "digits/mlp"),
    ("mnist/cnn", "mnist/mlp"),
}


def _fake(root: Path, runs: dict = RUNS, **extra) -> Path:
    """Finished runs ``<folder>/<row>-s<i>`` under ``root`` with only a summary.json: the given test
    accuracies on the given dataset (``extra``: more of summary.json's keys)."""
    for (folder, row, data), values in runs.items():
        for i, acc in enumerate(values):
            run = root / folder / f"{row}-s{i}"
            run.mkdir(parents=True)
            summary = dict(status="complete", test_acc=acc, data=data, **extra)
            (run / "summary.json").write_text(json.dumps(summary))
    return root


def _pairs(text: str) -> set[tuple[str, str]]:
    """The (first, second) rows of each verdict sentence in ``text``."""
    return set(re.findall(r"([\w/-]+) vs ([\w/-]+): [+−]?[\d.]+ (?:± [\d.]+ )?pt test ACC", text))


@pytest.fixture(scope="module")
def two_datasets(tmp_path_factory) -> Path:
    return _fake(tmp_path_factory.mktemp("s25-verdicts"))


def test_compare_pairs_rows_of_one_dataset_only_whatever_the_folders_given(capsys, two_datasets):
    code, both = cli(capsys, "compare", two_datasets / "digits", two_datasets / "mnist")
    assert code == 0, both
    assert _pairs(both) == PAIRS
    assert f"Verdicts ({COMPARE['best'].lower()}; test ACC):" in both
    code, whole = cli(capsys, "compare", two_datasets)  # one folder holding both
    assert code == 0 and _pairs(whole) == PAIRS
    # the table's order is the user's: the pairs stay those of each dataset's best
    code, by_loss = cli(capsys, "compare", two_datasets, "--sort", "test_acc")
    assert code == 0 and _pairs(by_loss) == PAIRS


def test_report_and_paper_give_the_verdicts_compare_gives(two_datasets, tmp_path):
    found = plan_verdicts(plan_report(two_datasets))
    assert {(v.first, v.second) for vs in found.values() for v in vs} == PAIRS
    assert all(v.diff_pt > 0 for vs in found.values() for v in vs)  # the best first
    folders = [two_datasets / "digits", two_datasets / "mnist"]
    paper = vislab.paper(folders, out=tmp_path / "paper", figures=False, log=None)
    assert _pairs((paper / "tables.md").read_text()) == PAIRS
    assert COMPARE["best"] in one_line((paper / "texts.tex").read_text())


def test_a_suite_keeps_its_own_pairing(tmp_path):
    """Where a suite says how (``compare:``, its order), its pairs stand, within one dataset."""
    from test_suite_compare import _suite_folder

    out = _suite_folder(tmp_path, "previous")
    [(_, found)] = plan_verdicts(plan_report(out)).items()
    assert [(v.first, v.second) for v in found] == [("plus-a", "base"), ("plus-b", "plus-a")]


def test_the_per_class_table_says_why_the_majority_baseline_is_not_bold():
    summaries = {
        "majority": RunSummary.from_json({"model": "majority", "test_per_class": {"0": 0, "1": 1}}),
        "mlp": RunSummary.from_json({"model": "mlp", "test_per_class": {"0": 0.8, "1": 0.9}}),
    }
    table = per_class_table(summaries)
    assert table.bold == set()  # one row ranked: no best, yet the majority's 1.0 is not bold
    said = "Not ranked in bold: majority, the majority baseline (one class always guessed"
    assert said in table.markdown() and said in table.caption()
    alone = per_class_table({"mlp": summaries["mlp"]})
    assert "majority" not in alone.markdown()


AUC = {("runs", "mlp", "digits"): [0.8], ("runs", "cnn", "digits"): [0.9]}


def test_the_macro_auc_is_a_sortable_column_of_every_table(capsys, tmp_path):
    root = _fake(tmp_path / "auc", AUC)
    (root / "runs" / "cnn-s0" / "summary.json").write_text(
        json.dumps(dict(status="complete", test_acc=0.9, data="digits", test_auc=0.97))
    )
    (root / "runs" / "mlp-s0" / "summary.json").write_text(
        json.dumps(dict(status="complete", test_acc=0.8, data="digits", test_auc=0.99))
    )
    code, text = cli(capsys, "compare", root / "runs", "--sort", "test_auc")
    assert code == 0, text
    lines = first_table(text)
    assert "| test AUC |" in lines[0]
    assert lines[2].startswith("| mlp-s0 |") and "| 0.9900 |" in lines[2]  # best first
    assert best_row([{"test_auc": 0.97}, {"test_auc": 0.99}], "test_auc") == 1  # the highest, bold
    assert "macro one-vs-rest ROC AUC" in one_line(text)
    code, said = cli(capsys, "compare", root / "runs", "--csv", tmp_path / "t.csv")
    rows = list(csv.DictReader((tmp_path / "t.csv").open()))
    assert code == 0 and [r["test_auc"] for r in rows] == ["0.97", "0.99"]
    paper = vislab.paper([root / "runs"], out=tmp_path / "paper", figures=False, log=None)
    assert "macro one-vs-rest" in (paper / "tables.tex").read_text()


def test_a_table_without_auc_has_no_auc_column_but_its_csv_has(capsys, two_datasets, tmp_path):
    code, text = cli(capsys, "compare", two_datasets / "digits", "--csv", tmp_path / "t.csv")
    assert code == 0 and "test AUC" not in first_table(text)[0]
    assert "macro one-vs-rest" not in text
    rows = list(csv.DictReader((tmp_path / "t.csv").open()))
    assert all(r["test_auc"] == "" for r in rows)


# ------------------------------------------------------------------ Fix H: the default, doubted rows
PREVIOUS = {("plus-a", "base"), ("plus-b", "plus-a")}  # test_suite_compare's ladder


def test_a_suite_json_without_compare_pairs_as_a_ladder_everywhere(capsys, tmp_path):
    """A suite folder made before suite.json recorded ``compare:``: results.md, compare (sorted or
    not), report.html and the paper all pair its rows as a suite file's default, the one before."""
    from test_suite_compare import _suite_folder

    out = _suite_folder(tmp_path, None)
    record = json.loads((out / "suite.json").read_text())
    del record["compare"]
    (out / "suite.json").write_text(json.dumps(record))
    write_results(out, SuiteInfo.read(out), log=lambda _: None)
    heading = f"Verdicts ({COMPARE['previous'].lower()}; test ACC):"
    results_md = (out / "results.md").read_text()
    assert _pairs(results_md) == PREVIOUS and heading in results_md
    for sort in ([], ["--sort", "test_acc"]):  # sorted, plus-b comes before base
        code, text = cli(capsys, "compare", out, *sort)
        assert code == 0 and _pairs(text) == PREVIOUS and heading in text, text
    plan = plan_report(out)
    assert pairing(plan) == "previous"
    assert {(v.first, v.second) for vs in plan_verdicts(plan).values() for v in vs} == PREVIOUS
    paper = vislab.paper([out], out=tmp_path / "paper", figures=False, log=None)
    assert _pairs((paper / "tables.md").read_text()) == PREVIOUS


def _with_predictions(root: Path, claimed: dict[str, list[float]], scored: dict) -> Path:
    """Runs ``<row>-s<i>`` whose summary.json claims the ``claimed`` test accuracies, beside a
    predictions_test.npz of 100 digits that scores ``scored``'s (one test set for all)."""
    labels = np.arange(100) % 10
    for row, values in claimed.items():
        for i, acc in enumerate(values):
            run = root / f"{row}-s{i}"
            run.mkdir(parents=True)
            (run / "summary.json").write_text(
                json.dumps(dict(status="complete", test_acc=acc, data="digits"))
            )
            right = round(100 * scored[row][i])
            guessed = np.where(np.arange(100) < right, labels, (labels + 1) % 10)
            RunDir(run).write_predictions("test", np.eye(10)[guessed], labels)
    return root


def test_a_row_whose_test_acc_was_edited_is_never_the_best_and_not_weighed(capsys, tmp_path):
    scored = {"a": [0.80, 0.81, 0.79], "b": [0.10, 0.11, 0.10], "c": [0.70, 0.72, 0.71]}
    claimed = dict(scored, b=[0.95, 0.96, 0.95])  # b's summary.json edited by hand
    root = _with_predictions(tmp_path / "d", claimed, scored)
    code, text = cli(capsys, "compare", root)
    assert code == 0, text
    said = one_line(text)
    assert "Figures that disagree with their run's own records" in said  # the data line
    assert _pairs(said) == {("a", "c")}  # a, the best of the rows that can be trusted
    assert "b vs" not in said  # never the best
    note = "a vs b: not weighed, as the test ACC of b disagrees with its runs' own records"
    assert note in said
    found = [v for vs in plan_verdicts(plan_report(root)).values() for v in vs]
    assert [(v.first, v.second, v.exceeds) for v in found] == [("a", "b", None), ("a", "c", True)]
    assert note in found[0].sentence()


def test_a_suites_pairs_with_a_doubted_row_are_kept_in_place_but_not_weighed():
    values = {"base": [0.80, 0.81, 0.79], "plus-a": [0.90, 0.91, 0.89], "plus-b": [0.80, 0.82, 0.8]}
    [(_, found)] = group_verdicts(
        {"g": list(values)}, values, compare="previous", doubted={"plus-a"}
    ).items()
    assert [(v.first, v.second, v.exceeds) for v in found] == [
        ("plus-a", "base", None),
        ("plus-b", "plus-a", None),
    ]
    assert found[1].sentence() == (
        "plus-b vs plus-a: not weighed, as the test ACC of plus-a disagrees with its runs' own "
        "records (the data line names them)."
    )
