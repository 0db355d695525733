"""Normalisation statistics are fitted on train only and reused everywhere else."""

import numpy as np
import pytest
import torch

from vislab.config import DataConfig
from vislab.data import prepare_data
from vislab.data.preprocess import NormStats, apply_stats, fit_stats
from vislab.data.sources import register_source, unregister_source
from vislab.data.types import ArraySet, SourceData


@pytest.fixture
def toy_source():
    """A registered source whose test set is wildly different from train (to expose any leak)."""
    rng = np.random.default_rng(0)
    calls = {}

    def load(cfg):
        train = rng.integers(0, 50, (60, 6, 6, 3), dtype=np.uint8)
        test = rng.integers(200, 256, (20, 6, 6, 3), dtype=np.uint8)
        calls["n"] = calls.get("n", 0) + 1
        return SourceData(
            {
                "train": ArraySet(train, np.arange(60) % 3),
                "test": ArraySet(test, np.arange(20) % 3),
            },
            ["a", "b", "c"],
        )

    register_source("toy")(load)
    yield load
    unregister_source("toy")


@pytest.mark.parametrize("mode", ["standard", "zca"])
def test_stats_fitted_on_train_only(toy_source, mode):
    cfg = DataConfig(name="toy", normalize=mode)
    splits, stats = prepare_data(cfg, seed=0)
    expected = fit_stats(splits.train.x, mode, cfg.zca_epsilon)
    for k, v in expected.to_dict().items():
        if isinstance(v, torch.Tensor):
            assert torch.allclose(getattr(stats, k), v), k
    # changing val/test leaves the statistics untouched
    splits.val.x[:] = 255
    splits.test.x[:] = 255
    again = fit_stats(splits.train.x, mode, cfg.zca_epsilon)
    fitted = {k: v for k, v in stats.to_dict().items() if isinstance(v, torch.Tensor)}
    assert all(torch.equal(getattr(again, k), v) for k, v in fitted.items())


def test_imagenet_statistics_are_fixed_not_fitted(toy_source):
    splits, stats = prepare_data(DataConfig(name="toy", normalize="imagenet"), seed=0)
    assert stats.mean.tolist() == pytest.approx([0.485, 0.456, 0.406])
    assert stats.std.tolist() == pytest.approx([0.229, 0.224, 0.225])
    # ImageNet's mean colour maps to 0, one ImageNet std above it to 1, whatever the train split holds
    pixel = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    assert apply_stats(pixel, stats).abs().max() < 1e-6
    assert (
        apply_stats(pixel + torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), stats)
        .sub(1)
        .abs()
        .max()
        < 1e-5
    )
    grey = fit_stats(np.zeros((4, 5, 5, 1), np.uint8), "imagenet")
    assert grey.mean.tolist() == pytest.approx([0.449])
    assert grey.std.tolist() == pytest.approx([0.226])


def test_given_stats_are_reused_not_refitted(toy_source):
    cfg = DataConfig(name="toy", normalize="standard")
    _, stats = prepare_data(cfg, seed=0)
    fake = NormStats("standard", torch.full((3,), 0.5), torch.full((3,), 2.0))
    _, reused = prepare_data(cfg, seed=0, stats=fake)
    assert reused is fake and not torch.equal(stats.mean, fake.mean)


def test_standard_gives_zero_mean_unit_std_on_train():
    x = np.random.default_rng(1).integers(0, 256, (200, 5, 5, 3), dtype=np.uint8)
    stats = fit_stats(x, "standard")
    t = torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255
    z = apply_stats(t, stats)
    assert z.mean(dim=(0, 2, 3)).abs().max() < 1e-4
    assert (z.std(dim=(0, 2, 3)) - 1).abs().max() < 1e-3


def test_zca_whitens_train_covariance():
    rng = np.random.default_rng(2)
    base = rng.normal(size=(2000, 1, 1, 1))
    x = np.clip(128 + 40 * base + rng.normal(scale=10, size=(2000, 2, 2, 3)), 0, 255).astype(
        np.uint8
    )
    stats = fit_stats(x, "zca", epsilon=1e-5)
    t = torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255
    z = apply_stats(t, stats).reshape(2000, -1).double()
    cov = z.T @ z / len(z)
    assert torch.allclose(cov, torch.eye(12, dtype=torch.float64), atol=0.05)
    assert stats.W.shape == (12, 12)


def test_features_standardised_per_dimension():
    x = np.random.default_rng(3).normal(5, 3, size=(500, 2)).astype(np.float32)
    stats = fit_stats(x, "standard")
    z = apply_stats(torch.from_numpy(x), stats)
    assert z.mean(0).abs().max() < 1e-4 and ((z.std(0) - 1).abs().max() < 1e-3)
