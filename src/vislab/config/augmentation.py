"""The augment section of a config: each train-split augmentation op, with its probability and settings
(applied by :mod:`vislab.data.augment`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from vislab.config.sections import Section


# -------------------------------------------------------------------------------- augmentation
class Crop(Section):
    """Random crop (translation). ``size``: crop size×size windows of the (padded) images, as RandomCrop(size)
    — the model then takes size×size inputs, and every evaluation (val/test, eval, predict, export) takes
    the centre crop. ``padding``: zero border added before cropping; None = automatic: 0 with ``size``,
    else an eighth of the image side (4 px on 32×32 and 28×28, 1 px on the 8×8 digits)."""

    p: float = Field(0.0, ge=0, le=1)
    padding: int | None = Field(None, ge=0)
    size: int | None = Field(None, gt=0)


class ResizedCrop(Section):
    p: float = Field(0.0, ge=0, le=1)
    scale: tuple[float, float] = (0.6, 1.0)
    ratio: tuple[float, float] = (0.75, 1.333)


class Flip(Section):
    p: float = Field(0.0, ge=0, le=1)


class Rotation(Section):
    p: float = Field(0.0, ge=0, le=1)
    degrees: float = Field(15.0, ge=0)


class Affine(Section):
    p: float = Field(0.0, ge=0, le=1)
    degrees: float = Field(10.0, ge=0)
    translate: tuple[float, float] = (0.1, 0.1)
    scale: tuple[float, float] = (0.9, 1.1)
    shear: float = Field(5.0, ge=0)


class ColorJitter(Section):
    p: float = Field(0.0, ge=0, le=1)
    brightness: float = Field(0.2, ge=0)
    contrast: float = Field(0.2, ge=0)
    saturation: float = Field(0.2, ge=0)
    hue: float = Field(0.05, ge=0, le=0.5)


class Blur(Section):
    """Gaussian blur: a kernel_size×kernel_size kernel, odd so that it centres on a pixel, of a standard
    deviation drawn per sample from ``sigma``."""

    p: float = Field(0.0, ge=0, le=1)
    kernel_size: int = Field(3, ge=3)
    sigma: tuple[float, float] = (0.1, 1.5)

    @field_validator("kernel_size")
    @classmethod
    def _odd(cls, k: int) -> int:
        if k % 2 == 0:
            raise ValueError(
                f"a Gaussian blur kernel is odd-sized, to centre on a pixel: use {k - 1} or {k + 1} "
                f"(earlier vislab versions ran an even size as {k + 1})"
            )
        return k


class Erasing(Section):
    p: float = Field(0.0, ge=0, le=1)
    scale: tuple[float, float] = (0.02, 0.2)
    ratio: tuple[float, float] = (0.3, 3.3)


class RandAug(Section):
    """RandAugment, per sample: ``num_ops`` rounds, each giving every sample one operation drawn from kornia's
    RandAugment list, at ``magnitude`` on kornia's scale (0 < m < 30, mapped linearly into each operation's
    range). ``num_ops`` 0 = off; the paper uses 1–3 at 5–15."""

    num_ops: int = Field(0, ge=0)
    magnitude: float = Field(9.0, gt=0, lt=30)


class TrivialAug(Section):
    """TrivialAugment: with probability ``p`` a sample gets one operation of kornia's TrivialAugment list at a
    magnitude drawn uniformly from its range — both drawn per sample."""

    p: float = Field(0.0, ge=0, le=1)


class AutoAug(Section):
    """AutoAugment: with probability ``p`` a sample gets one sub-policy of ``policy`` (kornia's tables of the
    paper's searched policies), drawn per sample; each of its operations has its own probability."""

    p: float = Field(0.0, ge=0, le=1)
    policy: Literal["cifar10", "imagenet", "svhn"] = "cifar10"


class Mixup(Section):
    """Mixup: with probability ``p`` a sample becomes λ·itself + (1 − λ)·its batch neighbour, λ ~ Beta(α, α),
    and its label the same mix of the two labels."""

    p: float = Field(0.0, ge=0, le=1)
    alpha: float = Field(0.2, gt=0)


class CutMix(Section):
    """CutMix: with probability ``p`` a box of a sample's batch neighbour is pasted into it (area 1 − λ,
    λ ~ Beta(α, α)) and its label mixed by the box's exact area."""

    p: float = Field(0.0, ge=0, le=1)
    alpha: float = Field(1.0, gt=0)


class AugmentConfig(Section):
    """Train-split augmentation. Each op has its own probability; `p` gates a sample as a whole (the image
    ops; mixup and cutmix, which mix pairs of a batch and their labels, have only their own `p`)."""

    p: float = Field(
        1.0, ge=0, le=1
    )  # probability that a sample is augmented at all (DLVC assignment 1, group report C)
    crop: Crop = Crop()
    resized_crop: ResizedCrop = ResizedCrop()
    hflip: Flip = Flip()
    rotation: Rotation = Rotation()
    affine: Affine = Affine()
    color_jitter: ColorJitter = ColorJitter()
    blur: Blur = Blur()
    randaugment: RandAug = RandAug()
    trivialaugment: TrivialAug = TrivialAug()
    autoaugment: AutoAug = AutoAug()
    erasing: Erasing = Erasing()
    mixup: Mixup = Mixup()
    cutmix: CutMix = CutMix()
