"""A suite's ``compare:``: the verdicts over seeds pair each run of a group with the one before it
(``previous``, a ladder) or with the group's first run (``baseline``, a baseline and its variants, as in
the ``tricks`` suite)."""

import html
import json

import pytest
import yaml

from vislab.errors import ConfigError
from vislab.experiments.records import SuiteInfo
from vislab.experiments.results.spread import COMPARE, RULE, group_verdicts, verdict
from vislab.experiments.suites.runner import SuiteState, write_results
from vislab.experiments.suites.spec import load_suite, with_seeds
from vislab.paper_folder.build import latex_verdicts, write_paper
from vislab.report.build import build_report, plan_report
from vislab.report.seeds import plan_verdicts

VALUES = {  # test accuracies over 3 seeds
    "base": [0.80, 0.81, 0.79],
    "plus-a": [0.90, 0.91, 0.89],  # far above base
    "plus-b": [0.80, 0.82, 0.80],  # close to base, far below plus-a
}


@pytest.mark.parametrize(
    "compare, pairs",
    [
        ("previous", [("plus-a", "base"), ("plus-b", "plus-a")]),
        ("baseline", [("plus-a", "base"), ("plus-b", "base")]),
    ],
)
def test_group_verdicts_pair_as_asked(compare, pairs):
    [(_, found)] = group_verdicts({"g": list(VALUES)}, VALUES, compare=compare).items()
    assert [(v.first, v.second) for v in found] == pairs
    # plus-b is within the spread of the baseline, but clearly below plus-a
    assert found[1].exceeds is (compare == "previous")


REPORTED = {  # a paper's figure for the baseline, measured on CIFAR-10
    "sources": {"paper": {"title": "A paper", "data": "CIFAR-10 test set", "dataset": "cifar10"}},
    "runs": {"base": {"paper": {"where": "Table 2", "test_acc": "0.944"}}},
}


def _suite_folder(tmp_path, compare: str | None, reported: dict | None = None):
    """A seeded suite's folder as ``vislab suite`` leaves it: suite.json (written by the runner's own
    state) and each run's summary.json with the test accuracies of VALUES, on Fashion-MNIST."""
    spec = {"runs": {row: {} for row in VALUES}, "groups": {"tricks": list(VALUES)}}
    if compare:
        spec["compare"] = compare
    if reported:
        spec["reported"] = reported
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"
    out.mkdir()
    suite = with_seeds(load_suite(path), 3)
    SuiteState(out, suite, []).save()
    for name, row in suite.run_names().items():
        acc = VALUES[row][int(name.rsplit("-s", 1)[1])]
        (out / name).mkdir()
        (out / name / "summary.json").write_text(
            json.dumps({"status": "complete", "test_acc": acc, "data": "fashion-mnist"})
        )
    return out


def test_a_baseline_suite_compares_each_variant_with_its_first_run_in_report_and_paper(tmp_path):
    out = _suite_folder(tmp_path, "baseline")
    assert json.loads((out / "suite.json").read_text())["compare"] == "baseline"
    plan = plan_report(out)
    [(_, found)] = plan_verdicts(plan).items()
    assert [(v.first, v.second) for v in found] == [("plus-a", "base"), ("plus-b", "base")]
    page = build_report(out).read_text()
    assert COMPARE["baseline"] in page and COMPARE["previous"] not in page
    for v in found:
        assert html.escape(v.sentence(), quote=True) in page
    assert "first of its group" in latex_verdicts({"tricks": found}, COMPARE["baseline"])


def test_without_compare_a_group_is_a_ladder(tmp_path):
    out = _suite_folder(tmp_path, None)
    [(_, found)] = plan_verdicts(plan_report(out)).items()
    assert [(v.first, v.second) for v in found] == [("plus-a", "base"), ("plus-b", "plus-a")]
    assert COMPARE["previous"] in build_report(out).read_text()


def test_tricks_compares_with_its_baselines_and_a_wrong_value_is_named(tmp_path):
    assert load_suite("tricks").compare == "baseline"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"runs": {"a": {}}, "compare": "first"}))
    with pytest.raises(ConfigError, match="compare"):
        load_suite(bad)


def test_figures_reported_on_other_data_are_flagged_for_a_seeded_suite(tmp_path):
    out = _suite_folder(tmp_path, "baseline", REPORTED)
    note = "measured on cifar10; the runs here used fashion-mnist"
    assert note in build_report(out).read_text()
    main_tex = write_paper([out], out=tmp_path / "paper")
    # under its table (tables.tex), which main.tex inputs
    assert note in (main_tex.parent / "tables.tex").read_text()


def test_results_md_gives_each_groups_verdicts_under_its_table(tmp_path):
    """results.md (which the terminal prints after a suite) says what report.html says of the groups."""
    out = _suite_folder(tmp_path, "baseline")
    write_results(out, SuiteInfo.read(out), log=lambda _: None)
    md = (out / "results.md").read_text()
    [(_, found)] = plan_verdicts(plan_report(out)).items()
    below = md.index("| plus-b |")
    for v in found:
        assert f"- **tricks**: {v.sentence()}" in md and md.index(v.sentence()) > below
    assert COMPARE["baseline"].lower() in md and RULE in md


def test_rows_of_one_same_value_have_no_spread_to_test():
    """Both rows gave the same one value on every seed: nothing to test (rows constant at different
    values: tests/test_fr_tables.py)."""
    same = verdict("a", [0.1, 0.1, 0.1], "b", [0.1, 0.1, 0.1])
    assert same.exceeds is None and "no spread to test" in same.sentence()
    one_varies = verdict("a", [0.1, 0.1, 0.1], "b", [0.5, 0.52, 0.48])
    assert one_varies.exceeds is True and one_varies.sentence().endswith("exceeds the spread.")
    one_seed = verdict("a", [0.1], "b", [0.2])
    assert one_seed.p is None and "--seeds 2 or more" in one_seed.sentence()
