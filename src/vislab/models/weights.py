"""Weights files for library models (resnet18, timm:<name>): read a state dict safely, load what fits."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from vislab.errors import UserError, show_note


def read_state_dict(path: Path, what: str) -> dict[str, torch.Tensor]:
    """A state dict from a .pth/.pt (``weights_only``) or .safetensors file; a clear UserError otherwise."""
    try:
        if path.suffix == ".safetensors":
            # safetensors is not a vislab dependency (it comes with timm): only for a .safetensors file.
            from safetensors.torch import load_file

            sd = load_file(str(path))
        else:
            sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - corrupt file, foreign pickle, not a torch file
        raise UserError(
            f"{what}: '{path}' could not be read as a weights file ({type(e).__name__}: "
            f"{str(e)[:200]}). Replace it with the original download."
        ) from None
    for key in ("state_dict", "model"):  # training checkpoints often nest the weights
        if isinstance(sd, dict) and isinstance(sd.get(key), dict):
            sd = sd[key]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise UserError(
            f"{what}: '{path}' holds no state dict of tensors. Give a file of model weights."
        )
    return sd


def load_fitting(model: nn.Module, sd: dict[str, torch.Tensor], what: str) -> list[str]:
    """Copy the tensors of ``sd`` whose names and shapes fit ``model``; returns the names left as initialised."""
    own = model.state_dict()
    take, reinit = {}, []
    for name, t in own.items():
        src = sd.get(name)
        if src is not None and src.shape == t.shape:
            take[name] = src
        elif (
            src is not None
            and src.ndim == 4
            and t.ndim == 4
            and src.shape[1] == 3
            and t.shape[1] == 1
            and src.shape[0] == t.shape[0]
            and src.shape[2:] == t.shape[2:]
        ):
            take[name] = src.sum(1, keepdim=True)  # RGB filters on a gray image: the same response
            show_note(
                f"{what}: '{name}' adapted from RGB to 1 channel (filters summed over colour)."
            )
        else:
            reinit.append(name)
    if not take:
        raise UserError(
            f"{what}: no tensor of the weights file fits this model (wrong architecture?)."
        )
    model.load_state_dict(take, strict=False)
    if reinit:
        layers = sorted({n.rsplit(".", 1)[0] for n in reinit})
        show_note(
            f"{what}: re-initialised {', '.join(layers)} (no fitting pretrained tensor); the rest is pretrained."
        )
    return reinit
