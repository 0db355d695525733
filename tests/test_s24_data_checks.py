"""Numbers a careful student checked in the data pipeline."""

import warnings

import numpy as np
import pytest

import vislab
from vislab.data.preprocess import fit_stats


def test_a_channel_constant_over_train_is_centred_not_blown_up():
    """Its std was clamped to 1e-6: a blue value of 1 at test time became 3921.6 after normalisation."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, size=(40, 8, 8, 3), dtype=np.uint8)
    x[..., 2] = 0  # blue: always 0 in train
    with pytest.warns(vislab.Note, match=r"channel 2 \(of 3, counted from 0\) is constant"):
        stats = fit_stats(x, "standard")
    assert float(stats.std[2]) == 1.0 and float(stats.std[0]) == pytest.approx(
        x[..., 0].std(ddof=1) / 255, rel=1e-4
    )


def test_a_feature_constant_over_train_is_centred_not_blown_up():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3)).astype(np.float32)
    x[:, 1] = 0.0
    with pytest.warns(vislab.Note, match=r"feature 1 \(of 3"):
        stats = fit_stats(x, "standard")
    assert float(stats.std[1]) == 1.0


def test_no_note_where_every_channel_varies():
    x = np.random.default_rng(0).integers(0, 255, size=(20, 4, 4, 3), dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", vislab.Note)
        fit_stats(x, "standard")
