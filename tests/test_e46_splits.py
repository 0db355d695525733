"""Notes on carved splits of a small image folder: the fraction that takes a class's images out of
train is the one named (with a value that changes it), a class too small to split is told where its
images are, and a carved val or test split holding no image of some classes names them."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from conftest import cli, one_line
from fixtures import write_image_folder
from vislab.config import DataConfig
from vislab.data import load_splits
from vislab.data.types import Splits
from vislab.errors import Note


def _load(root: Path, **kw) -> tuple[Splits, str]:
    """The splits of the folder ``root`` and every note loading them gave, joined."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        splits = load_splits(DataConfig(name="folder", root=str(root), image_size=8, **kw), seed=0)
    said = " ".join(str(w.message) for w in caught if issubclass(w.category, Note))
    return splits, one_line(said)


def _counts(y: np.ndarray) -> list[int]:
    return np.bincount(y, minlength=3).tolist()


def test_a_large_test_fraction_is_named_as_taking_the_training_images(tmp_path, capsys):
    write_image_folder(tmp_path, classes=("a", "b", "c"), per_class=2)
    splits, said = _load(tmp_path, test_fraction=0.5)
    assert _counts(splits.train.y)[0] == 0  # 'a' is in val and test only
    assert "no training images: 'a'" in said, said
    assert "lower data.test_fraction (now 0.5)" in said, said
    assert "--set data.test_fraction=0.1" in said and "--set data.val_fraction=0.1" not in said
    fixed, said = _load(tmp_path, test_fraction=0.1)
    assert min(_counts(fixed.train.y)) > 0 and "no training images" not in said
    code, out = cli(capsys, "data", "info", "folder", "--set", f"data.root={tmp_path}",
                    "--set", "data.image_size=8", "--set", "data.test_fraction=0.5")  # fmt: skip
    assert code == 0 and "lower data.test_fraction (now 0.5)" in one_line(out), out


def test_a_class_too_small_to_split_is_told_where_its_images_are(tmp_path):
    write_image_folder(tmp_path, classes=("a", "b", "c"), per_class=2)
    splits, said = _load(tmp_path, test_fraction=0.5)
    assert [_counts(s.y)[1] for s in (splits.train, splits.val, splits.test)] == [1, 0, 1]
    assert "'b' (2 samples) has no val samples (1 in train, 1 in test)" in said, said
    assert "stay in train" not in said


def test_a_carved_val_split_lacking_classes_names_them(tmp_path):
    write_image_folder(tmp_path, classes=("a", "b", "c"), per_class=30)
    splits, said = _load(tmp_path, test_fraction=0.9)
    assert _counts(splits.val.y) == [0, 0, 1]
    assert "the carved val split (1 of 9 samples) has no sample of 2 of the 3 classes" in said, said
    assert "('a', 'b'): its scores (per-class accuracy too) leave them out" in said
    assert "--set data.val_fraction=0.34" in said
    fixed, said = _load(tmp_path, test_fraction=0.9, val_fraction=0.34)
    assert min(_counts(fixed.val.y)) > 0 and "carved val split" not in said, said


def test_a_carved_test_split_lacking_a_class_names_it(tmp_path):
    write_image_folder(tmp_path, classes=("a", "b", "c"), per_class=6)
    splits, said = _load(tmp_path)
    assert _counts(splits.test.y) == [1, 1, 0]
    assert "the carved test split (2 of 18 samples) has no sample of 1 of the 3 classes" in said
    assert "('c'): its scores (per-class accuracy too) leave it out" in said, said
    assert "--set data.test_fraction=0.17" in said
    fixed, said = _load(tmp_path, test_fraction=0.17, val_fraction=0.19)
    assert min(_counts(fixed.test.y)) > 0 and min(_counts(fixed.val.y)) > 0
    assert "carved" not in said, said
