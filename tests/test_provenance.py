"""How each number was made, on every output a teacher reads: a suite run with `--epochs 1 --set ...` says
its command-line changes and the checkpoint of its test figures in results.md, report.html, and the
paper's tables.md, tables.tex (visibly, not as a `%` comment) and texts.tex — one line, built once."""

import re
from html import unescape

import pytest
import yaml

from conftest import tiny_suite
from figures_skipped import skip_report_figures
from fixtures import made_once
from vislab.cli import main
from vislab.experiments.records import SuiteInfo
from vislab.experiments.results.provenance import checkpoint_sentence, provenance_line
from vislab.training.summary import RunSummary

SUITE = tiny_suite(description="provenance test: Adam, 3 epochs", base__train__epochs=3)


def _make(root):
    spec = root / "suite.yaml"
    spec.write_text(yaml.safe_dump(SUITE, sort_keys=False))
    suite = root / "suite"
    sets = ["--set", f"data.root={root / 'data'}", "--set", "optim.lr=0.01"]
    args = ["suite", str(spec), "--epochs", "1", *sets, "--out", str(suite), "-q", "--no-report"]
    assert main(args) == 0
    with pytest.MonkeyPatch.context() as mp:
        skip_report_figures(mp)  # the tests read the texts only
        assert main(["report", str(suite)]) == 0
        assert main(["paper", str(suite), "--out", str(root / "paper")]) == 0
    return {}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root, _ = made_once(tmp_path_factory, "test_provenance", _make)
    return root / "suite", root / "paper"


def _flat(text: str) -> str:
    return " ".join(text.split())


CHANGES = (
    "changed on the command line: train.epochs=1, optim.lr=0.01 (and, leaving results alone, "
    "data.root)."
)
CHECKPOINT = (
    "Test figures from the checkpoint with the best val_pacc (best.pt); majority: fitted once, one "
    "checkpoint."
)


@pytest.mark.slow
def test_every_output_says_the_command_line_changes_and_the_checkpoint(folders):
    suite, paper = folders
    md = (suite / "results.md").read_text()
    [made] = [line for line in md.splitlines() if line.startswith("Runs made with")]
    assert CHANGES in made and made.endswith(CHECKPOINT)
    html = unescape((suite / "report.html").read_text())
    header = html[: html.index('id="table"')]  # beside the description "…, 3 epochs"
    assert "provenance test: Adam, 3 epochs" in header and _flat(made) in _flat(header)
    assert "by <code>train.select_metric</code>" not in html  # the metric is named instead
    assert made in (paper / "tables.md").read_text()
    main_tex = _flat((paper / "texts.tex").read_text())
    assert "train.epochs=1, optim.lr=0.01" in main_tex and "(best.pt)" in main_tex


@pytest.mark.slow
def test_tables_tex_points_each_table_to_the_data_and_provenance_not_in_a_comment(folders):
    _, paper = folders
    tex = (paper / "tables.tex").read_text()
    visible = "\n".join(line for line in tex.splitlines() if not line.lstrip().startswith("%"))
    for table in re.findall(r"\\begin\{table\}.*?\\end\{table\}", visible, re.S):
        flat = _flat(table)
        assert "Data and how the runs were made: see ``Data and runs'' on page" in flat, flat
        assert "Data: digits" not in flat  # said once, in texts.tex


def test_runs_selected_by_different_metrics_name_each_and_rows_replace_seeds(tmp_path):
    for name, metric in (("a-s0", "val_acc"), ("a-s1", "val_acc"), ("b-s0", "val_loss")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.yaml").write_text(f"train: {{select_metric: {metric}}}\n")
    summaries = {n: RunSummary() for n in ("a-s0", "a-s1", "b-s0")}
    rows = {"a": ["a-s0", "a-s1"], "b": ["b-s0"]}
    line = provenance_line(None, summaries, {n: tmp_path / n for n in summaries}, rows)
    best = "the best val_acc for a; val_loss for b (best.pt)."
    assert line == f"Test figures from the checkpoint with {best}"
    assert checkpoint_sentence({}, []) == ""
    info = SuiteInfo(name="s", overrides=[])
    assert provenance_line(info, {}, {}).endswith("as its file gives it (no command-line changes).")
