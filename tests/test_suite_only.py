"""`vislab suite NAME --only RUN` (``vislab.run_suite(..., only=[...])``): a few runs of a suite tried
into its folder — the others listed as not trained yet, and trained by a later full run, which skips
those done; an unknown name refused before anything is written; the dry run plans those runs alone."""

import json

import pytest

import vislab
from conftest import cli, one_line
from figures_skipped import skip_report_figures
from test_suite_dry_run import plan_lines, write_suite
from vislab.errors import UserError

RUNS = {"mlp": {}, "mlp-fast": {"optim.lr": 0.1}, "wide": {"model.hidden": [32]}}


def test_only_trains_that_run_and_the_full_suite_then_trains_the_rest(
    tmp_path, capsys, train_spy, monkeypatch
):
    spec, out = write_suite(tmp_path / "s.yaml", RUNS), tmp_path / "out"
    code, text = cli(capsys, "suite", spec, "--out", out, "--only", "mlp-fast", "--no-report")
    assert code == 0, text
    assert train_spy == [("mlp-fast", False)]
    assert not (out / "mlp").exists() and not (out / "wide").exists()
    assert json.loads((out / "suite.json").read_text())["order"] == list(RUNS)
    results = (out / "results.md").read_text()
    assert "- **mlp**: not trained yet" in results and "- **wide**: not trained yet" in results
    assert "- **mlp-fast**" not in results and "FAILED" not in text
    csv_runs = [line.split(",")[0] for line in (out / "results.csv").read_text().splitlines()[1:]]
    assert csv_runs == ["mlp-fast"]
    skip_report_figures(monkeypatch)  # the report lists them too, as not trained, not failed
    assert cli(capsys, "report", out)[0] == 0
    assert "<b>mlp</b>: not trained yet" in (out / "report.html").read_text()
    summary = (out / "mlp-fast" / "summary.json").read_bytes()

    code, text = cli(capsys, "suite", spec, "--out", out, "--no-report")
    assert code == 0, text
    assert [name for name, _ in train_spy[1:]] == ["mlp", "wide"]  # mlp-fast: not trained again
    assert "mlp-fast: already complete, skipped" in text
    assert (out / "mlp-fast" / "summary.json").read_bytes() == summary
    assert "not trained yet" not in (out / "results.md").read_text()


def test_an_unknown_name_is_refused_naming_the_closest_and_writes_nothing(tmp_path, capsys):
    spec, out = write_suite(tmp_path / "s.yaml", RUNS), tmp_path / "out"
    code, text = cli(capsys, "suite", spec, "--out", out, "--only", "mlp-fats", "--only", "mlp")
    assert code == 2, text
    said = one_line(text)
    assert (
        "no run or row named 'mlp-fats' (did you mean 'mlp-fast'?) among the runs of suite 's'"
        in said
    )
    assert "choose among mlp, mlp-fast, wide" in said
    assert not out.exists()
    with pytest.raises(UserError, match="did you mean 'wide'"):
        vislab.run_suite(spec, out=out, only="wid", quiet=True)
    assert not out.exists()


def test_a_row_of_seeds_means_all_its_seeds_and_the_dry_run_plans_only_those(
    tmp_path, capsys, train_spy
):
    spec, out = write_suite(tmp_path / "s.yaml", RUNS), tmp_path / "out"
    code, text = cli(
        capsys, "suite", spec, "--out", out, "--seeds", "2", "--only", "wide", "--dry-run"
    )
    assert code == 0, text
    assert list(plan_lines(text)) == ["wide-s0", "wide-s1"]
    assert "2 of its 6 runs (wide-s0, wide-s1)" in text
    assert "dry run: 2 to start;" in text
    assert not out.exists() and train_spy == []
    plan = vislab.run_suite(
        spec, out=out, seeds=2, only=["mlp-s1", "wide"], dry_run=True, quiet=True
    )
    assert list(plan["run"]) == ["mlp-s1", "wide-s0", "wide-s1"]
    assert set(plan["action"]) == {"start"} and not out.exists()
