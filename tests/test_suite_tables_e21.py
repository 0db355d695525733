"""What a suite's tables hold after ``--only``, ``--seeds`` and failed runs: a run its folder holds trained
with other settings is in no table (listed with the command that trains it); a run trained before the
suite had seeds counts as seed 0 with ``--only`` too; fewer ``--seeds`` than the folder's are refused
before anything trains; a failed run is listed with why and the resume that goes on with it."""

import html
import json
from pathlib import Path

import pytest

import vislab
from conftest import TINY_DIGITS, cli, one_line
from figures_skipped import skip_report_figures
from test_suite_dry_run import write_suite
from vislab.errors import UserError

# a fitted baseline (no epochs) and two models trained by epochs
RUNS = {"majority": {"model.name": "majority"}, "mlp": {}, "wide": {"model.hidden": [32]}}


def csv_runs(out: Path) -> list[str]:
    """The first column of results.csv's rows: the runs (rows, with seeds) in the table."""
    return [line.split(",")[0] for line in (out / "results.csv").read_text().splitlines()[1:]]


def test_only_with_other_epochs_leaves_the_runs_trained_otherwise_out_of_every_table(
    tmp_path, capsys, train_spy, monkeypatch
):
    spec, out = write_suite(tmp_path / "s.yaml", RUNS), tmp_path / "out"
    assert cli(capsys, "suite", spec, "--out", out, "--no-report")[0] == 0
    # the dry run says so first: wide is left out of every table
    code, text = cli(
        capsys, "suite", spec, "--out", out, "--epochs", "2", "--only", "mlp", "--dry-run"
    )
    assert code == 0 and len(train_spy) == 3, text
    assert (
        "wide: left out by --only: not trained with these settings (its folder holds it trained for "
        in text
    )
    assert "1 to retrain, 1 left out of every table" in one_line(text)
    code, text = cli(
        capsys, "suite", spec, "--out", out, "--epochs", "2", "--only", "mlp", "--no-report"
    )
    assert code == 0, text
    assert [name for name, _ in train_spy] == ["majority", "mlp", "wide", "mlp"]
    # wide: 1 epoch in its folder, 2 asked: not in the table (nor its bold), listed with the fix;
    # majority is fitted (no epochs): it stays
    assert csv_runs(out) == ["majority", "mlp"]
    results = one_line((out / "results.md").read_text())
    assert "| wide |" not in results
    assert (
        "- **wide**: not trained with these settings (its folder holds it trained for "
        "train.epochs=1, not 2), so it is in no table: the same command with --only wide" in results
    )
    assert "**majority**" not in results and "**mlp**" not in results
    skip_report_figures(monkeypatch)  # the report says the same
    assert cli(capsys, "report", out)[0] == 0
    page = one_line((out / "report.html").read_text())
    assert "<b>wide</b>: not trained with these settings" in page
    res = vislab.run_suite(spec, out=out, epochs=2, only="mlp", quiet=True)  # nothing to train
    assert sorted(res.runs) == ["majority", "mlp"] and "wide" not in set(res.table["run"])
    assert len(train_spy) == 4

    # at 1 epoch again, mlp is left out by --only wide: the fix brings its kept 1-epoch run back
    code, text = cli(capsys, "suite", spec, "--out", out, "--only", "wide", "--dry-run")
    assert code == 0 and len(train_spy) == 4, text
    assert (
        "--only mlp (Python: only=['mlp']), or without --only, brings back the run kept as "
        f"{out / 'mlp.epochs-1'}" in one_line(text)
    )
    # back to 1 epoch: mlp's 1-epoch run comes back, and wide's settings are the suite's again
    code, text = cli(capsys, "suite", spec, "--out", out, "--only", "mlp", "--no-report")
    assert code == 0, text
    assert len(train_spy) == 4
    assert csv_runs(out) == ["majority", "mlp", "wide"]
    assert "Failed or unfinished runs" not in (out / "results.md").read_text()


def test_seeds_with_only_count_a_run_trained_before_seeds_as_its_seed_0(tmp_path, capsys):
    spec = write_suite(tmp_path / "s.yaml", {"majority": RUNS["majority"], "mlp": {}})
    out = tmp_path / "out"
    assert cli(capsys, "suite", spec, "--out", out, "--no-report")[0] == 0
    code, text = cli(
        capsys, "suite", spec, "--out", out, "--seeds", "2", "--only", "mlp", "--no-report"
    )
    assert code == 0, text
    assert (out / "majority-s0" / "summary.json").is_file() and not (out / "majority").exists()
    results = (out / "results.md").read_text()
    assert "- **majority-s1**: not trained yet" in results
    assert "majority-s0" not in results.split("Failed or unfinished runs")[1]
    rows = {line.split(",")[0]: line for line in (out / "results.csv").read_text().splitlines()}
    assert set(rows) >= {"majority", "mlp"}  # majority's row: its seed 0
    assert json.loads((out / "majority-s0" / "summary.json").read_text())["run"] == "majority-s0"


def test_fewer_seeds_than_the_folder_holds_are_refused_before_anything_trains(
    tmp_path, capsys, train_spy
):
    spec = write_suite(tmp_path / "s.yaml", {"majority": RUNS["majority"], "mlp": {}})
    out = tmp_path / "out"
    assert cli(capsys, "suite", spec, "--out", out, "--seeds", "3", "--no-report")[0] == 0
    table, state = (out / "results.md").read_bytes(), (out / "suite.json").read_bytes()
    trained = len(train_spy)
    code, text = cli(capsys, "suite", spec, "--out", out, "--seeds", "2", "--no-report")
    assert code == 2, text
    said = one_line(text)
    assert "was run into" in said and "with --seeds 3" in said
    assert "would leave each run's seed 2 out of every table" in said
    assert "Leave out --seeds (Python: seeds=None) or give --seeds 3 (Python: seeds=3)" in said
    assert "add --overwrite (Python: overwrite=True) to start the suite over with 2 seeds" in said
    assert (out / "results.md").read_bytes() == table and (out / "suite.json").read_bytes() == state
    with pytest.raises(UserError, match="seeds 1–2 out of every table"):
        vislab.run_suite(spec, out=out, seeds=1, quiet=True)
    assert len(train_spy) == trained and (out / "results.md").read_bytes() == table
    res = vislab.run_suite(spec, out=out, quiet=True)  # without seeds=: all 3 kept
    assert list(res.table["seeds"]) == [3, 3]


BAD_NET = """
import math

import torch.nn as nn


class Net(nn.Module):
    def __init__(self, num_classes, input_shape):
        super().__init__()
        self.fc = nn.Linear(math.prod(input_shape), num_classes)
        self.steps = 0

    def forward(self, x):
        self.steps += self.training
        if self.steps > 10:  # in its 2nd epoch (7 batches each)
            raise RuntimeError("boom")
        return self.fc(x.flatten(1))
"""


def test_a_failed_run_is_listed_with_why_and_its_resume(tmp_path, capsys, monkeypatch):
    code_file, runs = tmp_path / "badnet.py", tmp_path / "runs"
    code_file.write_text(BAD_NET)
    vislab.train(**TINY_DIGITS, out=runs / "mlp", quiet=True)
    with pytest.raises(UserError, match="boom"):
        tiny = {k: v for k, v in TINY_DIGITS.items() if k != "model__hidden"}
        tiny.update(model=f"{code_file}:Net", train__epochs=3)
        vislab.train(**tiny, out=runs / "bad", quiet=True)
    summary = json.loads((runs / "bad" / "summary.json").read_text())
    assert summary["status"] == "failed" and "message" not in summary  # it says only "failed"
    skip_report_figures(monkeypatch)
    assert cli(capsys, "report", runs)[0] == 0
    page = html.unescape(one_line((runs / "report.html").read_text()))
    assert (
        f"status failed; continue it from its last checkpoint: vislab train --resume {runs / 'bad'} "
        f"--trust-code (Python: vislab.train(out='{runs / 'bad'}', resume=True, trust_code=True))"
    ) in page
