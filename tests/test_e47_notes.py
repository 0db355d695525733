"""A seed's run file damaged, in a row of seeds: a metrics.jsonl cut short (its last row lost) is noted
once on the terminal, in report.html's notes and in the paper's, whichever seed it is; the curves do
not fade the epoch (the seed trained it) nor say the seed stopped early; a predictions_test.npz that cannot be
read leaves its row's "own split" unknown, said wherever the data line is (compare, report, paper)."""

import shutil
from pathlib import Path

import pytest
import yaml

from conftest import cli, one_line, tiny_suite
from figures_skipped import skip_report_figures
from vislab.cli import main

CUT = "ends in a line cut short"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Path:
    """The tiny suite (majority, mlp) of 2 epochs, 2 seeds."""
    root = tmp_path_factory.mktemp("e47")
    spec = root / "suite.yaml"
    spec.write_text(yaml.safe_dump(tiny_suite(base__train__epochs=2), sort_keys=False))
    args = ["suite", spec, "--seeds", "2", "--out", root / "s", "-q", "--no-report"]
    assert main([str(a) for a in args]) == 0
    return root / "s"


@pytest.fixture
def suite(seeded, tmp_path) -> Path:
    """A copy of the seeded suite this test may damage."""
    return Path(shutil.copytree(seeded, tmp_path / "s"))


def _cut_last_row(run: Path) -> None:
    metrics = run / "metrics.jsonl"
    metrics.write_text(metrics.read_text().rstrip("\n")[:-10])


def test_a_second_seeds_metrics_file_cut_short_is_noted_on_the_terminal_page_and_paper(
    capsys, suite, tmp_path, monkeypatch
):
    skip_report_figures(monkeypatch)
    _cut_last_row(suite / "mlp-s1")
    code, said = cli(capsys, "report", suite)
    assert code == 0 and said.count(CUT) == 1, said
    page = (suite / "report.html").read_text()
    assert page.count(CUT) == 1 and "mlp-s1/metrics.jsonl&#39; " + CUT in page
    code, said = cli(capsys, "paper", suite, "--out", tmp_path / "paper")
    assert code == 0 and said.count(CUT) == 1, said
    assert (tmp_path / "paper" / "texts.tex").read_text().count(CUT) == 1


def test_the_curves_caption_says_a_row_was_lost_not_that_the_seed_stopped_early(
    capsys, suite, monkeypatch
):
    skip_report_figures(monkeypatch, keep=("curves",))
    _cut_last_row(suite / "mlp-s1")
    code, _ = cli(capsys, "report", suite)
    page = one_line((suite / "report.html").read_text())
    caption = page.split("loss, accuracy and per-class accuracy of", 1)[1].split("<", 1)[0]
    # the seed trained epoch 2 (its row lost, not a stop): that epoch is not faded, nor said to be
    assert code == 0 and "seeds at epoch 2" not in caption, caption
    assert "stopped early" not in caption and "faded" not in caption


def test_a_seeds_unreadable_predictions_leave_its_rows_own_split_unknown_not_unsaid(
    capsys, suite, tmp_path, monkeypatch
):
    skip_report_figures(monkeypatch)
    (suite / "mlp-s1" / "predictions_test.npz").write_bytes(b"not an npz")
    unknown = "Whether the seeds of mlp drew their own train/val/test split is not known"
    code, said = cli(capsys, "compare", suite)
    assert code == 0 and one_line(said).count(unknown) == 1, said
    assert "mlp-s1" in one_line(said).split(unknown, 1)[1]
    code, _ = cli(capsys, "report", suite)
    page = one_line((suite / "report.html").read_text())
    line = page.split('<p id="data-used">', 1)[1].split("</p>", 1)[0]
    assert code == 0 and unknown in line, line
    code, _ = cli(capsys, "paper", suite, "--out", tmp_path / "paper", "--no-figures")
    paper = one_line((tmp_path / "paper" / "texts.tex").read_text())
    assert code == 0 and paper.count(unknown) == 1, paper


def test_a_paper_without_figures_names_a_second_seeds_unreadable_metrics(capsys, suite, tmp_path):
    """`paper --no-figures` checks every seed's files, not only a row's first seed's (session 14, H3)."""
    (suite / "mlp-s1" / "metrics.jsonl").unlink()
    code, said = cli(capsys, "paper", suite, "--out", tmp_path / "paper", "--no-figures")
    notes = one_line((tmp_path / "paper" / "texts.tex").read_text())
    assert code == 0 and "mlp-s1/metrics.jsonl' is missing" in one_line(said), said
    assert "mlp-s1" in notes and "is missing" in notes
