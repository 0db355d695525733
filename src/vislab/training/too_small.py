"""A library's model (``timm:inception_v3``) whose strides and pools shrink the run's images below a
layer's kernel: a ConfigError naming the layer and the smallest side that runs, not torch's traceback;
one that shrinks them to a single pixel by the end of its last stage (``timm:resnet18`` on 8×8 digits) runs,
with a note."""

from __future__ import annotations

import re

import torch

from vislab.errors import ConfigError
from vislab.models.code_errors import describe_layer, raising_layer
from vislab.models.hooks import hooks_of
from vislab.models.options import input_words, size_setting

#: torch's words for a map that layers (a library model's strides and pools) shrank below a kernel
_TOO_SMALL = re.compile(
    r"Kernel size can't be greater than actual input size|Output size is too small|"
    r"smaller than (the )?kernel size"
)


def shrinks_too_much(error: Exception) -> bool:
    """Whether ``error`` is torch's for a map smaller than a layer's kernel."""
    return bool(_TOO_SMALL.search(str(error)))


def too_small(
    model: torch.nn.Module,
    name: str,
    shape: tuple[int, ...],
    device: torch.device,
    error: Exception,
    when: str,
) -> ConfigError:
    """ConfigError for model ``name``, a library's, whose layers shrink inputs of ``shape`` below a
    kernel's size (``error``, raised ``when``): the layer, and the images' side to give (a data.resize,
    or a crop, or ``--input``): the smallest that runs, searched up to 224 (or the larger side its
    pretrained weights were made for: its hooks' ``weights_input_size``)."""
    found = raising_layer(error, model)
    layer = (
        f": its layer {describe_layer(*found)} gets a map smaller than its kernel"
        if found and found[0]
        else ""
    )
    size = hooks_of(model).weights_input_size()
    trained = f"; its pretrained weights are for {size[1]}×{size[2]}" if size else ""
    top = max(224, *size[1:]) if size else 224
    smallest = _smallest_side(model, shape, device, top)
    fix = (
        size_setting([smallest], f"the smallest side it takes{trained}")
        if smallest
        else f"no square side up to {top} runs it either{trained}"
    )
    return ConfigError(
        f"model '{name}' shrinks the {input_words(*shape[-2:])} below a kernel's size{layer} "
        f"({name.partition(':')[0]} raised {type(error).__name__} {when}: {error}). "
        f"{fix[0].upper()}{fix[1:]}."
    )


def _smallest_side(
    model: torch.nn.Module, shape: tuple[int, ...], device: torch.device, top: int
) -> int | None:
    """The smallest square side, above the inputs' and up to ``top``, that ``model`` maps to an output
    (a bisection: a larger side runs where a smaller one does); None where ``top`` does not run."""

    def runs(side: int) -> bool:
        try:
            with torch.no_grad():
                model(torch.zeros(1, shape[0], side, side, device=device))
        except Exception:  # noqa: BLE001 - any: this side does not run
            return False
        return True

    low, high = max(shape[-2:]), top  # low does not run; high does, once checked
    if high <= low or not runs(high):
        return None
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if runs(mid) else (mid, high)
    return high


def one_pixel_note(model: torch.nn.Module, name: str, shape: tuple[int, ...]) -> str | None:
    """A note when CNN ``name`` (``model``) shrinks inputs of ``shape`` to a 1×1 map by the end of its last
    stage: its total stride (its hooks' ``total_stride``: a timm CNN's, not a ViT's, whose tokens are
    patches) is at least their side. It trains, but its deepest layers see at most 2×2 positions: little
    layout left to learn from."""
    reduction = hooks_of(model).total_stride()
    if reduction is None or len(shape) < 3 or max(shape[-2:]) > reduction:  # vectors: no map
        return None
    h, w = shape[-2:]
    side = 2 * reduction  # the smallest side that leaves a 2×2 map
    return (
        f"model '{name}' shrinks its inputs {reduction}-fold (its strides and pools): the "
        f"{input_words(h, w)} end as a 1×1 map after its last stage, whose layers see at most 2×2 "
        f"positions. "
        f"It trains, but small images suit a model made for them better (resnet18, whose CIFAR stem "
        f"keeps 4×4 of 32×32; cnn); or {size_setting([side], 'for a 2×2 map')}."
    )
