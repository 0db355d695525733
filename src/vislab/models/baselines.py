"""The reports' majority baseline: always predicts the training set's most frequent class."""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from vislab.models.hooks import ModelHooks
from vislab.models.registry import register_model


class Majority(ModelHooks, nn.Module):
    """Fitted, not trained: ``fit_arrays`` counts the train labels; forward returns log class priors."""

    trained_by = "fit_arrays"

    def __init__(self, num_classes: int):
        super().__init__()
        self.register_buffer("log_prior", torch.full((num_classes,), -math.log(num_classes)))

    def fit_arrays(self, x: torch.Tensor, y: torch.Tensor) -> None:
        counts = torch.bincount(y.long().cpu(), minlength=len(self.log_prior)).double()
        prior = counts / counts.sum()
        self.log_prior.copy_(torch.log(prior.clamp_min(1e-12)).to(self.log_prior))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_prior.expand(x.shape[0], -1)


@register_model("majority")
def majority(input_shape: tuple[int, ...], num_classes: int) -> Majority:
    return Majority(num_classes)
