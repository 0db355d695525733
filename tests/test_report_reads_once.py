"""A report (`vislab report`) or a paper (`vislab paper`) reads each run's metrics.jsonl and
predictions_test.npz once per build: the curves, the tracking figures and the paper's per-epoch tables share
one read of a run's metrics; the "own test sets" check of the data line, the test figures and the mistakes
one read of its predictions (before: a metrics.jsonl up to three times, a predictions_test.npz up to three)."""

from collections import Counter
from pathlib import Path

import pytest
import yaml

import vislab
from conftest import tiny_suite
from figures_skipped import skip_report_figures
from vislab.cli import main
from vislab.training.rundir import RunDir

RUNS = [f"{row}-s{i}" for row in ("majority", "mlp") for i in (0, 1)]


@pytest.fixture(scope="module")
def suite(tmp_path_factory) -> Path:
    """The tiny suite (majority, mlp) with 2 seeds each, without its report."""
    root = tmp_path_factory.mktemp("reads-once")
    spec = root / "suite.yaml"
    spec.write_text(yaml.safe_dump(tiny_suite(), sort_keys=False))
    args = ["suite", spec, "--seeds", "2", "--out", root / "s", "-q", "--no-report"]
    assert main([str(a) for a in args]) == 0
    return root / "s"


@pytest.fixture
def reads(monkeypatch) -> Counter:
    """(file, run) → how many times a run's metrics.jsonl or predictions_test.npz was read."""
    seen: Counter = Counter()
    for method, file in (("read_metrics", "metrics.jsonl"), ("read_predictions", "predictions")):
        real = getattr(RunDir, method)

        def counted(self, _real=real, _file=file):
            seen[_file, Path(self.path).name] += 1
            return _real(self)

        monkeypatch.setattr(RunDir, method, counted)
    return seen


@pytest.mark.parametrize("build", ["report", "paper"])
def test_a_build_reads_each_runs_metrics_and_predictions_once(
    suite, reads, monkeypatch, tmp_path, build
):
    skip_report_figures(monkeypatch)  # what is read is the same: the figures are drawn from it
    if build == "report":
        vislab.write_report(suite, log=lambda _: None)
    else:
        vislab.paper(suite, out=tmp_path / "paper", log=lambda _: None)
    every = {(file, run) for file in ("metrics.jsonl", "predictions") for run in RUNS}
    assert set(reads) == every  # each run's curves and test figures are read...
    assert {key: n for key, n in reads.items() if n > 1} == {}  # ...once
