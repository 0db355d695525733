"""How `vislab compare` groups runs into rows: runs named ``<row>-s<i>`` whose configs differ in more than
their seed are rows of their own, not averaged as seeds, and a note names them and the settings; a sweep
folder's table shows its swept keys, as the sweep's own results.csv / results.md do, and the metric its
trials were chosen by (val_loss) as a column of both."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest
import yaml

import vislab
from conftest import cli, first_table, tiny_base, tiny_sweep
from vislab.cli import main
from vislab.errors import Note
from vislab.report.plan import plan_report
from vislab.report.seeds import plan_rows, table_context

TINY = ["--set", "data.name=digits", "--set", "data.limit=200", "--set", "train.epochs=1"]
TINY += ["--set", "model.name=mlp", "--set", "train.device=cpu", "--set", "train.figures=false"]


def _train(out: Path, *sets: str) -> None:
    args = [a for s in sets for a in ("--set", s)]
    assert main(["train", *TINY, *args, "--out", str(out), "-q"]) == 0


@pytest.fixture(scope="module")
def unlike(tmp_path_factory) -> Path:
    """mlp-s0 ([16] hidden units, seed 0) and mlp-s1 ([8], seed 1): named as seeds of one row."""
    folder = tmp_path_factory.mktemp("unlike")
    _train(folder / "mlp-s0", "model.hidden=[16]", "train.seed=0")
    _train(folder / "mlp-s1", "model.hidden=[8]", "train.seed=1", "train.log_every=5")
    return folder


def _rows(text: str) -> list[str]:
    return [line.split("|")[1].strip() for line in first_table(text) if line.startswith("| ")]


def test_runs_named_as_seeds_but_trained_otherwise_are_not_averaged(capsys, unlike):
    code, text = cli(capsys, "compare", unlike)
    assert code == 0, text
    assert _rows(text) == ["run", "mlp-s0", "mlp-s1"]  # no row 'mlp' of 2 seeds
    assert "±" not in text.split("| run")[1].split("\n\n")[0]  # no mean ± std
    said = " ".join(text.split())
    assert "Not averaged as seeds, though named <row>-s<i>: mlp-s0, mlp-s1 differ in" in said
    assert "model.hidden (mlp-s0 [16], mlp-s1 [8])" in said
    assert "train.log_every" not in said  # what a run writes beside its results is no difference
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = vislab.compare(unlike)
    assert list(frame["run"]) == ["mlp-s0", "mlp-s1"]
    assert list(frame["model.hidden"]) == ["[16]", "[8]"]
    assert "seeds" not in frame.columns
    assert any(issubclass(w.category, Note) and "model.hidden" in str(w.message) for w in caught)


def test_the_report_of_runs_named_as_seeds_but_trained_otherwise_says_so(unlike):
    plan = plan_report(unlike, log=lambda s: None)
    assert plan_rows(plan) is None
    table = table_context(plan)
    assert [row["run"] for row in table["rows"]] == ["mlp-s0", "mlp-s1"]
    assert "model.hidden (mlp-s0 [16], mlp-s1 [8])" in table["settings_note"]


def test_runs_named_as_seeds_that_differ_only_in_their_seed_stay_one_row(capsys, tmp_path):
    _train(tmp_path / "mlp-s0", "model.hidden=[8]", "train.seed=0", "train.threads=1")
    _train(tmp_path / "mlp-s1", "model.hidden=[8]", "train.seed=1", "train.log_every=5")
    code, text = cli(capsys, "compare", tmp_path)
    assert code == 0, text
    assert _rows(text) == ["run", "mlp"]
    assert "Not averaged" not in text
    assert list(vislab.compare(tmp_path)["seeds"]) == [2]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """2 trials of the tiny sweep over optim.lr and train.batch_size, whose one choice is 32, chosen by
    the lowest val_loss."""
    folder = tmp_path_factory.mktemp("sweep")
    space = dict(tiny_sweep()["space"])
    space["train.batch_size"] = {"type": "categorical", "choices": [32]}
    spec = folder / "spec.yaml"
    made = tiny_sweep(space=space, base=tiny_base(data__limit=120))
    spec.write_text(yaml.safe_dump({**made, "metric": "val_loss", "direction": "minimize"}))
    out = folder / "sw"
    assert main(["sweep", str(spec), "--trials", "2", "--out", str(out), "--no-report"]) == 0
    return out


def test_compare_of_a_sweep_shows_its_swept_keys_as_its_results_table_does(capsys, sweep):
    code, text = cli(capsys, "compare", sweep)
    assert code == 0, text
    head = next(line for line in text.splitlines() if line.startswith("| run"))
    own = next(line for line in (sweep / "results.md").read_text().splitlines() if "| run" in line)
    assert head == own
    assert "train.batch_size" in head and head.startswith("| run | model | seed |")
    frame = vislab.compare(sweep)
    pd.testing.assert_frame_equal(frame, pd.read_csv(sweep / "results.csv"))
    assert list(frame["train.batch_size"]) == [32, 32]


def test_a_sweep_chosen_by_val_loss_shows_it_in_its_tables(capsys, sweep):
    head = next(line for line in (sweep / "results.md").read_text().splitlines() if "| run" in line)
    assert "| val PACC | val loss | test ACC |" in head
    frame = pd.read_csv(sweep / "results.csv")
    assert frame["val_loss"].notna().all()
    assert list(vislab.compare(sweep)["val_loss"]) == list(frame["val_loss"])
    text = cli(capsys, "compare", sweep)[1]
    best = frame["run"][frame["val_loss"].idxmin()]
    row = next(line for line in text.splitlines() if line.startswith(f"| {best} "))
    assert f"**{frame['val_loss'].min():.4f}**" in row  # the lowest val loss in bold
