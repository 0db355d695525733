"""A student's own image folder: files left beside the class folders, a single class, class names
copied from macOS (NFD), a test/ folder lacking classes, fractions that leave nothing to train on, and
16-bit images that use only a small part of their range — each told, with the fix."""

from __future__ import annotations

import shutil
import unicodedata
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import cli, one_line, tiny_config
from fixtures import write_image_folder
from vislab.config import DataConfig
from vislab.data import load_splits
from vislab.errors import ConfigError, Note
from vislab.predict import score_split
from vislab.training.trainer import train


def _notes(root: Path, **kw) -> str:
    """Every note that loading the folder ``root`` as splits gives, joined."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_splits(DataConfig(name="folder", root=str(root), image_size=8, **kw), seed=0)
    return one_line(" ".join(str(w.message) for w in caught if issubclass(w.category, Note)))


# ------------------------------------------------------------------ files beside the class folders
def test_files_beside_the_class_folders_are_named_as_not_used(tmp_path):
    write_image_folder(tmp_path, classes=("cat", "dog"), per_class=2)
    Image.new("L", (8, 8)).save(tmp_path / "stray.png")
    (tmp_path / "README.txt").write_text("my cats")
    said = _notes(tmp_path)
    assert f"2 files in '{tmp_path}' lie beside the class folders and are not used" in said
    assert "README.txt, stray.png" in said and "folder named by its class" in said


def test_files_beside_the_class_folders_of_train_are_named(tmp_path):
    for split in ("train", "test"):
        write_image_folder(tmp_path / split, classes=("cat", "dog"), per_class=2)
    Image.new("L", (8, 8)).save(tmp_path / "train" / "stray.png")
    said = _notes(tmp_path)
    assert f"1 file in '{tmp_path / 'train'}' lies beside the class folders" in said
    assert "(stray.png)" in said


# ----------------------------------------------------------------------------------- one class
def test_a_single_class_folder_is_refused_naming_it_and_the_fix(tmp_path, capsys):
    write_image_folder(tmp_path / "one1", classes=("cat",), per_class=3)
    code, out = cli(capsys, "data", "info", "folder", "--set", f"data.root={tmp_path / 'one1'}")
    said = one_line(out)
    assert code == 2, out
    assert "holds a single class folder, 'cat'" in said and "at least two classes" in said


# ------------------------------------------------------------------------- Unicode class names
def test_a_run_trained_on_nfc_names_evaluates_on_an_nfd_copy(tmp_path):
    nfc = unicodedata.normalize("NFC", "drei ü")
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfc != nfd
    root, copy = tmp_path / "nfc", tmp_path / "nfd"
    write_image_folder(root, classes=(nfc, "zwei"), per_class=5)
    shutil.copytree(root / "zwei", copy / "zwei")
    shutil.copytree(root / nfc, copy / nfd)  # as copied from macOS or a zip file
    sets = [
        "data.name=folder",
        f"data.root={root}",
        "data.image_size=8",
        "data.val_fraction=0.3",
        "data.limit=null",
    ]
    run = tmp_path / "run"
    train(tiny_config(*sets, "train.epochs=1", "train.batch_size=2", "train.figures=false"), run)
    scored = score_split(run, "test", [f"data.root={copy}"])
    assert len(scored.data) > 0
    splits = load_splits(DataConfig(name="folder", root=str(copy), image_size=8), seed=0)
    assert splits.class_names == sorted([nfc, "zwei"])
    assert all(Path(n).exists() for n in splits.train.names)  # opened by their paths on disk
    shutil.rmtree(copy / "zwei")  # new images of one class: a trained run still scores them
    assert len(set(score_split(run, "test", [f"data.root={copy}"]).data.y.tolist())) == 1


# ---------------------------------------------------------------- a test/ folder lacking classes
def test_a_test_folder_lacking_classes_is_noted(tmp_path):
    write_image_folder(tmp_path / "train", classes=("cat", "dog", "frog"), per_class=3)
    write_image_folder(tmp_path / "test", classes=("cat",), per_class=2)
    said = _notes(tmp_path)
    assert f"'{tmp_path / 'test'}' has no folder for 2 of the 3 classes ('dog', 'frog')" in said
    assert "the test scores (per-class accuracy too) leave them out" in said


# ---------------------------------------------------------------------- fractions too large
def test_fractions_that_leave_nothing_to_train_on_name_the_settings(tmp_path, capsys):
    write_image_folder(tmp_path, classes=("cat", "dog"), per_class=3)
    with pytest.raises(ConfigError) as e:
        load_splits(
            DataConfig(name="folder", root=str(tmp_path), image_size=8, test_fraction=0.9), seed=0
        )
    said = one_line(str(e.value))
    assert "data.test_fraction=0.9 carves 5 of its 6 training samples ('cat': 3, 'dog': 3)" in said
    assert "data.val_fraction=0.1 asks for 1 of them for val" in said
    assert "--set data.test_fraction=0.1 --set data.val_fraction=0.1" in said
    code, out = cli(capsys, "data", "info", "folder", "--set", f"data.root={tmp_path}",
                    "--set", "data.test_fraction=0.9")  # fmt: skip
    assert code == 2 and "data.test_fraction=0.9" in out


# --------------------------------------------------------------------------- dark 16-bit images
def _sixteen_bit(root: Path, top: int) -> None:
    """Two classes of 16-bit PNGs whose values reach ``top``."""
    rng = np.random.default_rng(0)
    for c in ("cat", "dog"):
        (root / c).mkdir(parents=True)
        for i in range(3):
            values = rng.integers(0, top + 1, (8, 8)).astype(np.uint16)
            values[0, 0] = top
            Image.fromarray(values).save(root / c / f"{i}.png")


def test_16_bit_images_of_8_bit_values_are_noted_once_as_dark(tmp_path):
    _sixteen_bit(tmp_path, 255)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_splits(DataConfig(name="folder", root=str(tmp_path), image_size=8), seed=0)
    dark = [str(w.message) for w in caught if "16-bit images" in str(w.message)]
    assert len(dark) == 1, dark  # once for the folder, not per image
    said = one_line(dark[0])
    assert f"6 of the 6 16-bit images in '{tmp_path}' use only values up to 255 of 65535" in said
    assert "dividing by 257" in said and "at most 1 of 255" in said


def test_16_bit_images_of_the_full_range_have_no_note(tmp_path):
    _sixteen_bit(tmp_path, 65535)
    assert "16-bit" not in _notes(tmp_path)
