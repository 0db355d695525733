"""Session 23, group F1 (data inputs): what a user giving their own data, images or a preview sees — a
Dataset with random transforms, fractions that a source's own sets make idle, a pixel just past 1, a
single class, a huge image to predict, and the titles of an augmentation preview."""

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

import vislab
from conftest import TINY_RUN, cli, one_line
from vislab.data.images import low_range
from vislab.errors import DataError, Note


def _digits(n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # heavy: only the tests that use it

    d = load_digits()
    return d.images[:n].astype(np.float32) / 16, d.target[:n]


class _Shifted(torch.utils.data.Dataset):
    """8×8 digits as tensors, each shifted by a random roll when ``random`` (a RandomCrop stand-in)."""

    def __init__(self, random: bool):
        self.x, self.y = _digits(64)
        self.random = random

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        img = torch.from_numpy(self.x[i])[None]
        if self.random:
            img = img.roll(int(torch.randint(1, 3, ())), dims=-1)
        return img, int(self.y[i])


def _notes(fn) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return [one_line(str(w.message)) for w in caught if issubclass(w.category, Note)]


# ------------------------------------------------------------------ 1: a Dataset with random transforms
def test_a_dataset_with_random_transforms_is_noted_with_vislabs_augmentation_as_the_fix():
    said = _notes(lambda: vislab.register_arrays(_Shifted(random=True)))
    (note,) = [n for n in said if "read again" in n]
    assert "its transforms are random" in note and "the same in every epoch" in note
    assert "val and test images are drawn at random too" in note
    assert "augment__crop__p=0.5, augment__hflip__p=0.5" in note
    assert "--set augment.crop.p=0.5 --set augment.hflip.p=0.5" in note


def test_a_dataset_with_fixed_transforms_gets_no_such_note():
    assert not [
        n
        for n in _notes(lambda: vislab.register_arrays(_Shifted(random=False)))
        if "read again" in n
    ]


# --------------------------------------------------------- 2: fractions of a split the source gives itself
@pytest.mark.parametrize("split", ["test", "val"])
def test_a_fraction_of_a_split_given_as_arrays_is_noted_as_doing_nothing(tmp_path, split):
    x, y = _digits(300)
    data = {"train": (x[:200], y[:200]), split: (x[200:], y[200:])}
    settings = {**TINY_RUN, f"data__{split}_fraction": 0.3}
    said = _notes(lambda: vislab.train(data=data, out=tmp_path / "run", quiet=True, **settings))
    (note,) = [n for n in said if f"data.{split}_fraction=0.3 does nothing" in n]
    assert f"on a source with its own {split} set" in note
    fix = "data.use=[train] / data__use=['train']" if split == "test" else "data.official_val=false"
    assert fix in note


def test_arrays_without_their_own_test_set_carve_it_silently(tmp_path):
    x, y = _digits(300)
    settings = {**TINY_RUN, "data__test_fraction": 0.3}
    said = _notes(lambda: vislab.train(data=(x, y), out=tmp_path / "run", quiet=True, **settings))
    assert not [n for n in said if "does nothing" in n], said


# ------------------------------------------------------------------------- 3: a pixel a little past 1
def test_a_float_pixel_just_past_1_is_advised_a_clip_not_a_rescale_by_16():
    x, _ = _digits()
    x[0, 3, 3] = 1.03
    why = one_line(low_range(x))
    assert "np.clip(x, 0, 1)" in why and "1 of their 12,800 values is above 1" in why
    assert "255 / 16" not in why


def test_images_in_0_to_16_are_still_advised_the_rescale_by_16():
    x, _ = _digits()
    why = one_line(low_range(x * 16))
    assert "x * 255 / 16" in why and "np.clip" not in why


# -------------------------------------------------------------------------------- 4: a single class
def test_arrays_of_a_single_class_are_refused_before_training(tmp_path):
    with pytest.raises(DataError) as e:
        vislab.train(
            data=(np.random.rand(50, 4), np.zeros(50, int)), out=tmp_path / "run", **TINY_RUN
        )
    said = one_line(str(e.value))
    assert "a single class, 0 (all 50 samples)" in said
    assert "a classifier needs at least two classes" in said
    assert not (tmp_path / "run").exists()


def test_a_dataset_of_a_single_class_is_refused():
    class One(torch.utils.data.Dataset):
        def __len__(self):
            return 10

        def __getitem__(self, i):
            return torch.zeros(1, 4, 4), 3

    with pytest.raises(DataError, match="single class, 3 "):
        vislab.register_arrays(One())


# ------------------------------------------------------------------------------- 5: a very large image
def test_predict_notes_a_decompression_bomb_size_image_once(trained, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # a 40×40 image is "large" (cheap to make)
    Image.new("L", (40, 40), 128).save(tmp_path / "big.png")
    code, said = cli(capsys, "predict", trained, tmp_path / "big.png")
    assert code == 0, said
    assert one_line(said).count("past PIL's warning size for decompression bombs") == 1, said


# --------------------------------------------------------------------- 6: what an augmented row shows
def test_preview_titles_name_the_ops_each_image_got(capsys, tmp_path, grid_rows):
    sets = ("--set", "augment.rotation.p=0.5", "--set", "augment.hflip.p=0.5")
    code, said = cli(capsys, "data", "preview", "digits", *sets, "--copies", 1, "-n", 4,
                     "--out", tmp_path / "p.png")  # fmt: skip
    assert code == 0, said
    title = grid_rows["titles"][1]
    assert title.startswith("augmented #1, ops per image: "), title
    got = title.split(": ", 1)[1].split(", ")
    assert len(got) == 4 and set("+".join(got).replace("none", "").split("+")) <= {
        "",
        "rotation",
        "hflip",
    }
    original, row = grid_rows["rows"][0], grid_rows["rows"][1]
    for j, ops in enumerate(got):  # an image said to get nothing is its original
        assert (ops == "none") == np.array_equal(original[j], row[j]), (j, title)
