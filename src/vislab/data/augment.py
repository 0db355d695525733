"""Batched, per-sample random augmentation of float N×C×H×W batches in [0, 1], on the batch's device.

Random crop with padding and horizontal flip — the reports' everyday pair and the hot path — are
written here as one strided-view gather and one ``index_select``, exact on any dtype, so the loader
runs the same ops on uint8 bytes (``benchmarks/pipeline.py`` measures it); the rest come from
kornia. Every op draws its parameters per sample from torch's global RNG, so a seed fixes them;
crop and flip draw on the batch's device and never read a value back (no host sync on a GPU).
``augment.p`` gates whole samples: a sample not selected passes through untouched (centre-cropped
when ``augment.crop.size`` makes the model's input smaller than the images).

RandAugment, TrivialAugment and AutoAugment are kornia's policies, which draw one operation per batch:
:class:`PerSampleChoice` makes the draw per sample. Mixup and cutmix, which mix pairs of a batch and
their labels, are in ``data/mix.py``.

``augment.crop.size`` (RandomCrop(28) of 32×32 images, as RDFIA 1-cd) sets the model's input size;
:func:`model_input_shape` says what the model is built for and :func:`centre_crop` is the matching
evaluation crop, the same window a sample skipped by the random crop keeps.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from pydantic import BaseModel

from vislab.config import AugmentConfig, AutoAug, Crop, RandAug, given
from vislab.errors import ConfigError

# kornia is imported by the functions that build its operations ("on use" below): it loads in 0.2 s, which
# every command that builds no augmentation (compare, model info, predict, ...) should not wait for.


def crop_pad(
    x: torch.Tensor, padding: int, p: float = 1.0, size: int | None = None
) -> torch.Tensor:
    """Zero-pad by ``padding`` and crop ``size``×``size`` (default: back to H×W) at a random offset per
    sample, on any dtype (the loader runs it on uint8 bytes): each sample's window is picked from a
    strided view of all windows. A sample skipped (probability 1 − ``p``) keeps the centred window: the
    image itself, or its :func:`centre_crop`."""
    n, _, h, w = x.shape
    sh, sw = (size, size) if size else (h, w)
    ry, rx = h + 2 * padding - sh, w + 2 * padding - sw  # offsets 0..ry, 0..rx
    dy = torch.randint(0, ry + 1, (n,), device=x.device)
    dx = torch.randint(0, rx + 1, (n,), device=x.device)
    keep = torch.rand(n, device=x.device) >= p
    # ry // 2 = padding + (h - sh) // 2: the centre_crop window (padding is whole on both sides)
    dy, dx = torch.where(keep, ry // 2, dy), torch.where(keep, rx // 2, dx)
    padded = F.pad(x, (padding, padding, padding, padding))
    windows = padded.unfold(2, sh, 1).unfold(3, sw, 1)  # N×C×(ry+1)×(rx+1)×sh×sw view
    return windows[torch.arange(n, device=x.device), :, dy, dx]


def centre_offsets(h: int, w: int, size: int) -> tuple[int, int]:
    """Top and left of the central ``size``×``size`` window of an h×w image: ⌊(H − size)/2⌋, ⌊(W − size)/2⌋
    (what evaluation crops, ZCA is fitted on and the export JSON states)."""
    return (h - size) // 2, (w - size) // 2


def centre_crop(x: torch.Tensor, size: int | None) -> torch.Tensor:
    """The central ``size``×``size`` window of N×C×H×W images (:func:`centre_offsets`), a view; ``x``
    itself when ``size`` is None or the images are that size already."""
    h, w = x.shape[-2:]
    if size is None or (h, w) == (size, size):
        return x
    top, left = centre_offsets(h, w, size)
    return x[..., top : top + size, left : left + size]


def crop_padding(crop: Crop, image_side: int) -> int:
    """``augment.crop.padding``, or its automatic value: none around a ``size`` crop (RandomCrop(28) of
    32×32 pads nothing), else an eighth of the image side (4 px on 32×32 and 28×28, 1 on 8×8 digits)."""
    if crop.padding is not None:
        return crop.padding
    return 0 if crop.size else max(1, round(image_side / 8))


def model_input_shape(cfg: AugmentConfig, sample_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape the model is built for: the samples' (C, H, W), or (C, size, size) with
    ``augment.crop.size``. ConfigError when that crop cannot be taken from these samples."""
    size = cfg.crop.size
    if size is None:
        return tuple(sample_shape)
    if len(sample_shape) != 3:
        raise ConfigError(
            f"augment.crop.size={size} crops images, but this data holds {sample_shape[0]}-D feature "
            f"vectors. Remove augment.crop.size."
        )
    c, h, w = sample_shape
    if size > min(h, w):
        raise ConfigError(
            f"augment.crop.size={size} is larger than the {h}×{w} images of this data: the evaluation "
            f"crop (the centre {size}×{size}) cannot be taken. Use a size of at most {min(h, w)}, or "
            f"up-sample the images with data.resize."
        )
    return (c, size, size)


def flip_where(x: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """Mirror left-right the samples where ``flip`` is true: rows of [x; mirrored x] picked by
    index_select (several times faster on CPU than a broadcast ``torch.where``; no host sync on GPU)."""
    n = x.shape[0]
    both = torch.cat([x, x.flip(-1)])
    return both.index_select(0, torch.arange(n, device=x.device) + flip.long() * n)


class RandomCropPad(nn.Module):
    """Zero-pad by ``padding`` then crop ``size``×``size`` (default: back to H×W, i.e. translate) at a
    random offset per sample."""

    def __init__(self, padding: int, p: float = 1.0, size: int | None = None):
        super().__init__()
        self.padding, self.p, self.size = padding, p, size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return crop_pad(x, self.padding, self.p, self.size)


class RandomFlip(nn.Module):
    """Mirror left-right with probability ``p`` per sample (any dtype)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return flip_where(x, torch.rand(x.shape[0], device=x.device) < self.p)


class BatchAugment(nn.Module):
    """The configured ops in a fixed order; ``p`` is the probability that a sample is augmented at all.
    ``size``: the ops crop to size×size (``augment.crop.size``); a sample left alone is centre-cropped."""

    def __init__(self, ops: list[nn.Module], p: float = 1.0, size: int | None = None):
        super().__init__()
        self.ops = nn.ModuleList(ops)
        self.p, self.size = p, size

    @property
    def augments(self) -> bool:
        """Whether a sample may be augmented at all: an op is on and ``p`` > 0 (else only centre-cropped)."""
        return bool(self.ops) and self.p > 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.augments:
            return centre_crop(x, self.size)
        if self.p >= 1:
            return self._apply_ops(x)
        # Every sample goes through the ops and `where` keeps the originals of those not chosen: augmenting
        # only the chosen subset needs its size on the host — a GPU sync every step — to save work on CPU only.
        chosen = torch.rand(x.shape[0], device=x.device) < self.p
        return torch.where(
            chosen[:, None, None, None], self._apply_ops(x), centre_crop(x, self.size)
        )

    def _apply_ops(self, x: torch.Tensor) -> torch.Tensor:
        for op in self.ops:
            x = op(x)
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
    ops = [*_geometric_ops(cfg, h, w), *_photometric_ops(cfg, c)]
    if cfg.erasing.p > 0:
        e = cfg.erasing
        ops.append(_kornia_ops().RandomErasing(scale=e.scale, ratio=e.ratio, p=e.p))
    return BatchAugment(ops, cfg.p, cfg.crop.size) if ops else None


def _geometric_ops(cfg: AugmentConfig, h: int, w: int) -> list[nn.Module]:
    """Resized crop, crop, flip, rotation and affine, as configured, in that order."""
    ops: list[nn.Module] = []
    if cfg.resized_crop.p > 0:
        r = cfg.resized_crop
        # kornia takes RandomResizedCrop's p as one draw per batch (its p_batch): Sometimes draws per sample
        ops.append(
            Sometimes(_kornia_ops().RandomResizedCrop((h, w), scale=r.scale, ratio=r.ratio), r.p)
        )
    if cfg.crop.p > 0 or cfg.crop.size:  # with a size the crop always runs: p = 0 centre-crops
        ops.append(RandomCropPad(crop_padding(cfg.crop, min(h, w)), cfg.crop.p, cfg.crop.size))
    if cfg.hflip.p > 0:
        ops.append(RandomFlip(cfg.hflip.p))
    if cfg.rotation.p > 0:
        ops.append(_kornia_ops().RandomRotation(cfg.rotation.degrees, p=cfg.rotation.p))
    if cfg.affine.p > 0:
        a = cfg.affine
        ops.append(
            _kornia_ops().RandomAffine(
                a.degrees, translate=a.translate, scale=a.scale, shear=a.shear, p=a.p
            )
        )
    return ops


def _photometric_ops(cfg: AugmentConfig, channels: int) -> list[nn.Module]:
    """Colour jitter, blur, RandAugment, TrivialAugment and AutoAugment, as configured, in that order."""
    ops: list[nn.Module] = []
    if cfg.color_jitter.p > 0:
        j, colour = cfg.color_jitter, channels == 3  # saturation and hue only exist for RGB
        sat, hue = (j.saturation, j.hue) if colour else (0.0, 0.0)
        ops.append(_kornia_ops().ColorJitter(j.brightness, j.contrast, sat, hue, p=j.p))
    if cfg.blur.p > 0:
        k = cfg.blur.kernel_size  # odd: the schema refuses an even one
        ops.append(_kornia_ops().RandomGaussianBlur((k, k), cfg.blur.sigma, p=cfg.blur.p))
    if cfg.randaugment.num_ops > 0:
        ops.append(randaugment(cfg.randaugment, channels))
    if cfg.trivialaugment.p > 0:
        ops.append(trivialaugment(cfg.trivialaugment.p, channels))
    if cfg.autoaugment.p > 0:
        ops.append(autoaugment(cfg.autoaugment, channels))
    return ops


# ------------------------------------------------------------------------------ in words
def describe_augment(cfg: AugmentConfig) -> str:
    """The training augmentation in a line, e.g. 'crop p=1 padding=4; randaugment num_ops=2 magnitude=9;
    mixup p=0.5 alpha=0.2' (each op that is on, with its settings); '' when none is."""
    image_ops = [
        f"{name} {_settings(getattr(cfg, name))}"
        for name in AugmentConfig.model_fields
        if name not in ("p", "mixup", "cutmix") and _is_on(cfg, name)
    ]
    if image_ops and cfg.p < 1:
        image_ops.append(f"each sample augmented with p={cfg.p:g}")
    mixing = [f"{n} {_settings(getattr(cfg, n))}" for n in ("mixup", "cutmix") if _is_on(cfg, n)]
    return "; ".join((image_ops if cfg.p > 0 else []) + mixing)


def colour_note(cfg: AugmentConfig, sample_shape: tuple[int, ...]) -> str | None:
    """A run's note when ``augment.color_jitter.saturation`` or ``hue``, given (away from its default) and
    above 0, does nothing because the images are not RGB (:func:`_photometric_ops` jitters only their
    brightness and contrast); None otherwise. Known only once the data is loaded, unlike the config's own
    notes (``vislab.config.config_notes``)."""
    j = cfg.color_jitter
    if len(sample_shape) != 3 or sample_shape[0] == 3 or cfg.p == 0 or j.p == 0:
        return None  # feature vectors, RGB images, or jitter off: the config's notes say so
    idle = [k for k in ("saturation", "hue") if given(j, k) and getattr(j, k) > 0]
    if not idle:
        return None
    keys = " and ".join(f"augment.color_jitter.{k}={getattr(j, k):g}" for k in idle)
    return (
        f"{keys} {'does' if len(idle) == 1 else 'do'} nothing with {sample_shape[0]}-channel images: "
        f"only RGB images have a saturation and a hue to jitter (brightness and contrast are jittered)."
    )


def crop_note(cfg: AugmentConfig, sample_shape: tuple[int, ...]) -> str | None:
    """A run's note when ``augment.crop.padding``, given, is more than a quarter of the images' side (the
    dlvc recipes' 4 px on the 8×8 digits: half of each image can be shifted out), or when the crop takes
    the whole unpadded image (RDFIA's RandomCrop(28) of CIFAR's 32×32, run on 28×28 images); else None."""
    crop = cfg.crop
    if len(sample_shape) != 3 or cfg.p == 0 or crop.p == 0:
        return None
    side = min(sample_shape[1:])
    if crop.size == side == max(sample_shape[1:]) and crop_padding(crop, side) == 0:
        pad = crop_padding(Crop(), side)
        return (
            f"augment.crop.size={side} takes the whole {side}×{side} image, unpadded: the random crop "
            f"does nothing. Pad the images first, --set augment.crop.padding={pad} / "
            f"augment__crop__padding={pad} (RandomCrop({side}, padding={pad})), or crop a smaller window "
            f"(augment.crop.size={side - pad})."
        )
    if crop.padding is None:
        return None
    if crop.padding * 4 <= side:
        return None
    usual = crop_padding(Crop(size=crop.size), side)
    return (
        f"augment.crop.padding={crop.padding} is {crop.padding / side:.0%} of the {side}×{side} images' "
        f"side: a random crop shifts them by up to {crop.padding} px, which can move much of a digit or "
        f"object out of view. The usual padding is an eighth of the side: --set augment.crop.padding="
        f"{usual} / augment__crop__padding={usual}, or leave it unset (null) for that."
    )


def _is_on(cfg: AugmentConfig, name: str) -> bool:
    """Whether op ``name`` of ``cfg`` does anything (a crop with a size always crops)."""
    op = getattr(cfg, name)
    if name == "randaugment":
        return op.num_ops > 0
    return op.p > 0 or (name == "crop" and op.size is not None)


def _settings(op: BaseModel) -> str:
    """``key=value`` for each setting of a config section, tuples as (a, b) and floats shortest."""
    shown = {k: (f"{v:g}" if isinstance(v, float) else str(v)) for k, v in op if v is not None}
    return " ".join(f"{k}={v}" for k, v in shown.items())
