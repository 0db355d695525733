"""Batched augmentation (per-sample randomness, gating) and the device loader."""

import numpy as np
import pytest
import torch

from vislab.config import AugmentConfig
from vislab.data.augment import RandomFlip, build_augment
from vislab.data.crop import RandomCropPad
from vislab.data.loader import DeviceLoader
from vislab.data.preprocess import NormStats
from vislab.data.types import ArraySet


def batch(n=64, c=3, h=12, w=12):
    torch.manual_seed(0)
    return torch.rand(n, c, h, w)


def test_crop_is_per_sample_and_a_translation():
    x = batch()
    torch.manual_seed(1)
    y = RandomCropPad(padding=2, p=1.0)(x)
    assert y.shape == x.shape
    # each output is the input shifted by some (dy, dx) in [-2, 2]², with zeros shifted in
    shifts = []
    for i in range(len(x)):
        xp = torch.nn.functional.pad(x[i], (2, 2, 2, 2))
        found = [
            (dy, dx)
            for dy in range(5)
            for dx in range(5)
            if torch.equal(xp[:, dy : dy + 12, dx : dx + 12], y[i])
        ]
        assert found, f"sample {i} is not a padded crop"
        shifts.append(found[0])
    assert len(set(shifts)) > 5, "the same crop was used for the whole batch"


def test_flip_is_per_sample_with_probability():
    x = batch(n=400)
    torch.manual_seed(2)
    y = RandomFlip(0.5)(x)
    flipped = torch.tensor([torch.equal(y[i], x[i].flip(-1)) for i in range(len(x))])
    same = torch.tensor([torch.equal(y[i], x[i]) for i in range(len(x))])
    assert bool((flipped | same).all())
    assert 140 < int(flipped.sum()) < 260


@pytest.mark.parametrize(
    "op", ["crop", "resized_crop", "hflip", "rotation", "affine", "color_jitter", "blur", "erasing"]
)
def test_every_op_changes_samples_differently(op):
    cfg = AugmentConfig.model_validate({op: {"p": 1.0}})
    aug = build_augment(cfg, (3, 16, 16))
    x = batch(n=16, h=16, w=16)
    torch.manual_seed(3)
    y = aug(x)
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
    changed = [(y[i] - x[i]).abs().max().item() > 1e-4 for i in range(len(x))]
    assert sum(changed) >= 8, f"{op} changed too few samples"
    diffs = (y - x).flatten(1)
    assert not torch.allclose(diffs[0], diffs[1]), (
        f"{op} applied the same transform to every sample"
    )


def test_global_p_gates_whole_samples():
    cfg = AugmentConfig.model_validate({"p": 0.3, "erasing": {"p": 1.0, "scale": [0.2, 0.3]}})
    aug = build_augment(cfg, (3, 16, 16))
    x = batch(n=500, h=16, w=16)
    torch.manual_seed(4)
    y = aug(x)
    touched = (y - x).flatten(1).abs().amax(1) > 0
    assert 100 < int(touched.sum()) < 200  # ≈ 30 % of 500


def test_grayscale_colour_jitter_and_nothing_on():
    assert build_augment(AugmentConfig(), (3, 8, 8)) is None
    # features
    assert build_augment(AugmentConfig.model_validate({"hflip": {"p": 1}}), (2,)) is None
    aug = build_augment(AugmentConfig.model_validate({"color_jitter": {"p": 1.0}}), (1, 8, 8))
    assert aug(torch.rand(4, 1, 8, 8)).shape == (4, 1, 8, 8)


def make_set(n=50):
    rng = np.random.default_rng(0)
    return ArraySet(rng.integers(0, 256, (n, 4, 4, 1), dtype=np.uint8), np.arange(n) % 5)


def test_loader_batches_cover_split_and_shuffle_is_seeded_per_epoch():
    data = make_set()
    stats = NormStats("none")
    ld = DeviceLoader(data, stats, batch_size=8, shuffle=True, drop_last=True, seed=1)
    assert len(ld) == 6
    e0 = torch.cat([y for _, y in ld.epoch(0)])
    assert len(e0) == 48
    again = torch.cat(
        [y for _, y in DeviceLoader(data, stats, 8, shuffle=True, drop_last=True, seed=1).epoch(0)]
    )
    assert torch.equal(e0, again)
    assert not torch.equal(ld.order(0), ld.order(1))
    ev = DeviceLoader(data, stats, batch_size=1000)
    xs, ys = zip(*ev.epoch(0))
    assert len(xs) == 1 and torch.equal(ys[0], torch.from_numpy(data.y))
    assert xs[0].shape == (50, 1, 4, 4) and xs[0].dtype == torch.float32 and xs[0].max() <= 1
    assert ld.x.dtype == torch.uint8  # the split is held as bytes


def test_loader_resumes_mid_epoch_with_the_same_batches():
    ld = DeviceLoader(make_set(), NormStats("none"), batch_size=8, shuffle=True, seed=3)
    full = [y for _, y in ld.epoch(2)]
    tail = [y for _, y in ld.epoch(2, start_step=3)]
    assert all(torch.equal(a, b) for a, b in zip(full[3:], tail))


def image_set(n=60):
    rng = np.random.default_rng(1)
    return ArraySet(rng.integers(0, 256, (n, 6, 6, 3), dtype=np.uint8), np.arange(n) % 5)


@pytest.mark.parametrize("stream", [False, True], ids=["resident", "streamed"])
def test_flipped_shard_resumes_mid_epoch_with_the_same_batches(stream):
    """A rank's epoch resumed at step k yields the batches k… of the whole epoch, images and their
    alternate-epoch flips included; the same seed gives the same batches in a fresh loader."""

    def loader():
        ld = DeviceLoader(image_set(), NormStats("none"), 4, shuffle=True, seed=7, rank=1, world=2)
        ld.alternate_flip, ld.stream = True, stream
        return ld

    ld = loader()
    for epoch in (0, 1):
        full = list(ld.epoch(epoch))
        tail = list(loader().epoch(epoch, start_step=2))
        assert len(full) == len(ld) == 8 and len(tail) == 6
        for (xa, ya), (xb, yb) in zip(full[2:], tail):
            assert torch.equal(xa, xb) and torch.equal(ya, yb)
    # epoch 0 mirrors the images `flips` names, epoch 1 exactly the others
    idx = ld.order(0)
    x = ld.x.index_select(0, idx).float() / 255
    seen = torch.cat([b for b, _ in ld.epoch(0)])
    mirrored = torch.tensor([torch.equal(seen[i], x[i].flip(-1)) for i in range(len(x))])
    assert 8 < int(mirrored.sum()) < 24  # about half of this rank's 30
    assert torch.equal(ld.flips(idx, 0), mirrored) and torch.equal(ld.flips(idx, 1), ~mirrored)


def test_loader_shards_disjointly_across_ranks():
    data = make_set(40)
    shards = [
        torch.cat(
            [
                y
                for _, y in DeviceLoader(
                    data, NormStats("none"), 4, shuffle=True, seed=0, rank=r, world=2
                ).epoch(5)
            ]
        )
        for r in (0, 1)
    ]
    order = [
        DeviceLoader(data, NormStats("none"), 4, shuffle=True, seed=0, rank=r, world=2).order(5)
        for r in (0, 1)
    ]
    assert len(set(order[0].tolist()) & set(order[1].tolist())) == 0
    assert len(shards[0]) == len(shards[1]) == 20
