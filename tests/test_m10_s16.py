"""Tests for data-source behaviours a mutation could break unseen (arrays, image folders, the decode
cache, data fingerprints, CIFAR files, downloads)."""

from __future__ import annotations

import io
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import vislab
from conftest import TINY_RUN, one_line
from fixtures import write_cifar100, write_image_folder, write_mnist, write_pngs
from vislab.config import DataConfig
from vislab.data import download as dl
from vislab.data.sources import cifar, load_source
from vislab.errors import DataError


@pytest.fixture(autouse=True)
def user_cache(tmp_path, monkeypatch) -> Path:
    """The decoded-array cache of each test: a fresh folder under its tmp_path."""
    folder = tmp_path / "user-cache"
    monkeypatch.setenv("VISLAB_CACHE_DIR", str(folder))
    return folder


def registered(x: np.ndarray, y: np.ndarray, names: list[str] | None = None) -> tuple[str, object]:
    """The name ``register_arrays`` gives ``(x, y, names)`` and the train set loaded back from it."""
    name = vislab.register_arrays(x, y, names)
    return name, load_source(DataConfig(name=name)).sets["train"]


# --------------------------------------------------------------------------------- arrays
def test_rgba_images_register_as_n_h_w_4_in_either_channel_order():
    x = np.random.default_rng(0).integers(0, 256, (6, 8, 8, 4), dtype=np.uint8)
    y = np.arange(6) % 2
    hwc_name, hwc = registered(x, y)
    chw_name, chw = registered(x.transpose(0, 3, 1, 2).copy(), y)  # a torch-style N×4×H×W batch
    assert hwc.x.shape == chw.x.shape == (6, 8, 8, 4) and chw.x.dtype == np.uint8
    np.testing.assert_array_equal(hwc.x, x)
    np.testing.assert_array_equal(chw.x, x)
    assert chw_name == hwc_name  # the same images: the same name


def test_images_whose_largest_value_is_exactly_255_are_kept():
    y = np.arange(4) % 2
    _, floats = registered(np.full((4, 8, 8), 255.0), y)  # floats in [0, 255]: rounded
    assert floats.x.dtype == np.uint8 and (floats.x == 255).all()
    ramp = np.arange(256, dtype=np.int64).reshape(4, 8, 8)  # integers 0..255: as they are
    _, ints = registered(ramp, y)
    np.testing.assert_array_equal(ints.x[..., 0], ramp.astype(np.uint8))


def test_an_unsigned_integer_mask_keeps_its_values():
    mask = (np.arange(4 * 8 * 8).reshape(4, 8, 8) % 3 == 0).astype(np.uint32)
    _, data = registered(mask, np.arange(4) % 2)
    assert data.x.dtype == np.uint8 and set(np.unique(data.x)) == {0, 1}
    np.testing.assert_array_equal(data.x[..., 0], mask)


def test_the_same_arrays_with_other_class_names_are_other_data():
    x = np.random.default_rng(1).integers(0, 256, (6, 8, 8), dtype=np.uint8)
    y = np.arange(6) % 2
    first, _ = registered(x, y, ["a", "b"])
    second, _ = registered(x, y, ["c", "d"])
    assert first != second
    assert load_source(DataConfig(name=first)).class_names == ["a", "b"]  # not replaced
    assert load_source(DataConfig(name=second)).class_names == ["c", "d"]


# --------------------------------------------------------------------------------- image folders
def folder_cfg(root: Path) -> DataConfig:
    """An image folder's settings: 8×8 images, nothing downloaded."""
    return DataConfig(name="folder", root=str(root), image_size=8, download=False)


@pytest.mark.parametrize("split", ["test", "val"])
def test_a_split_folder_with_a_class_train_lacks_is_refused_naming_it(tmp_path, split):
    write_image_folder(tmp_path / "train", classes=("cat", "dog"), per_class=2)
    write_image_folder(tmp_path / split, classes=("cat", "bird"), per_class=2, seed=1)
    with pytest.raises(DataError) as e:
        load_source(folder_cfg(tmp_path))
    said = one_line(str(e.value))
    assert f"'{tmp_path / split}' has class folders ['bird'] that" in said, said
    assert "every class needs training images" in said, said


def write_bmps(root: Path, seed: int = 0) -> dict[str, Path]:
    """Two class folders of one 8×8 RGB BMP each (a BMP's size depends on its shape only)."""
    rng = np.random.default_rng(seed)
    files = {}
    for c in ("cat", "dog"):
        (root / c).mkdir(parents=True, exist_ok=True)
        files[c] = root / c / "a.bmp"
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(files[c])
    return files


def test_an_image_replaced_by_one_of_the_same_byte_size_is_decoded_again(tmp_path):
    root = tmp_path / "images"
    files = write_bmps(root)
    size = files["dog"].stat().st_size
    load_source(folder_cfg(root))  # decoded and cached
    new = np.full((8, 8, 3), 7, np.uint8)
    Image.fromarray(new).save(files["dog"])
    os.utime(files["dog"], ns=(10**18, 10**18))  # surely another mtime
    assert files["dog"].stat().st_size == size
    again = load_source(folder_cfg(root)).sets["train"]
    np.testing.assert_array_equal(again.x[again.y.tolist().index(1)], new)


def test_a_damaged_cache_entry_of_a_folder_is_decoded_again(tmp_path, user_cache):
    root = tmp_path / "images"
    files = write_bmps(root)
    first = load_source(folder_cfg(root)).sets["train"]
    (index,) = user_cache.glob("folder-*.index.json")
    listed = json.loads(index.read_text())
    del listed["x_train"]  # an entry without one of its arrays
    index.write_text(json.dumps(listed))
    again = load_source(folder_cfg(root)).sets["train"]
    np.testing.assert_array_equal(again.x, first.x)
    np.testing.assert_array_equal(again.x[0], np.asarray(Image.open(files["cat"])))


def trained_on_folder(tmp_path: Path) -> tuple[vislab.Run, Path]:
    """A tiny run trained on a flat folder of two classes, and the folder."""
    root = tmp_path / "flat"
    write_pngs(root / "dark", 40, 0)
    write_pngs(root / "light", 40, 180, seed=1)
    run = vislab.train(
        data="folder", data__root=str(root), data__image_size=8, out=tmp_path / "run", **TINY_RUN
    )
    return run, root


def data_notes(run: vislab.Run) -> list[str]:
    """The notes that the run's data changed since it trained, said when it is evaluated again."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vislab.load_run(run.path).evaluate()
    return [one_line(str(w.message)) for w in caught if "changed since the run" in str(w.message)]


def test_eval_counts_images_removed_since_the_run_trained(tmp_path):
    run, root = trained_on_folder(tmp_path)
    (root / "dark" / "000.png").unlink()
    (root / "light" / "000.png").unlink()
    (note,) = data_notes(run)
    assert "changed since the run trained (2 files added or removed" in note, note


def test_eval_notes_an_image_replaced_in_place_by_one_of_another_size(tmp_path):
    run, root = trained_on_folder(tmp_path)
    image = root / "dark" / "005.png"
    size = image.stat().st_size
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(image)  # a flat image: a smaller PNG
    assert image.stat().st_size != size
    (note,) = data_notes(run)
    assert "(files renamed, moved between classes, replaced or resized" in note, note


# ------------------------------------------------------------------------ the decode cache, CIFAR
def test_a_cache_entry_with_one_array_file_replaced_is_decoded_again(tmp_path, user_cache):
    written = write_mnist(tmp_path / "mnist", sets=("test",))
    load_source(DataConfig(name="mnist", root=str(tmp_path / "mnist"), use=["test"]))
    (x_file,) = user_cache.glob("*.x.npy")
    np.save(x_file, np.zeros_like(np.load(x_file)))  # another array of the same size: valid
    os.utime(x_file, ns=(10**18, 10**18))  # surely another mtime than the index records
    data = load_source(DataConfig(name="mnist", root=str(tmp_path / "mnist"), use=["test"]))
    np.testing.assert_array_equal(data.sets["test"].x[..., 0], written["test"][0])


def test_a_cache_entry_without_an_array_it_should_hold_is_decoded_again(tmp_path, user_cache):
    """An index edited by hand (or written by another version) without the labels: decoded again, not a
    KeyError from the source's check."""
    written = write_mnist(tmp_path / "mnist", sets=("test",))
    load_source(DataConfig(name="mnist", root=str(tmp_path / "mnist"), use=["test"]))
    (index,) = user_cache.glob("*.index.json")
    listed = json.loads(index.read_text())
    del listed["y"]
    index.write_text(json.dumps(listed))
    data = load_source(DataConfig(name="mnist", root=str(tmp_path / "mnist"), use=["test"]))
    np.testing.assert_array_equal(data.sets["test"].y, written["test"][1])


def test_a_cifar100_file_of_exactly_the_official_size_must_have_the_official_md5(
    tmp_path, monkeypatch
):
    write_cifar100(tmp_path)
    size = (tmp_path / "train").stat().st_size
    monkeypatch.setitem(cifar.MD5_100, "train", (size, "0" * 32))
    with pytest.raises(DataError, match="'.*train' is corrupt: .*official file's MD5 is 0{32}"):
        load_source(DataConfig(name="cifar100", root=str(tmp_path), download=False))


# ------------------------------------------------------------------------------------ downloads
class FakeResponse(io.BytesIO):
    """What urlopen returns: the body, its HTTP status and headers."""

    def __init__(self, body: bytes, status: int, headers: dict[str, str]) -> None:
        super().__init__(body)
        self.status, self.headers = status, headers


def test_a_resume_answered_with_the_whole_file_restarts_the_download(tmp_path, monkeypatch):
    payload = os.urandom(5000)
    dest = tmp_path / "file.gz"
    dest.with_name("file.gz.part").write_bytes(b"\0" * 2000)  # a part file: a resume is asked
    asked = []

    def urlopen(request, timeout=None):  # a server answering 206 with the range from 0
        asked.append(request.get_header("Range"))
        headers = {"Content-Range": "bytes 0-4999/5000", "Content-Length": "5000"}
        return FakeResponse(payload, 206, headers)

    monkeypatch.setattr(dl.urllib.request, "urlopen", urlopen)
    url = "https://example.invalid/file.gz"
    assert dl.download(url, dest, dl.hashlib.md5(payload).hexdigest()) == dest
    assert asked == ["bytes=2000-"] and dest.read_bytes() == payload
