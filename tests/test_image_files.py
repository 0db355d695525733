"""Users' image files as they come: a phone photo is read upright (its EXIF orientation), every common type
torchvision's ImageFolder reads is an image (.ppm, .pgm, .jfif ...) and the other files are counted in a
note, an image too large for PIL is named with the fix, a link back up does not re-label another class's
images, and an MNIST file a browser decompressed but left named ``.gz`` is read."""

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from conftest import cli
from fixtures import MNIST_FILES, write_mnist
from vislab.config import DataConfig
from vislab.data.image_folders import image_files
from vislab.data.images import image_array, load_image
from vislab.data.sources import load_source
from vislab.data.sources.folder_layout import scan
from vislab.errors import Note, UserError


def _png(path: Path, value: int = 0, size: tuple[int, int] = (8, 8)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(size[::-1], value, np.uint8)).save(path)
    return path


def _sideways_photo(path: Path) -> Path:
    """A 16×16 JPEG whose stored pixels have a white left half, tagged Orientation=6 (a phone held
    upright): viewers turn it 90° clockwise, so it shows with a white top half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stored = np.zeros((16, 16, 3), np.uint8)
    stored[:, :8] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    return path


def _top_white(a: np.ndarray) -> bool:
    """Whether an H×W(×C) image has a white top half and a black bottom half (JPEG's ringing aside)."""
    return a[:6].mean() > 240 and a[-6:].mean() < 15


# ------------------------------------------------------------------------------ EXIF orientation
def test_a_phone_photo_is_read_upright_as_viewers_show_it(tmp_path):
    photo = _sideways_photo(tmp_path / "photo.jpg")
    with Image.open(photo) as img:
        assert _top_white(
            np.array(ImageOps.exif_transpose(img).convert("L"))
        )  # the viewer's picture
        assert _top_white(image_array(img, (1, 16, 16)))  # a PIL image given to the API
    assert _top_white(load_image(photo, (1, 16, 16)))  # predict
    assert _top_white(load_image(photo, (3, 16, 16)))


def test_training_on_a_folder_reads_phone_photos_upright(tmp_path):
    _sideways_photo(tmp_path / "up" / "photo.jpg")
    _png(tmp_path / "down" / "dark.png", 0, (16, 16))
    data = DataConfig(name="folder", root=str(tmp_path), image_size=16)
    train = load_source(data).sets["train"]
    photo = [i for i, name in enumerate(train.names) if name.endswith("photo.jpg")]
    assert _top_white(train.x[photo[0]])


# ------------------------------------------------------------------------- which files are images
def _mixed_folder(folder: Path) -> list[Path]:
    """A folder of images of the types torchvision's ImageFolder reads and PIL's other names for them,
    beside 2 .txt, 1 .csv, a link to nothing and hidden files; returns the images, sorted."""
    images = [_png(folder / "a.png", 10)]
    for name, fmt in (("b.ppm", "PPM"), ("c.pgm", "PPM"), ("d.jfif", "JPEG"), ("e.PGM", "PPM")):
        Image.fromarray(np.full((8, 8), 99, np.uint8)).save(folder / name, format=fmt)
        images.append(folder / name)
    for name in ("notes.txt", "todo.txt", "labels.csv", ".DS_Store", ".hidden.txt"):
        (folder / name).write_text("not an image")
    (folder / "gone.png").symlink_to(folder / "moved-away.png")  # a link to nothing
    return sorted(images)


def test_every_image_type_is_read_and_the_other_files_are_counted_in_a_note(tmp_path):
    images = _mixed_folder(tmp_path / "cat")
    with pytest.warns(Note) as notes:
        assert image_files(tmp_path / "cat") == images
    said = [str(n.message) for n in notes]
    assert said == [
        f"4 files in '{tmp_path / 'cat'}' skipped (not images): 2 .txt, 1 .csv, 1 broken link."
    ]  # hidden files not counted
    for path in images:  # read as predict reads them
        assert load_image(path, (1, 8, 8)).shape == (8, 8, 1)


def test_predict_on_a_folder_classifies_ppm_files_and_notes_the_rest(capsys, trained, tmp_path):
    images = _mixed_folder(tmp_path / "photos")
    code, text = cli(capsys, "predict", trained, tmp_path / "photos")
    assert code == 0, text
    assert (
        f"note: 4 files in '{tmp_path / 'photos'}' skipped (not images): 2 .txt, 1 .csv, 1 broken"
        in text
    )
    for path in images:
        assert f"{path}: " in text


# ------------------------------------------------------------------------------- too large images
def test_an_image_past_pil_s_limit_is_named_as_too_large_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # PIL refuses images over twice this
    huge = _png(tmp_path / "huge.png", 0, (50, 50))
    with pytest.raises(UserError) as e:
        load_image(huge, (1, 8, 8))
    assert str(e.value) == (
        f"'{huge}' is too large to decode (0.0025 Mpx; PIL's limit: 0.002 Mpx): downscale it."
    )


def test_an_image_past_pil_s_warning_size_is_read_with_a_note_naming_it(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # PIL warns of images over this
    big = _png(tmp_path / "big.png", 200, (40, 40))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert load_image(big, (1, 8, 8)).min() == 200
    assert [(w.category, str(w.message)) for w in caught] == [
        (
            Note,
            f"'{big}' is 0.0016 Mpx, past PIL's warning size for decompression bombs (0.001 Mpx): "
            f"decoded all the same. Downscale it to decode it faster.",
        )
    ]  # not PIL's own DecompressionBombWarning, which names no file


# ------------------------------------------------------------------------------ symlinked folders
def test_a_link_back_up_to_the_root_does_not_relabel_the_other_classes_images(tmp_path):
    root = tmp_path / "data"
    cat = [_png(root / "cat" / f"{i}.png", 10 + i) for i in range(2)]
    for i in range(3):
        _png(root / "dog" / f"{i}.png", 90 + i)
    os.symlink("..", root / "cat" / "up")  # ln -s .. data/cat/up
    (root / "dog" / "top").symlink_to(tmp_path)  # a folder above the root, by its absolute path
    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always")
        layout = scan(root)["train"]
    assert layout["cat"] == cat and len(layout["dog"]) == 3
    said = " ".join(str(n.message) for n in notes if n.category is Note)
    assert (
        f"'{root / 'cat' / 'up'}' links back up to '{root.resolve()}', a folder holding it: "
        in said
    )
    assert f"'{root / 'dog' / 'top'}' links back up to '{tmp_path.resolve()}'" in said


def test_a_linked_folder_from_elsewhere_still_counts_and_a_dangling_link_is_noted(tmp_path):
    elsewhere = [_png(tmp_path / "elsewhere" / f"{i}.png") for i in range(2)]
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "tabby").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "cat" / "x.png").symlink_to(tmp_path / "nowhere.png")
    with pytest.warns(Note, match=r"1 file in '.*cat' skipped \(not images\): 1 broken link\."):
        found = image_files(tmp_path / "cat")
    assert [p.name for p in found] == [p.name for p in elsewhere]


# ------------------------------------------------------------------------------- MNIST's IDX files
def test_an_idx_file_named_gz_but_not_gzipped_is_read_as_it_is(tmp_path):
    written = write_mnist(
        tmp_path, gz=False
    )  # what a browser that decompressed the download leaves
    for stems in MNIST_FILES.values():
        for stem in stems:
            (tmp_path / stem).rename(tmp_path / f"{stem}.gz")
    data = load_source(DataConfig(name="mnist", root=str(tmp_path), download=False))
    np.testing.assert_array_equal(data.sets["test"].x[..., 0], written["test"][0])
    np.testing.assert_array_equal(data.sets["test"].y, written["test"][1])
