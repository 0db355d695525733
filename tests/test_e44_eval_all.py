"""Scoring every image of a folder (`vislab eval --split all`), the data preview's sample of a folder
(one image per class, then a seeded random mix, not the folder's order), and class names that differ
only in Unicode normalisation or look alike."""

import csv
import unicodedata
from collections import Counter

import pytest

import vislab
from conftest import cli, one_line, tiny_config
from fixtures import write_image_folder
from vislab.errors import Note, UserError
from vislab.predict import score_split
from vislab.training.trainer import train

CLASSES = ("cat", "dog", "frog", "owl")
FOLDER = [
    "data.name=folder",
    "data.limit=null",
    "data.image_size=8",
    "train.epochs=1",
    "train.batch_size=8",
]


@pytest.fixture(scope="module")
def run_and_new(tmp_path_factory):
    """A tiny run trained on a folder of 4 classes (10 images each), and a folder of 40 new images."""
    root, new = tmp_path_factory.mktemp("own"), tmp_path_factory.mktemp("new")
    write_image_folder(root, classes=CLASSES, per_class=10)
    write_image_folder(new, classes=CLASSES, per_class=10, seed=1)
    run = tmp_path_factory.mktemp("run") / "run"
    train(tiny_config(*FOLDER, f"data.root={root}", "train.figures=false"), run, quiet=True)
    return run, root, new


# ------------------------------------------------------------------------- eval --split all
def test_eval_split_all_scores_every_image_of_a_new_folder(run_and_new, capsys):
    run, _, new = run_and_new
    code, out = cli(capsys, "eval", run, "--split", "all", "--set", f"data.root={new}")
    assert code == 0, out
    assert "all: acc" in out and "n=40" in out, out
    assert "note" not in out, out  # new images: nothing to warn of
    listed = run / "figures" / f"mistakes_all_data.root_{str(new).strip('/').replace('/', '_')}.csv"
    with open(listed, newline="") as f:
        rows = list(csv.DictReader(f))
    files = {str(p) for p in new.rglob("*.*")}
    assert rows and all(r["file"] in files for r in rows)  # the new folder's images, by name
    assert len({r["file"] for r in rows}) == len(rows)
    scores = vislab.load_run(run).evaluate("all", data__root=str(new))
    assert scores["n"] == 40 and len(rows) == round(40 * (1 - scores["acc"]))


def test_eval_test_of_a_new_folder_says_it_is_a_carved_part(run_and_new, capsys):
    run, _, new = run_and_new
    code, out = cli(capsys, "eval", run, "--set", f"data.root={new}", "--mistakes", "0")
    said = one_line(out)
    assert code == 0 and "n=4 " in said, out  # the tenth carved as test
    assert "has no test set of its own" in said and "4 of its 40 samples" in said, out
    assert "--split all" in said, out


def test_split_all_of_the_runs_own_data_notes_the_images_it_trained_on(run_and_new):
    run, _, _ = run_and_new
    with pytest.warns(Note, match="not held-out scores") as told:
        scores = vislab.load_run(run).evaluate("all")
    assert scores["n"] == 40
    said = one_line(str(told[0].message))
    assert "the 32 it trained on (train)" in said and "--split test: the 4 it held out" in said


def test_changed_folder_note_recommends_scoring_all_of_a_new_folder(run_and_new, capsys):
    run, root, _ = run_and_new
    extra = root / "cat" / "extra.png"
    extra.write_bytes((root / "cat" / "cat_0.png").read_bytes())
    try:
        code, out = cli(capsys, "eval", run, "--mistakes", "0")
    finally:
        extra.unlink()
    said = one_line(out)
    assert code == 0 and "changed since the run trained" in said, out
    assert f"vislab eval {run} --split all --set data.root=OTHER" in said, out


def test_eval_split_is_told_with_all(run_and_new, capsys):
    run, _, _ = run_and_new
    code, out = cli(capsys, "eval", run, "--split", "every")
    assert code == 2 and "or all: every sample of the data" in one_line(out), out
    code, out = cli(capsys, "eval", "--help")
    assert code == 0 and "train | val | test | all" in one_line(out), out


# --------------------------------------------------------------------------- data preview
def test_preview_of_a_folder_samples_its_mix_of_classes(run_and_new, capsys, tmp_path, grid_rows):
    _, root, _ = run_and_new
    args = ["data", "preview", "folder", "--set", f"data.root={root}", "-n", 16, "--copies", 1]
    code, out = cli(capsys, *args, "--out", tmp_path / "a.png")
    assert code == 0, out
    labels = list(grid_rows["labels"])
    assert labels[:4] == list(CLASSES)  # one per class first
    assert max(Counter(labels).values()) <= 6, labels  # then a mix: not 8 of the first class
    cli(capsys, *args, "--out", tmp_path / "b.png")
    assert grid_rows["labels"] == labels  # the same sample each time (train.seed)
    cli(capsys, *args, "--set", "train.seed=1", "--out", tmp_path / "c.png")
    assert grid_rows["labels"][:4] == labels[:4] and grid_rows["labels"] != labels


# -------------------------------------------------------------------------- class names' Unicode
NFD = unicodedata.normalize("NFD", "drei ü")


@pytest.fixture(scope="module")
def unicode_run(tmp_path_factory):
    """A tiny run whose class 'drei ü' was recorded with a combining diaeresis (NFD)."""
    root = tmp_path_factory.mktemp("own-u")
    write_image_folder(root, classes=(NFD, "fish"), per_class=10)
    run = tmp_path_factory.mktemp("run-u") / "run"
    train(tiny_config(*FOLDER, f"data.root={root}", "train.figures=false"), run, quiet=True)
    return run


def test_class_names_match_whatever_their_unicode_normalisation(unicode_run, tmp_path):
    write_image_folder(tmp_path, classes=(unicodedata.normalize("NFC", "drei ü"), "fish"))
    scored = score_split(unicode_run, "train", [f"data.root={tmp_path}"])
    assert len(scored.data) > 0


def test_class_names_that_only_look_alike_are_shown_as_code_points(unicode_run, tmp_path):
    write_image_folder(tmp_path, classes=(NFD, "\ufb01sh"))  # a ligature: 'ﬁsh'
    with pytest.raises(UserError) as told:
        score_split(unicode_run, "train", [f"data.root={tmp_path}"])
    said = one_line(str(told.value))
    assert "'\\ufb01sh' and the model's 'fish' look alike but are other characters" in said
