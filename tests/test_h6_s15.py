"""`vislab eval` / `Run.evaluate` with data settings that draw the splits otherwise than the run did
(data.test_fraction, data.val_fraction, data.split, data.use, data.limit): a note says how many of the
scored samples the run trained on or picked its best checkpoint by — the scores are kept —; and the
data.* settings eval does not read (data.normalize, data.zca_epsilon, data.device, and those the run's
data source ignores) are refused, naming the setting and why, instead of passing silently."""

import warnings

import numpy as np
import pytest

import vislab
from conftest import TINY_RUN, cli, one_line
from vislab.config import DataConfig
from vislab.data import load_splits
from vislab.errors import Note, UserError

LIMIT = 1000  # of digits' 1437 train samples: the run trains on a part of its train split


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny MLP trained 1 epoch on 1000 of digits' train samples (test: 180)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Note)
        return vislab.train(
            data="digits", data__limit=LIMIT, out=tmp_path_factory.mktemp("h6") / "run", **TINY_RUN
        )


def ids(data) -> set[tuple[int, int]]:
    return set(map(tuple, data.origin.tolist()))


def overlap(**drawn) -> tuple[int, int, int]:
    """How many of the test split drawn with ``drawn`` the run trained on, picked by, and its size."""
    own = load_splits(DataConfig(name="digits", limit=LIMIT), seed=0, notes=False)
    test = load_splits(DataConfig(name="digits", limit=LIMIT, **drawn), seed=0, notes=False).test
    return len(ids(test) & ids(own.train)), len(ids(test) & ids(own.val)), len(test)


def notes(call) -> tuple[object, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    return result, [one_line(str(w.message)) for w in caught if issubclass(w.category, Note)]


@pytest.mark.parametrize(
    "drawn", [{"test_fraction": 0.5}, {"split": [1000, 300, 497]}], ids=["test_fraction", "split"]
)
def test_a_redrawn_test_split_says_how_many_samples_the_run_trained_and_picked_on(run, drawn):
    trained, picked, n = overlap(**drawn)
    assert trained > 0 and picked > 0  # what the note must say
    scores, said = notes(lambda: run.evaluate(**{f"data__{k}": v for k, v in drawn.items()}))
    assert scores["n"] == n  # the scores are kept
    (key,) = drawn
    assert len(said) == 1 and said[0].startswith(f"data.{key}="), said
    assert "draws the test split otherwise than the run did" in said[0], said
    assert f"of the {n} samples scored, {trained} are ones it trained on (train)" in said[0], said
    assert f"and {picked} ones it picked its best checkpoint by (val)" in said[0], said
    assert "so these are not held-out scores" in said[0], said
    assert f"the run's own test split (its 180 samples), leave data.{key} out" in said[0], said
    assert f"(Python: drop data__{key})" in said[0], said


def test_the_cli_gives_the_same_note_and_the_scores(run, capsys):
    trained, picked, n = overlap(test_fraction=0.5)
    code, out = cli(capsys, "eval", run.path, "--set", "data.test_fraction=0.5", "--mistakes", "0")
    said = one_line(out)
    assert code == 0 and f"n={n}" in said, out
    assert f"of the {n} samples scored, {trained} are ones it trained on (train)" in said, out
    assert "not held-out scores" in said and "--split all --set data.root=OTHER" in said, out


def test_a_redrawn_val_split_says_how_many_samples_the_run_trained_on(run):
    own = load_splits(DataConfig(name="digits", limit=LIMIT), seed=0, notes=False)
    val = load_splits(DataConfig(name="digits", limit=LIMIT, val_fraction=0.5), 0, notes=False).val
    trained = len(ids(val) & ids(own.train))
    scores, said = notes(lambda: run.evaluate("val", data__val_fraction=0.5))
    assert scores["n"] == len(val) and trained > 0
    assert len(said) == 1, said
    assert f"of the {len(val)} samples scored, {trained} are ones it trained on (train)" in said[0]
    assert "picked its best checkpoint by" not in said[0], said


def test_the_whole_train_split_of_a_limited_run_says_how_many_it_did_not_train_on(run):
    whole = len(load_splits(DataConfig(name="digits"), seed=0, notes=False).train)
    scores, said = notes(lambda: run.evaluate("train", data__limit=None))
    assert scores["n"] == whole > LIMIT
    assert len(said) == 1 and "data.limit=null draws the train split otherwise" in said[0], said
    assert f"{whole - LIMIT} are ones it did not train on" in said[0], said


@pytest.mark.parametrize(
    "split,settings",
    [
        ("test", {"data__limit_eval": 50}),  # a sample of the held-out test split
        ("test", {"data__test_fraction": 0.1}),  # the run's own value
        ("train", {"data__limit": 100}),  # 100 of the samples it trained on
    ],
)
def test_settings_that_keep_the_scored_split_as_the_run_drew_it_give_no_note(run, split, settings):
    _, said = notes(lambda: run.evaluate(split, **settings))
    assert not any("otherwise than the run did" in s for s in said), said


def test_data_use_carving_test_from_the_train_arrays_is_noted(tmp_path):
    from sklearn.datasets import load_digits

    d = load_digits()
    x, y = (d.images * 15).astype(np.uint8), d.target
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Note)
        mem = vislab.train(
            data={"train": (x[:240], y[:240]), "test": (x[240:330], y[240:330])},
            out=tmp_path / "r",
            **TINY_RUN,
        )
    scores, said = notes(lambda: mem.evaluate(data__use=["train"]))
    assert scores["n"] == 24  # test carved from the 240 train arrays: all trained or picked on
    assert any("data.use=[train] draws the test split otherwise" in s for s in said), said
    assert any("of the 24 samples scored" in s and "not held-out scores" in s for s in said), said


UNREAD = [
    ("data.normalize=zca", "data__normalize", "zca", "statistics the run recorded"),
    ("data.normalize=none", "data__normalize", "none", "statistics the run recorded"),
    ("data.zca_epsilon=0.5", "data__zca_epsilon", 0.5, "statistics the run recorded"),
    ("data.device=cpu", "data__device", "cpu", "eval scores on the CPU"),
    ("data.image_size=16", "data__image_size", 16, "only the folder data source reads it"),
    ("data.n_samples=50", "data__n_samples", 50, "only the circles data source reads it"),
    ("data.label_mode=coarse", "data__label_mode", "coarse", "only the cifar100 data source"),
]


@pytest.mark.parametrize("setting,keyword,value,why", UNREAD, ids=[u[0] for u in UNREAD])
def test_a_data_setting_eval_does_not_read_is_refused_naming_it(
    run, capsys, setting, keyword, value, why
):
    code, out = cli(capsys, "eval", run.path, "--set", setting, "--mistakes", "0")
    said = one_line(out)
    assert code == 2 and f"setting '{setting}'" in said and "changes nothing here" in said, out
    assert why in said and "per-class acc" not in said, out
    with pytest.raises(UserError, match="changes nothing here") as e:
        run.evaluate(**{keyword: value})
    assert f"{keyword}={value!r}" in one_line(str(e.value)) and why in one_line(str(e.value))
