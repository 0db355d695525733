"""How the user's own model code (``model.name=file.py:Net``) is blamed when it raises: vislab's one-paragraph
message naming the model, the moment and the place — the user's line, or, for a model assembled from torch's
own modules (``nn.Sequential(...)`` returned by a builder), the layer whose forward raised — then the line
``your code raised:`` and the traceback of the user's frames only (vislab's and torch's left out). A model
of a library named by its prefix (``timm:resnet18``) is blamed so too, in its words: ``timm raised …``,
then the line ``timm raised:`` and the exception.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Collection
from pathlib import Path

import torch.nn as nn

from vislab.errors import UserCodeError

MARKER = "your code raised:"  # the line between vislab's message and the user's own traceback
_VISLAB_DIR = Path(__file__).resolve().parents[1]


def code_failed(
    reference: str,
    error: BaseException,
    when: str,
    files: list[Path],
    then: str = "",
    model: nn.Module | None = None,
) -> UserCodeError:
    """A UserCodeError for an exception the user's code raised: vislab's one-paragraph message (ending
    with ``then``, e.g. what was kept and how to go on), the line ``your code raised:`` (a library's
    model, ``timm:…``: ``timm raised:``), then the traceback of the frames in ``files`` only. With
    ``model`` (the user's, built): the layer of it whose forward raised, when that is not the model
    itself, is named too."""
    library = _library(reference)
    frames = _frames_in(error, files)
    at = ""
    # a SyntaxError's own place: the file that does not parse (a sibling module), not the line importing it
    if isinstance(error, SyntaxError) and error.filename:
        at = f" at {error.filename}, line {error.lineno}"
    elif frames:
        at = f" at {frames[-1].filename}, line {frames[-1].lineno}"
    found = raising_layer(error, model) if model is not None else None
    layer = found is not None and found[0] != ""
    if layer:
        at += f", in its layer {describe_layer(*found)}"  # type: ignore[misc]
    lines = (
        ["Traceback (most recent call last):\n", *traceback.format_list(frames)] if frames else []
    )
    lines += traceback.format_exception_only(type(error), error)
    who = f"{library} raised" if library else MARKER[:-1]
    return UserCodeError(
        f"model '{reference}': {who} {type(error).__name__} {when}{at}. "
        f"{_fix(reference, library, bool(frames), layer)}.{' ' if then else ''}{then}"
        f"\n{who}:\n{''.join(lines).rstrip()}"
    )


def _fix(reference: str, library: str | None, frames: bool, layer: bool) -> str:
    """What to do: fix the user's line or layer, and the model.* options; a library's model: its options."""
    if library:
        return "Check the model.* options given to it (the error is below)"
    if frames:
        fix = "Fix it there (the traceback of your code is below)"
    elif layer:
        fix = (
            f"Check that layer's sizes, and those of the layer before it, where {reference} builds "
            f"them (the error is below)"
        )
    else:
        fix = "Fix it (the error is below)"
    return f"{fix}, or the model.* options given to it"


def _library(reference: str) -> str | None:
    """The library whose model ``reference`` names by its registered prefix (``timm`` for
    ``timm:resnet18``), or None for the user's own code."""
    # here, not at the top: the registry imports this module (through models/user.py)
    from vislab.models.registry import MODEL_PREFIXES

    prefix, _, rest = reference.partition(":")
    return prefix if rest and prefix in MODEL_PREFIXES else None


def raised_in(error: BaseException, files: list[Path]) -> bool:
    """Whether ``error``'s traceback passes through code in ``files`` (the user's own): an exception
    raised in, or under, the user's model, as opposed to one of vislab's (a bug)."""
    return bool(_frames_in(error, files))


def raising_layer(error: BaseException, model: nn.Module) -> tuple[str, nn.Module] | None:
    """The innermost module of ``model`` whose call is in ``error``'s traceback — its dotted name (""
    for ``model`` itself) and the module — or None when the error did not pass through ``model``'s
    forward. Read from the frames' ``self``: nothing runs per step to know it."""
    names = {id(m): name for name, m in model.named_modules()}
    found = None
    for frame, _ in traceback.walk_tb(error.__traceback__):
        owner = frame.f_locals.get("self")
        if isinstance(owner, nn.Module) and id(owner) in names:
            found = (names[id(owner)], owner)
    return found


def describe_layer(name: str, module: nn.Module) -> str:
    """``'1' (Linear(in_features=100, out_features=32, bias=True))``: a leaf layer with its sizes, a
    container by its class."""
    what = repr(module) if not any(True for _ in module.children()) else type(module).__name__
    return f"'{name}' ({what})"


def _frames_in(error: BaseException, files: list[Path]) -> list[traceback.FrameSummary]:
    return [f for f in traceback.extract_tb(error.__traceback__) if _in(f.filename, files)]


def _in(filename: str, files: list[Path]) -> bool:
    try:
        path = Path(filename).resolve()
    except (OSError, ValueError):
        return False
    if _VISLAB_DIR in path.parents:
        return False
    return any(path == f or f in path.parents for f in files)


def channels_hint(e: Exception, shape: tuple[int, ...], options: Collection[str]) -> str:
    """Where a model whose options (``options``: those of the class or builder the reference names) take
    timm's ``in_chans`` met the data's other channels (torch's "expected input … to have 3 channels, but
    got 1 channels"): the setting that gives it the data's; else ""."""
    got = re.search(r"to have (\d+) channels, but got (\d+) channels", str(e))
    if got is None or "in_chans" not in options or len(shape) != 3 or int(got[2]) != shape[0]:
        return ""
    c = shape[0]
    return (
        f"It takes in_chans (timm-style), which vislab leaves to it, and has {got[1]}: give the data's "
        f"{c} channel{'s' if c != 1 else ''}, --set model.in_chans={c} (Python: model__in_chans={c})."
    )
