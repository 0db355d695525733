"""Data sources on small fixtures in the real on-disk formats, plus download / pickle / tar safety. No network."""

from __future__ import annotations

import io
import os
import pickle
import re
import tarfile
from pathlib import Path

import numpy as np
import pytest

from conftest import cli, one_line
from fixtures import (
    CIFAR_CLASSES,
    MNIST_FILES,
    cifar_batch_bytes,
    cifar_images,
    evil_pickle_bytes,
    evil_py2_pickle_bytes,
    idx_bytes,
    write_cifar,
    write_cifar100,
    write_cifar_batch,
    write_cifar_tarball,
    write_evil_tarball,
    write_idx,
    write_image_folder,
    write_mnist,
)
from vislab.config import DataConfig
from vislab.data import download as dl
from vislab.data import safe_tar
from vislab.data.safe_pickle import load_pickle
from vislab.data.safe_tar import safe_extract
from vislab.data.sources import cifar, folder, idx, load_source
from vislab.errors import DataError

REAL_DOWNLOAD = dl.download
SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to download from a source fails the test."""

    def boom(url, dest, md5=None, **kw):
        raise AssertionError(f"network download attempted: {url}")

    monkeypatch.setattr(dl, "download", boom)


@pytest.fixture(autouse=True)
def user_cache(tmp_path_factory, monkeypatch) -> Path:
    """The cache folder (~/.cache/vislab) of these tests: a fresh temporary one."""
    folder = tmp_path_factory.mktemp("user-cache") / "vislab"
    monkeypatch.setenv("VISLAB_CACHE_DIR", str(folder))
    return folder


def cfg(name: str, root, **kw) -> DataConfig:
    return DataConfig(name=name, root=str(root), download=kw.pop("download", False), **kw)


# ------------------------------------------------------------------------------------- CIFAR-10
@pytest.mark.parametrize("sub", [".", "cifar-10-batches-py", "cifar10/cifar-10-batches-py"])
def test_cifar_batches_in_every_layout(tmp_path, sub):
    written = write_cifar(tmp_path / sub, n=20)
    data = load_source(cfg("cifar10", tmp_path))
    assert {k: len(v) for k, v in data.sets.items()} == {"train": 80, "val": 20, "test": 20}
    train = data.sets["train"]
    assert (
        train.x.shape == (80, 32, 32, 3) and train.x.dtype == np.uint8 and train.y.dtype == np.int64
    )
    np.testing.assert_array_equal(train.x[:20], written["data_batch_1"][0])
    np.testing.assert_array_equal(train.y[20:40], written["data_batch_2"][1])
    np.testing.assert_array_equal(data.sets["val"].x, written["data_batch_5"][0])
    np.testing.assert_array_equal(data.sets["test"].y, written["test_batch"][1])
    assert data.class_names == CIFAR_CLASSES and data.name == "cifar10"


def test_cifar_all_five_batches_train_when_official_val_is_off(tmp_path):
    """RDFIA 1-cd trains on all 50,000 images: data_batch_5 joins train, val is carved from the pool."""
    from vislab.data.split import make_splits

    written = write_cifar(tmp_path, n=20)
    src = load_source(cfg("cifar10", tmp_path))
    splits = make_splits(
        src, cfg("cifar10", tmp_path, official_val=False, val_fraction=0.1), seed=0
    )
    assert (len(splits.train), len(splits.val), len(splits.test)) == (90, 10, 20)
    # the official test set, untouched
    np.testing.assert_array_equal(splits.test.y, written["test_batch"][1])
    pool = np.concatenate([written[f"data_batch_{i}"][0] for i in range(1, 6)]).reshape(100, -1)
    seen = np.concatenate([splits.train.x, splits.val.x]).reshape(100, -1)
    # train + val = the five batches, no overlap
    assert sorted(map(bytes, seen)) == sorted(map(bytes, pool))
    assert any(
        (splits.train.x.reshape(90, -1) == img).all(1).any()
        for img in written["data_batch_5"][0].reshape(20, -1)
    )
    default = make_splits(src, cfg("cifar10", tmp_path), seed=0)
    # default: the reports' 40k/10k/10k
    np.testing.assert_array_equal(default.val.x, written["data_batch_5"][0])


def test_cifar_use_test_only_needs_test_batch(tmp_path):
    write_cifar(tmp_path, files=["test_batch"], meta=False)
    data = load_source(cfg("cifar10", tmp_path, use=["test"]))
    assert list(data.sets) == ["test"] and len(data.sets["test"]) == 20
    assert data.class_names == CIFAR_CLASSES  # built-in names without batches.meta


def test_cifar_with_its_test_batch_only_suggests_training_on_it(tmp_path):
    write_cifar(tmp_path, files=["test_batch"], meta=False)
    with pytest.raises(DataError) as e:
        load_source(cfg("cifar10", tmp_path))
    assert "missing data_batch_1" in str(e.value)
    assert "--set 'data.use=[test]' --set 'data.split=[8000,1000,1000]'" in str(e.value)
    (tmp_path / "test_batch").unlink()
    with pytest.raises(DataError) as e:
        load_source(cfg("cifar10", tmp_path))
    assert "data.use=[test]" not in str(e.value)  # no test set here to train on instead


def test_cifar_one_folder_below_the_root_is_named(tmp_path):
    write_cifar(tmp_path / "cifar" / "cifar-10-batches-py")
    with pytest.raises(DataError) as e:
        load_source(cfg("cifar10", tmp_path))
    assert f"set data.root={tmp_path / 'cifar'}" in str(e.value)


def test_cifar_tarball_is_extracted(tmp_path):
    written = write_cifar_tarball(tmp_path / "cifar-10-python.tar.gz")
    data = load_source(cfg("cifar10", tmp_path))
    np.testing.assert_array_equal(data.sets["test"].x, written["test_batch"][0])
    assert (tmp_path / "cifar-10-batches-py" / "data_batch_3").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".vislab-extract")]


def test_cifar_download_path_uses_official_url(tmp_path, monkeypatch):
    calls = []

    def fake(url, dest, md5=None, **kw):
        calls.append((url, Path(dest), md5))
        write_cifar_tarball(dest)
        return Path(dest)

    monkeypatch.setattr(dl, "download", fake)
    data = load_source(cfg("cifar10", tmp_path, download=True))
    assert calls == [
        (cifar.URL, tmp_path / "cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a")
    ]
    assert len(data.sets["train"]) == 80


def test_cifar_missing_lists_files(tmp_path):
    with pytest.raises(DataError) as e:
        load_source(cfg("cifar10", tmp_path / "nowhere"))
    msg = str(e.value)
    assert all(
        n in msg
        for n in ["data_batch_1", "data_batch_5", "test_batch", "cifar-10-python.tar.gz", cifar.URL]
    )
    assert "data.download" in msg


def test_cifar_partial_folder_names_missing_files(tmp_path):
    write_cifar(tmp_path / "cifar-10-batches-py", files=["data_batch_1", "data_batch_2"])
    with pytest.raises(DataError, match="missing data_batch_3, data_batch_4, data_batch_5 in"):
        load_source(cfg("cifar10", tmp_path, use=["train"]))


def test_cifar_truncated_batch(tmp_path):
    write_cifar(tmp_path)
    p = tmp_path / "data_batch_2"
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    with pytest.raises(DataError, match="data_batch_2"):
        load_source(cfg("cifar10", tmp_path))


@pytest.mark.parametrize(
    "data, labels, match",
    [
        (np.zeros((3, 3071), np.uint8), [0, 1, 2], "N×3072 uint8"),
        (np.zeros((3, 3072), np.uint8), [0, 1], "list of 3 integers"),
        (np.zeros((3, 3072), np.uint8), [0, 1, 10], "0..9, found 10"),
    ],
)
def test_cifar_malformed_batch(tmp_path, data, labels, match):
    write_cifar(tmp_path)
    x, _ = cifar_images(3)
    (tmp_path / "test_batch").write_bytes(cifar_batch_bytes(x, labels, data=data))
    with pytest.raises(DataError, match=match) as e:
        load_source(cfg("cifar10", tmp_path))
    assert "test_batch" in str(e.value)


def test_cifar_wrong_md5_of_official_file(tmp_path, monkeypatch):
    write_cifar(tmp_path)
    size = (tmp_path / "data_batch_3").stat().st_size
    # pretend the fixture is official-size
    monkeypatch.setitem(cifar.OFFICIAL, "data_batch_3", (size, "0" * 32))
    with pytest.raises(DataError) as e:
        load_source(cfg("cifar10", tmp_path))
    msg = str(e.value)
    assert (
        "data_batch_3" in msg and "0" * 32 in msg and dl.md5_file(tmp_path / "data_batch_3") in msg
    )
    assert "Delete it" in msg


def test_cifar_garbage_tarball(tmp_path, monkeypatch):
    tarball = tmp_path / "cifar-10-python.tar.gz"
    tarball.write_bytes(b"<html>404 not found</html>" * 10)
    with pytest.raises(DataError, match="Cannot extract .*cifar-10-python.tar.gz"):
        load_source(cfg("cifar10", tmp_path))
    # official size, wrong content
    monkeypatch.setattr(cifar, "TARBALL_SIZE", tarball.stat().st_size)
    with pytest.raises(DataError, match="c58f30108f718f92721af3b95e74349a"):
        load_source(cfg("cifar10", tmp_path))


def test_md5_is_cached_by_size_and_mtime(tmp_path, monkeypatch):
    f = tmp_path / "file.bin"
    f.write_bytes(b"hello")
    md5 = dl.md5_file(f)
    dl.check_official(f, 5, md5)
    assert dl._cache_path(f).is_file() and not list(tmp_path.glob(".*"))  # not beside the data
    monkeypatch.setattr(dl, "md5_file", lambda p: pytest.fail("MD5 recomputed"))
    dl.check_official(f, 5, md5)  # from the marker file
    os.utime(f, ns=(0, 10**9))
    monkeypatch.setattr(dl, "md5_file", lambda p: "f" * 32)
    with pytest.raises(DataError, match="f" * 32):
        dl.check_official(f, 5, md5)
    dl.check_official(f, 6, md5)  # another size: not the official file, not checked


# ----------------------------------------------------------------------------- MNIST / Fashion
@pytest.mark.parametrize(
    "name, sub, gz",
    [
        ("mnist", ".", True),
        ("mnist", "mnist", False),
        ("mnist", "MNIST/raw", True),
        ("fashion-mnist", "FashionMNIST/raw", False),
        ("fashion-mnist", "fashion-mnist", True),
    ],
)
def test_idx_layouts(tmp_path, name, sub, gz):
    written = write_mnist(tmp_path / sub, gz=gz)
    data = load_source(cfg(name, tmp_path))
    assert {k: v.x.shape for k, v in data.sets.items()} == {
        "train": (30, 28, 28, 1),
        "test": (20, 28, 28, 1),
    }
    np.testing.assert_array_equal(data.sets["train"].x[..., 0], written["train"][0])
    np.testing.assert_array_equal(data.sets["test"].y, written["test"][1])
    assert data.sets["test"].y.dtype == np.int64
    expected = [str(d) for d in range(10)] if name == "mnist" else idx.FASHION_MNIST.class_names
    assert data.class_names == list(expected)
    assert name == "mnist" or data.class_names[0] == "T-shirt/top"


def test_idx_use_test_only(tmp_path):
    write_mnist(tmp_path, sets=("test",))
    assert list(load_source(cfg("mnist", tmp_path, use=["test"])).sets) == ["test"]
    with pytest.raises(DataError) as e:
        load_source(cfg("mnist", tmp_path))
    msg = str(e.value)
    assert (
        "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz" in msg
        and "t10k" not in msg.split("Put")[0]
    )
    assert idx.MNIST.url in msg and str(tmp_path) in msg


def test_idx_missing_everything(tmp_path):
    with pytest.raises(DataError) as e:
        load_source(cfg("fashion-mnist", tmp_path))
    assert all(f"{s}.gz" in str(e.value) for pair in MNIST_FILES.values() for s in pair)
    assert str(tmp_path / "fashion-mnist") in str(e.value)
    assert "data.use=[test]" not in str(e.value)  # no test set here to train on instead


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="no ../shared/data/mnist")
def test_mnist_with_its_test_files_only_suggests_training_on_them(capsys):
    """The missing train files cannot be fetched offline: the message gives the settings that train on
    the test set alone, and they work."""
    code, text = cli(capsys, "data", "info", "mnist", "--set", f"data.root={SHARED_MNIST}")
    flat = one_line(text)
    assert code == 2 and "missing train-images-idx3-ubyte.gz" in flat, text
    suggested = re.findall(r"--set '([^']+)'", flat)
    assert suggested == ["data.use=[test]", "data.split=[8000,1000,1000]"], flat
    sets = [x for s in suggested for x in ("--set", s)]
    code, text = cli(capsys, "data", "info", "mnist", "--set", f"data.root={SHARED_MNIST}", *sets)
    assert code == 0 and "8000" in text, text


def test_torchvision_mnist_family_not_found_names_the_raw_folder(tmp_path):
    pytest.importorskip("torchvision")
    with pytest.raises(DataError) as e:
        load_source(cfg("torchvision:FashionMNIST", tmp_path))
    msg = one_line(str(e.value))
    raw = tmp_path / "FashionMNIST" / "raw"
    assert f"in '{raw}': train-images-idx3-ubyte, train-labels-idx1-ubyte" in msg, msg
    assert "data.name=fashion-mnist" in msg
    write_mnist(raw, gz=False)  # what the message asks for, decompressed
    assert len(load_source(cfg("torchvision:FashionMNIST", tmp_path)).sets["test"]) == 20


def test_idx_download_fetches_only_missing(tmp_path, monkeypatch):
    write_mnist(tmp_path / "mnist", sets=("test",))
    calls = []

    def fake(url, dest, md5=None, **kw):
        calls.append((url, Path(dest).relative_to(tmp_path).as_posix(), md5))
        stem = Path(dest).name[:-3]
        x = np.zeros((7, 28, 28), np.uint8) if "images" in stem else np.arange(7, dtype=np.uint8)
        return write_idx(dest, x)

    monkeypatch.setattr(dl, "download", fake)
    data = load_source(cfg("mnist", tmp_path, download=True))
    assert len(data.sets["train"]) == 7 and len(data.sets["test"]) == 20
    assert calls == [
        (
            idx.MNIST.url + "train-images-idx3-ubyte.gz",
            "mnist/train-images-idx3-ubyte.gz",
            "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        ),
        (
            idx.MNIST.url + "train-labels-idx1-ubyte.gz",
            "mnist/train-labels-idx1-ubyte.gz",
            "d53e105ee54ea40749a09fcbcd1e9432",
        ),
    ]


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_read_idx_dtypes(tmp_path, dtype):
    a = (np.arange(24) - 5).astype(dtype).reshape(2, 3, 4)
    for name in ("a.idx", "a.idx.gz"):
        got = idx.read_idx(write_idx(tmp_path / name, a))
        np.testing.assert_array_equal(got, a)
        assert got.dtype == a.dtype


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda b: b"\x01" + b[1:], "wrong magic"),
        (lambda b: b[:2] + b"\x0a" + b[3:], "unknown value type"),
        (lambda b: b[:-1], "truncated"),
        (lambda b: b[:6], "header ends"),
        (lambda b: b + b"\x00", "longer than its header"),
        (lambda b: b"", "empty file"),
    ],
)
def test_idx_corrupt(tmp_path, mutate, match):
    p = tmp_path / "t10k-images-idx3-ubyte"
    p.write_bytes(mutate(idx_bytes(np.zeros((2, 28, 28), np.uint8))))
    with pytest.raises(DataError, match=match) as e:
        idx.read_idx(p)
    assert str(p) in str(e.value)


def test_idx_truncated_gzip_and_mismatch(tmp_path):
    write_mnist(tmp_path, sets=("test",))
    p = tmp_path / "t10k-images-idx3-ubyte.gz"
    good = p.read_bytes()
    p.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz"):
        load_source(cfg("mnist", tmp_path, use=["test"]))
    p.write_bytes(good)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(5, np.uint8))
    with pytest.raises(DataError, match="20 images but .* 5 labels"):
        load_source(cfg("mnist", tmp_path, use=["test"]))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.full(20, 10, np.uint8))
    with pytest.raises(DataError, match="label 10 is out of range"):
        load_source(cfg("mnist", tmp_path, use=["test"]))


def test_idx_wrong_md5_of_official_gz(tmp_path, monkeypatch):
    write_mnist(tmp_path, sets=("test",))
    p = tmp_path / "t10k-labels-idx1-ubyte.gz"
    monkeypatch.setitem(idx.MNIST.gz, "t10k-labels-idx1-ubyte", (p.stat().st_size, "0" * 32))
    with pytest.raises(
        DataError,
        match=r"t10k-labels-idx1-ubyte.gz' is corrupt: its MD5 is [0-9a-f]{32} but .* 0{32}",
    ):
        load_source(cfg("mnist", tmp_path, use=["test"]))


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="no ../shared/data/mnist")
def test_real_mnist_test_set():
    data = load_source(cfg("mnist", SHARED_MNIST, use=["test"]))
    test = data.sets["test"]
    assert test.x.shape == (10000, 28, 28, 1) and test.x.dtype == np.uint8
    assert np.bincount(test.y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.skipif(
    not DEBIAN_FASHION.is_dir(), reason="Debian dataset-fashion-mnist not installed"
)
def test_real_fashion_mnist():
    data = load_source(cfg("fashion-mnist", DEBIAN_FASHION))
    assert data.sets["train"].x.shape == (60000, 28, 28, 1) and len(data.sets["test"]) == 10000
    assert np.bincount(data.sets["test"].y).tolist() == [1000] * 10


# --------------------------------------------------------------------------- decoded-array cache
def _entries(folder: Path) -> list[str]:
    """The cache entries (their index files) in ``folder``."""
    return sorted(p.name for p in folder.glob("*.index.json")) if folder.is_dir() else []


def _refuse(*args, **kw):
    raise AssertionError("decoded again instead of read from the cache")


@pytest.mark.parametrize("gz", [True, False])
def test_idx_second_load_reads_the_cache(user_cache, tmp_path, monkeypatch, gz):
    written = write_mnist(tmp_path, gz=gz)
    first = load_source(cfg("fashion-mnist", tmp_path))
    assert len(_entries(user_cache)) == 2  # train, test
    monkeypatch.setattr(idx, "read_idx", _refuse)
    monkeypatch.setattr(dl, "check_official", _refuse)  # the .gz MD5 was checked when decoded
    again = load_source(cfg("fashion-mnist", tmp_path))
    for key in ("train", "test"):
        np.testing.assert_array_equal(again.sets[key].x, first.sets[key].x)
        np.testing.assert_array_equal(again.sets[key].y, first.sets[key].y)
        assert again.sets[key].x.shape[1:] == (28, 28, 1) and again.sets[key].y.dtype == np.int64
    np.testing.assert_array_equal(again.sets["train"].x[..., 0], written["train"][0])
    assert again.class_names == first.class_names and again.files == first.files


def test_idx_changed_file_invalidates_the_cache(user_cache, tmp_path):
    write_mnist(tmp_path, sets=("test",))
    load_source(cfg("mnist", tmp_path, use=["test"]))
    before = _entries(user_cache)
    labels = np.full(20, 7, np.uint8)  # other labels
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels)
    data = load_source(cfg("mnist", tmp_path, use=["test"]))
    np.testing.assert_array_equal(data.sets["test"].y, labels)
    after = _entries(user_cache)
    assert len(after) == 1 and after != before  # the stale entry is gone
    assert len(list((user_cache).iterdir())) == 3  # its x, y and index


def _damage_truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


def _damage_labels(path: Path) -> None:  # a valid .npy whose labels no decode returns
    if path.name.endswith(".y.npy"):
        np.save(path, np.full(np.load(path).shape, 200, np.uint8))


def _damage_garbage(path: Path) -> None:
    path.write_bytes(b"not an npy file")


@pytest.mark.parametrize("damage", [_damage_truncate, _damage_labels, _damage_garbage])
def test_idx_corrupt_cache_is_rebuilt(user_cache, tmp_path, monkeypatch, damage):
    written = write_mnist(tmp_path, sets=("test",))
    load_source(cfg("mnist", tmp_path, use=["test"]))
    for p in (user_cache).glob("*.npy"):
        damage(p)
    calls = []
    real = idx.read_idx
    monkeypatch.setattr(idx, "read_idx", lambda p: calls.append(p) or real(p))
    data = load_source(cfg("mnist", tmp_path, use=["test"]))
    assert len(calls) == 2  # decoded again
    np.testing.assert_array_equal(data.sets["test"].x[..., 0], written["test"][0])
    np.testing.assert_array_equal(data.sets["test"].y, written["test"][1])
    monkeypatch.setattr(idx, "read_idx", _refuse)  # and cached again
    load_source(cfg("mnist", tmp_path, use=["test"]))


def test_cache_never_writes_beside_the_data_and_skips_when_unwritable(
    tmp_path, user_cache, monkeypatch
):
    write_mnist(tmp_path, sets=("test",))
    first = load_source(cfg("mnist", tmp_path, use=["test"]))
    assert len(_entries(user_cache)) == 1 and not list(
        tmp_path.glob(".*")
    )  # the data's folder untouched
    real = idx.read_idx
    monkeypatch.setattr(idx, "read_idx", _refuse)
    again = load_source(cfg("mnist", tmp_path, use=["test"]))
    np.testing.assert_array_equal(again.sets["test"].x, first.sets["test"].x)
    monkeypatch.setattr(idx, "read_idx", real)
    blocked = tmp_path / "no-cache-here"
    blocked.write_text("a file, not a folder")
    monkeypatch.setenv("VISLAB_CACHE_DIR", str(blocked / "vislab"))
    write_mnist(tmp_path / "other", sets=("test",), seed=1)
    data = load_source(
        cfg("mnist", tmp_path / "other", use=["test"])
    )  # nowhere to cache: just loads
    assert len(data.sets["test"]) == 20 and not list(tmp_path.glob("**/*.npy.*.tmp"))


@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
def test_cifar100_cache_per_label_kind(tmp_path, monkeypatch, label_mode):
    written = write_cifar100(tmp_path, n=30)
    load_source(cfg("cifar100", tmp_path, label_mode="fine"))
    real = cifar.read_cifar_batch
    monkeypatch.setattr(cifar, "read_cifar_batch", _refuse)
    if label_mode == "coarse":  # another entry: its first load decodes
        with pytest.raises(AssertionError, match="decoded again"):
            load_source(cfg("cifar100", tmp_path, label_mode=label_mode))
        monkeypatch.setattr(cifar, "read_cifar_batch", real)
        load_source(cfg("cifar100", tmp_path, label_mode=label_mode))
        monkeypatch.setattr(cifar, "read_cifar_batch", _refuse)
    data = load_source(cfg("cifar100", tmp_path, label_mode=label_mode))
    labels = written["train"][1 if label_mode == "fine" else 2]
    np.testing.assert_array_equal(data.sets["train"].y, labels)
    np.testing.assert_array_equal(data.sets["train"].x, written["train"][0])


def test_cifar_cache_reused_invalidated_and_rebuilt(user_cache, tmp_path, monkeypatch):
    write_cifar(tmp_path, n=20)
    first = load_source(cfg("cifar10", tmp_path))
    assert len(_entries(user_cache)) == 3  # train, val, test
    real = cifar.read_cifar_batch
    monkeypatch.setattr(cifar, "read_cifar_batch", _refuse)
    again = load_source(cfg("cifar10", tmp_path))
    for key in ("train", "val", "test"):
        np.testing.assert_array_equal(again.sets[key].x, first.sets[key].x)
        np.testing.assert_array_equal(again.sets[key].y, first.sets[key].y)
    x, y = write_cifar_batch(
        tmp_path / "data_batch_3", n=20, seed=99
    )  # changed: train decoded again
    calls = []
    monkeypatch.setattr(
        cifar, "read_cifar_batch", lambda p, f=None: calls.append(p.name) or real(p, f)
    )
    changed = load_source(cfg("cifar10", tmp_path))
    assert calls == ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4"]
    np.testing.assert_array_equal(changed.sets["train"].x[40:60], x)
    np.testing.assert_array_equal(changed.sets["train"].y[40:60], y)
    assert len(_entries(user_cache)) == 3
    for p in (user_cache).glob("CIFAR-10-test-*.x.npy"):
        _damage_truncate(p)
    calls.clear()
    rebuilt = load_source(cfg("cifar10", tmp_path))
    assert calls == ["test_batch"]
    np.testing.assert_array_equal(rebuilt.sets["test"].x, first.sets["test"].x)


# ------------------------------------------------------------------------------ digits, circles
def test_digits():
    data = load_source(DataConfig(name="digits"))
    x = data.sets["train"].x
    assert list(data.sets) == ["train"] and x.shape == (1797, 8, 8, 1) and x.dtype == np.uint8
    assert x.max() == 255 and data.class_names == [str(d) for d in range(10)]
    with pytest.raises(DataError, match="data.use"):
        load_source(DataConfig(name="digits", use=["test"]))


def test_circles_deterministic():
    a = load_source(DataConfig(name="circles", n_samples=200, noise=0.05))
    b = load_source(DataConfig(name="circles", n_samples=200, noise=0.05))
    assert a.class_names == ["outer", "inner"]
    for k in ("train", "test"):
        assert a.sets[k].x.shape == (200, 2) and a.sets[k].x.dtype == np.float32
        np.testing.assert_array_equal(a.sets[k].x, b.sets[k].x)
        assert np.bincount(a.sets[k].y).tolist() == [100, 100]
    assert not np.array_equal(a.sets["train"].x, a.sets["test"].x)
    assert list(load_source(DataConfig(name="circles", use=["train"])).sets) == ["train"]


def test_circles_are_sklearns_drawn_once_then_read_from_the_cache(user_cache, monkeypatch):
    """The points are make_circles' (seeds 0 and 1); a second load reads them back without drawing
    (importing sklearn.datasets costs 1-2 s a run), and a damaged entry is drawn again."""
    import sklearn.datasets

    seeds = {"train": 0, "test": 1}
    first = load_source(DataConfig(name="circles", n_samples=300, noise=0.2))
    for k, seed in seeds.items():
        x, y = sklearn.datasets.make_circles(300, noise=0.2, factor=0.5, random_state=seed)
        np.testing.assert_array_equal(first.sets[k].x, x.astype(np.float32))
        np.testing.assert_array_equal(first.sets[k].y, y)

    def no_drawing(*a, **kw):
        raise AssertionError("drawn again")

    with monkeypatch.context() as patched:
        patched.setattr(sklearn.datasets, "make_circles", no_drawing)
        again = load_source(DataConfig(name="circles", n_samples=300, noise=0.2))
        np.testing.assert_array_equal(again.sets["test"].x, first.sets["test"].x)
        with pytest.raises(AssertionError, match="drawn again"):  # another noise: another draw
            load_source(DataConfig(name="circles", n_samples=300, noise=0.1))
    damaged = list(user_cache.glob("circles-*noise0.2-seed1-*.x.npy"))
    assert len(damaged) == 1
    damaged[0].write_bytes(b"not an array")
    redrawn = load_source(DataConfig(name="circles", n_samples=300, noise=0.2))
    np.testing.assert_array_equal(redrawn.sets["test"].x, first.sets["test"].x)


# --------------------------------------------------------------------------------- image folder
def test_folder_flat_mixed_sizes(tmp_path):
    files = write_image_folder(tmp_path / "imgs", classes=("dog", "cat", "frog"), per_class=4)
    data = load_source(cfg("folder", tmp_path / "imgs", image_size=16))
    x, y = data.sets["train"].x, data.sets["train"].y
    assert list(data.sets) == ["train"] and x.shape == (12, 16, 16, 3) and x.dtype == np.uint8
    assert data.class_names == ["cat", "dog", "frog"] and np.bincount(y).tolist() == [4, 4, 4]
    assert any(p.suffix == ".jpg" for p in files["cat"]) and any(
        p.suffix == ".png" for p in files["cat"]
    )


def test_folder_png_pixels_exact_and_gray(tmp_path):
    from PIL import Image

    a = np.random.default_rng(0).integers(0, 256, (8, 8), dtype=np.uint8)
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        Image.fromarray(a).save(tmp_path / c / "x.png")
    data = load_source(cfg("folder", tmp_path, image_size=8))
    assert data.sets["train"].x.shape == (2, 8, 8, 1)
    np.testing.assert_array_equal(data.sets["train"].x[0, ..., 0], a)
    # one RGB → everything RGB
    Image.fromarray(np.stack([a] * 3, -1)).save(tmp_path / "b" / "y.png")
    x = load_source(cfg("folder", tmp_path, image_size=8)).sets["train"].x
    assert x.shape == (3, 8, 8, 3)
    np.testing.assert_array_equal(x[0], np.stack([a] * 3, -1))


def test_folder_train_test_layout(tmp_path):
    write_image_folder(tmp_path / "train", per_class=3)
    write_image_folder(tmp_path / "test", per_class=2, seed=1, classes=("cat", "dog"))
    data = load_source(cfg("folder", tmp_path, image_size=10))
    assert {k: len(v) for k, v in data.sets.items()} == {"train": 9, "test": 4}
    assert data.class_names == ["cat", "dog", "frog"]
    assert list(load_source(cfg("folder", tmp_path, image_size=10, use=["test"])).sets) == ["test"]


def test_folder_cache_reused_and_rebuilt(tmp_path, monkeypatch):
    files = write_image_folder(tmp_path, per_class=2)
    real_decode, calls = folder._decode, []
    monkeypatch.setattr(folder, "_decode", lambda p, s: calls.append(p) or real_decode(p, s))
    first = load_source(cfg("folder", tmp_path, image_size=12)).sets["train"]
    assert len(calls) == 6 and not (tmp_path / ".vislab-cache").exists()
    again = load_source(cfg("folder", tmp_path, image_size=12)).sets["train"]
    assert len(calls) == 6
    np.testing.assert_array_equal(first.x, again.x)
    from PIL import Image

    Image.new("RGB", (20, 20), (255, 0, 0)).save(files["dog"][0])  # edit one file
    os.utime(files["dog"][0], ns=(10**18, 10**18))
    changed = load_source(cfg("folder", tmp_path, image_size=12)).sets["train"]
    assert len(calls) == 12 and not (tmp_path / ".vislab-cache").exists()
    assert (changed.x[2] == [255, 0, 0]).all()
    load_source(cfg("folder", tmp_path, image_size=14))  # another size: another cache key
    assert len(calls) == 18


def test_folder_errors(tmp_path):
    write_image_folder(tmp_path, per_class=2)
    bad = tmp_path / "cat" / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match="broken.png"):
        load_source(cfg("folder", tmp_path))
    with pytest.raises(DataError, match="not a folder"):
        load_source(cfg("folder", tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty2").mkdir()
    with pytest.raises(DataError, match="no class folders"):
        load_source(cfg("folder", tmp_path / "empty"))


# ---------------------------------------------------------------------------------- safe pickle
@pytest.mark.parametrize("make", [evil_pickle_bytes, evil_py2_pickle_bytes])
def test_pickle_that_runs_code_is_refused(tmp_path, make):
    marker = tmp_path / "MARKER"
    write_cifar(tmp_path)
    (tmp_path / "data_batch_1").write_bytes(make(marker))
    with pytest.raises(DataError, match=r"data_batch_1.*(os|posix)\.system"):
        load_source(cfg("cifar10", tmp_path))
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_safe_pickle_reads_plain_numpy(tmp_path, protocol):
    obj = {
        b"data": np.arange(12, dtype=np.uint8).reshape(3, 4),
        "labels": [1, 2.5, "x", (1,)],
        "s": np.float32(2),
    }
    (tmp_path / "p").write_bytes(pickle.dumps(obj, protocol=protocol))
    got = load_pickle(tmp_path / "p")
    np.testing.assert_array_equal(got[b"data"], obj[b"data"])
    assert got["labels"] == obj["labels"] and got["s"] == 2


def test_safe_pickle_refuses_builtins_eval(tmp_path):
    (tmp_path / "p").write_bytes(b"c__builtin__\neval\n(U\x041+1tR.")
    with pytest.raises(DataError, match="builtins.eval"):
        load_pickle(tmp_path / "p")


def test_safe_pickle_refuses_malformed_dtype_state(tmp_path):
    """numpy's dtype.__setstate__ segfaults on this state (found by fuzzing): it must never reach numpy."""
    good = cifar_batch_bytes(*cifar_images(2))
    bad = good.replace(b"NNNJ\xff\xff\xff\xff", b"NJ\xff\xff\xff\xff", 1)
    assert bad != good
    (tmp_path / "p").write_bytes(bad)
    with pytest.raises(DataError, match="malformed dtype state"):
        load_pickle(tmp_path / "p")


@pytest.mark.parametrize(
    "blob, match",
    [
        (
            b"c__builtin__\nbytearray\n(J\x00\x00\x00\x7ftR.",
            r"bytearray\(<size>\)",
        ),  # bytearray(2 GB)
        (b"\x80\x05\x96" + (1 << 50).to_bytes(8, "little") + b".", "BYTEARRAY8 of"),  # claims 1 PB
        (b"cnumpy\nndarray\n(K\x05tR.", "ndarray"),  # numpy.ndarray itself is not callable
    ],
)
def test_safe_pickle_refuses_allocation_bombs(tmp_path, blob, match):
    (tmp_path / "p").write_bytes(blob)
    with pytest.raises(DataError, match=match):
        load_pickle(tmp_path / "p")


# ------------------------------------------------------------------------------------- safe tar
@pytest.mark.parametrize(
    "kind",
    ["dotdot", "absolute", "symlink", "symlink-chain", "hardlink", "hardlink-relative", "fifo"],
)
@pytest.mark.parametrize("tar_filter", [True, False], ids=["with-data-filter", "own-checks-only"])
def test_tar_escapes_are_refused(tmp_path, monkeypatch, kind, tar_filter):
    if not tar_filter:  # as on Python < 3.11.4: our checks alone must hold
        monkeypatch.setattr(safe_tar, "_FILTER", {})
    outside, target = tmp_path / "outside", tmp_path / "deep" / "target"
    outside.mkdir()
    (outside / "victim.txt").write_text("safe")
    archive = write_evil_tarball(tmp_path / "evil.tar.gz", kind, target, outside)
    with pytest.raises(DataError, match="Refused to extract .*evil.tar.gz"):
        safe_extract(archive, target)
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"]
    assert (outside / "victim.txt").read_text() == "safe"
    assert not (tmp_path / "deep" / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()


def test_tar_inside_links_are_fine(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("d/a.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
        link = tarfile.TarInfo("d/b.txt")
        link.type, link.linkname = tarfile.SYMTYPE, "a.txt"
        tar.addfile(link)
    (tmp_path / "ok.tar").write_bytes(buf.getvalue())
    written = safe_extract(tmp_path / "ok.tar", tmp_path / "out")
    assert [p.name for p in written] == ["a.txt"] and (tmp_path / "out/d/b.txt").read_text() == "hi"


# ------------------------------------------------------------------------------------- download
def test_download_file_url(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(3000))
    dest = tmp_path / "data" / "file.gz"
    assert REAL_DOWNLOAD(src.as_uri(), dest, dl.md5_file(src)) == dest
    assert dest.read_bytes() == src.read_bytes() and not dest.with_name("file.gz.part").exists()
    assert dl.cached_md5(dest) == dl.md5_file(src)  # remembered in the marker file


def test_download_wrong_md5_leaves_nothing(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 100)
    dest = tmp_path / "file.gz"
    with pytest.raises(DataError, match="corrupt .*MD5"):
        REAL_DOWNLOAD(src.as_uri(), dest, "0" * 32)
    assert not dest.exists() and not dest.with_name("file.gz.part").exists()


def test_download_network_error(tmp_path):
    dest = tmp_path / "file.gz"
    with pytest.raises(DataError) as e:
        REAL_DOWNLOAD((tmp_path / "absent").as_uri(), dest)
    assert "Could not download 'file.gz'" in str(e.value) and str(dest) in str(e.value)
    assert not dest.exists()


class FakeResponse(io.BytesIO):
    def __init__(self, body: bytes, status: int, headers: dict):
        super().__init__(body)
        self.status, self.headers = status, headers


@pytest.mark.parametrize("honours_range", [True, False])
def test_download_resumes_part_file(tmp_path, monkeypatch, honours_range):
    payload = os.urandom(5000)
    dest = tmp_path / "file.gz"
    dest.with_name("file.gz.part").write_bytes(payload[:2000])
    seen = []

    def urlopen(req, timeout=None):
        rng = req.get_header("Range")
        seen.append(rng)
        if honours_range and rng:
            start = int(rng.split("=")[1].rstrip("-"))
            return FakeResponse(
                payload[start:],
                206,
                {"Content-Range": f"bytes {start}-4999/5000", "Content-Length": str(5000 - start)},
            )
        return FakeResponse(payload, 200, {"Content-Length": "5000"})

    monkeypatch.setattr(dl.urllib.request, "urlopen", urlopen)
    REAL_DOWNLOAD("https://example.invalid/file.gz", dest, dl.hashlib.md5(payload).hexdigest())
    assert seen == ["bytes=2000-"] and dest.read_bytes() == payload


def test_download_short_read_keeps_part(tmp_path, monkeypatch):
    dest = tmp_path / "file.gz"
    monkeypatch.setattr(
        dl.urllib.request,
        "urlopen",
        lambda req, timeout=None: FakeResponse(b"abc", 200, {"Content-Length": "10"}),
    )
    with pytest.raises(DataError, match="3 of 10 bytes"):
        REAL_DOWNLOAD("https://example.invalid/file.gz", dest, "0" * 32)
    assert not dest.exists() and dest.with_name("file.gz.part").read_bytes() == b"abc"
