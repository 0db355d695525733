"""A suite's run resumed by hand with more epochs (`vislab train --resume DIR/<run> --epochs N`):
results.csv/.md are written again as the resume ends (and by the next report, for a folder a resume of
an older vislab left behind), so that results.md, `vislab compare` and report.html show the same rows."""

from __future__ import annotations

import os

import pytest
import yaml

import vislab
from conftest import cli, first_table, tiny_suite
from figures_skipped import skip_report_figures

QUIET = {"log": lambda line: None}


@pytest.fixture(autouse=True)
def _no_figures(monkeypatch):
    """The suites' reports here draw no figure: the tests read results.md, compare and the terminal."""
    skip_report_figures(monkeypatch)


def _seeded_suite(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump(tiny_suite(name="lab", runs={"mlp": {}}, seeds=2)))
    out = tmp_path / "A"
    vislab.run_suite(str(spec), out=out, **QUIET)
    assert "| mlp | 2 |" in (out / "results.md").read_text()
    return out


def test_a_run_resumed_with_more_epochs_brings_results_md_up_to_date(tmp_path, capsys):
    """results.md showed `| mlp | 2 | …` (the mean of two seeds) after mlp-s0 was trained on to 2
    epochs: now it shows each run as a row of its own, as `vislab compare` does, and says why."""
    out = _seeded_suite(tmp_path)
    code, text = cli(capsys, "train", "--resume", out / "mlp-s0", "--epochs", 2)
    assert code == 0, text
    assert (
        "results.csv and results.md updated" in text
        and "mlp-s0 (its summary.json newer than results.md)" in text
    )
    results = (out / "results.md").read_text()
    assert "| mlp | 2 |" not in results
    assert "| mlp-s0 |" in results and "| mlp-s1 |" in results
    assert "differ in train.epochs" in " ".join(results.split())
    code, compared = cli(capsys, "compare", out)
    assert code == 0, compared
    assert first_table(compared) == first_table(results)


def test_a_report_brings_results_md_up_to_date_after_such_a_resume(tmp_path, capsys):
    """results.md left as it was by a resume (an older vislab's): `vislab report` writes it again first."""
    out = _seeded_suite(tmp_path)
    old = (out / "results.md").read_text()
    code, text = cli(capsys, "train", "--resume", out / "mlp-s0", "--epochs", 2)
    assert code == 0, text
    (out / "results.md").write_text(old)
    summary = out / "mlp-s0" / "summary.json"
    later = (out / "results.md").stat().st_mtime + 5
    os.utime(summary, (later, later))  # written after results.md
    code, text = cli(capsys, "report", out)
    assert code == 0, text
    assert "results.csv and results.md updated" in text
    assert "| mlp-s0 |" in (out / "results.md").read_text()


def test_an_unchanged_suite_leaves_results_md_alone(tmp_path, capsys):
    """A suite whose runs were not trained since: the report neither writes results.md nor says so —
    nor when a copy's files are newer than its results.md but say the same."""
    out = _seeded_suite(tmp_path)
    summary = out / "mlp-s1" / "summary.json"
    later = (out / "results.md").stat().st_mtime + 5
    os.utime(summary, (later, later))  # as a copy without -p may leave it
    before = (out / "results.md").stat().st_mtime_ns
    code, text = cli(capsys, "report", out)
    assert code == 0, text
    assert "updated" not in text
    assert (out / "results.md").stat().st_mtime_ns == before


def test_only_with_overwrite_is_refused_before_anything_is_deleted(tmp_path, capsys):
    """`vislab suite FILE --out A --only mlp --overwrite` deleted the suite's other finished runs (its
    --overwrite starts the whole suite over), then listed them as not trained yet."""
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump(tiny_suite(name="lab", runs={"mlp": {}, "wide": {}})))
    out = tmp_path / "A"
    vislab.run_suite(str(spec), out=out, **QUIET)
    before = sorted(p.name for p in out.iterdir())
    code, text = cli(capsys, "suite", str(spec), "--out", str(out), "--only", "mlp", "--overwrite")
    assert code == 2 and "those --only mlp leaves out too" in text and "Traceback" not in text, text
    assert sorted(p.name for p in out.iterdir()) == before
    assert (out / "wide" / "summary.json").is_file()
