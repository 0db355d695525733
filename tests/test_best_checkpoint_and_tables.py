"""What the records say a run was: best.pt is the evaluation with the best val score whatever
``train.min_delta`` (which only decides the patience of early stopping and of a plateau schedule, resumed
exactly); the comparison tables and a suite's dry run leave out what a run does not read (a fitted
baseline's epochs, an augmentation's settings while it is off — which get a note) and never list a
default as a run's change; and the tables say what train ACC is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import vislab
from conftest import DROP, TINY_DIGITS, cli, one_line, tiny_base, tiny_sets, tiny_suite
from vislab.config import build_config
from vislab.experiments.results.for_people import for_people, setting_text
from vislab.experiments.results.settings import IDENTITY, Settings, flat_settings, silent_keys
from vislab.experiments.suites.foresee import foresee_suite
from vislab.experiments.suites.spec import load_suite
from vislab.paper_folder.tables import parts
from vislab.training.checkpoint import load_checkpoint
from vislab.training.history import EpochRow
from vislab.training.plateau import improves


def rows_of(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def summary_of(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


def best_val_epoch(rows: list[dict]) -> int:
    """The first epoch with the highest val_pacc: what best.pt must be."""
    scored = [r for r in rows if r["epoch"] > 0 and "val_pacc" in r]
    return max(scored, key=lambda r: (r["val_pacc"], -r["epoch"]))["epoch"]


# 4 epochs of a small MLP on 200 digits: val_pacc rises by less than 0.5 after epoch 1
MIN_DELTA_RUN = dict(TINY_DIGITS, train__epochs=4, train__min_delta=0.5)


# ------------------------------------------------------------------- best.pt and train.min_delta
def test_best_pt_is_the_epoch_with_the_best_val_score_whatever_min_delta(tmp_path):
    run = tmp_path / "md"
    vislab.train(out=run, **MIN_DELTA_RUN)
    rows, summary = rows_of(run), summary_of(run)
    best = best_val_epoch(rows)
    assert best > 1  # no epoch beat epoch 1 by 0.5: the old rule kept epoch 1
    assert summary["best_epoch"] == best
    assert load_checkpoint(run / "checkpoints" / "best.pt").epoch == best
    assert summary["val_pacc"] == pytest.approx(max(r["val_pacc"] for r in rows), abs=1e-9)


def test_min_delta_still_decides_when_early_stopping_ends_the_run(tmp_path):
    run = tmp_path / "stop"
    vislab.train(out=run, **dict(MIN_DELTA_RUN, train__early_stop=2))
    rows, summary = rows_of(run), summary_of(run)
    assert [r["epoch"] for r in rows] == [1, 2, 3]  # epochs 2 and 3 did not improve by 0.5
    assert rows[-1].get("stopped_early") is True and summary["stopped_early"] is True
    assert summary["best_epoch"] == best_val_epoch(rows) > 1


def test_resuming_goes_on_with_the_same_patience_and_best_pt(tmp_path):
    """Extended from 2 epochs to 5, a run ends as the same run trained for 5 at once: the value the patience
    counts from (min_delta 0.05, which an improvement may miss) is read back from last.pt."""
    run = dict(TINY_DIGITS, train__min_delta=0.05, train__early_stop=2)
    vislab.train(out=tmp_path / "once", **dict(run, train__epochs=5))
    vislab.train(out=tmp_path / "twice", **dict(run, train__epochs=2))
    vislab.train(out=tmp_path / "twice", resume=True, epochs=5)
    once, twice = rows_of(tmp_path / "once"), rows_of(tmp_path / "twice")
    assert [r["epoch"] for r in twice] == [r["epoch"] for r in once]
    assert [r["val_pacc"] for r in twice] == [r["val_pacc"] for r in once]
    for key in ("best_epoch", "stopped_early", "val_pacc", "test_acc"):
        assert summary_of(tmp_path / "twice")[key] == summary_of(tmp_path / "once")[key]


def test_the_patience_counts_from_the_last_evaluation_that_improved_by_more_than_min_delta():
    rows = [  # epoch 0 (before training) never counts
        EpochRow(e, 0.0, 0.0, None, 0.0, val_pacc=v)
        for e, v in [(0, 0.9), (1, 0.5), (2, 0.55), (3, 0.59), (4, 0.7)]
    ]

    def beats(value: float, history: list[EpochRow], delta: float) -> bool:
        return improves(
            EpochRow(5, 0.0, 0.0, None, 0.0, val_pacc=value), history, "val_pacc", delta
        )

    assert beats(0.0, rows[:1], 0.1)  # no evaluation yet: any counts
    assert not beats(0.58, rows[:4], 0.1) and beats(0.65, rows[:4], 0.1)  # 0.55, 0.59: not by 0.1
    assert not beats(0.75, rows, 0.1) and beats(0.85, rows, 0.1)  # 0.7 beat 0.5 by more than 0.1
    assert not beats(0.59, rows[:4], 0.0) and beats(0.6, rows[:4], 0.0)
    losses = [
        EpochRow(e, 0.0, 0.0, None, 0.0, val_loss=v) for e, v in [(1, 1.0), (2, 0.95), (3, 0.8)]
    ]
    row = EpochRow(4, 0.0, 0.0, None, 0.0, val_loss=0.71)
    assert not improves(row, losses, "val_loss", 0.1)  # 0.8 is the one to beat
    row.val_loss = 0.65
    assert improves(row, losses, "val_loss", 0.1)


# ------------------------------------------------------------------- what a run does not read
def test_a_fitted_baseline_is_silent_on_the_train_settings_of_epochs_and_steps():
    settings = flat_settings(build_config({}, ["model.name=majority"]).to_dict())
    unread = {"train.epochs", "train.batch_size", "train.early_stop", "train.min_delta",
              "train.accumulate", "train.ema.decay"}  # fmt: skip
    read = {"train.eval_batch_size", "train.seed", "train.tta", "train.amp", "data.name"}
    assert unread <= silent_keys(settings, "fit_arrays")
    assert not read & silent_keys(settings, "fit_arrays")
    assert not unread & silent_keys(settings, "optimizer")


def test_an_augmentations_settings_while_it_is_off_get_a_note(capsys, tmp_path):
    sets = tiny_sets("augment.rotation.degrees=30", "train.figures=false")
    code, text = cli(capsys, "train", *sets, "--out", tmp_path / "an")
    assert code == 0, text
    notes = [one_line(line) for line in text.splitlines() if line.startswith("note: ")]
    assert notes == [
        "note: augment.rotation.degrees=30 does nothing with augment.rotation.p=0: only the rotation "
        "augmentation reads it, and it is off."
    ]


def test_a_default_value_is_never_listed_as_a_runs_change():
    changed = ["augment.crop.p", "model.a", "model.b", "model.c", "model.d"]
    values = {
        "mlp": {"model": "mlp", "seed": 0, "augment.crop.p": 0.0, "model.a": 1},
        "cnn": {"model": "cnn", "seed": 0, "augment.crop.p": 0.5, "model.b": 2},
    }
    listed = for_people(Settings([*IDENTITY, *changed], values, {})).listed
    assert listed == {"mlp": ["model.a=1"], "cnn": ["augment.crop.p=0.5", "model.b=2"]}


# ------------------------------------------------------------- a suite: its tables and dry run
SUITE = tiny_suite(
    base=tiny_base(train__epochs=2, model=DROP),
    runs={
        "majority": {"model.name": "majority"},
        "mlp": {"model.name": "mlp", "model.hidden": [16], "model.dropout": 0.1},
        "cnn": {"model.name": "cnn", "model.preset": "simple", "augment.crop.p": 0.5},
        "mlp-wide": {"model.name": "mlp", "model.hidden": [32], "optim.lr": 0.01},
    },
)


@pytest.fixture(scope="module")
def suite(tmp_path_factory) -> tuple[Path, Path]:
    """(suite file, its folder): trained for 2 epochs, then re-run with --epochs 1 (the baseline is kept,
    fitted once: its config.yaml still says 2 epochs)."""
    root = tmp_path_factory.mktemp("suite")
    spec, out = root / "s.yaml", root / "out"
    spec.write_text(yaml.safe_dump(SUITE, sort_keys=False))
    vislab.run_suite(spec, out=out, quiet=True)
    vislab.run_suite(spec, out=out, epochs=1, quiet=True)
    return spec, out


def listed_lines(results_md: str) -> dict[str, str]:
    found = [
        line[4:].split("**: ", 1) for line in results_md.splitlines() if line.startswith("- **")
    ]
    return dict(found)


def test_the_tables_list_neither_a_baselines_epochs_nor_a_default(suite):
    _, out = suite
    text = (out / "results.md").read_text()
    lines = listed_lines(text)
    assert lines["majority"] == "none of these settings"
    assert "train.epochs" not in text.split("| run |", 1)[1]  # above the table: the command line's
    assert "augment.crop.p=0," not in text and "augment.crop.padding" not in text
    assert "augment.crop.p=0.5" in lines["cnn"]


def test_the_dry_run_says_of_each_run_what_results_md_lists(suite):
    spec, out = suite
    foreseen = foresee_suite(load_suite(spec), out, ["train.epochs=1"])
    listed = listed_lines((out / "results.md").read_text())
    for f in foreseen:
        said = ", ".join(f"{k}={setting_text(v)}" for k, v in f.changed.items())
        assert (said or "none of these settings") == listed[f.name]
    majority = next(f for f in foreseen if f.name == "majority")
    assert majority.settings == {}  # a fitted baseline: no augment.crop.p, no optim.lr


def test_the_tables_say_what_train_acc_is(suite):
    _, out = suite
    text = one_line((out / "results.md").read_text())
    assert (
        "Train ACC is the mean accuracy over the best epoch's training batches as they trained"
        in text
    )
    rows = [{"run": "a", "train_acc": 0.9, "val_acc": 0.8, "test_acc": 0.7}]
    cols = [
        ("run", "run"),
        ("train_acc", "train ACC"),
        ("val_acc", "val ACC"),
        ("test_acc", "test ACC"),
    ]
    captions = {p.label: p.caption for p in parts(rows, cols, seeded=False)}
    assert (
        "train ACC is the mean accuracy over the best epoch's training batches"
        in captions["training"]
    )
    assert "train ACC" not in captions["accuracy"]
