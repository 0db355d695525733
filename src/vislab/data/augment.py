"""Batched, per-sample random augmentation of float N×C×H×W batches in [0, 1], on the batch's device.

Random crop with padding (``data/crop.py``) and horizontal flip — the reports' everyday pair and the hot
path — are one strided-view gather and one ``index_select``, exact on any dtype, so the loader runs the
same ops on uint8 bytes (``benchmarks/pipeline.py`` measures it); the rest come from kornia. Every op
draws its parameters per sample from torch's global RNG, so a seed fixes them; crop and flip draw on the
batch's device and never read a value back (no host sync on a GPU). ``augment.p`` gates whole samples: a
sample not selected passes through untouched (centre-cropped when ``augment.crop.size`` makes the model's
input smaller than the images: ``data/crop.py``).

RandAugment, TrivialAugment and AutoAugment are kornia's policies, which draw one operation per batch:
:class:`PerSampleChoice` makes the draw per sample. Mixup and cutmix, which mix pairs of a batch and
their labels, are in ``data/mix.py``; the augmentation in words is ``data/augment_words.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from vislab.config import AugmentConfig, AutoAug, RandAug
from vislab.data.crop import RandomCropPad, centre_crop, crop_padding, model_input_shape

# kornia is imported by the functions that build its operations ("on use" below): it loads in 0.2 s, which
# every command that builds no augmentation (compare, model info, predict, ...) should not wait for.


def flip_where(x: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """Mirror left-right the samples where ``flip`` is true: rows of [x; mirrored x] picked by
    index_select (several times faster on CPU than a broadcast ``torch.where``; no host sync on GPU)."""
    n = x.shape[0]
    both = torch.cat([x, x.flip(-1)])
    return both.index_select(0, torch.arange(n, device=x.device) + flip.long() * n)


class RandomFlip(nn.Module):
    """Mirror left-right with probability ``p`` per sample (any dtype)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return flip_where(x, torch.rand(x.shape[0], device=x.device) < self.p)


class BatchAugment(nn.Module):
    """The configured ops in a fixed order, by their ``augment.*`` names; ``p`` is the probability that a
    sample is augmented at all. ``size``: the ops crop to size×size (``augment.crop.size``); a sample left
    alone is centre-cropped."""

    def __init__(self, ops: dict[str, nn.Module], p: float = 1.0, size: int | None = None):
        super().__init__()
        self.names = list(ops)
        self.ops = nn.ModuleList(ops.values())
        self.p, self.size = p, size

    @property
    def augments(self) -> bool:
        """Whether a sample may be augmented at all: an op is on and ``p`` > 0 (else only centre-cropped)."""
        return bool(self.ops) and self.p > 0

    @property
    def varies(self) -> bool:
        """Whether a sample may come out other than its centre crop: :attr:`augments`, with an op other
        than a crop of ``p`` 0 (``augment.crop.size`` alone: every sample is centre-cropped)."""
        crops_centre = [isinstance(op, RandomCropPad) and op.p == 0 for op in self.ops]
        return self.augments and not all(crops_centre)

    def forward(self, x: torch.Tensor, got: list[list[str]] | None = None) -> torch.Tensor:
        """``x`` augmented; ``got`` (a preview's), when given, filled with the names of the ops that
        changed each sample (a flip of a symmetric image, a crop shifted by 0: none)."""
        if not self.augments:
            return centre_crop(x, self.size)
        if self.p >= 1:
            return self._apply_ops(x, got)
        # Every sample goes through the ops and `where` keeps the originals of those not chosen: augmenting
        # only the chosen subset needs its size on the host — a GPU sync every step — to save work on CPU only.
        chosen = torch.rand(x.shape[0], device=x.device) < self.p
        out = self._apply_ops(x, got)
        if got is not None:
            got[:] = [names if c else [] for names, c in zip(got, chosen.tolist(), strict=True)]
        return torch.where(chosen[:, None, None, None], out, centre_crop(x, self.size))

    def _apply_ops(self, x: torch.Tensor, got: list[list[str]] | None = None) -> torch.Tensor:
        if got is not None:
            got[:] = [[] for _ in range(len(x))]
        for name, op in zip(self.names, self.ops, strict=True):
            before, x = x, op(x)
            if got is not None:  # a crop to a smaller size changes every sample
                same = before.shape == x.shape
                changed = (before != x).flatten(1).any(1).tolist() if same else [True] * len(x)
                for names, c in zip(got, changed, strict=True):
                    names.extend([name] if c else [])
        return x.clamp(0, 1)


class PerSampleChoice(nn.Module):
    """Each sample through one of ``candidates``, drawn at random per sample. The batch is shuffled on its
    device and cut into ``len(candidates)`` runs of near-equal size, each run going through one candidate
    (which one: shuffled on the host), so every candidate runs once per batch on its share and a sample
    gets each with probability exactly 1/k — without the k passes over the whole batch a per-sample
    ``where`` would take, and without reading a share's size back from the device. kornia's policies
    (``RandAugment``, ``TrivialAugment``, ``AutoAugment``) draw their operation once per batch: here they
    are the candidates, each built with one operation or sub-policy."""

    def __init__(self, candidates: Sequence[nn.Module]):
        super().__init__()
        self.candidates = nn.ModuleList(candidates)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, k = len(x), len(self.candidates)
        rows = torch.randperm(n, device=x.device)
        out = torch.empty_like(x)
        for j, c in enumerate(torch.randperm(k).tolist()):  # a host tensor: no device read
            share = rows[n * j // k : n * (j + 1) // k]
            if len(share):
                out.index_copy_(0, share, self.candidates[c](x.index_select(0, share)))
        return out


class Rounds(nn.Module):
    """``op`` applied ``n`` times in a row (RandAugment's N operations per sample)."""

    def __init__(self, op: nn.Module, n: int):
        super().__init__()
        self.op, self.n = op, n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _ in range(self.n):
            x = self.op(x)
        return x


class Sometimes(nn.Module):
    """``op`` on each sample with probability ``p``; the others pass through untouched."""

    def __init__(self, op: nn.Module, p: float):
        super().__init__()
        self.op, self.p = op, p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p >= 1:
            return self.op(x)
        chosen = torch.rand(len(x), device=x.device) < self.p
        return torch.where(chosen[:, None, None, None], self.op(x), x)


# augment.autoaugment.policy → its table in kornia.augmentation.auto.autoaugment.autoaugment
AUTOAUGMENT_POLICIES = {name: f"{name}_policy" for name in ("cifar10", "imagenet", "svhn")}
_COLOUR_OPS = {"color"}  # saturation: RGB only (on grey images it is the identity)


def _for_channels(sub_policy: list, channels: int) -> list:
    """``sub_policy`` without the operations these images cannot take (saturation needs 3 channels)."""
    return [op for op in sub_policy if channels == 3 or op[0] not in _COLOUR_OPS]


def randaugment(cfg: RandAug, channels: int) -> nn.Module:
    """RandAugment per sample: ``num_ops`` rounds, each giving every sample one of kornia's RandAugment
    operations (an RGB-only one is the identity on other images) at ``magnitude``."""
    from kornia.augmentation.auto import RandAugment  # on use (see the imports)
    from kornia.augmentation.auto.rand_augment import rand_augment

    ops = [_for_channels(op, channels) for op in rand_augment.default_policy]
    candidates = [
        RandAugment(1, cfg.magnitude, policy=[op], transformation_matrix_mode="skip")
        if op
        else nn.Identity()
        for op in ops
    ]
    return Rounds(PerSampleChoice(candidates), cfg.num_ops)


def trivialaugment(p: float, channels: int) -> nn.Module:
    """TrivialAugment per sample: one of kornia's TrivialAugment operations at a random magnitude."""
    from kornia.augmentation.auto import TrivialAugment  # on use (see the imports)
    from kornia.augmentation.auto.trivial_augment import trivial_augment

    ops = [_for_channels(op, channels) for op in trivial_augment.default_policy]
    candidates = [
        TrivialAugment(policy=[op], transformation_matrix_mode="skip") if op else nn.Identity()
        for op in ops
    ]
    return Sometimes(PerSampleChoice(candidates), p)


def autoaugment(cfg: AutoAug, channels: int) -> nn.Module:
    """AutoAugment per sample: one sub-policy of ``cfg.policy`` each (its operations with their own
    probabilities and magnitude bins)."""
    from kornia.augmentation.auto import AutoAugment  # on use (see the imports)
    from kornia.augmentation.auto.autoaugment import autoaugment as policies

    table = getattr(policies, AUTOAUGMENT_POLICIES[cfg.policy])
    subs = [_for_channels(sub, channels) for sub in table]
    candidates = [
        AutoAugment(policy=[sub], transformation_matrix_mode="skip") if sub else nn.Identity()
        for sub in subs
    ]
    return Sometimes(PerSampleChoice(candidates), cfg.p)


def _kornia_ops():
    """``kornia.augmentation``, imported when a pipeline first asks for one of its operations."""
    import kornia.augmentation  # on use (see the imports)

    return kornia.augmentation


def build_augment(cfg: AugmentConfig, sample_shape: tuple[int, ...]) -> BatchAugment | None:
    """The augmentation pipeline for images of ``sample_shape`` (C, H, W), or None when nothing is on."""
    if len(sample_shape) != 3:
        return None  # feature vectors are never augmented
    model_input_shape(cfg, sample_shape)  # a crop size these images allow
    c, h, w = sample_shape
    ops = {**_geometric_ops(cfg, h, w), **_photometric_ops(cfg, c)}
    if cfg.erasing.p > 0:
        e = cfg.erasing
        ops["erasing"] = _kornia_ops().RandomErasing(scale=e.scale, ratio=e.ratio, p=e.p)
    return BatchAugment(ops, cfg.p, cfg.crop.size) if ops else None


def _geometric_ops(cfg: AugmentConfig, h: int, w: int) -> dict[str, nn.Module]:
    """Resized crop, crop, flip, rotation and affine, as configured, in that order, by name."""
    ops: dict[str, nn.Module] = {}
    if cfg.resized_crop.p > 0:
        r = cfg.resized_crop
        # kornia takes RandomResizedCrop's p as one draw per batch (its p_batch): Sometimes draws per sample
        ops["resized_crop"] = Sometimes(
            _kornia_ops().RandomResizedCrop((h, w), scale=r.scale, ratio=r.ratio), r.p
        )
    if cfg.crop.p > 0 or cfg.crop.size:  # with a size the crop always runs: p = 0 centre-crops
        ops["crop"] = RandomCropPad(crop_padding(cfg.crop, min(h, w)), cfg.crop.p, cfg.crop.size)
    if cfg.hflip.p > 0:
        ops["hflip"] = RandomFlip(cfg.hflip.p)
    if cfg.rotation.p > 0:
        ops["rotation"] = _kornia_ops().RandomRotation(cfg.rotation.degrees, p=cfg.rotation.p)
    if cfg.affine.p > 0:
        a = cfg.affine
        ops["affine"] = _kornia_ops().RandomAffine(
            a.degrees, translate=a.translate, scale=a.scale, shear=a.shear, p=a.p
        )
    return ops


def _photometric_ops(cfg: AugmentConfig, channels: int) -> dict[str, nn.Module]:
    """Colour jitter, blur, RandAugment, TrivialAugment and AutoAugment, as configured, in that order, by
    name."""
    ops: dict[str, nn.Module] = {}
    if cfg.color_jitter.p > 0:
        j, colour = cfg.color_jitter, channels == 3  # saturation and hue only exist for RGB
        sat, hue = (j.saturation, j.hue) if colour else (0.0, 0.0)
        ops["color_jitter"] = _kornia_ops().ColorJitter(j.brightness, j.contrast, sat, hue, p=j.p)
    if cfg.blur.p > 0:
        k = cfg.blur.kernel_size  # odd: the schema refuses an even one
        ops["blur"] = _kornia_ops().RandomGaussianBlur((k, k), cfg.blur.sigma, p=cfg.blur.p)
    if cfg.randaugment.num_ops > 0:
        ops["randaugment"] = randaugment(cfg.randaugment, channels)
    if cfg.trivialaugment.p > 0:
        ops["trivialaugment"] = trivialaugment(cfg.trivialaugment.p, channels)
    if cfg.autoaugment.p > 0:
        ops["autoaugment"] = autoaugment(cfg.autoaugment, channels)
    return ops
