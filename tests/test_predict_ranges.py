"""Run.predict on float images of 0..16 (scikit-learn's load_digits().images): read as 0-255 values they
are near-black, and every prediction was the same class without a word; now a Note says what to give
(32- and 64-bit integer arrays too)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits

import vislab
from vislab.errors import Note


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ranges") / "mlp"
    return vislab.train(model="mlp", data="digits", out=out, train__epochs=1, train__figures=False)


def test_float_images_of_0_to_16_are_noted_with_the_scale_to_give(digits_run):
    raw = load_digits().images[:6]  # float64, 0..16
    with pytest.warns(Note, match=r"span 0\.\.16: .* give x \* 255 / 16"):
        digits_run.predict(raw)
    with pytest.warns(Note, match="span 0..16"):  # in a list of single images too
        digits_run.predict(list(raw[:2]))


@pytest.mark.parametrize("dtype", [np.int64, np.int32])
def test_integer_images_of_0_to_16_are_noted_too(digits_run, dtype):
    """load_digits().images.astype(int): read as 0-255 pixel values too, near-black."""
    with pytest.warns(Note, match=rf"\({np.dtype(dtype)}\) span 0\.\.16: .* give x \* 255 / 16"):
        digits_run.predict(load_digits().images[:4].astype(dtype))


@pytest.mark.parametrize(
    "scale", [lambda x: x * 255 / 16, lambda x: x / 16, lambda x: (x * 255 / 16).astype(np.uint8)]
)
def test_images_on_the_scales_vislab_reads_are_not_noted(digits_run, scale):
    with warnings.catch_warnings():
        warnings.simplefilter("error", Note)
        digits_run.predict(scale(load_digits().images[:3]))
