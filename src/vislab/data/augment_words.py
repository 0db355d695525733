"""The training augmentation in words: the line the report shows, and the notes a run prints for
augmentation settings that do nothing to these images (known once the data is loaded)."""

from __future__ import annotations

from pydantic import BaseModel

from vislab.config import AugmentConfig, Crop, given
from vislab.config.reads import augment_on, get_dotted
from vislab.data.crop import crop_padding


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


def normalized_preview_note(cfg: AugmentConfig) -> str | None:
    """The note for a preview of the normalised images (``vislab data preview --show normalized``) with
    augmentation on, which it does not draw: it shows the images as evaluation feeds them (centre-cropped
    by ``augment.crop.size``); None when no augmentation is on."""
    ops = [
        f"augment.{name}"
        for name in AugmentConfig.model_fields
        if name != "p"
        and (cfg.p > 0 or name in ("mixup", "cutmix"))  # augment.p=0: no image op runs
        and _is_on(cfg, name)
        and not (
            name == "crop" and cfg.crop.p == 0
        )  # a size alone: the centre crop, which is drawn
    ]
    if not ops:
        return None
    return (
        f"{', '.join(ops)} not drawn: --show normalized / show='normalized' draws the images as evaluation "
        f"feeds them, normalised but not augmented (training normalises its augmented images alike). "
        f"To see the augmentation, --show augmented / show='augmented'."
    )


def colour_note(cfg: AugmentConfig, sample_shape: tuple[int, ...]) -> str | None:
    """A run's note when ``augment.color_jitter.saturation`` or ``hue``, given (away from its default) and
    above 0, does nothing because the images are not RGB (``data/augment.py`` jitters only their
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
    return (
        f"augment.crop.padding={crop.padding} is {crop.padding / side:.0%} of the {side}×{side} images' "
        f"side: a random crop shifts them by up to {crop.padding} px, which can move much of a digit or "
        f"object out of view. {_usual_padding(crop.size, side)}"
    )


def _usual_padding(size: int | None, side: int) -> str:
    """The usual crop padding for crops of ``size`` (None: the image's own size) of ``side``-px images,
    in words, with its setting: none around a smaller window (the automatic value), an eighth of the
    side around a window of the whole image (as with no size: the automatic value there)."""
    if size is not None and size < side:
        return (
            f"A {size}×{size} crop of the {side}×{side} images is usually taken unpadded (it already "
            f"moves by up to {side - size} px): --set augment.crop.padding=0 / "
            f"augment__crop__padding=0, or leave it unset (null) for that."
        )
    usual = crop_padding(Crop(), side)
    unset = "" if size else ", or leave it unset (null) for that"
    return (
        f"The usual padding is an eighth of the side: --set augment.crop.padding={usual} / "
        f"augment__crop__padding={usual}{unset}."
    )


def _is_on(cfg: AugmentConfig, name: str) -> bool:
    """Whether op ``name`` of ``cfg`` does anything (:func:`~vislab.config.reads.augment_on`; a crop with a
    size always crops)."""
    on = augment_on(lambda key: get_dotted(cfg, key.removeprefix("augment.")), name)
    return on or (name == "crop" and cfg.crop.size is not None)


def _settings(op: BaseModel) -> str:
    """``key=value`` for each setting of a config section, tuples as (a, b) and floats shortest."""
    shown = {k: (f"{v:g}" if isinstance(v, float) else str(v)) for k, v in op if v is not None}
    return " ".join(f"{k}={v}" for k, v in shown.items())
