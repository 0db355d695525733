"""`resnet18`: torchvision's ResNet-18 (the strongest baseline of DLVC assignment 1), adapted to small images.

- ``cifar_stem`` (default): the first conv becomes 3×3 stride 1 and the max-pool goes, so a 32×32
  image keeps a 4×4 map before the global pool (the ImageNet stem would leave 1×1);
- any number of input channels (a new first conv; 1 for MNIST);
- ``pretrained`` loads torchvision's ImageNet weights from its local cache, ``weights`` from a file.
  Nothing is downloaded: a missing file is a UserError saying where to put it. Tensors whose shape
  no longer fits (the classifier, a changed stem) are re-initialised and listed on stderr; a 7×7
  RGB stem on 1-channel input keeps its filters summed over colour. A file of another architecture
  is refused (another torchvision ResNet's: with the timm model that takes it, timm:resnetNN).

Rebuilding a trained model from a checkpoint needs no weights file: wrap the build in
:func:`vislab.models.skip_pretrained` (the checkpoint's state dict replaces the weights anyway).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from vislab.errors import UserError, show_note
from vislab.models.options import described, pretrained_skipped, require_image_input
from vislab.models.registry import COPIES_WEIGHTS, WeightOptions, register_model
from vislab.models.weights import WEIGHTS_WIN, load_fitting, read_state_dict

RESNET18_FILE = "resnet18-f37072fd.pth"  # torchvision's ResNet18_Weights.IMAGENET1K_V1
RESNET18_URL = f"https://download.pytorch.org/models/{RESNET18_FILE}"


def _resolve_weights(pretrained: bool, weights: str | None) -> Path | None:
    """The weights file to load: ``model.weights`` (a note where model.pretrained=true is also given:
    the file wins), torchvision's cached ImageNet file for ``pretrained``, or None."""
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise UserError(
                f"model.weights: file '{path}' does not exist. Give the path of a ResNet-18 state dict "
                f"(.pth), or use model.pretrained=true with torchvision's cached ImageNet weights."
            )
        if pretrained:
            show_note(WEIGHTS_WIN.format(model="resnet18", file=path))
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
@described(
    {
        "cifar_stem": "a 3×3 stride-1 first conv and no max-pool, for 32×32 images (false: the 7×7 "
        "stride-2 conv and max-pool, for 64 px or more)",
        "pretrained": "torchvision's ImageNet weights, from its local cache (vislab never downloads them)",
        "weights": "a ResNet-18 state dict file (.pth) to start from; wins over pretrained",
    }
)
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
    if not cifar_stem and min(h, w) < 64 and not pretrained_skipped():  # said once: not on rebuilds
        show_note(
            f"resnet18: model.cifar_stem=false on {h}×{w} images: the 7×7 stride-2 conv1 and max-pool "
            f"divide them by 4 before the first block (a {-(-h // 32)}×{-(-w // 32)} map before the "
            f"global pool), a stem for images of 64 px or more. Leave model.cifar_stem at its default "
            f"(true) for small images, or enlarge them with data.resize."
        )
    model = tv_resnet18(weights=None, num_classes=num_classes)
    if cifar_stem or c != 3:
        k, stride = (3, 1) if cifar_stem else (7, 2)
        model.conv1 = nn.Conv2d(c, 64, kernel_size=k, stride=stride, padding=k // 2, bias=False)
        # as torchvision's convs
        nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
        if cifar_stem:
            model.maxpool = nn.Identity()
    if path is not None:
        sd = read_state_dict(path, "resnet18")
        fix = _other_file_fix(sd, weights)
        load_fitting(model, sd, "resnet18", _STEM_HINT * cifar_stem, fix, path)
    return model


COPIES_WEIGHTS["resnet18"] = WeightOptions(published="pretrained", file="weights")


# a torchvision ResNet's blocks per stage → its depth (basic blocks, bottlenecks)
_DEPTHS = (
    {(2, 2, 2, 2): "18", (3, 4, 6, 3): "34"},
    {(3, 4, 6, 3): "50", (3, 4, 23, 3): "101", (3, 8, 36, 3): "152"},
)


def _other_file_fix(sd: dict[str, torch.Tensor], weights: str | None) -> str:
    """What to give instead of a weights file of another architecture ``sd``: a ResNet-18 file, or,
    for another torchvision ResNet's, the timm model of its names (timm's ResNets keep torchvision's)."""
    fix = (
        f"Give a ResNet-18 state dict (torchvision's {RESNET18_FILE}; model.pretrained=true finds it "
        f"in torch hub's cache)"
    )
    blocks = tuple(
        len({k.split(".")[1] for k in sd if k.startswith(f"layer{i}.")}) for i in range(1, 5)
    )
    depth = _DEPTHS["layer1.0.conv3.weight" in sd].get(blocks)
    if depth is None or weights is None:
        return f"{fix}."
    return (
        f"{fix}, or train the ResNet-{depth} the file holds: --set model.name=timm:resnet{depth} "
        f"--set model.weights={weights} (timm's ResNets name their tensors as torchvision's)."
    )
