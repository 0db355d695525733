"""What a comparison table and a data split say: a step schedule's step_size and gamma show beside a run
without a schedule (they shaped its result); digits' test split is the same whatever data.val_fraction
(its own data.test_fraction sizes it, default 0.1: the default split is unchanged); a data.limit above
the train split's size gets a note saying how many images there are."""

from __future__ import annotations

import hashlib
import json
import math

import pytest

import vislab
from conftest import cli, one_line, table_run, tiny_sets
from vislab.config import build_config
from vislab.data import load_splits
from vislab.errors import ConfigError
from vislab.experiments.results.for_people import for_people
from vislab.experiments.results.settings import differing_settings, flat_settings, table_settings
from vislab.training.summary import RunSummary

STEP2 = ("train.epochs=4", "schedule.name=step", "schedule.step_size=2", "schedule.gamma=0.1")
PLAIN4 = ("train.epochs=4",)


def _cell(value) -> object:
    return None if isinstance(value, float) and math.isnan(value) else value


# ------------------------------------------------------------------- the comparison tables
def test_compare_shows_a_step_schedules_step_size_and_gamma_beside_a_run_without_one(
    tmp_path, capsys
):
    """The user's case: `vislab compare runs/step2 runs/plain4` (before: schedule.name alone)."""
    step2, plain4 = table_run(tmp_path, "step2", *STEP2), table_run(tmp_path, "plain4", *PLAIN4)
    table = vislab.compare([step2, plain4])
    shown = [c for c in table.columns if "." in c]
    assert shown == ["schedule.gamma", "schedule.name", "schedule.step_size"]
    rows = {r["run"]: {k: _cell(r[k]) for k in shown} for r in table.to_dict("records")}
    assert rows["step2"] == {
        "schedule.gamma": 0.1,
        "schedule.name": "step",
        "schedule.step_size": 2,
    }
    assert rows["plain4"] == {
        "schedule.gamma": None,
        "schedule.name": "none",
        "schedule.step_size": None,
    }
    code, text = cli(capsys, "compare", step2, plain4)
    assert code == 0, text
    header = next(line for line in text.splitlines() if line.startswith("| run |"))
    assert "| schedule.gamma | schedule.name | schedule.step_size |" in header
    # only a setting away from vislab's default shows so: step_size 10 (of 12 epochs) is the default
    step10 = table_run(
        tmp_path, "step10", "train.epochs=12", "schedule.name=step", "schedule.gamma=0.1"
    )
    plain12 = table_run(tmp_path, "plain12", "train.epochs=12")
    table = vislab.compare([step10, plain12])
    assert [c for c in table.columns if "." in c] == ["schedule.gamma", "schedule.name"]


def test_the_listed_settings_and_the_dry_run_name_step_size_and_gamma(tmp_path):
    """With more than four settings differing, the list under a table for people names step2's
    schedule, and a suite's dry run (differing_settings) says the same before the runs train."""
    more = ("optim.lr=0.01", "train.label_smoothing=0.1")
    runs = {
        "step2": table_run(tmp_path, "step2", *STEP2, *more),
        "plain": table_run(tmp_path, "plain"),
    }
    summaries = {
        n: RunSummary.from_json(json.loads((p / "summary.json").read_text()))
        for n, p in runs.items()
    }
    listed = for_people(table_settings(summaries, runs)).listed
    assert listed.get("step2") == [
        "optim.lr=0.01",
        "schedule.gamma=0.1",
        "schedule.name=step",
        "schedule.step_size=2",
        "train.epochs=4",
        "train.label_smoothing=0.1",
    ]
    # at vislab's defaults, yet step2's differ: what tells plain apart (its schedule is off: not said)
    assert listed["plain"] == ["optim.lr=0.001", "train.epochs=10"]
    flat = [flat_settings(build_config({}, list(s)).to_dict()) for s in (STEP2, PLAIN4)]
    said = differing_settings([(f, "optimizer") for f in flat])
    assert said[0] == {"schedule.gamma": 0.1, "schedule.name": "step", "schedule.step_size": 2}
    assert said[1] == {"schedule.name": "none"}


# ------------------------------------------------------------------------------- the splits
def _digest(data) -> str:
    return hashlib.sha256(data.x.tobytes() + data.y.tobytes()).hexdigest()[:16]


def _splits(*assignments: str):
    cfg = build_config({}, ["data.name=digits", *assignments])
    return load_splits(cfg.data, cfg.train.seed)


def test_raising_val_fraction_keeps_digits_test_split():
    """val_fraction=0.5 sizes val alone (before: test 899 images instead of 180); the default split is the
    one earlier vislab versions drew, image for image."""
    default, half = _splits(), _splits("data.val_fraction=0.5")
    assert [len(d) for _, d in default.items()] == [1455, 162, 180]
    assert {n: _digest(d) for n, d in default.items()} == {
        "train": "ca31e216b0a66a2c",
        "val": "c92efa0e7d5cba8b",
        "test": "0fafca11716ebd26",
    }
    assert len(half.test) == 180 and _digest(half.test) == _digest(default.test)
    assert (len(half.train), len(half.val)) == (809, 808)


def test_test_fraction_sizes_a_carved_test_split(capsys):
    """data.test_fraction=0.2 carves round(1797 × 0.2) test images; an out-of-range one is refused."""
    splits = _splits("data.test_fraction=0.2")
    assert len(splits.test) == 359
    assert len(splits.val) == round((1797 - 359) * 0.1)
    code, text = cli(capsys, "data", "info", "digits", "--set", "data.test_fraction=0.2")
    assert code == 0 and "359" in text, text
    with pytest.raises(ConfigError, match=r"data\.test_fraction"):
        build_config({}, ["data.test_fraction=1"])


# ------------------------------------------------------------------------------- data.limit
LIMIT_NOTE = (
    "note: data.limit=5000 asks for more training images than the train split holds (1,455): all 1,455 "
    "are used, not 5,000. Give at most 1455: --set data.limit=1455 / data__limit=1455, or leave "
    "data.limit unset (null) for the whole split."
)


def test_a_limit_above_the_train_split_is_noted_by_data_info(capsys):
    code, text = cli(capsys, "data", "info", "digits", "--set", "data.limit=5000")
    assert code == 0, text
    assert LIMIT_NOTE in one_line(text)
    code, text = cli(capsys, "data", "info", "digits", "--set", "data.limit=1455")
    assert code == 0 and "note:" not in text, text


def test_a_limit_above_the_train_split_is_noted_at_the_run_start(capsys, tmp_path):
    sets = tiny_sets("data.limit=5000", "train.figures=false", drop="data.limit=300")
    code, text = cli(capsys, "train", "--out", tmp_path / "r", *sets)
    assert code == 0, text
    assert LIMIT_NOTE in one_line(text)
    assert text.index("note: data.limit=5000") < text.index("epoch 1/")


# ------------------------------------------------------------- runs saved before data.test_fraction
def test_a_run_saved_before_test_fraction_is_scored_on_the_test_split_it_had(tmp_path, capsys):
    """A run whose checkpoint and config.yaml predate data.test_fraction carved its test split with
    data.val_fraction: eval reads its settings as that (data.test_fraction = its val_fraction), so it
    scores the test images the run held out, never images it trained on."""
    import torch

    run = tmp_path / "old"
    code, text = cli(capsys, "train", *tiny_sets("data.val_fraction=0.3", "data.test_fraction=0.3"),
                     "--out", run, "-q")  # fmt: skip
    assert code == 0, text
    for ckpt in (run / "checkpoints").glob("*.pt"):  # as vislab wrote them before test_fraction
        state = torch.load(ckpt, weights_only=False)
        del state["config"]["data"]["test_fraction"]
        torch.save(state, ckpt)
    import yaml

    stored = yaml.safe_load((run / "config.yaml").read_text())
    del stored["data"]["test_fraction"]
    (run / "config.yaml").write_text(yaml.safe_dump(stored))
    summary = json.loads((run / "summary.json").read_text())
    scored = vislab.load_run(run).evaluate()
    assert scored["acc"] == summary["test_acc"], (scored, summary)
    assert vislab.load_run(run).config.data.test_fraction == 0.3
