"""`resnet18`: torchvision's ResNet-18 (report 001's strongest baseline), adapted to small images.

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

import sys
from pathlib import Path

import torch
import torch.nn as nn

from vislab.errors import UserError
from vislab.models import pretrained_skipped, register_model, require_image_input

RESNET18_FILE = "resnet18-f37072fd.pth"  # torchvision's ResNet18_Weights.IMAGENET1K_V1
RESNET18_URL = f"https://download.pytorch.org/models/{RESNET18_FILE}"
def note(message: str) -> None:
    """A one-line notice for the user on stderr (e.g. which tensors were re-initialised)."""
    print(f"note: {message}", file=sys.stderr)


def read_state_dict(path: Path, what: str) -> dict[str, torch.Tensor]:
    """A state dict from a .pth/.pt (``weights_only``) or .safetensors file; a clear UserError otherwise."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            sd = load_file(str(path))
        else:
            sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - corrupt file, foreign pickle, not a torch file
        raise UserError(f"{what}: '{path}' could not be read as a weights file ({type(e).__name__}: "
                        f"{str(e)[:200]}). Replace it with the original download.") from None
    for key in ("state_dict", "model"):  # training checkpoints often nest the weights
        if isinstance(sd, dict) and isinstance(sd.get(key), dict):
            sd = sd[key]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise UserError(f"{what}: '{path}' holds no state dict of tensors. Give a file of model weights.")
    return sd


def load_fitting(model: nn.Module, sd: dict[str, torch.Tensor], what: str) -> list[str]:
    """Copy the tensors of ``sd`` whose names and shapes fit ``model``; returns the names left as initialised."""
    own = model.state_dict()
    take, reinit = {}, []
    for name, t in own.items():
        src = sd.get(name)
        if src is not None and src.shape == t.shape:
            take[name] = src
        elif (src is not None and src.ndim == 4 and t.ndim == 4 and src.shape[1] == 3 and t.shape[1] == 1
              and src.shape[0] == t.shape[0] and src.shape[2:] == t.shape[2:]):
            take[name] = src.sum(1, keepdim=True)  # RGB filters on a gray image: the same response
            note(f"{what}: '{name}' adapted from RGB to 1 channel (filters summed over colour).")
        else:
            reinit.append(name)
    if not take:
        raise UserError(f"{what}: no tensor of the weights file fits this model (wrong architecture?).")
    model.load_state_dict(take, strict=False)
    if reinit:
        layers = sorted({n.rsplit(".", 1)[0] for n in reinit})
        note(f"{what}: re-initialised {', '.join(layers)} (no fitting pretrained tensor); the rest is pretrained.")
    return reinit


def _resolve_weights(pretrained: bool, weights: str | None) -> Path | None:
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise UserError(f"model.weights: file '{path}' does not exist. Give the path of a ResNet-18 state dict "
                            f"(.pth), or use model.pretrained=true with torchvision's cached ImageNet weights.")
        return path
    if not pretrained:
        return None
    path = Path(torch.hub.get_dir()) / "checkpoints" / RESNET18_FILE
    if not path.is_file():
        raise UserError(f"model.pretrained=true needs torchvision's ImageNet weights at '{path}', which is missing "
                        f"(vislab never downloads weights). Download {RESNET18_URL} and place it there, or give "
                        f"another file with model.weights=FILE.")
    return path


@register_model("resnet18")
def resnet18(
    input_shape: tuple[int, ...],
    num_classes: int,
    cifar_stem: bool = True,
    pretrained: bool = False,
    weights: str | None = None,
) -> nn.Module:
    """torchvision's ResNet-18 with a small-image stem, any channel count and optional local weights."""
    from torchvision.models import resnet18 as tv_resnet18

    c, h, w = require_image_input("resnet18", input_shape)
    path = None if pretrained_skipped() else _resolve_weights(pretrained, weights)
    model = tv_resnet18(weights=None, num_classes=num_classes)
    if cifar_stem or c != 3:
        k, stride = (3, 1) if cifar_stem else (7, 2)
        model.conv1 = nn.Conv2d(c, 64, kernel_size=k, stride=stride, padding=k // 2, bias=False)
        nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")  # as torchvision's convs
        if cifar_stem:
            model.maxpool = nn.Identity()
    if path is not None:
        load_fitting(model, read_state_dict(path, "resnet18"), "resnet18")
    return model
