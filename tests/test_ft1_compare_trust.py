"""A teacher comparing students' run folders (`vislab compare`, ``vislab.compare``, the paper's tables):
a summary.json edited by hand is named and never bold nor sorted first; a run without its
predictions_test.npz (or with nothing but a summary.json) is "test set unknown", not ranked; copies named
``<row>-s<i>`` with one train.seed are no seeds; a config.yaml edited since the run trained is not shown
as what it trained with; and the test set each row was scored on is a column of the CSV and DataFrame,
numbered whatever the --sort."""

import csv
import json
import shutil
from pathlib import Path

import pytest

import vislab
from conftest import cli, first_table, one_line, tiny_sets
from vislab.cli import main


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """Two tiny 1-epoch digits runs: ``a`` (train.seed 0) and ``b`` (train.seed 1: another split)."""
    root = tmp_path_factory.mktemp("ft1")
    for name, seed in (("a", 0), ("b", 1)):
        sets = tiny_sets(f"train.seed={seed}", drop="train.seed=0")
        assert main(["train", *sets, "--out", str(root / name), "-q"]) == 0
    return root


def _copy(runs: Path, run: str, to: Path) -> Path:
    shutil.copytree(runs / run, to)
    return to


def _edit_summary(run: Path, **figures: float) -> None:
    path = run / "summary.json"
    summary = json.loads(path.read_text())
    path.write_text(json.dumps({**summary, **figures}, indent=2))


def _rows(text: str) -> dict[str, str]:
    """Each table row of a compare's output by its run's name."""
    lines = [line for line in first_table(text) if line.startswith("| ") and "---" not in line]
    return {line.split("|")[1].strip(): line for line in lines[1:]}


def test_a_hand_edited_summary_is_named_never_bold_nor_sorted_first(capsys, runs, tmp_path):
    _copy(runs, "a", tmp_path / "c" / "a")
    edit = _copy(runs, "a", tmp_path / "c" / "edit")
    _edit_summary(edit, test_acc=0.99, val_acc=0.97)
    truth = json.loads((runs / "a" / "summary.json").read_text())
    code, text = cli(
        capsys, "compare", tmp_path / "c", "--sort", "test_acc", "--csv", tmp_path / "g.csv"
    )
    assert code == 0, text
    said = one_line(text)
    assert "Figures that disagree with their run's own records" in said
    assert f"edit: val_acc 0.9700 (metrics.jsonl, epoch 1: {truth['val_acc']:.4f})" in said
    assert f"test_acc 0.9900 (predictions_test.npz: {truth['test_acc']:.4f})" in said
    assert "**" not in _rows(text)["edit"]
    table = list(csv.DictReader((tmp_path / "g.csv").open()))
    assert [r["run"] for r in table] == ["a", "edit"]  # its claimed 0.99 is not ranked first
    assert [r["doubted"] for r in table] == ["", "val_acc, test_acc"]
    # outside [0, 1]: named so, even with no record to hold it against
    (edit / "predictions_test.npz").unlink()
    _edit_summary(edit, test_acc=1.5, val_acc=truth["val_acc"])
    code, text = cli(capsys, "compare", tmp_path / "c")
    assert "edit: test_acc 1.5000 (outside [0, 1])" in one_line(text)
    assert "**" not in _rows(text)["edit"]


def test_the_papers_tables_do_not_bold_a_hand_edited_figure(capsys, runs, tmp_path):
    _copy(runs, "a", tmp_path / "c" / "a")
    _edit_summary(_copy(runs, "a", tmp_path / "c" / "edit"), test_acc=0.99)
    code, text = cli(capsys, "paper", tmp_path / "c", "--out", tmp_path / "p", "--no-figures")
    assert code == 0, text
    tex = (tmp_path / "p" / "tables.tex").read_text()
    assert "0.9900" in tex and "\\textbf{0.9900}" not in tex


def test_a_run_without_its_test_predictions_is_told_by_its_config_or_unknown(
    capsys, runs, tmp_path
):
    _copy(runs, "a", tmp_path / "c" / "a")
    nonpz = _copy(runs, "b", tmp_path / "c" / "nonpz")
    (nonpz / "predictions_test.npz").unlink()
    hand = tmp_path / "c" / "hand"
    hand.mkdir()
    shutil.copy(runs / "a" / "summary.json", hand)  # a summary.json alone
    code, text = cli(capsys, "compare", tmp_path / "c" / "a", nonpz)
    assert code == 0, text
    said = one_line(text)
    assert "test set 1: a; test set 2: nonpz" in said
    assert "Test set told by config.yaml alone (no predictions_test.npz;" in said
    assert "for nonpz (another split than a's: train.seed 1 vs 0)" in said
    assert "**" not in text  # nothing ranked: each row of its own test set
    df = vislab.compare([tmp_path / "c" / "a", nonpz])
    assert list(df["test_set"]) == [1, 2]
    code, text = cli(capsys, "compare", tmp_path / "c")
    said = one_line(text)
    assert (
        "Test set unknown for hand (it has no predictions_test.npz, nor a config.yaml to tell its "
        "split by): its test figures are not ranked in bold" in said
    )
    assert "**" not in _rows(text)["hand"]
    _edit_summary(hand, test_acc=0.99)  # beside the run it claims to be: never the best
    code, text = cli(capsys, "compare", tmp_path / "c" / "a", hand)
    assert "0.9900" in _rows(text)["hand"] and "**" not in text


def test_copies_with_one_seed_named_as_seeds_are_not_averaged(capsys, runs, tmp_path):
    for name in ("cnn-s0", "cnn-s1"):
        _copy(runs, "a", tmp_path / "c7" / name)
    code, text = cli(capsys, "compare", tmp_path / "c7")
    assert code == 0, text
    assert set(_rows(text)) == {"cnn-s0", "cnn-s1"}  # one run counted twice is no mean ± std
    said = one_line(text)
    assert (
        "Not averaged as seeds, though named <row>-s<i>: cnn-s0, cnn-s1 share train.seed 0." in said
    )
    # seeds base + i are a row of seeds, as before
    _copy(runs, "b", tmp_path / "c8" / "mlp-s1")
    _copy(runs, "a", tmp_path / "c8" / "mlp-s0")
    code, text = cli(capsys, "compare", tmp_path / "c8")
    assert list(_rows(text)) == ["mlp"] and "Not averaged" not in text


def test_a_config_edited_since_the_run_trained_is_not_shown_as_its_settings(capsys, runs, tmp_path):
    _copy(runs, "a", tmp_path / "c" / "a")
    edited = _copy(runs, "a", tmp_path / "c" / "edited")
    config = (edited / "config.yaml").read_text()
    assert "  lr: 0.001\n" in config and "  epochs: 1\n" in config
    config = config.replace("  lr: 0.001\n", "  lr: 0.0005\n").replace(
        "  epochs: 1\n", "  epochs: 20\n"
    )
    (edited / "config.yaml").write_text(config)
    code, text = cli(capsys, "compare", tmp_path / "c")
    assert code == 0, text
    said = one_line(text)
    assert "| optim.lr |" not in text  # no column: the two trained alike
    assert "0.0005" not in "".join(_rows(text).values())
    assert (
        "Settings edited since the run trained (edited: config.yaml says optim.lr 0.0005, "
        "train.epochs 20; checkpoints/last.pt recorded 0.001, 1)" in said
    )


def test_the_test_set_is_a_column_numbered_whatever_the_sort(capsys, runs, tmp_path):
    both = [runs / "a", runs / "b"]
    for sort in ("test_acc", "test_loss", None):  # a's first or b's
        df = vislab.compare(both, sort=sort)
        assert dict(zip(df["run"], df["test_set"])) == {"a": 1, "b": 2}
        args = ["--sort", sort] if sort else []
        code, text = cli(capsys, "compare", *both, *args, "--csv", tmp_path / f"{sort}.csv")
        assert code == 0, text
        assert "test set 1: a; test set 2: b" in one_line(text)
        assert "disagree" not in text and "Test set unknown" not in text  # runs as they trained
        table = list(csv.DictReader((tmp_path / f"{sort}.csv").open()))
        assert {r["run"]: r["test_set"] for r in table} == {"a": "1", "b": "2"}
