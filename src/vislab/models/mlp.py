"""A plain multi-layer perceptron (nn.Module) over flattened inputs."""

from __future__ import annotations

import math
from typing import Literal

import torch.nn as nn

from vislab.models.options import Probability, Size, described
from vislab.models.registry import register_model

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU}

# What each option does (`vislab model info mlp` prints it beside the value and the allowed values)
OPTIONS: dict[str, str] = {
    "hidden": "widths of the hidden layers over the flattened input",
    "activation": "the nonlinearity after each hidden layer",
    "dropout": "dropout after each hidden layer (0: none)",
}


@register_model("mlp")
@described(OPTIONS)
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
