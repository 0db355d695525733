"""Review follow-ups: a test set whose labels are of another kind than train's, an old run's test split
in the comparison tables, an image given twice to explain, the advice after moving a folder run's data,
compare given a run's file, and OS files in image folders."""

from __future__ import annotations

import importlib.util
import shutil

import numpy as np
import pytest
import yaml

import vislab
from conftest import TINY_RUN, cli, one_line, table_run
from fixtures import write_image_folder
from vislab.data.image_folders import scan_images, scan_notes
from vislab.errors import DataError, UserError

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def _digits(n: int = 120) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` of sklearn's digits: images, number labels and the same labels as words."""
    from sklearn.datasets import load_digits  # heavy: on use

    d = load_digits()
    return d.images[:n] / 16, d.target[:n], np.array([WORDS[t] for t in d.target[:n]])


# ------------------------------------------------------------ a test set's labels of train's kind
def test_text_train_labels_with_number_test_labels_are_refused_naming_the_fix(tmp_path):
    """Before: accepted, the numbers taken as places among the sorted names (test_acc 0.098)."""
    x, numbers, words = _digits()
    data = {"train": (x[:80], words[:80]), "test": (x[80:], numbers[80:])}
    with pytest.raises(DataError) as e:
        vislab.train(data=data, out=tmp_path / "r", **TINY_RUN)
    said = one_line(str(e.value))
    assert "data['test']: its labels are numbers but data['train']'s are text" in said, said
    assert "give the test labels as text too, each one of eight, five" in said, said
    assert not (tmp_path / "r").exists()


def test_number_train_labels_with_text_test_labels_are_refused():
    x, numbers, words = _digits()
    with pytest.raises(DataError, match=r"its labels are text but data\['train'\]'s are numbers"):
        vislab.register_arrays({"train": (x[:80], numbers[:80]), "test": (x[80:], words[80:])})
    # one kind in both sets stays accepted, text test labels named by train's names
    vislab.register_arrays({"train": (x[:80], words[:80]), "test": (x[80:], words[80:])})


# ------------------------------------------------ an old run's test split in the comparison tables
def test_compare_reads_an_old_runs_test_split_as_it_carved_it(tmp_path):
    """A run saved before data.test_fraction carved its test split with data.val_fraction (as_stored):
    beside a new run of val_fraction 0.3 and test_fraction 0.1, their test sets differ."""
    old = table_run(tmp_path, "old", "data.val_fraction=0.3")
    tree = yaml.safe_load((old / "config.yaml").read_text())
    del tree["data"]["test_fraction"]
    (old / "config.yaml").write_text(yaml.safe_dump(tree))
    new = table_run(tmp_path, "new", "data.val_fraction=0.3")
    table = vislab.compare([old, new])
    assert "data.test_fraction" in table.columns, list(table.columns)
    shown = dict(zip(table["run"], table["data.test_fraction"]))
    assert shown == {"old": 0.3, "new": 0.1}


# --------------------------------------------------------------- explain: an image given twice
@pytest.mark.skipif(
    importlib.util.find_spec("captum") is None, reason="pip install 'vislab[explain]'"
)
def test_explain_draws_an_image_given_twice_once(tmp_path, capsys, trained, digit_png):
    """`vislab explain RUN imgs/cat imgs/cat/0.png` (before: "... would both be drawn ...")."""
    cat = tmp_path / "imgs" / "cat"
    cat.mkdir(parents=True)
    shutil.copy(digit_png, cat / "0.png")
    out = tmp_path / "maps"
    code, text = cli(capsys, "explain", trained, cat, cat / "0.png", "--out", out)
    assert code == 0, text
    assert [p.name for p in out.iterdir()] == ["0_saliency.png"], text


# ------------------------------------------- a moved folder run: the advice names --set with --resume
def test_a_resume_after_the_data_moved_names_set_data_root_and_works_with_it(tmp_path, capsys):
    imgs = tmp_path / "imgs"
    write_image_folder(imgs, per_class=6)
    run = tmp_path / "run"
    sets = ["data.name=folder", f"data.root={imgs}", "data.image_size=8", "model.name=mlp"]
    sets += ["model.hidden=[8]", "train.device=cpu", "train.figures=false", "train.epochs=1"]
    sets += ["train.batch_size=4"]
    code, text = cli(capsys, "train", "--out", run, *[a for s in sets for a in ("--set", s)])
    assert code == 0, text
    imgs.rename(tmp_path / "moved")
    code, text = cli(capsys, "train", "--resume", run, "--epochs", "2")
    assert code == 2 and "--set data.root=DIR, also with --resume" in one_line(text), text
    moved = f"data.root={tmp_path / 'moved'}"
    code, text = cli(capsys, "train", "--resume", run, "--epochs", "2", "--set", moved)
    assert code == 0, text
    assert vislab.load_run(run).summary["epochs_run"] == 2


# ------------------------------------------------------------------- compare given a run's file
def test_compare_given_a_runs_file_names_its_run(tmp_path):
    run = table_run(tmp_path, "r1")
    with pytest.raises(UserError) as e:
        vislab.compare([run, run / "config.yaml"])
    said = one_line(str(e.value))
    assert f"is a file of run '{run.as_posix()}': give the run's folder" in said, said


# ------------------------------------------------------------------- OS files in image folders
def test_os_files_in_an_image_folder_are_not_noted_as_skipped(tmp_path):
    write_image_folder(tmp_path, classes=("cat", "dog"), per_class=2)
    for name in ("Thumbs.db", "desktop.ini", ".DS_Store"):
        (tmp_path / "cat" / name).write_bytes(b"\0")
    scan = scan_images(tmp_path)
    assert len(scan.images) == 4 and scan_notes(scan, tmp_path) == []
    (tmp_path / "dog" / "notes.txt").write_text("a note")  # a file of the user's still counts
    assert scan_notes(scan_images(tmp_path), tmp_path) == [
        f"1 file in '{tmp_path}' skipped (not images): 1 .txt."
    ]
