"""The CNN family: the RDFIA 1-cd network by default, and the DLVC simple / deep / deep-normalised CNNs.

Layout: ``len(widths)`` stages, each ``convs_per_stage`` × (conv k×k → [BN] → ReLU) then 2×2 max-pool
(stride 2; ``ceil_mode`` rounds odd sizes up); then flatten → fc layers (ReLU, dropout between them) →
n_classes.
"""

from __future__ import annotations

from typing import Literal

import torch.nn as nn

from vislab.errors import UserError
from vislab.models.options import (
    Probability,
    Size,
    Widths,
    described,
    input_words,
    merge_options,
    require_image_input,
    size_setting,
)
from vislab.models.registry import register_model

# Presets fill the options the user did not set. `rdfia` is RDFIA 1-cd: conv 5×5 ×32, ×64, ×64
# (padding 2), each ReLU + 2×2 max-pool (stride 2), fc 1000, fc n_classes — 1,190,000 weights on 32×32
# (the reports' hand count) + 1,170 biases. With RandomCrop(28) the reports set ceil_mode=True on the pools
# "to keep the output size fixed": 28 → 14 → 7 → 4, so fc4 sees 4×4×64 and the count is unchanged; ceil
# mode is a no-op on the even sizes of 32×32. The DLVC reports use Adam + dropout 0.5 on a shallow CNN, a
# deeper one, and the deeper one with batch norm.
PRESETS: dict[str, dict] = {
    "rdfia": dict(
        widths=[32, 64, 64],
        kernel_size=5,
        convs_per_stage=1,
        fc=[1000],
        batchnorm=False,
        dropout=0.0,
        ceil_mode=True,
    ),
    "simple": dict(
        widths=[32, 64],
        kernel_size=3,
        convs_per_stage=1,
        fc=[256],
        batchnorm=False,
        dropout=0.5,
        ceil_mode=False,
    ),
    "deep": dict(
        widths=[32, 64, 128],
        kernel_size=3,
        convs_per_stage=2,
        fc=[256],
        batchnorm=False,
        dropout=0.5,
        ceil_mode=False,
    ),
    "deep-bn": dict(
        widths=[32, 64, 128],
        kernel_size=3,
        convs_per_stage=2,
        fc=[256],
        batchnorm=True,
        dropout=0.5,
        ceil_mode=False,
    ),
}

# What each option does (`vislab model info cnn` prints it beside the value and the allowed values)
OPTIONS: dict[str, str] = {
    "preset": "the network whose values fill the options left unset (rdfia: RDFIA 1-cd; DLVC's others)",
    "widths": "output channels of each stage's convolutions; one 2×2 max-pool per stage",
    "kernel_size": "side of the convolution kernels (padding keeps the size)",
    "convs_per_stage": "convolutions (conv → [BN] → ReLU) in each stage before its pool",
    "fc": "widths of the hidden fully connected layers before the one to the logits",
    "batchnorm": "batch norm after each convolution (which then has no bias)",
    "dropout": "dropout after each hidden fully connected layer (0: none)",
    "ceil_mode": "the max-pools round odd sizes up (7 → 4) instead of down (7 → 3)",
}


def _check_poolable(h: int, w: int, widths: list[int], ceil_mode: bool) -> None:
    """UserError unless h×w images survive one 2×2 max-pool per width (stage), naming the stages that fit."""
    stages = len(widths)
    if min(h, w) >= _pool_need(stages, ceil_mode):
        return
    fit = max(s for s in range(stages) if min(h, w) >= _pool_need(s, ceil_mode))
    need = _pool_need(stages, ceil_mode)
    bigger = size_setting([need])
    fix = (
        f"Use fewer stages (e.g. model.widths={_list(widths[:fit])}) or {bigger}" if fit else bigger
    )
    raise UserError(
        f"image too small for the cnn: {input_words(h, w)} cannot go through {stages} 2×2 max-pool"
        f"{'s' if stages > 1 else ''} (it needs at least {need}×{need}). {fix[0].upper()}{fix[1:]}."
    )


def _pool_need(stages: int, ceil_mode: bool) -> int:
    """The smallest side that ``stages`` 2×2 max-pools can pool: each needs at least 2 pixels a side —
    2^n rounding down, 2^(n-1) + 1 rounding up (no stage: 1)."""
    if stages == 0:
        return 1
    return 2 ** (stages - 1) + 1 if ceil_mode else 2**stages


def _list(values: list[int]) -> str:
    return f"[{','.join(map(str, values))}]"


@register_model("cnn", presets=lambda preset: PRESETS[preset])
@described(OPTIONS)
def cnn(
    input_shape: tuple[int, ...],
    num_classes: int,
    preset: Literal["rdfia", "simple", "deep", "deep-bn"] = "rdfia",
    widths: Widths | None = None,
    kernel_size: Size | None = None,
    convs_per_stage: Size | None = None,
    fc: list[Size] | None = None,
    batchnorm: bool | None = None,
    dropout: Probability | None = None,
    ceil_mode: bool | None = None,
) -> nn.Module:
    """``ceil_mode``: the max-pools round odd sizes up (7 → 4) instead of down (7 → 3)."""
    given = dict(
        widths=widths,
        kernel_size=kernel_size,
        convs_per_stage=convs_per_stage,
        fc=fc,
        batchnorm=batchnorm,
        dropout=dropout,
        ceil_mode=ceil_mode,
    )
    o = merge_options(PRESETS[preset], given)
    c, h, w = require_image_input("cnn", input_shape)
    _check_poolable(h, w, o["widths"], o["ceil_mode"])
    k = o["kernel_size"]
    layers: list[nn.Module] = []
    for width in o["widths"]:
        for _ in range(o["convs_per_stage"]):
            layers.append(nn.Conv2d(c, width, k, padding=k // 2, bias=not o["batchnorm"]))
            if o["batchnorm"]:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU(inplace=True))
            c = width
        layers.append(nn.MaxPool2d(2, stride=2, ceil_mode=o["ceil_mode"]))
        h, w = (-(-h // 2), -(-w // 2)) if o["ceil_mode"] else (h // 2, w // 2)
    layers.append(nn.Flatten())
    features = c * h * w
    for f in o["fc"]:
        layers += [nn.Linear(features, f), nn.ReLU(inplace=True)]
        if o["dropout"] > 0:
            layers.append(nn.Dropout(o["dropout"]))
        features = f
    layers.append(nn.Linear(features, num_classes))
    return nn.Sequential(*layers)
