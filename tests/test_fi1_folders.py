"""A student's own image folders as they come: laid out class first (``DIR/cat/train/``, whose test images
must not be trained on), data.root one level too high, a zip's ``__MACOSX/``, a test class named in
another case, and copies of an image in two sets or under two classes."""

import shutil
import warnings
from pathlib import Path

import pytest

import vislab
from conftest import cli, one_line
from fixtures import write_image_folder
from vislab.config import DataConfig
from vislab.data import load_splits

SHAPES = ("circle", "square", "triangle")


def _split_first(root: Path, per_class: int = 3) -> Path:
    """``root/{train,val,test}/<shape>/*`` of random images, each file unique."""
    for i, split in enumerate(("train", "val", "test")):
        write_image_folder(root / split, SHAPES, per_class=per_class, seed=i)
    return root


def _info(capsys, root: Path) -> tuple[int, str]:
    """``vislab data info folder --set data.root=ROOT``: exit code and its words on one line."""
    code, text = cli(capsys, "data", "info", "folder", "--set", f"data.root={root}")
    return code, one_line(text)


def test_a_folder_laid_out_class_first_is_refused_naming_the_split_first_layout(tmp_path, capsys):
    split = _split_first(tmp_path / "ds")
    root = tmp_path / "classfirst"
    for c in SHAPES:  # classfirst/<class>/train/, classfirst/<class>/test/
        for s in ("train", "test"):
            shutil.copytree(split / s / c, root / c / s)
    code, text = _info(capsys, root)
    assert code == 2, text  # not pooled into 3 classes with the test images trained on
    assert f"class folder '{root / 'circle'}' holds split folders (test/, train/)" in text, text
    assert f"{root}/train/circle/, {root}/test/circle/" in text, text
    for c in SHAPES:  # the fix as said: split first
        for s in ("train", "test"):
            shutil.move(root / c / s, root / s / c)
        (root / c).rmdir()
    code, text = _info(capsys, root)
    assert code == 0 and "3 classes" in text, text


def test_a_class_folder_with_sub_folders_of_its_own_is_still_one_class(tmp_path, capsys):
    write_image_folder(tmp_path / "ds", SHAPES, per_class=2)
    write_image_folder(tmp_path / "ds" / "circle", ("2019", "2020"), per_class=2, seed=1)
    code, text = _info(capsys, tmp_path / "ds")
    assert code == 0 and "3 classes" in text, text


@pytest.mark.parametrize("inner", ["splits", "classes"])
def test_a_data_root_one_level_too_high_asks_for_the_folder_inside(tmp_path, capsys, inner):
    high = tmp_path / "deep"
    if inner == "splits":  # deep/mydata/{train,val,test}/<class>/
        _split_first(high / "mydata")
    else:  # deep/mydata/<class>/
        write_image_folder(high / "mydata", SHAPES, per_class=2)
    code, text = _info(capsys, high)
    assert code == 2, text
    holds = "split folders (test/, train/, val/)" if inner == "splits" else "3 folders (circle/"
    assert f"data.root '{high}' holds a single folder, 'mydata', which holds {holds}" in text, text
    assert f"did you mean --set data.root={high / 'mydata'} (Python: data__root=" in text, text
    code, text = _info(capsys, high / "mydata")  # the fix as said
    assert code == 0 and "3 classes" in text, text


def test_a_single_class_folder_of_images_is_still_told_to_add_classes(tmp_path, capsys):
    write_image_folder(tmp_path / "one", ("cat",), per_class=2)
    code, text = _info(capsys, tmp_path / "one")
    assert code == 2 and "holds a single class folder, 'cat'" in text, text
    assert "did you mean" not in text, text


def test_a_zips_macosx_folder_is_left_out_with_a_note(tmp_path, capsys):
    root = tmp_path / "unzipped"
    write_image_folder(root, SHAPES, per_class=2)
    for c in SHAPES:  # what macOS's Archive Utility adds: '._' metadata files
        (root / "__MACOSX" / c).mkdir(parents=True)
        (root / "__MACOSX" / c / f"._{c}_0.png").write_bytes(b"\0\5\26\7metadata")
    code, text = _info(capsys, root)
    assert code == 0 and "3 classes" in text, text
    assert f"note: '{root / '__MACOSX'}' is left out: macOS adds it to the zip files" in text, text


def test_a_test_class_named_in_another_case_is_to_be_renamed(tmp_path, capsys):
    root = _split_first(tmp_path / "ds")
    (root / "test" / "circle").rename(root / "test" / "Circle")
    code, text = _info(capsys, root)
    assert code == 2, text
    assert f"rename '{root / 'test' / 'Circle'}' to '{root / 'test' / 'circle'}'" in text, text
    (root / "test" / "Circle").rename(root / "test" / "circle")  # the fix as said
    assert _info(capsys, root)[0] == 0


def test_copies_in_two_sets_or_under_two_classes_are_noted_with_an_example(tmp_path):
    root = _split_first(tmp_path / "ds")
    cfg = DataConfig(name="folder", root=str(root))
    with warnings.catch_warnings():
        warnings.simplefilter("error", vislab.Note)  # no copies: no note
        load_splits(cfg, seed=0)
    train = root / "train"
    leaked = shutil.copy(next((train / "circle").glob("*.png")), root / "test" / "circle" / "x.png")
    relabelled = shutil.copy(next((train / "square").glob("*.png")), train / "triangle" / "y.png")
    with pytest.warns(vislab.Note) as notes:  # noted on the splits: train, val and test here
        load_splits(cfg, seed=0)
    said = one_line(" ".join(str(n.message) for n in notes))
    assert f"'{root}' holds copies" in said, said
    assert f"1 image in two sets (e.g. '{train / 'circle' / 'circle_0.png'}' and '{leaked}'" in said
    assert (
        f"1 image under two classes (e.g. '{train / 'square' / 'square_0.png'}' as 'square' and "
        in said
    )
    assert f"'{relabelled}' as 'triangle')" in said, said
