"""What model builders share: bound types for their options, the image-input check, patch sizes, and
the switch that makes ``pretrained``/``weights`` load nothing.

A builder declares each option's bounds in its own signature, e.g.::

    @register_model("toy")
    def toy(input_shape, num_classes, hidden: list[Size] = [64], dropout: Probability = 0.0): ...

and the registry checks ``model.*`` values against them before anything is built (a value out of range
is a ConfigError naming the option, the value, the allowed range and the model). Any pydantic
constraint works the same way: ``Annotated[float, Field(gt=0, description="the homework uses 0.3")]``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

from pydantic import Field

from vislab.errors import UserError

#: A probability: dropout rates, drop-path rates.
Probability = Annotated[float, Field(ge=0, lt=1, description="a probability; 0 = off")]
#: A count or a size: layer widths, kernel sizes, depths, numbers of heads.
Size = Annotated[int, Field(ge=1)]
#: The widths of a network's stages, one or more: an empty list would leave it without its layers.
Widths = Annotated[
    list[Size], Field(min_length=1, description="one stage per width: [] leaves no convolution")
]


_F = TypeVar("_F", bound=Callable[..., Any])


def described(what: dict[str, str]) -> Callable[[_F], _F]:
    """Decorator: ``what`` (option → what it does, one line) becomes the builder's option help, which
    ``vislab model info`` prints beside each option's value and allowed values (:func:`option_help`)."""

    def deco(fn: _F) -> _F:
        fn.option_help = what  # type: ignore[attr-defined]
        return fn

    return deco


def option_help(fn: Callable[..., Any]) -> dict[str, str]:
    """What each option of builder ``fn`` does, as :func:`described` gave it (empty: not described)."""
    return getattr(fn, "option_help", {})


class NeedsImages(UserError):
    """A model that takes images was asked to take feature vectors (:func:`require_image_input`); a caller
    whose input shape came from no data (``vislab model gradcheck``) says what to give instead."""


def images_not_features(name: str, given: tuple[int, ...]) -> UserError:
    """The error for model ``name``, which takes images, given the feature-vector shape ``given`` by hand
    (``vislab model info/gradcheck --input``, not from data): the images' shape to give instead."""
    return UserError(
        f"model '{name}' takes images, and the input shape {tuple(given)} is one of feature vectors: "
        f"give the images' shape as C×H×W, e.g. --input 3x32x32 / input_shape=(3, 32, 32)."
    )


def require_image_input(name: str, input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(C, H, W) or a :class:`NeedsImages` error saying that this model needs images."""
    if len(input_shape) != 3:
        raise NeedsImages(
            f"model '{name}' needs images but the data are {input_shape[0]}-D feature vectors "
            f"(e.g. data.name=circles). Use model.name=mlp or mlp-scratch for feature data."
        )
    return input_shape  # type: ignore[return-value]


def merge_options(preset: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """A preset's option values, overridden by every option the user set (those that are not None)."""
    return {**preset, **{k: v for k, v in given.items() if v is not None}}


def patch_sizes(h: int, w: int) -> list[int]:
    """The square patch sizes that tile an h×w image exactly (1 … min(h, w))."""
    return [p for p in range(1, min(h, w) + 1) if h % p == 0 and w % p == 0]


def resize_hint(patch: int, side: int) -> str:
    """How to make ``patch``×``patch`` patches tile the model's square inputs: sides that are multiples
    of ``patch`` around ``side``, by :func:`size_setting` (a data.resize or crop the user gave may be the
    culprit)."""
    below = side // patch * patch
    sizes = [s for s in (below, below + patch) if s > 0]
    return size_setting(sizes, f"a multiple of {patch}")


#: (crop side, image side) while a crop (``augment.crop.size``) sets the model's input (:func:`cropped_input`)
_crop: list[tuple[int, int] | None] = [None]


@contextlib.contextmanager
def cropped_input(crop: int | None, image_side: int) -> Iterator[None]:
    """Within this block, models are built for ``crop``×``crop`` crops of images at least ``image_side``
    a side, and their size hints name the crop; ``crop`` None: for the whole images (data.resize)."""
    was = _crop[0]
    _crop[0] = (crop, image_side) if crop else None
    try:
        yield
    finally:
        _crop[0] = was


def input_words(h: int, w: int) -> str:
    """The model's h×w inputs in words: "8×8 images", or "6×6 crops (augment.crop.size=6)" while a crop
    sets them."""
    return f"{h}×{w} crops (augment.crop.size={h})" if _crop[0] else f"{h}×{w} images"


#: True while the model's input shape was given by hand (``vislab model info/gradcheck --input``)
_given: list[bool] = [False]


@contextlib.contextmanager
def input_given() -> Iterator[None]:
    """Within this block, models are built at an input shape given by hand (no data, no crop): their
    size hints name ``--input`` / ``input_shape``."""
    was = _given[0]
    _given[0] = True
    try:
        yield
    finally:
        _given[0] = was


def inputs_of(shape: tuple[int, ...]) -> str:
    """Inputs of ``shape`` in words, by where the shape came from: "of the data's shape, 1×8×8", or, for
    a shape given by hand (:func:`input_given`), "of the shape given, --input 1x8x8 / input_shape=(1, 8, 8)"."""
    if _given[0]:
        return (
            f"of the shape given, --input {'x'.join(map(str, shape))} / input_shape={tuple(shape)}"
        )
    return f"of the data's shape, {'×'.join(map(str, shape))}"


def size_setting(sides: list[int], why: str = "") -> str:
    """How the model's inputs become one of ``sides`` a side: "resize the images with data.resize=…",
    or, while a crop sets them, "crop them with augment.crop.size=…" (after a data.resize where the
    images are smaller than every side), each then as the command and Python give it; or, for a shape
    given by hand, "give --input …". ``why``: what the sides are ("a multiple of 5"), said with them."""
    if _given[0]:
        s = sides[-1]
        return (
            f"give inputs {_either(sides)} a side, e.g. --input C×{s}×{s} / input_shape=(C, {s}, {s})"
            + (f" ({why})" if why else "")
        )
    why = f"{why}: " if why else ""
    if _crop[0] is None:
        spelt = _spelt("data.resize", sides)
        return f"resize the images with data.resize={_either(sides)} ({why}{spelt})"
    fit = [s for s in sides if s <= _crop[0][1]]
    if fit:
        crop = _spelt("augment.crop.size", fit)
        return f"crop them with augment.crop.size={_either(fit)} ({why}{crop})"
    s = sides[0]
    return (
        f"crop them with augment.crop.size={s} after data.resize={s} ({why}--set "
        f"augment.crop.size={s} --set data.resize={s} / augment__crop__size={s}, data__resize={s})"
    )


def _either(sides: list[int]) -> str:
    return " or ".join(map(str, sides))


def _spelt(key: str, sides: list[int]) -> str:
    """Setting ``key`` to the first of ``sides`` as the command and Python give it: "--set
    data.resize=25 / data__resize=25"."""
    return f"--set {key}={sides[0]} / {key.replace('.', '__')}={sides[0]}"


_skip_pretrained = [0]


@contextlib.contextmanager
def skip_pretrained() -> Iterator[None]:
    """Within this block, ``pretrained``/``weights`` options load nothing: for rebuilding a model whose
    trained state dict (a checkpoint) replaces the weights anyway, so resume/predict need no weights file."""
    _skip_pretrained[0] += 1
    try:
        yield
    finally:
        _skip_pretrained[0] -= 1


def pretrained_skipped() -> bool:
    """Whether a :func:`skip_pretrained` block is active (builders then load no weights file)."""
    return _skip_pretrained[0] > 0
