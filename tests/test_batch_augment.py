"""Batch-level augmentation: mixup and cutmix (mixed labels, pasted areas, soft targets through the trainer,
exact mid-epoch resume), RandAugment / TrivialAugment / AutoAugment drawn per sample, top-5 accuracy, and the
config errors of their bad values."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from kornia.augmentation.auto import AutoAugment, RandAugment, TrivialAugment

import vislab.training.trainer as trainer_mod
from conftest import cli, one_line, tiny_config, tiny_sets
from test_cuda_sync import sync_debug
from test_resume import RESULT_KEYS, run_result, sigterm_at_step
from vislab.config import AugmentConfig, AutoAug, RandAug
from vislab.data.augment import (
    PerSampleChoice,
    Rounds,
    autoaugment,
    build_augment,
    randaugment,
    trivialaugment,
)
from vislab.data.augment_words import describe_augment
from vislab.data.loader import DeviceLoader
from vislab.data.mix import CUTMIX, MIXUP, build_mix
from vislab.data.preprocess import fit_stats
from vislab.data.types import ArraySet
from vislab.errors import TrainingInterrupted
from vislab.training.metrics import compute_metrics
from vislab.training.trainer import train


def mixer(k: int = 10, **sections):
    return build_mix(AugmentConfig.model_validate(sections), (3, 32, 32), k)


def noise(n: int = 64, c: int = 3, side: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, c, side, side, generator=torch.Generator().manual_seed(seed))


def one_hot(y: torch.Tensor, k: int = 10) -> torch.Tensor:
    return torch.eye(k)[y]


# ------------------------------------------------------------------------------- mixup / cutmix
def test_mixup_mixes_images_and_labels_by_the_same_lambda():
    mix = mixer(mixup={"p": 1.0, "alpha": 0.4})
    x, y = noise(), torch.arange(64) % 10
    out, targets, lam = mix.mix(x, y, mix.draws(64, (0, 0, 0)))
    other = x.roll(1, 0)
    assert torch.allclose(targets.sum(1), torch.ones(64))
    l4 = lam.view(-1, 1, 1, 1)
    assert torch.allclose(out, l4 * x + (1 - l4) * other, atol=1e-6)
    want = lam[:, None] * one_hot(y) + (1 - lam[:, None]) * one_hot(y.roll(1))
    assert torch.allclose(targets, want, atol=1e-6)
    assert ((lam > 0) & (lam < 1)).all() and lam.unique().numel() == 64  # one λ per sample


def test_cutmix_pastes_the_area_its_lambda_reports():
    mix = mixer(cutmix={"p": 1.0, "alpha": 1.0})
    x, y = noise(), torch.arange(64) % 10
    draws = mix.draws(64, (0, 0, 0))
    out, targets, lam = mix.mix(x, y, draws)
    other = x.roll(1, 0)
    # pixels of the neighbour (noise: never equal to its own)
    pasted = (out == other).all(1) & (out != x).all(1)
    kept = (out == x).all(1)
    assert (pasted | kept).all()
    assert torch.allclose(pasted.float().mean((1, 2)), 1 - lam)
    assert torch.allclose(targets[torch.arange(64), y], lam)  # labels differ from the neighbour's
    for i in range(64):  # each pasted region is one rectangle
        rows, cols = pasted[i].any(1).nonzero(), pasted[i].any(0).nonzero()
        if len(rows):
            area = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
            assert int(pasted[i].sum()) == int(area)
    assert (draws[:, 0] == CUTMIX).all() and lam.unique().numel() > 20


def test_both_on_split_the_samples_and_p_leaves_the_others_untouched():
    mix = mixer(mixup={"p": 1.0}, cutmix={"p": 1.0})
    kinds = mix.draws(4000, (1, 2, 0))[:, 0]
    assert ((kinds == MIXUP) | (kinds == CUTMIX)).all()
    assert 0.45 < (kinds == CUTMIX).float().mean() < 0.55
    mix = mixer(mixup={"p": 0.3})
    x, y = noise(400, side=8), torch.arange(400) % 10
    out, targets, lam = mix.mix(x, y, mix.draws(400, (1, 2, 0)))
    untouched = lam == 1
    assert 0.6 < untouched.float().mean() < 0.8
    assert torch.equal(out[untouched], x[untouched])
    assert torch.equal(targets[untouched], one_hot(y)[untouched])


def test_draws_are_fixed_by_seed_epoch_and_rank():
    mix = mixer(mixup={"p": 0.5}, cutmix={"p": 0.5})
    assert torch.equal(mix.draws(50, (3, 1, 0)), mix.draws(50, (3, 1, 0)))
    assert not torch.equal(mix.draws(50, (3, 1, 0)), mix.draws(50, (3, 2, 0)))
    assert not torch.equal(mix.draws(50, (3, 1, 0)), mix.draws(50, (3, 1, 1)))


def test_label_smoothing_smooths_the_mixed_targets(tmp_path, monkeypatch):
    """Each training step's loss under train.label_smoothing=ε=0.2 and mixup is
    F.cross_entropy(logits, targets, label_smoothing=ε) on the mixed targets t:
    −Σ ((1 − ε)·t + ε/K) · log softmax(logits): smoothing and mixing compose."""
    steps, real = [], trainer_mod.train_step

    def spy(network, optim, x, y, *rest):
        loss, logits = real(network, optim, x, y, *rest)
        steps.append((loss.detach(), logits.detach().float(), y))
        return loss, logits

    monkeypatch.setattr(trainer_mod, "train_step", spy)
    over = ("train.label_smoothing=0.2", "augment.mixup.p=1.0", "train.epochs=2", "optim.lr=0.05")
    train(tiny_config(*over, "train.figures=false"), tmp_path / "r", quiet=True)
    assert steps
    for loss, logits, t in steps:
        assert t.shape == logits.shape and (t.max(1).values < 1).any()  # mixed targets
        want = -(((1 - 0.2) * t + 0.2 / 10) * logits.log_softmax(1)).sum(1).mean()
        torch.testing.assert_close(loss, want)
        torch.testing.assert_close(loss, F.cross_entropy(logits, t, label_smoothing=0.2))
    # the smoothed targets penalise confidence: once the model is confident, the loss is above the
    # unsmoothed one
    loss, logits, t = steps[-1]
    assert loss > F.cross_entropy(logits, t) + 0.1


# ------------------------------------------------------------------ policies, drawn per sample
POLICIES = {
    "randaugment": {"randaugment": {"num_ops": 2, "magnitude": 12}},
    "trivialaugment": {"trivialaugment": {"p": 1.0}},
    "autoaugment": {"autoaugment": {"p": 1.0}},
    "autoaugment-svhn": {"autoaugment": {"p": 1.0, "policy": "svhn"}},
}


@pytest.mark.parametrize("channels", [3, 1], ids=["rgb", "grey"])
@pytest.mark.parametrize("name", list(POLICIES))
def test_policies_change_identical_images_differently(name, channels):
    """32 copies of one image come out as many different images, with shape, dtype and range kept."""
    aug = build_augment(AugmentConfig.model_validate(POLICIES[name]), (channels, 16, 16))
    x = noise(1, channels, 16).expand(32, -1, -1, -1).contiguous()
    torch.manual_seed(0)
    out = aug(x)
    assert out.shape == x.shape and out.dtype == x.dtype and out.min() >= 0 and out.max() <= 1
    distinct = torch.unique(out.flatten(1), dim=0)
    assert len(distinct) >= 12, f"{name}: {len(distinct)} different outputs of 32"


class _Mark(nn.Module):
    """A stand-in operation: adds one to its own channel, so the output counts which ran on a sample."""

    def __init__(self, i: int):
        super().__init__()
        self.i = i

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + F.one_hot(torch.tensor(self.i), x.shape[1]).view(1, -1, 1, 1)


@pytest.mark.parametrize("n", [3, 15, 200])
def test_per_sample_choice_gives_each_sample_n_ops_drawn_uniformly(n):
    torch.manual_seed(0)
    rounds = Rounds(PerSampleChoice([_Mark(i) for i in range(15)]), 2)
    counts = torch.cat([rounds(torch.zeros(n, 15, 1, 1)).flatten(1) for _ in range(4000 // n)])
    assert (counts.sum(1) == 2).all()  # two operations per sample
    assert len(torch.unique(counts, dim=0)) > 50  # which two: drawn per sample
    share = counts.sum(0) / counts.sum()
    assert ((share - 1 / 15).abs() < 0.012).all(), share  # each with probability 1/15


def test_policies_draw_kornias_operations_per_sample():
    """RandAugment: num_ops rounds of a per-sample choice among kornia's 15 operations; TrivialAugment:
    one choice among its 12; AutoAugment: one among the policy's 25 sub-policies."""
    rounds = randaugment(RandAug(num_ops=3), 3)
    assert rounds.n == 3 and isinstance(rounds.op, PerSampleChoice)
    assert [type(c) for c in rounds.op.candidates] == [RandAugment] * 15
    grey = randaugment(RandAug(num_ops=1), 1).op.candidates
    assert sum(isinstance(c, nn.Identity) for c in grey) == 1  # saturation: none on grey images
    trivial = trivialaugment(0.5, 3)
    assert trivial.p == 0.5 and [type(c) for c in trivial.op.candidates] == [TrivialAugment] * 12
    auto = autoaugment(AutoAug(p=1.0), 3)
    assert [type(c) for c in auto.op.candidates] == [AutoAugment] * 25


def test_run_description_names_each_op():
    cfg = AugmentConfig.model_validate(
        {"hflip": {"p": 0.5}, "randaugment": {"num_ops": 2}, "mixup": {"p": 1.0, "alpha": 0.4}}
    )
    assert describe_augment(cfg) == (
        "hflip p=0.5; randaugment num_ops=2 magnitude=9; mixup p=1 alpha=0.4"
    )
    assert describe_augment(AugmentConfig()) == ""


# ---------------------------------------------------------------------------------------- top-5
def test_top5_equals_a_hand_count():
    logits = torch.tensor([[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]] * 4, dtype=torch.float32)
    labels = torch.tensor([0, 4, 5, 9])  # ranks 1, 5, 6, 10
    m = compute_metrics(logits, labels, 10)
    assert m.acc == 0.25 and m.top5_acc == 0.5 and m.top5_acc >= m.acc
    assert m.as_dict("val")["val_top5_acc"] == 0.5
    few = compute_metrics(logits[:, :3], torch.tensor([0, 1, 2, 2]), 3)
    assert few.top5_acc is None and "val_top5_acc" not in few.as_dict("val")


# ---------------------------------------------------------------------------------- bad values
@pytest.mark.parametrize(
    "setting, key",
    [
        ("augment.mixup.alpha=0", "augment.mixup.alpha"),
        ("augment.cutmix.alpha=-1", "augment.cutmix.alpha"),
        ("augment.mixup.p=1.5", "augment.mixup.p"),
        ("augment.randaugment.num_ops=-1", "augment.randaugment.num_ops"),
        ("augment.randaugment.magnitude=30", "augment.randaugment.magnitude"),
        ("augment.trivialaugment.p=-0.1", "augment.trivialaugment.p"),
        ("augment.autoaugment.policy=cifar", "augment.autoaugment.policy"),
    ],
)
def test_bad_values_exit_2_naming_the_key(tmp_path, capsys, setting, key):
    code, text = cli(capsys, "train", "-q", "--out", tmp_path / "r", *tiny_sets(setting))
    assert code == 2 and key in text, text


def test_mixing_for_a_model_with_its_own_step_is_refused(tmp_path, capsys):
    sets = tiny_sets("model.name=mlp-scratch", "augment.cutmix.p=1")
    code, text = cli(capsys, "train", "-q", "--out", tmp_path / "r", *sets)
    assert code == 2 and "augment.cutmix.p=0" in one_line(text), text


# ------------------------------------------------------------------ training and exact resume
MIXED = (
    "model.name=cnn",
    "model.widths=[8,8]",
    "augment.mixup.p=0.5",
    "augment.cutmix.p=0.5",
    "augment.randaugment.num_ops=2",
    "train.label_smoothing=0.1",
    "train.epochs=2",
)


@pytest.mark.slow
def test_mixed_training_resumes_exactly_mid_epoch(tmp_path, monkeypatch):
    """A run with mixup, cutmix and RandAugment, stopped by a signal in the middle of its second epoch and
    resumed, ends with the same rows, metrics and weights as the run never stopped."""
    ref = train(tiny_config(*MIXED), tmp_path / "ref", quiet=True).to_json()
    rows = [json.loads(r) for r in (tmp_path / "ref" / "metrics.jsonl").read_text().splitlines()]
    assert 0 < rows[-1]["train_acc"] < 1 and ref["test_top5_acc"] >= ref["test_acc"]
    with (
        sigterm_at_step(monkeypatch, lambda n: n + 3),
        pytest.raises(TrainingInterrupted, match="epoch 2, step 4"),
    ):
        train(tiny_config(*MIXED), tmp_path / "cut", quiet=True)
    got = train(tiny_config(), tmp_path / "cut", resume=True, quiet=True).to_json()
    assert {k: got[k] for k in RESULT_KEYS} == {k: ref[k] for k in RESULT_KEYS}
    assert run_result(tmp_path / "cut") == run_result(tmp_path / "ref")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_batch_ops_never_sync_on_cuda():
    """Two epochs of CUDA batches through every batch-level op under sync debug mode "error": a host sync
    anywhere (a read, or a blocking copy of kornia's host-drawn parameters) raises."""
    rng = np.random.default_rng(0)
    data = ArraySet(rng.integers(0, 256, (512, 16, 16, 3), dtype=np.uint8), np.arange(512) % 10)
    cfg = AugmentConfig.model_validate(
        {"crop": {"p": 1.0}, "randaugment": {"num_ops": 2}, "trivialaugment": {"p": 0.5},
         "autoaugment": {"p": 0.5}, "erasing": {"p": 0.5}, "mixup": {"p": 0.5}, "cutmix": {"p": 0.5}}
    )  # fmt: skip
    ld = DeviceLoader(
        data, fit_stats(data.x, "standard"), 64, "cuda", shuffle=True, drop_last=True,
        augment=build_augment(cfg, (3, 16, 16)), mix=build_mix(cfg, (3, 16, 16), 10),
    )  # fmt: skip
    next(ld.epoch(0))  # kornia's first call builds what it keeps
    with sync_debug("error"):
        batches = [y.sum(0) for epoch in (0, 1) for _, y in ld.epoch(epoch)]
    assert torch.allclose(torch.stack(batches).sum(1).cpu(), torch.full((len(batches),), 64.0))
