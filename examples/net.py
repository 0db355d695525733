"""An own model for vislab, as the README's example trains it:

    vislab train --set model.name=examples/net.py:Net --set model.width=64 --set data.name=digits

A class taking ``num_classes`` (and ``input_shape``, because it names it); every other argument is an
option under ``model.*``, checked against this signature.
"""

from torch import nn


class Net(nn.Module):
    """Two 3×3 convolutions of ``width`` channels, global average pooling, a linear classifier."""

    def __init__(self, num_classes: int, input_shape: tuple[int, ...], width: int = 32) -> None:
        super().__init__()
        channels = input_shape[0]
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.head(self.features(x))
