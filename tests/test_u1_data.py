"""Defects a student's session found in data handling: float image arrays spanning 0..2 read one way by
training and another by predict; ``eval --split all`` on a small image folder; a moved data folder's
suggestion; counts in words."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import vislab
from fixtures import write_image_folder, write_pngs
from vislab.config import DataConfig
from vislab.data import load_splits
from vislab.errors import ConfigError, Note


def _offset_images(n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """Float32 N×1×6×6 images in 0..2 (class 0 in 0..1; classes 1 and 2 lifted by 1 in one half)."""
    rng = np.random.default_rng(0)
    x, y = rng.random((n, 1, 6, 6)).astype("float32"), np.arange(n) % 3
    x[y == 1, :, :3] += 1
    x[y == 2, :, 3:] += 1
    return x, y


def test_float_images_past_1_are_noted_in_training_and_predicted_as_trained(tmp_path):
    """Training rounds an array of floats in 0..2 as a whole (0, 1, 2: near-black) and now says so, as
    predict does; predict on the same array gives the pixels training saw — before, each image of it
    was scaled alone, so those within 0..1 were multiplied by 255."""
    x, y = _offset_images()
    with pytest.warns(Note, match=r"\(float32\) span .*: vislab reads numbers above 1 as 0-255"):
        run = vislab.train(
            model="mlp", data=(x, y), out=tmp_path / "run", train__epochs=1, train__figures=False
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Note)
        given = run.predict(x, top_k=3)
        seen = run.predict(np.rint(x).astype(np.uint8), top_k=3)  # the pixels training read
    assert given == seen


@pytest.mark.parametrize(
    ("classes", "said"),
    [(("cat", "dog"), "its 2 training samples"), (("cat",), "its 1 training sample ")],
)
def test_a_folder_too_small_to_split_asks_for_images_not_for_the_fractions_in_use(
    tmp_path, classes, said
):
    """Two images (or one) cannot give test, val and train one each, whatever the fractions: the
    message said "Lower data.test_fraction ..., e.g. --set data.test_fraction=0.1", the value in use."""
    for i, name in enumerate(classes):
        write_pngs(tmp_path / name, 1, 60 * i)
    with pytest.raises(ConfigError) as e:
        load_splits(DataConfig(name="folder", root=str(tmp_path)), seed=0, channels=1)  # as eval
    message = str(e.value)
    assert said in message and "too few to carve test and val from" in message, message
    assert "3 samples at least" in message and "vislab predict" in message
    assert "vislab eval RUN --split all --set data.root=DIR" in message  # what scores them whole
    assert "--set data.test_fraction=0.1" not in message


def test_a_moved_folder_is_suggested_where_it_went(tmp_path):
    """data.root 'imgs' renamed 'imgs_moved', beside another folder 'newimgs': both are suggested, the
    one holding its name first — before, only 'newimgs' (difflib's closer name), other images."""
    for folder in ("imgs_moved", "newimgs"):
        write_pngs(tmp_path / folder / "cat", 1, 60)
    with pytest.raises(vislab.errors.DataError) as e:
        load_splits(DataConfig(name="folder", root=str(tmp_path / "imgs")), seed=0)
    moved, other = repr(str(tmp_path / "imgs_moved")), repr(str(tmp_path / "newimgs"))
    assert f"is not a folder. Did you mean {moved} or {other}?" in str(e.value), str(e.value)


def test_eval_all_scores_a_folder_too_small_to_split(tmp_path):
    """`--split all` scores every image: two images (one per class), or one of one class, are scored
    whole — before, drawing the run's splits refused them as too few to carve test and val from."""
    root = tmp_path / "imgs"
    write_image_folder(root, classes=["cat", "dog"], per_class=12)
    run = vislab.train(
        model="mlp", data="folder", data__root=str(root), data__image_size=8, train__epochs=1,
        train__batch_size=8, train__figures=False, out=tmp_path / "run",
    )  # fmt: skip
    for name, classes in (("two", ("cat", "dog")), ("one", ("cat",))):
        for i, c in enumerate(classes):
            write_pngs(tmp_path / name / c, 1, 80 * i)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Note)
            scores = run.evaluate("all", data__root=str(tmp_path / name))
        assert scores["n"] == len(classes), scores
