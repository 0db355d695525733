"""The data pipeline's numbers: the sample `fast`'s whitening is fitted on, splits that leave classes
without training images, the ZCA preview's crops, the decoded cache's own entries."""

from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np
import torch

from conftest import cli, one_line
from vislab.config import load_config
from vislab.data import load_splits, prepare_data
from vislab.data.cache import keyed_arrays
from vislab.data.loader import DeviceLoader
from vislab.data.preprocess import apply_stats, fit_stats
from vislab.data.types import ArraySet
from vislab.plotting.images import signed_to_display
from vislab.training.parts import init_from_data


# ------------------------------------------------------------------ whitening sample (init_from_data)
def _sorted_by_class(per_class: int, classes: int) -> ArraySet:
    """1×2×2 images whose every pixel is their class, sorted by class (as image folders are)."""
    y = np.repeat(np.arange(classes), per_class)
    x = np.broadcast_to(y[:, None, None, None], (len(y), 2, 2, 1)).astype(np.uint8)
    return ArraySet(np.ascontiguousarray(x), y)


def _fitted_on(data: ArraySet, seed: int) -> np.ndarray:
    """The classes of the images `init_from_data` hands the model's hook."""
    seen = []
    hooks = SimpleNamespace(init_from_data=lambda x: seen.append(x))
    loader = DeviceLoader(data, fit_stats(data.x, "none"), 64, seed=seed)
    init_from_data(SimpleNamespace(hooks=hooks), loader)  # type: ignore[arg-type]
    return (seen[0][:, 0, 0, 0] * 255).round().long().numpy()


def test_whitening_sample_spans_the_classes_in_proportion():
    data = _sorted_by_class(5_000, 3)  # 15,000: the first 10,000 would hold no class 2
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()[1].copy()
    classes = _fitted_on(data, seed=0)
    counts = np.bincount(classes, minlength=3)
    assert len(classes) == 10_000 and (abs(counts - 10_000 / 3) < 200).all(), counts
    # the run's seed draws it, by a generator of its own: resume's global streams are untouched
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert (np.random.get_state()[1] == np_state).all()
    np.testing.assert_array_equal(_fitted_on(data, seed=0), classes)
    small = _sorted_by_class(100, 3)  # up to 10,000 images: all of them, in order
    np.testing.assert_array_equal(_fitted_on(small, seed=0), small.y)


# ------------------------------------------------------------------ classes without training images
def test_split_sizes_leaving_classes_without_training_images_name_them(capsys):
    cfg = load_config(None, ["data.name=digits", "data.split=[5,100,100]"])
    train_y = load_splits(cfg.data, cfg.train.seed).train.y
    empty = [str(k) for k in range(10) if k not in train_y]
    assert len(empty) == 5
    code, out = cli(capsys, "data", "info", "digits", "--set", "data.split=[5,100,100]")
    said = one_line(out)
    assert code == 0 and "note: the splits leave 5 classes with no training images:" in said, out
    assert ", ".join(repr(c) for c in empty) in said
    assert "--set data.split=[100,100,100]" in said, said


def test_a_large_val_fraction_names_a_few_classes_and_how_many_more(capsys):
    code, out = cli(capsys, "data", "info", "digits", "--set", "data.val_fraction=0.999")
    said = one_line(out)
    assert code == 0 and "note: the splits leave 8 classes with no training images" in said, out
    assert "and 3 more (train holds 2)" in said and "lower data.val_fraction (now 0.999)" in said
    code, out = cli(capsys, "data", "info", "digits")
    assert code == 0 and "note" not in out, out  # every class trained: nothing to say


# ------------------------------------------------------------------ ZCA preview of cropped inputs
def test_zca_preview_shows_the_centre_crops_training_whitens(capsys, tmp_path, grid_rows):
    sets = ["data.resize=16", "data.normalize=zca", "augment.crop.size=12"]
    args = [a for s in sets for a in ("--set", s)]
    out_png = tmp_path / "p.png"
    code, out = cli(
        capsys, "data", "preview", "digits", *args, "--show", "normalized", "--out", out_png
    )
    assert code == 0 and out_png.is_file(), out
    originals, shown = grid_rows["rows"]
    assert originals.shape[1:3] == (12, 12) and shown.shape[1:3] == (12, 12)
    assert "centre 12×12 crops" in grid_rows["titles"][0]
    assert "fitted on train's centre 12×12 crops" in grid_rows["titles"][1]
    # exactly what training feeds: W fitted on the 12×12 centre crops, applied to them
    cfg = load_config(None, ["data.name=digits", *sets])
    splits, stats = prepare_data(cfg.data, cfg.train.seed, crop_size=12)
    x = torch.from_numpy(originals).permute(0, 3, 1, 2).float().div(255)
    expected = signed_to_display(apply_stats(x, stats).permute(0, 2, 3, 1).numpy())
    np.testing.assert_array_equal(shown, expected)
    whole = splits.train.x[:1, 2:14, 2:14]  # the preview's first image is train's first
    np.testing.assert_array_equal(originals[:1], whole)


# ------------------------------------------------------------------ decoded cache's own entries
def test_a_replaced_cache_array_is_decoded_again(tmp_path, monkeypatch):
    monkeypatch.setenv("VISLAB_CACHE_DIR", str(tmp_path))
    decoded = []

    def decode():
        decoded.append(1)
        return {"x": np.arange(6)}

    def read():
        return keyed_arrays("src", ["a", 1], decode, lambda arrays: None)["x"]

    np.testing.assert_array_equal(read(), np.arange(6))
    np.testing.assert_array_equal(read(), np.arange(6))
    assert len(decoded) == 1  # read back from the cache
    (npy,) = tmp_path.glob("src-*.x.npy")
    before = npy.stat().st_mtime_ns
    with open(npy, "wb") as f:
        np.save(f, np.zeros(6, dtype=np.arange(6).dtype))  # same shape, same size
    os.utime(npy, ns=(before + 10**9, before + 10**9))
    np.testing.assert_array_equal(read(), np.arange(6))  # not the replaced zeros
    assert len(decoded) == 2
