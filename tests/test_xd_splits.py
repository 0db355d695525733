"""Data-preparation defects an explorer met: fractions a source's own sets make do nothing (a note, no table
column), classes no split holds (a note), the dropped-batch note's batch size for a prime number of images,
and a folder path or a wrongly cased name given as data.name."""

from __future__ import annotations

import numpy as np
import pytest

import vislab
from conftest import cli, one_line, table_run
from fixtures import write_cifar, write_image_folder
from vislab.config import build_config, config_notes
from vislab.config.notes import dropped_batch_note

FAST = ["--set", "model.name=majority", "--set", "train.figures=false"]


# ------------------------------------------------------------- 1. fractions that carve nothing
@pytest.fixture
def cifar_root(tmp_path):
    write_cifar(tmp_path / "c10" / "cifar-10-batches-py", n=12)
    return tmp_path / "c10"


def test_fractions_on_cifar10_are_noted_and_change_nothing(capsys, tmp_path, cifar_root):
    """CIFAR-10's data_batch_5 is val and test_batch is test: both fractions do nothing, and the run says
    so, naming what would read them."""
    sets = ["--set", "data.name=cifar10", "--set", f"data.root={cifar_root}", *FAST]
    code, text = cli(capsys, "train", *sets, "--out", tmp_path / "a")
    assert code == 0, text
    assert "data.val_fraction" not in text
    code, text = cli(
        capsys, "train", *sets, "--set", "data.val_fraction=0.2", "--set", "data.test_fraction=0.3",
        "--out", tmp_path / "b",
    )  # fmt: skip
    assert code == 0, text
    said = one_line(text)
    assert "48/12/12 train/val/test" in said
    assert (
        "note: data.val_fraction=0.2 does nothing with data.name=cifar10: its official val set is the val "
        "split (data.official_val=false carves val from train with it instead)." in said
    )
    assert (
        "note: data.test_fraction=0.3 does nothing with data.name=cifar10: its official test set"
        in said
    )
    table = vislab.compare([tmp_path / "a", tmp_path / "b"])
    assert not [c for c in table.columns if "fraction" in c]


def test_where_the_fractions_carve_there_is_no_note_and_a_column():
    """official_val=false carves val with val_fraction; data.use=[train] carves test with test_fraction."""
    on = ["data.name=cifar10", "data.official_val=false", "data.val_fraction=0.2"]
    assert config_notes(build_config({}, on)) == []
    assert (
        config_notes(
            build_config({}, ["data.name=mnist", "data.use=[train]", "data.test_fraction=0.3"])
        )
        == []
    )


def test_val_fraction_beside_data_split_is_noted_and_left_out_of_the_tables(tmp_path):
    (note,) = config_notes(build_config({}, ["data.split=[100, 20, 20]", "data.val_fraction=0.2"]))
    assert note == (
        "data.val_fraction=0.2 does nothing with data.split=[100, 20, 20]: its sizes carve train, val and "
        "test, not fractions."
    )
    a = table_run(tmp_path, "a", "data.split=[100, 20, 20]")
    b = table_run(tmp_path, "b", "data.split=[100, 20, 20]", "data.val_fraction=0.2")
    assert [c for c in vislab.compare([a, b]).columns if c.startswith("data.")] == []
    c = table_run(tmp_path, "c", "data.val_fraction=0.2")  # digits: val is carved, so it differs
    d = table_run(tmp_path, "d")
    assert "data.val_fraction" in vislab.compare([c, d]).columns


# ------------------------------------------------------------- 2. classes no split holds
def test_a_class_data_limit_drops_from_every_split_is_noted(capsys, tmp_path):
    """A class of one image is too small for val and test; data.limit=20 then draws none of it (seed 3)."""
    root = tmp_path / "f"
    write_image_folder(root, ("a", "b"), per_class=15)
    write_image_folder(root, ("single",), per_class=1)
    code, text = cli(
        capsys, "data", "info", "folder", "--set", f"data.root={root}", "--set", "data.limit=20",
        "--set", "train.seed=3",
    )  # fmt: skip
    assert code == 0, text
    assert [n.split()[1:5] for n in text.splitlines() if "single" in n and "│" in n] == [
        ["single", "│", "0", "│"]
    ]
    said = one_line(text)
    assert (
        "data.limit=20 draws the training images at random, not per class, and drew none of 'single'"
        in said
    )
    assert "no split holds it" in said


def test_class_names_naming_a_class_the_labels_lack_is_noted(tmp_path):
    x = np.random.default_rng(0).normal(size=(60, 4)).astype("float32")
    with pytest.warns(vislab.Note) as caught:
        vislab.train(
            data=(x, np.arange(60) % 2, ["big", "small", "absent"]), model="majority",
            train__figures=False, out=tmp_path / "r", quiet=True,
        )  # fmt: skip
    said = [one_line(str(w.message)) for w in caught]
    assert "class_names names 3 classes but y holds 2 of them: no split holds 'absent'" in " ".join(
        said
    )


# ------------------------------------------------------------- 3. a batch size for a prime count
def test_the_dropped_batch_note_offers_a_batch_size_for_a_prime_count():
    note = dropped_batch_note(73, 64)
    assert "divides 73" not in note
    assert note.endswith(
        "Give a train.batch_size that leaves under 10 % out (e.g. 36: 72 an epoch), or more data."
    )
    assert dropped_batch_note(73, 36) is None  # the size offered leaves 1 of 73 out: no note
    assert "(e.g. 7: one batch of all 7)" in dropped_batch_note(7, 5)
    assert dropped_batch_note(7, 7) is None


# ------------------------------------------------------------- 4. names that are no dataset
def test_a_folder_given_as_the_dataset_name_gets_the_folder_source(capsys, tmp_path):
    root = tmp_path / "photos"
    write_image_folder(root, ("cat", "dog"), per_class=4)
    code, text = cli(capsys, "data", "info", str(root))
    assert code != 0
    said = one_line(text)
    assert (
        f"'{root}' is a folder" in said
        and f"vislab data info folder --set data.root={root}" in said
    )
    assert f"vislab train --set data.name=folder --set data.root={root}" in said
    code, text = cli(
        capsys, "data", "info", "folder", "--set", f"data.root={root}"
    )  # the fix works
    assert code == 0 and "cat" in text, text


def test_a_wrongly_cased_name_gets_a_did_you_mean(capsys):
    code, text = cli(capsys, "data", "info", "CIFAR10")
    assert code != 0 and "Did you mean 'cifar10'?" in text, text
    code, text = cli(capsys, "data", "info", "Fashion-MNIST")
    assert "Did you mean 'fashion-mnist'?" in text, text
