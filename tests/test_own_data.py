"""Your own data: in-memory arrays and torch Datasets, CIFAR-100, and torchvision datasets on disk.

Fixtures are written in the real on-disk formats (fixtures.py); no test touches the network.
"""

from __future__ import annotations

import shutil
import urllib.request

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import Dataset

from conftest import cli, one_line, tiny_config
from fixtures import (
    CIFAR100_COARSE,
    CIFAR100_FINE,
    cifar100_pickle_bytes,
    write_cifar100,
    write_cifar100_tarball,
    write_image_folder,
    write_kmnist,
    write_svhn_mat,
)
from vislab.config import DataConfig
from vislab.data import download as dl
from vislab.data import load_splits, prepare_data
from vislab.data.augment import build_augment
from vislab.data.sources import cifar, load_source, memory
from vislab.data.sources.dataset_arrays import arrays_from_dataset
from vislab.data.sources.memory import register_arrays
from vislab.errors import ConfigError, DataError
from vislab.training.trainer import train


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to download (vislab's or torchvision's) fails the test."""

    def boom(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:1]}")

    monkeypatch.setattr(dl, "download", boom)
    monkeypatch.setattr(urllib.request, "urlopen", boom)


def cfg(name: str, root, **kw) -> DataConfig:
    return DataConfig(name=name, root=str(root), download=kw.pop("download", False), **kw)


def digits_like(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` 8×8 grayscale uint8 images in 4 classes, each class a different brightness."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 4)
    x = (rng.integers(0, 60, (n, 8, 8)) + 60 * y[:, None, None]).astype(np.uint8)
    return x, y


# ----------------------------------------------------------------------------- in-memory arrays
def test_arrays_train_through_the_whole_pipeline(tmp_path):
    x, y = digits_like()
    name = register_arrays(x, y, ["a", "b", "c", "d"])
    assert name.startswith("memory:") and register_arrays(x, y, ["a", "b", "c", "d"]) == name
    c = tiny_config(
        f"data.name={name}", "augment.hflip.p=0.5", "augment.crop.p=0.5", "augment.crop.padding=1"
    )
    splits, stats = prepare_data(c.data, c.train.seed)
    # one official set, 'train': test and val carved with data.val_fraction (10 % each), stratified
    assert (len(splits.train), len(splits.val), len(splits.test)) == (162, 18, 20)
    assert splits.class_names == ["a", "b", "c", "d"] and splits.sample_shape == (1, 8, 8)
    assert splits.train.x.dtype == np.uint8 and splits.train.x.shape[1:] == (8, 8, 1)
    # statistics fitted on the train split only, as for every source
    assert float(stats.mean.flatten()[0]) == pytest.approx(splits.train.x.mean() / 255, abs=1e-5)
    aug = build_augment(c.augment, splits.sample_shape)
    assert aug is not None
    summary = train(c, tmp_path / "run", quiet=True).to_json()
    assert summary["test_acc"] > 0.5 and summary["data"] == name  # classes differ in brightness
    assert (summary["n_train"], summary["n_val"], summary["n_test"]) == (162, 18, 20)
    recorded = (tmp_path / "run" / "config.yaml").read_text()
    assert f"name: {name}" in recorded  # the run records that it trained on in-memory data


def test_explicit_split_and_name(tmp_path):
    x, y = digits_like()
    name = register_arrays(x, y, name="my-digits")
    assert name == "memory:my-digits"
    splits = load_splits(DataConfig(name=name, split=[100, 50, 50]), seed=0)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (100, 50, 50)
    assert splits.class_names == ["0", "1", "2", "3"]


def test_float_chw_tensors_become_the_same_uint8_images():
    x, y = digits_like(40)
    rgb = np.repeat(x[..., None], 3, axis=-1)  # N×H×W×3 uint8
    chw = torch.from_numpy(rgb).permute(0, 3, 1, 2).float() / 255  # N×3×H×W in [0, 1]
    a = load_source(DataConfig(name=register_arrays(rgb, y))).sets["train"]
    b = load_source(DataConfig(name=register_arrays(chw, torch.from_numpy(y)))).sets["train"]
    assert b.x.dtype == np.uint8 and b.x.shape == (40, 8, 8, 3)
    np.testing.assert_array_equal(a.x, b.x)
    # floats in 0..255 are rounded; 2-D x is feature vectors (float32)
    c = load_source(DataConfig(name=register_arrays(rgb.astype(np.float64), y))).sets["train"]
    np.testing.assert_array_equal(a.x, c.x)
    feats = load_source(DataConfig(name=register_arrays(x.reshape(40, -1), y))).sets["train"]
    assert feats.x.dtype == np.float32 and feats.x.shape == (40, 64) and not feats.is_image
    # 16-bit images (uint16) are rescaled as predict and image folders rescale them, not refused
    deep = load_source(DataConfig(name=register_arrays(rgb.astype(np.uint16) * 257, y))).sets[
        "train"
    ]
    np.testing.assert_array_equal(a.x, deep.x)


GOOD_X, GOOD_Y = digits_like(10)


@pytest.mark.parametrize(
    "x, y, names, kw, match",
    [
        (GOOD_X[:, 0, 0], GOOD_Y, None, {}, r"x has shape \(10,\).*reshape\(-1, 1\)"),
        (GOOD_X, GOOD_Y[:9], None, {}, "x has 10 samples but y has 9 labels"),
        (GOOD_X, GOOD_Y + 0.5, None, {}, r"integer class labels, but y\[0\] = "),
        (GOOD_X, np.eye(4)[GOOD_Y], None, {}, r"y has shape \(10, 4\)"),
        (GOOD_X, GOOD_Y - 1, None, {}, "negative label -1"),
        (GOOD_X, np.array([*"abcdefghi", None], dtype=object), None, {}, "y mixes text labels"),
        (np.where(GOOD_X > 100, np.nan, 0.5), GOOD_Y, None, {}, "NaN or infinite"),
        ((GOOD_X - 128.0) / 64, GOOD_Y, None, {}, "before normalisation"),
        (GOOD_X.astype(np.int32) * 4, GOOD_Y, None, {}, "integer images with values in"),
        (np.zeros((10, 9, 9, 9), np.uint8), GOOD_Y, None, {}, "cannot tell the channel axis"),
        (np.zeros((10, 2, 2, 2, 2)), GOOD_Y, None, {}, "give one row per sample"),
        (GOOD_X[:0], GOOD_Y[:0], None, {}, "x holds no samples"),
        (GOOD_X, GOOD_Y, ["a", "b"], {}, "y holds label 3 but class_names has only 2 names"),
        (GOOD_X, GOOD_Y, ["a", "b", "a", "c"], {}, "class_names repeats 'a'"),
        (GOOD_X, GOOD_Y, "abcd", {}, "class_names must be a list"),
        (GOOD_X, GOOD_Y, None, {"name": "my data!"}, "name='my data!'"),
    ],
)
def test_bad_arrays_are_refused_with_the_culprit(x, y, names, kw, match):
    with pytest.raises(DataError, match=match):
        register_arrays(x, y, names, **kw)


def test_memory_data_cannot_be_reloaded_in_another_process(tmp_path, capsys, monkeypatch):
    x, y = digits_like()
    name = register_arrays(x, y, name="only-here")
    train(tiny_config(f"data.name={name}", "train.epochs=1"), tmp_path / "run", quiet=True)
    monkeypatch.setattr(memory, "_REGISTERED", {})  # what another Python process sees
    code, out = cli(capsys, "eval", tmp_path / "run")
    text = one_line(out)
    assert code == 2, out
    assert "data.name='memory:only-here'" in text and "not on disk" in text
    assert "register_arrays(x, y, name='only-here')" in text
    code, out = cli(capsys, "data", "info", "memory:never-registered")
    assert code == 2 and "another Python process" in one_line(out)


# ------------------------------------------------------------------------------- torch Datasets
class PairDataset(Dataset):
    def __init__(self, items, classes=None):
        self.items = items
        if classes is not None:
            self.classes = classes

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def test_dataset_of_pil_images_and_of_tensors():
    x, y = digits_like(20)
    pil = PairDataset([(Image.fromarray(a), int(b)) for a, b in zip(x, y)], ["a", "b", "c", "d"])
    xs, ys, names = arrays_from_dataset(pil)
    np.testing.assert_array_equal(xs, x[..., None])
    np.testing.assert_array_equal(ys, y)
    assert names == ["a", "b", "c", "d"]
    # what transforms.ToTensor() gives: float C×H×W in [0, 1], labels as 0-d tensors
    tensors = PairDataset(
        [(torch.from_numpy(a)[None].float() / 255, torch.tensor(b)) for a, b in zip(x, y)]
    )
    xt, yt, none = arrays_from_dataset(tensors)
    np.testing.assert_array_equal(xt, x[..., None])
    np.testing.assert_array_equal(yt, y)
    assert none is None
    splits = load_splits(DataConfig(name=register_arrays(xt, yt)), seed=0)
    assert len(splits.train) + len(splits.val) + len(splits.test) == 20


@pytest.mark.parametrize(
    "items, match",
    [
        ([], "the dataset is empty"),
        ([np.zeros((8, 8), np.uint8)], r"dataset\[0\] is a ndarray, not an \(image, label\) pair"),
        ([(np.zeros((8, 8)), 0), (np.zeros((9, 8)), 1)], r"dataset\[1\] has an image of shape"),
        ([(np.zeros((8, 8)), "cat")], r"dataset\[0\] has the label 'cat'"),
        ([(np.zeros((8, 8)), 0.5)], r"dataset\[0\] has the label 0.5"),
        ([("not an image", 0)], r"the image of dataset\[0\] must hold numbers"),
    ],
)
def test_bad_datasets_are_refused(items, match):
    with pytest.raises(DataError, match=match):
        arrays_from_dataset(PairDataset(items))


def test_not_a_dataset():
    with pytest.raises(DataError, match="not a torch Dataset"):
        arrays_from_dataset(42)


# ------------------------------------------------------------------------------------ CIFAR-100
@pytest.mark.parametrize("layout", ["folder", "tarball"])
def test_cifar100_fine_and_coarse_labels(tmp_path, layout):
    if layout == "folder":
        written = write_cifar100(tmp_path / "cifar-100-python", n=30)
    else:
        written = write_cifar100_tarball(tmp_path / "cifar-100-python.tar.gz", n=30)
    fine = load_source(cfg("cifar100", tmp_path))
    assert sorted(fine.sets) == ["test", "train"] and fine.class_names == CIFAR100_FINE
    np.testing.assert_array_equal(fine.sets["train"].x, written["train"][0])
    np.testing.assert_array_equal(fine.sets["train"].y, written["train"][1])
    coarse = load_source(cfg("cifar100", tmp_path, label_mode="coarse"))
    assert coarse.class_names == CIFAR100_COARSE
    np.testing.assert_array_equal(coarse.sets["test"].y, written["test"][2])
    splits = load_splits(cfg("cifar100", tmp_path, label_mode="coarse"), seed=0)
    assert splits.num_classes == 20 and (len(splits.train), len(splits.val)) == (27, 3)


def test_cifar100_missing_files_and_bad_files(tmp_path, monkeypatch):
    with pytest.raises(DataError) as e:
        load_source(cfg("cifar100", tmp_path))
    msg = one_line(str(e.value))
    assert "CIFAR-100 data not found" in msg and "missing train, test, meta" in msg
    assert cifar.URL_100 in msg and "data.download=true" in msg
    folder = tmp_path / "cifar-100-python"
    x, fine, _ = write_cifar100(folder)["test"]
    bad = fine.copy()
    bad[0] = 100
    (folder / "test").write_bytes(cifar100_pickle_bytes(x, bad, fine // 5))
    with pytest.raises(DataError, match=r"labels must lie in 0..99, found 100") as e:
        load_source(cfg("cifar100", tmp_path))
    assert "not a valid CIFAR-100 batch" in str(e.value)
    write_cifar100(folder)
    # a file as large as the official one must be the official one
    monkeypatch.setitem(cifar.MD5_100, "train", (1000, "0" * 32))
    with pytest.raises(DataError, match="official file's MD5 is 0{32}"):
        load_source(cfg("cifar100", tmp_path))


def test_cifar100_cli(tmp_path, capsys):
    write_cifar100(tmp_path / "cifar100" / "cifar-100-python", n=40)
    code, out = cli(
        capsys, "data", "info", "cifar100", "--set", f"data.root={tmp_path}",
        "--set", "data.download=false", "--set", "data.label_mode=coarse",
    )  # fmt: skip
    assert code == 0 and "20 classes" in one_line(out) and "coarse_19" in out, out
    (tmp_path / "cifar100" / "cifar-100-python" / "meta").write_bytes(b"\x80\x02}q\x00.")
    code, out = cli(capsys, "data", "info", "cifar100", "--set", f"data.root={tmp_path}")
    assert code == 2 and "not a valid CIFAR-100 meta" in one_line(out), out


# --------------------------------------------------------------------------- torchvision:<Class>
def test_torchvision_kmnist_reads_its_idx_files(tmp_path):
    written = write_kmnist(tmp_path, n_train=30, n_test=20)
    src = load_source(cfg("torchvision:KMNIST", tmp_path))
    assert src.name == "torchvision:KMNIST" and src.class_names[:3] == ["o", "ki", "su"]
    np.testing.assert_array_equal(src.sets["train"].x, written["train"][0][..., None])
    np.testing.assert_array_equal(src.sets["test"].y, written["test"][1])
    only_test = load_source(cfg("torchvision:KMNIST", tmp_path, use=["test"]))
    assert list(only_test.sets) == ["test"]


def test_torchvision_svhn_reads_its_mat_files(tmp_path):
    x, digits = write_svhn_mat(tmp_path / "svhn", "train", n=24)
    write_svhn_mat(tmp_path / "svhn", "test", n=12, seed=1)
    src = load_source(cfg("torchvision:SVHN", tmp_path))  # found in the sub-folder svhn/
    np.testing.assert_array_equal(src.sets["train"].x, x)  # C×H×W → H×W×C
    np.testing.assert_array_equal(src.sets["train"].y, digits)  # label 10 → digit 0
    assert len(src.sets["test"]) == 12 and src.class_names == [str(d) for d in range(10)]


def test_torchvision_cli_success_and_errors(tmp_path, capsys):
    write_kmnist(tmp_path / "k")
    base = ["--set", "data.download=false"]

    def info(name, root, *extra):
        return cli(capsys, "data", "info", name, "--set", f"data.root={root}", *base, *extra)

    code, out = info("torchvision:KMNIST", tmp_path / "k")
    assert code == 0 and "tsu" in out, out
    code, out = info("torchvision:KMNST", tmp_path / "k")
    assert code == 2 and "Did you mean torchvision:KMNIST" in one_line(out), out
    code, out = info("torchvision:kmnist", tmp_path / "k")
    assert code == 2 and "Did you mean torchvision:KMNIST" in one_line(out), out
    code, out = info("torchvision:SVHN", tmp_path / "empty")
    text = one_line(out)
    assert code == 2 and "torchvision:SVHN data not found" in text, out
    assert str(tmp_path / "empty") in text and "data.download=true" in text
    code, out = info("torchvision:EMNIST", tmp_path / "k")
    text = one_line(out)
    assert code == 2 and "needs split (one of byclass" in text and "data.options" in text, out
    code, out = info("torchvision:EMNIST", tmp_path / "k", "--set", "data.options.split=balanced")
    assert code == 2 and "torchvision:EMNIST data not found" in one_line(out), out
    code, out = info("torchvision:KMNIST", tmp_path / "k", "--set", "data.options.trian=1")
    assert code == 2 and "data.options.trian" in out and "did you mean" in one_line(out), out
    code, out = info("torchvision:SVHN", tmp_path / "k", "--set", "data.options.split=bogus")
    assert code == 2 and "Check data.options" in one_line(out), out


def test_torchvision_corrupt_files_exit_2(tmp_path, capsys):
    write_kmnist(tmp_path)
    images = tmp_path / "KMNIST" / "raw" / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:1000])
    code, out = cli(capsys, "data", "info", "torchvision:KMNIST", "--set", f"data.root={tmp_path}")
    text = one_line(out)
    assert code == 2 and "could not read its files" in text and "corrupt" in text, out
    write_svhn_mat(tmp_path, "train")
    mat = tmp_path / "train_32x32.mat"
    mat.write_bytes(mat.read_bytes()[:300])
    code, out = cli(capsys, "data", "info", "torchvision:SVHN", "--set", f"data.root={tmp_path}")
    assert code == 2 and "torchvision.datasets.SVHN could not read" in one_line(out), out


def test_torchvision_svhn_official_size_needs_official_md5(tmp_path, monkeypatch):
    from vislab.data.sources import torchvision_zoo

    write_svhn_mat(tmp_path, "train")
    size = (tmp_path / "train_32x32.mat").stat().st_size
    monkeypatch.setitem(torchvision_zoo.SVHN_SIZES, "train_32x32.mat", size)
    with pytest.raises(DataError, match="official file's MD5 is e26dedcc434d2e4c54c9b2d4a06d8373"):
        load_source(cfg("torchvision:SVHN", tmp_path, use=["train"]))


def test_unknown_dataset_lists_prefixes():
    with pytest.raises(ConfigError, match=r"torchvision:<name>") as e:
        load_source(DataConfig(name="cifar1000"))
    assert "Did you mean 'cifar100'" in str(e.value)
    with pytest.raises(ConfigError, match=r"'torchvision:' needs a name after the colon"):
        load_source(DataConfig(name="torchvision:"))


# ----------------------------------------------------------------------------- image folders
def folder_sets(root) -> dict[str, list[str]]:
    """Each set the folder source reads from ``root``: its size and class names."""
    data = load_source(cfg("folder", root, image_size=8))
    return {k: [len(v), *data.class_names] for k, v in data.sets.items()}


@pytest.mark.parametrize(
    "tops, culprits",
    [
        (["train", "test", "notes"], "split folders (test/, train/) with other folders (notes/)"),
        (["Train", "Test", "extra"], "split folders (Test/, Train/) with other folders (extra/)"),
        (["train", "cat"], "split folders (train/) with other folders (cat/)"),
    ],
)
def test_split_folders_beside_other_folders_are_refused(tmp_path, capsys, tops, culprits):
    root = tmp_path / "images"
    for top in tops:
        write_image_folder(root / top, classes=("cat", "dog"), per_class=1)
    with pytest.raises(DataError) as e:
        load_source(cfg("folder", root, image_size=8))
    text = one_line(str(e.value))
    assert f"data.root '{root}' mixes {culprits}" in text
    assert "one folder of images per class (DIR/cat/*.png" in text  # the two layouts vislab reads
    assert "split folders only, each holding the class folders (DIR/train/cat/*.png" in text
    # the command stops before training: exit 2 and the message
    sets = ["data.name=folder", f"data.root={root}", "data.image_size=8"]
    code, out = cli(
        capsys, "train", *[x for s in sets for x in ("--set", s)], "--out", tmp_path / "r"
    )
    assert code == 2 and culprits in one_line(out) and "Traceback" not in out, out


def test_split_folders_in_any_case_and_with_long_names(tmp_path):
    for top, n in (("Training", 2), ("Validation", 1), ("TEST", 1)):
        write_image_folder(tmp_path / "a" / top, classes=("cat", "dog"), per_class=n)
    assert folder_sets(tmp_path / "a") == {
        "train": [4, "cat", "dog"],
        "val": [2, "cat", "dog"],
        "test": [2, "cat", "dog"],
    }
    write_image_folder(tmp_path / "b" / "train", classes=("cat", "dog"), per_class=1)
    write_image_folder(tmp_path / "b" / "valid", classes=("cat",), per_class=1)
    assert folder_sets(tmp_path / "b") == {"train": [2, "cat", "dog"], "val": [1, "cat", "dog"]}
    # two folders for one split, a test/ without train/: refused, named
    write_image_folder(tmp_path / "b" / "val", classes=("dog",), per_class=1)
    with pytest.raises(DataError, match=r"'.*b/val' and '.*b/valid' both hold the val split"):
        load_source(cfg("folder", tmp_path / "b"))
    write_image_folder(tmp_path / "c" / "test", classes=("cat",), per_class=1)
    with pytest.raises(DataError, match=r"has split folders \(test/\) but no train/"):
        load_source(cfg("folder", tmp_path / "c"))


def test_a_class_named_like_a_split_is_still_a_class(tmp_path):
    """CIFAR-100 has a class 'train': a folder of its images (no sub-folders) is a class folder."""
    write_image_folder(tmp_path, classes=("bus", "train", "Test"), per_class=1)
    assert folder_sets(tmp_path) == {"train": [3, "Test", "bus", "train"]}


def test_every_undecodable_image_is_named_in_one_error(tmp_path, capsys):
    files = write_image_folder(tmp_path, classes=("cat", "dog"), per_class=2)
    bad = [tmp_path / c / f"broken_{i:02d}.png" for c in ("cat", "dog") for i in range(6)]
    for path in bad:
        path.write_bytes(b"\x89PNG not really")
    files["cat"][1].write_bytes(files["cat"][1].read_bytes()[:40])  # a JPEG cut short
    with pytest.raises(DataError) as e:
        load_source(cfg("folder", tmp_path, image_size=8))
    text = str(e.value)
    assert text.startswith("13 image file(s) cannot be decoded:")
    named = [p for p in [files["cat"][1], *bad] if f"{p} (" in text]
    assert len(named) == 10 and "... and 3 more" in text  # the first ten, the rest counted
    assert f"{bad[0]} (is not a readable image (UnidentifiedImageError)" in text
    assert "Delete or replace them" in text
    code, out = cli(capsys, "data", "info", "folder", "--set", f"data.root={tmp_path}")
    assert code == 2 and "13 image file(s) cannot be decoded" in out and "Traceback" not in out


def test_eval_on_other_folders_matches_classes_by_name(tmp_path, capsys):
    """A model trained on cat/dog/frog, scored on a folder of frog and cat only: its labels are the
    model's classes by name (by position, frog would count as dog); unknown class names are refused."""
    from vislab.predict import score_split

    write_image_folder(tmp_path / "own", classes=("cat", "dog", "frog"), per_class=10)
    run = tmp_path / "run"
    sets = [
        "data.name=folder",
        f"data.root={tmp_path / 'own'}",
        "data.image_size=8",
        "train.epochs=1",
    ]
    train(tiny_config(*sets, "train.batch_size=8"), run, quiet=True)
    other = tmp_path / "other"
    for c in ("cat", "frog"):  # the same images: the same predictions as on the run's own data
        shutil.copytree(tmp_path / "own" / c, other / c)
    sets = [f"data.root={other}", "data.val_fraction=0.01", "data.test_fraction=0.01"]
    scored = score_split(run, "train", sets)
    assert scored.class_names == ["cat", "dog", "frog"] and set(scored.data.y) == {0, 2}
    assert np.isnan(scored.metrics.per_class[1])  # no dog here: not scored, not counted in pacc
    code, out = cli(
        capsys, "eval", run, "--split", "train", *[a for s in sets for a in ("--set", s)]
    )
    assert code == 0 and "n=18" in out, out
    shutil.move(other / "frog", other / "toad")
    code, out = cli(capsys, "eval", run, "--set", f"data.root={other}")
    assert code == 2 and "not trained on: 'toad'" in one_line(out), out
