"""A plain multi-layer perceptron (nn.Module) over flattened inputs."""

from __future__ import annotations

import math
from typing import Literal

import torch.nn as nn

from vislab.models.options import Probability, Size
from vislab.models.registry import register_model

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU}


@register_model("mlp")
def mlp(
    input_shape: tuple[int, ...],
    num_classes: int,
    hidden: list[Size] = [256],  # noqa: B006 (pydantic copies it)
    activation: Literal["tanh", "relu", "gelu"] = "relu",
    dropout: Probability = 0.0,
) -> nn.Module:
    layers: list[nn.Module] = [nn.Flatten()]
    width = math.prod(input_shape)
    for h in hidden:
        layers += [nn.Linear(width, h), ACTIVATIONS[activation]()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)
