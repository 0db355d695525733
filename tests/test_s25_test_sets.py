"""Rows of seeds and their test images (Fix M): a row whose seeds each drew their own split is never
weighed against a row of one fixed test set, and a row whose seeds share one split by data.split_seed is
said to."""

from html import unescape
from pathlib import Path

import pytest
import yaml

from conftest import cli, one_line, tiny_suite
from figures_skipped import skip_report_figures
from vislab.cli import main
from vislab.experiments.results.data_used import OwnSplits, data_line, mixes_data, row_datasets
from vislab.report.build import build_report
from vislab.training.summary import RunSummary

SHARED = (
    "The seeds of majority and mlp share their train/val/test images (data.split_seed=0): their "
    "spread is the training's own draws' (initialisation, order, augmentation, dropout), not the split's."
)


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> tuple[Path, Path]:
    """Two folders of the tiny suite (majority, mlp), 2 seeds each: ``fixed`` with data.split_seed=0
    (one test set), ``own`` without (each seed draws its own split)."""
    root = tmp_path_factory.mktemp("test-sets")
    spec = root / "suite.yaml"
    spec.write_text(yaml.safe_dump(tiny_suite(), sort_keys=False))
    for name, sets in (("fixed", ["--set", "data.split_seed=0"]), ("own", [])):
        args = ["suite", spec, "--seeds", "2", "--out", root / name, "-q", "--no-report", *sets]
        assert main([str(a) for a in args]) == 0
    return root / "fixed", root / "own"


def _verdicts(text: str) -> list[str]:
    """The verdict lines of a compare's output."""
    return [line for line in text.splitlines() if line.startswith("- **")]


def test_rows_of_seeds_on_their_own_splits_are_never_weighed_against_one_test_set(capsys, folders):
    fixed, own = folders
    code, out = cli(capsys, "compare", fixed, own)
    assert code == 0
    verdicts = _verdicts(out)
    pairs = [line.split(": ", 1)[1].split(":", 1)[0] for line in verdicts]
    assert pairs, out
    for pair in pairs:  # each verdict within one folder: fixed/… vs fixed/…, own/… vs own/…
        first, second = pair.split(" vs ")
        assert first.split("/")[0] == second.split("/")[0], pair
    said = one_line(out)
    assert "The seeds of own/majority and own/mlp each drew their own train/val/test split" in said
    assert (
        "bold and verdicts weigh these rows against no row of one test set (fixed/majority and "
        "fixed/mlp)" in said
    )


def test_a_split_seed_suites_data_line_says_its_seeds_share_their_images(
    capsys, folders, monkeypatch
):
    fixed, own = folders
    assert SHARED in one_line((fixed / "results.md").read_text())
    assert "share their train/val/test images" not in (own / "results.md").read_text()
    code, out = cli(capsys, "compare", fixed)
    assert code == 0 and SHARED in one_line(out)
    skip_report_figures(monkeypatch)
    page = one_line(build_report(fixed, log=lambda _: None).read_text())
    line = page.split('<p id="data-used">', 1)[1].split("</p>", 1)[0]
    assert SHARED in unescape(line)


def test_rows_on_their_own_splits_of_other_data_settings_are_ranked_apart():
    own = OwnSplits(["a", "b", "c"], own_set={"a": 1, "b": 2, "c": 1}, beside=["d"])
    summaries = {name: RunSummary(data="digits") for name in "abcd"}
    data = row_datasets([{"run": name} for name in "abcd"], summaries, None, own)
    assert data[0] == data[2] and len({data[0], data[1], data[3]}) == 3
    assert not mixes_data(data)  # one dataset: the bold note says no "on each dataset"
    said = data_line(summaries, own)
    assert "bold and verdicts weigh these rows against no row of one test set (d)" in said
    assert "by the same data settings (a, c; b)" in said
