"""`resnet18`: torchvision's ResNet-18 (the strongest baseline of DLVC assignment 1), adapted to small images.

- ``cifar_stem`` (default): the first conv becomes 3×3 stride 1 and the max-pool goes, so a 32×32
  image keeps a 4×4 map before the global pool (the ImageNet stem would leave 1×1);
- any number of input channels (a new first conv; 1 for MNIST);
- ``pretrained`` loads torchvision's ImageNet weights from its local cache, ``weights`` from a file.
  Nothing is downloaded: a missing file is a UserError saying where to put it. Tensors whose shape
  no longer fits (the classifier, a changed stem) are re-initialised and listed on stderr; a 7×7
  RGB stem on 1-channel input keeps its filters summed over colour.

Rebuilding a trained model from a checkpoint needs no weights file: wrap the build in
:func:`vislab.models.skip_pretrained` (the checkpoint's state dict replaces the weights anyway).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from vislab.errors import UserError
from vislab.models.options import pretrained_skipped, require_image_input
from vislab.models.registry import register_model
from vislab.models.weights import load_fitting, read_state_dict

RESNET18_FILE = "resnet18-f37072fd.pth"  # torchvision's ResNet18_Weights.IMAGENET1K_V1
RESNET18_URL = f"https://download.pytorch.org/models/{RESNET18_FILE}"


def _resolve_weights(pretrained: bool, weights: str | None) -> Path | None:
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise UserError(
                f"model.weights: file '{path}' does not exist. Give the path of a ResNet-18 state dict "
                f"(.pth), or use model.pretrained=true with torchvision's cached ImageNet weights."
            )
        return path
    if not pretrained:
        return None
    path = Path(torch.hub.get_dir()) / "checkpoints" / RESNET18_FILE
    if not path.is_file():
        raise UserError(
            f"model.pretrained=true needs torchvision's ImageNet weights at '{path}', which is missing "
            f"(vislab never downloads weights). Download {RESNET18_URL} and place it there, or give "
            f"another file with model.weights=FILE."
        )
    return path


# a pretrained file's 7×7 conv1 fits no cifar_stem (3×3): how to keep it
_STEM_HINT = (
    "conv1 is model.cifar_stem's 3×3 stem (the default, for small images); model.cifar_stem=false keeps "
    "the pretrained 7×7 conv1 and its max-pool (they divide the image by 4 first: for images of 64 px "
    "or more)."
)


@register_model("resnet18")
def resnet18(
    input_shape: tuple[int, ...],
    num_classes: int,
    cifar_stem: bool = True,
    pretrained: bool = False,
    weights: str | None = None,
) -> nn.Module:
    """torchvision's ResNet-18 with a small-image stem, any channel count and optional local weights."""
    # torchvision.models takes seconds to import: only when a resnet18 is built.
    from torchvision.models import resnet18 as tv_resnet18

    c, h, w = require_image_input("resnet18", input_shape)
    path = None if pretrained_skipped() else _resolve_weights(pretrained, weights)
    model = tv_resnet18(weights=None, num_classes=num_classes)
    if cifar_stem or c != 3:
        k, stride = (3, 1) if cifar_stem else (7, 2)
        model.conv1 = nn.Conv2d(c, 64, kernel_size=k, stride=stride, padding=k // 2, bias=False)
        # as torchvision's convs
        nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
        if cifar_stem:
            model.maxpool = nn.Identity()
    if path is not None:
        load_fitting(model, read_state_dict(path, "resnet18"), "resnet18", _STEM_HINT * cifar_stem)
    return model
