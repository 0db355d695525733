"""Weights files for library models (resnet18, timm:<name>): read a state dict safely, load what fits,
refuse a file of another architecture."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import torch
import torch.nn as nn

from vislab.errors import UserError, show_note
from vislab.words import first_few

#: how many names (or whole modules, ``blocks.2.*``) a list of tensors shows before "and N more"
MOST_SHOWN = 6

#: a note for model.pretrained=true beside model.weights=FILE (.format(model=, file=))
WEIGHTS_WIN = (
    "{model}: model.pretrained=true does nothing beside model.weights: the weights come from '{file}'. "
    "Remove one of the two."
)

_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # torch's weights_only error prints bold text
_PICKLED = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


def read_state_dict(path: Path, what: str) -> dict[str, torch.Tensor]:
    """A state dict from a .pth/.pt (``weights_only``) or .safetensors file, unwrapped from a training
    checkpoint (under ``state_dict``/``model``) and from DDP's ``module.`` prefix; a clear UserError
    otherwise (a whole pickled model: how to save its state dict)."""
    try:
        if path.suffix == ".safetensors":
            # safetensors is not a vislab dependency (it comes with timm): only for a .safetensors file.
            from safetensors.torch import load_file

            sd = load_file(str(path))
        else:
            sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - corrupt file, foreign pickle, not a torch file
        raise UserError(_unreadable(path, what, e)) from None
    for key in ("state_dict", "model"):  # training checkpoints often nest the weights
        if isinstance(sd, dict) and isinstance(sd.get(key), dict):
            sd = sd[key]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise UserError(
            f"{what}: '{path}' holds no state dict of tensors. Give a file of model weights."
        )
    for prefix in ("module.", "_orig_mod."):  # saved from a DDP-wrapped or compiled model
        if sd and all(k.startswith(prefix) for k in sd):
            sd = {k[len(prefix) :]: v for k, v in sd.items()}
    return sd


def _unreadable(path: Path, what: str, error: Exception) -> str:
    """Why ``path`` could not be read (``error``, in one plain line): a pickled model or other object,
    with how to save its weights alone; anything else, to be replaced."""
    text = _ANSI.sub("", str(error))
    if pickled := _PICKLED.search(text):
        return (
            f"{what}: '{path}' holds a pickled {pickled.group(1)}, not a state dict of tensors (a whole "
            f"model saved with torch.save(model, path)?). Save its weights alone, "
            f"torch.save(model.state_dict(), path), and give that file."
        )
    line = next((s.strip() for s in text.splitlines() if s.strip()), "")
    if len(line) > 200:
        line = line[:200].rsplit(" ", 1)[0] + " ..."
    return (
        f"{what}: '{path}' could not be read as a weights file ({type(error).__name__}: {line}). "
        f"Replace it with the original download."
    )


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
    model: nn.Module,
    sd: dict[str, torch.Tensor],
    what: str,
    hint: str = "",
    fix: str = "",
    file: Path | None = None,
) -> list[str]:
    """Copy the tensors of ``sd`` whose names and shapes fit ``model`` (its first conv, of other input
    channels, adapted: :func:`first_conv`, :func:`adapted_channels`); returns the names left as
    initialised, said in a note that ends with ``hint`` (how to keep more of the file) where given, as are
    the file's tensors the model has no place for. A file of another architecture is refused
    (:func:`check_architecture`: ``file``, and ``fix``: what to give instead)."""
    own = model.state_dict()
    take, reinit, first, notes = {}, [], first_conv(own), []
    for name, t in own.items():
        src = sd.get(name)
        if src is not None and src.shape == t.shape:
            take[name] = src
        elif src is not None and name == first and (adapted := adapted_channels(src, t.shape)):
            take[name] = adapted[0]
            notes.append(f"{what}: '{name}' {adapted[1]}.")
        else:
            reinit.append(name)
    check_architecture(own, sd, len(take), f"{what}: '{file}'" if file else what, fix)
    model.load_state_dict(take, strict=False)
    for note in notes:
        show_note(note)
    unused = [k for k in sd if k not in own]
    if reinit or unused:
        layers = sorted({n.rsplit(".", 1)[0] for n in reinit})
        said = [f"re-initialised {', '.join(layers)} (no fitting pretrained tensor)"] * bool(reinit)
        said += [f"not used (the file's, no such tensor here): {shown_names(unused, sd)}"] * bool(
            unused
        )
        show_note(
            f"{what}: {'; '.join(said)}; the rest is pretrained.{f' {hint}' if hint and reinit else ''}"
        )
    return reinit


def check_architecture(
    own: dict[str, torch.Tensor], sd: dict[str, torch.Tensor], fitting: int, what: str, fix: str
) -> None:
    """UserError where the weights file ``sd`` is of another architecture than the model's state ``own``:
    none of its tensors fits (``fitting``: how many do, by name and shape), more than a quarter of them
    have no namesake in the model, or more of them differ in shape from their namesake than half as many
    as fit (the model's first conv aside: a stem of other colours or size is adapted or re-initialised).
    A file of fewer tensors (a backbone alone) or with a head for other classes loads. Names the first
    tensor that differs and ``fix``: the file to give instead."""
    first = first_conv(own)
    unused = [k for k in sd if k not in own]
    other = [k for k in sd if k in own and k != first and own[k].shape != sd[k].shape]
    if fitting and len(unused) * 4 <= len(sd) and len(other) * 2 <= fitting:
        return
    said = [f"{fitting} of the model's {len(own)} tensors find a namesake of the same shape in it"]
    if unused:
        said.append(f"{len(unused)} of its {len(sd)} have none here ({shown_names(unused, sd)})")
    if other:
        said.append(f"{len(other)} differ in shape from their namesake")
    differs = next((k for k in sd if k in unused or k in other), None)
    if differs in other:
        said.append(
            f"the first that differs: '{differs}' is {_dims(sd[differs])} in the file, "
            f"{_dims(own[differs])} here"
        )
    elif differs is not None:
        said.append(f"the first that differs: '{differs}', which this model has not")
    raise UserError(
        f"{what} is a weights file of another architecture: {'; '.join(said)}. "
        f"{fix or 'Give a weights file of this model.'}"
    )


def _dims(t: torch.Tensor) -> str:
    """'64×64×3×3'."""
    return "×".join(map(str, t.shape)) or "a scalar"


def shown_names(names: list[str], among: Iterable[str]) -> str:
    """``names`` for a message (:func:`grouped_names`): a module's as ``blocks.2.* (12 tensors)``; the
    first :data:`MOST_SHOWN` of those and the other names, then how many more."""
    shown = grouped_names(names, among)
    items = [f"{k} ({n} tensors)" if k.endswith(".*") else k for k, n in shown.items()]
    return first_few(items, MOST_SHOWN)


def grouped_names(names: list[str], among: Iterable[str]) -> dict[str, int]:
    """``names`` with a module whose tensors in ``among`` are all named, 3 or more, as one ``blocks.2.*``
    (the outermost such module): each item → how many tensors it stands for."""
    named = set(names)
    under: dict[str, list[str]] = {}  # module → its tensors in among
    for key in among:
        parts = key.split(".")
        for i in range(1, len(parts)):
            under.setdefault(".".join(parts[:i]), []).append(key)
    shown: dict[str, int] = {}
    for name in names:
        parts = name.split(".")
        prefixes = (".".join(parts[:i]) for i in range(1, len(parts)))
        whole = [p for p in prefixes if len(under[p]) >= 3 and named.issuperset(under[p])]
        item = f"{whole[0]}.*" if whole else name  # the outermost module named whole
        shown[item] = shown.get(item, 0) + 1
    return shown
