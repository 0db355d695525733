"""The CNN family: the RDFIA 1-cd network by default, and the DLVC simple / deep / deep-normalised CNNs.

Layout: ``len(widths)`` stages, each ``convs_per_stage`` × (conv k×k → [BN] → ReLU) then 2×2 max-pool;
then flatten → fc layers (ReLU, dropout between them) → n_classes.
"""

from __future__ import annotations

from typing import Literal

import torch.nn as nn

from vislab.errors import UserError
from vislab.models.options import Probability, Size, merge_options, require_image_input
from vislab.models.registry import register_model

# Presets fill the options the user did not set. `rdfia` is RDFIA 1-cd: conv 5×5 ×32, ×64, ×64
# (padding 2), each ReLU + 2×2 max-pool, fc 1000, fc n_classes. The DLVC reports (001) use
# Adam + dropout 0.5 on a shallow CNN, a deeper one, and the deeper one with batch norm.
PRESETS: dict[str, dict] = {
    "rdfia": dict(
        widths=[32, 64, 64],
        kernel_size=5,
        convs_per_stage=1,
        fc=[1000],
        batchnorm=False,
        dropout=0.0,
    ),
    "simple": dict(
        widths=[32, 64], kernel_size=3, convs_per_stage=1, fc=[256], batchnorm=False, dropout=0.5
    ),
    "deep": dict(
        widths=[32, 64, 128],
        kernel_size=3,
        convs_per_stage=2,
        fc=[256],
        batchnorm=False,
        dropout=0.5,
    ),
    "deep-bn": dict(
        widths=[32, 64, 128],
        kernel_size=3,
        convs_per_stage=2,
        fc=[256],
        batchnorm=True,
        dropout=0.5,
    ),
}


@register_model("cnn")
def cnn(
    input_shape: tuple[int, ...],
    num_classes: int,
    preset: Literal["rdfia", "simple", "deep", "deep-bn"] = "rdfia",
    widths: list[Size] | None = None,
    kernel_size: Size | None = None,
    convs_per_stage: Size | None = None,
    fc: list[Size] | None = None,
    batchnorm: bool | None = None,
    dropout: Probability | None = None,
) -> nn.Module:
    given = dict(
        widths=widths,
        kernel_size=kernel_size,
        convs_per_stage=convs_per_stage,
        fc=fc,
        batchnorm=batchnorm,
        dropout=dropout,
    )
    o = merge_options(PRESETS[preset], given)
    c, h, w = require_image_input("cnn", input_shape)
    if min(h, w) >> len(o["widths"]) < 1:
        raise UserError(
            f"image too small for the cnn: {h}×{w} cannot go through {len(o['widths'])} 2×2 max-pools "
            f"(it needs at least {2 ** len(o['widths'])}×{2 ** len(o['widths'])}). Use fewer stages "
            f"(e.g. model.widths=[32,64]) or up-sample with data.resize={2 ** len(o['widths'])}."
        )
    k = o["kernel_size"]
    layers: list[nn.Module] = []
    for width in o["widths"]:
        for _ in range(o["convs_per_stage"]):
            layers.append(nn.Conv2d(c, width, k, padding=k // 2, bias=not o["batchnorm"]))
            if o["batchnorm"]:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU(inplace=True))
            c = width
        layers.append(nn.MaxPool2d(2))
        h, w = h // 2, w // 2
    layers.append(nn.Flatten())
    features = c * h * w
    for f in o["fc"]:
        layers += [nn.Linear(features, f), nn.ReLU(inplace=True)]
        if o["dropout"] > 0:
            layers.append(nn.Dropout(o["dropout"]))
        features = f
    layers.append(nn.Linear(features, num_classes))
    return nn.Sequential(*layers)
