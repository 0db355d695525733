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


def adapted_channels(src: torch.Tensor, shape: torch.Size) -> tuple[torch.Tensor, str] | None:
    """A conv kernel ``src`` (out × in × kh × kw) made to fit ``shape``, which differs from it in the input
    channels alone, for images of another colour: RGB filters on grey images summed over colour (a grey
    image seen as RGB gives the same response), grey filters on RGB images repeated over the colours
    and divided by their count (the same response to a grey RGB image); with what was done, in words.
    None for anything else (another kernel, other filters, other channel counts)."""
    fits = src.ndim == 4 and len(shape) == 4 and src.shape[0] == shape[0]
    if not fits or src.shape[2:] != shape[2:] or {src.shape[1], shape[1]} != {1, 3}:
        return None
    if shape[1] == 1:
        return src.sum(
            1, keepdim=True
        ), "adapted from RGB to 1 channel (filters summed over colour)"
    grey = "adapted from 1 channel to RGB (each filter repeated over the colours, divided by 3)"
    return src.repeat(1, 3, 1, 1) / 3, grey


def first_conv(state: dict[str, torch.Tensor]) -> str | None:
    """The name of a model's first conv kernel, the one that sees the image's colours: the first 4-D
    tensor of its state dict ``state`` (None: it has none). Only it is adapted to other colours
    (:func:`adapted_channels`); a deeper conv of 1 or 3 input channels sees features, not colours."""
    return next((name for name, t in state.items() if t.ndim == 4), None)


def load_fitting(
    model: nn.Module, sd: dict[str, torch.Tensor], what: str, hint: str = ""
) -> list[str]:
    """Copy the tensors of ``sd`` whose names and shapes fit ``model`` (its first conv, of other input
    channels, adapted: :func:`first_conv`, :func:`adapted_channels`); returns the names left as
    initialised, said in a note that ends with ``hint`` (how to keep more of the file) where given."""
    own = model.state_dict()
    take, reinit, first = {}, [], first_conv(own)
    for name, t in own.items():
        src = sd.get(name)
        if src is not None and src.shape == t.shape:
            take[name] = src
        elif src is not None and name == first and (adapted := adapted_channels(src, t.shape)):
            take[name] = adapted[0]
            show_note(f"{what}: '{name}' {adapted[1]}.")
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
            f"{what}: re-initialised {', '.join(layers)} (no fitting pretrained tensor); the rest is "
            f"pretrained.{f' {hint}' if hint else ''}"
        )
    return reinit
