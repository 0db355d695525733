"""Bringing one's own data: a class too small to split keeps the others stratified and is named; a data
folder or arrays changed since a run trained are noted when the run is evaluated; a run's hash name given
to other arrays is refused."""

from __future__ import annotations

import hashlib
import shutil
import warnings

import numpy as np
import pytest

import vislab
from conftest import TINY_RUN, cli, one_line
from fixtures import write_pngs
from vislab.config import build_config
from vislab.data import load_splits
from vislab.data.fingerprint import data_change
from vislab.data.sources import memory
from vislab.errors import DataError, Note
from vislab.training.checkpoint import load_checkpoint
from vislab.training.record import Checkpoint


def per_class(y: np.ndarray, k: int) -> list[int]:
    return np.bincount(y, minlength=k).tolist()


def data_notes(caught: list[warnings.WarningMessage]) -> list[str]:
    return [one_line(str(w.message)) for w in caught if "changed since the run" in str(w.message)]


# --------------------------------------------------------------------- a class too small to split
def test_a_class_of_one_image_is_kept_in_train_and_named_the_others_stay_stratified(
    tmp_path, capsys
):
    root = tmp_path / "strat"
    for c in range(10):
        write_pngs(root / f"c{c}", 20, 20 * c, seed=c)
    write_pngs(root / "rare", 1, 250)
    cfg = build_config({}, ["data.name=folder", f"data.root={root}", "data.image_size=8"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        splits = load_splits(cfg.data, cfg.train.seed)
    assert per_class(splits.test.y, 11) == [2] * 10 + [0]  # as without 'rare': 2 of each class
    assert min(per_class(splits.val.y, 11)[:10]) >= 1
    assert per_class(splits.train.y, 11)[10] == 1 and per_class(splits.val.y, 11)[10] == 0
    note = " ".join(one_line(str(w.message)) for w in caught)
    assert "'rare' (1 sample) has no val or test samples" in note, note
    assert "about 12 samples" in note, note
    code, text = cli(capsys, "data", "info", "folder", "--set", f"data.root={root}")
    assert code == 0 and "'rare' (1 sample) has no val or test samples" in one_line(text), text


def test_a_class_of_two_samples_still_leaves_the_split_stratified():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(5), [40, 40, 40, 40, 2])
    x = rng.integers(0, 255, (len(y), 4, 4), dtype=np.uint8)
    name = vislab.register_arrays(x, y, name="two_of_one")
    cfg = build_config({}, [f"data.name={name}", "train.seed=1"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        splits = load_splits(cfg.data, cfg.train.seed)
    assert per_class(splits.test.y, 5)[:4] == [4, 4, 4, 4]  # stratified
    assert per_class(splits.train.y, 5)[4] >= 1
    note = " ".join(one_line(str(w.message)) for w in caught)
    assert "'4' (2 samples) has no" in note, note


def split_hash(*settings: str) -> str:
    cfg = build_config({}, list(settings))
    h = hashlib.sha256()
    for key, s in load_splits(cfg.data, cfg.train.seed).items():
        h.update(key.encode())
        h.update(s.x.tobytes())
        h.update(s.y.tobytes())
    return h.hexdigest()[:16]


def test_default_splits_of_the_bundled_data_are_the_ones_published_runs_used():
    with warnings.catch_warnings():
        warnings.simplefilter("error", Note)  # no note on data with every class large enough
        assert split_hash("data.name=digits") == "239a4c14158e943a"
        assert (
            split_hash("data.name=digits", "data.limit=300", "train.seed=3") == "6f41608fdc3f7aa8"
        )
        assert split_hash("data.name=circles", "train.seed=3") == "806a018e082928dd"
        assert split_hash("data.name=digits", "data.test_fraction=0.25") == "681b4d7537d2086f"


# ------------------------------------------------------------- data changed since the run trained
def test_eval_notes_an_image_added_to_the_data_folder_since_the_run_trained(tmp_path, capsys):
    root = tmp_path / "flat"
    write_pngs(root / "dark", 40, 0)
    write_pngs(root / "light", 40, 180, seed=1)
    run = vislab.train(
        data="folder", data__root=str(root), data__image_size=8, out=tmp_path / "run", **TINY_RUN
    )
    assert load_checkpoint(run.path / "checkpoints" / "best.pt").record.data is not None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run.evaluate()
    assert data_notes(caught) == []  # the folder as it trained: no note
    shutil.copy(root / "dark" / "000.png", root / "dark" / "new.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vislab.load_run(run.path).evaluate()
    (note,) = data_notes(caught)
    assert f"the data under data.root '{root}' changed since the run trained (1 file added" in note
    assert "test split drawn now is not the one the run held out" in note, note
    assert "data.root=OTHER" in note and "Restore the folder" in note, note
    code, text = cli(capsys, "eval", run.path, "--split", "test", "--out", tmp_path / "figs")
    assert code == 0 and "note: the data under data.root" in text, text
    other = tmp_path / "other"  # a separate folder named with data.root: other data, no note
    shutil.copytree(root, other)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run.evaluate(data__root=str(other))
    assert data_notes(caught) == []


def arrays(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` 8×8 grey images in 4 classes of different brightness, and their labels."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 4)
    return (rng.integers(0, 60, (n, 8, 8)) + 60 * y[:, None, None]).astype(np.uint8), y


def test_eval_notes_arrays_of_the_runs_name_with_other_labels(tmp_path, monkeypatch):
    x, y = arrays()
    vislab.register_arrays(x, y, name="mine")
    run = vislab.train(data="memory:mine", out=tmp_path / "run", **TINY_RUN)
    monkeypatch.setattr(memory, "_REGISTERED", {})  # what another Python process sees
    vislab.register_arrays(x, np.random.default_rng(1).permutation(y), name="mine")
    with pytest.warns(Note) as caught:
        vislab.load_run(run.path).evaluate()
    (note,) = data_notes(caught)
    assert "the data of data.name=memory:mine changed since the run trained (labels" in note, note


def same_labels(y: np.ndarray, seed: int) -> np.ndarray:
    """Other images of :func:`arrays`' kind for the labels ``y``."""
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 60, (len(y), 8, 8)) + 60 * y[:, None, None]).astype(np.uint8)


@pytest.mark.parametrize(
    ("other", "said"),
    [
        # the same labels in the same order, other images: only their values tell
        (lambda x, y: (same_labels(y, seed=5), y), "images replaced by others"),
        # as many samples, all others: nothing added or removed
        (lambda x, y: arrays(seed=7), "labels or image sizes changed"),
    ],
)
def test_eval_notes_arrays_of_the_runs_name_replaced_by_as_many_others(
    tmp_path, monkeypatch, other, said
):
    x, y = arrays()
    vislab.register_arrays(x, y, name="mine")
    run = vislab.train(data="memory:mine", out=tmp_path / "run", **TINY_RUN)
    monkeypatch.setattr(memory, "_REGISTERED", {})  # what another Python process sees
    x2, y2 = other(x, y)
    assert len(x2) == len(x) and not np.array_equal(x2, x)
    vislab.register_arrays(x2, y2, name="mine")
    with pytest.warns(Note) as caught:
        vislab.load_run(run.path).evaluate()
    (note,) = data_notes(caught)
    assert f"changed since the run trained ({said}" in note and "added or removed" not in note, note


def test_a_fingerprint_recorded_before_pixel_values_were_hashed_still_matches_its_data():
    x, y = arrays()
    cfg = build_config({}, [f"data.name={vislab.register_arrays(x, y)}"])
    now = load_splits(cfg.data, cfg.train.seed).fingerprint
    old = {k: v for k, v in now.items() if k != "values"}  # as an earlier vislab recorded it
    assert data_change(old, now) is None
    assert data_change(now, {**now, "values": "0" * 16}) is not None


def test_a_runs_hash_name_given_to_other_arrays_is_refused_naming_both_hashes(
    tmp_path, monkeypatch
):
    x, y = arrays()
    run = vislab.train(data=(x, y), out=tmp_path / "run", **TINY_RUN)
    name = run.config.data.name.split(":", 1)[1]
    monkeypatch.setattr(memory, "_REGISTERED", {})  # what another Python process sees
    permuted = np.random.default_rng(1).permutation(y)
    with pytest.raises(DataError) as e:
        vislab.register_arrays(x, permuted, name=name)
    text = one_line(str(e.value))
    other = vislab.register_arrays(x, permuted).split(":", 1)[1]
    assert f"name='{name}'" in text and f"these arrays hash to '{other}'" in text, text
    assert "name of your own" in text, text
    assert vislab.register_arrays(x, y, name=name) == run.config.data.name  # the run's own arrays
    scores = vislab.load_run(run.path).evaluate()
    assert scores["acc"] == pytest.approx(run.summary["test_acc"])


def test_a_checkpoint_without_a_fingerprint_loads_as_before(trained):
    d = load_checkpoint(trained / "checkpoints" / "best.pt").to_dict()
    assert d["data_fingerprint"]["of"] == "samples"
    del d["data_fingerprint"]
    assert Checkpoint.from_dict(d, "old.pt").record.data is None
