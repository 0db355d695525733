"""What augmentation, mixing, test-time augmentation and AUC promise a user, pinned where a change could
break it unseen (M5): an op's own ``p`` is the share of samples it touches, ``augment.p`` gates crop/flip
too, scoring the train split sees the plain images, mixes differ per epoch, cutmix boxes sit on their
centre, flip-translate averages all six reflected views, augmented pixels stay in [0, 1], and a class
absent from a split leaves the AUC defined."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn

from vislab.config import AugmentConfig
from vislab.data.augment import build_augment
from vislab.data.loader import DeviceLoader
from vislab.data.mix import CUTMIX, build_mix
from vislab.data.preprocess import fit_stats
from vislab.data.tta import TTA
from vislab.data.types import ArraySet
from vislab.training.metrics import compute_metrics


def augment(sample_shape=(3, 8, 8), **sections):
    return build_augment(AugmentConfig.model_validate(sections), sample_shape)


def noise_images(n: int, side: int = 8, c: int = 3, seed: int = 0) -> ArraySet:
    rng = np.random.default_rng(seed)
    return ArraySet(rng.integers(0, 256, (n, side, side, c), dtype=np.uint8), np.arange(n) % 4)


def changed(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    return (after - before).flatten(1).abs().amax(1) > 1e-6


def test_resized_crop_p_is_the_share_of_samples_it_crops():
    """resized_crop.p=0.2 crops about a fifth of the samples (not four fifths)."""
    aug = augment(resized_crop={"p": 0.2})
    x = torch.rand(1000, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(1)
    share = float(changed(x, aug(x)).float().mean())
    assert 0.1 < share < 0.3, f"resized_crop.p=0.2 changed {share:.0%} of the samples"


def test_augment_p_gates_crop_and_flip_samples_too():
    """augment.p=0.3 with crop and flip always on: about 70 % of a batch is the plain images."""
    data = noise_images(400)
    stats = fit_stats(data.x, "none")
    aug = augment(p=0.3, crop={"p": 1.0}, hflip={"p": 1.0})
    torch.manual_seed(0)
    ((x_aug, _),) = DeviceLoader(data, stats, 400, augment=aug).epoch(0)
    ((x_plain, _),) = DeviceLoader(data, stats, 400).epoch(0)
    same = float((~changed(x_plain, x_aug)).float().mean())
    assert 0.6 < same < 0.8, f"{same:.0%} of the batch left plain with augment.p=0.3"


def test_scoring_the_train_split_sees_the_plain_normalised_images():
    """The unaugmented view of a loader with random crop and flip gives exactly the plain images."""
    data = noise_images(40)
    stats = fit_stats(data.x, "standard")
    aug = augment(crop={"p": 1.0}, hflip={"p": 1.0})
    train = DeviceLoader(data, stats, 8, shuffle=True, augment=aug, seed=2)
    torch.manual_seed(0)
    scored = torch.cat([x for x, _ in train.unaugmented(16).epoch(0)])
    plain = torch.cat([x for x, _ in DeviceLoader(data, stats, 16).epoch(0)])
    assert torch.equal(scored, plain)


def test_auc_is_defined_when_a_class_is_absent_from_the_split():
    """Three classes, none of class 2 in the split: the AUC averages classes 0 and 1, no ROC for 2."""
    g = torch.Generator().manual_seed(0)
    labels = torch.tensor([0, 1] * 10)
    logits = torch.randn(20, 3, generator=g) + 2 * nn.functional.one_hot(labels, 3)
    m = compute_metrics(logits, labels, 3, with_roc=True)
    assert m.auc is not None and math.isfinite(m.auc) and 0.5 < m.auc <= 1
    assert sorted(m.roc) == [0, 1]


def test_cutmix_pastes_a_different_box_each_epoch():
    """The same images in the same order are cut and mixed differently in epochs 0 and 1."""
    data = noise_images(32)
    stats = fit_stats(data.x, "none")
    mix = build_mix(AugmentConfig.model_validate({"cutmix": {"p": 1.0}}), (3, 8, 8), 4)
    ld = DeviceLoader(data, stats, 32, mix=mix, seed=5)
    ((x0, y0),) = ld.epoch(0)
    ((x1, y1),) = ld.epoch(1)
    assert not torch.equal(x0, x1) and not torch.equal(y0, y1)
    ((again, _),) = ld.epoch(0)
    assert torch.equal(x0, again)  # the same epoch: the same mixes


def test_cutmix_box_is_centred_on_its_drawn_point():
    """λ = 0.84 on 10×10 images: a 4×4 box (√0.16 · 10) centred at (5, 5) covers rows and columns 3-6,
    and the first image keeps 84 % of its own label (Yun et al. 2019)."""
    mix = build_mix(AugmentConfig.model_validate({"cutmix": {"p": 1.0}}), (1, 10, 10), 2)
    x = torch.stack([torch.zeros(1, 10, 10), torch.ones(1, 10, 10)])
    draws = torch.tensor([[CUTMIX, 0.84, 0.5, 0.5], [0.0, 1.0, 0.5, 0.5]])
    out, targets, lam = mix.mix(x, torch.tensor([0, 1]), draws)
    rows, cols = out[0, 0].nonzero().unbind(1)
    assert sorted(set(rows.tolist())) == [3, 4, 5, 6]
    assert sorted(set(cols.tolist())) == [3, 4, 5, 6]
    assert len(rows) == 16
    assert torch.allclose(targets[0], torch.tensor([0.84, 0.16]))


def _reflect_shift(x: torch.Tensor, d: int) -> torch.Tensor:
    """x moved by d ∈ {−1, 1} pixels down-right, the border row/column reflected (hand-built)."""
    h = x.shape[-1]
    idx = [1, *range(h - 1)] if d == 1 else [*range(1, h), h - 2]
    return x[..., idx, :][..., idx]


def test_flip_translate_averages_all_six_reflected_views():
    """flip-translate's logits are the mean over the image, its mirror, and each shifted one pixel
    up-left and down-right with reflected borders."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(2 * 6 * 6, 5))
    x = torch.rand(3, 2, 6, 6)
    views = [x, x.flip(-1)]
    views += [_reflect_shift(v, d) for v in (x, x.flip(-1)) for d in (-1, 1)]
    want = torch.stack([model(v) for v in views]).mean(0)
    with torch.no_grad():
        assert torch.allclose(TTA(model, "flip-translate")(x), want, atol=1e-6)


def test_augmented_black_and_white_images_stay_in_range():
    """Blur and rotation of black-and-white images (sums of 0s and 1s, which float rounding can carry a
    hair past 1) and strong colour jitter: every augmented pixel stays in [0, 1]."""
    aug = augment(
        blur={"p": 1.0},
        rotation={"p": 1.0, "degrees": 45},
        color_jitter={"p": 1.0, "brightness": 0.9, "contrast": 0.9},
    )
    x = (torch.rand(500, 3, 8, 8, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    torch.manual_seed(0)
    y = aug(x)
    assert changed(x, y).float().mean() > 0.9
    assert float(y.min()) >= 0 and float(y.max()) <= 1
