"""A layer table for any model: every sub-module with its output shape and its own parameters.

Output shapes come from forward hooks during one forward pass on a zero batch (eval mode, no grad).
Each row counts only the parameters a module holds directly, so the rows add up to the total; a root
row ``(model)`` holds parameters registered on the model itself (e.g. a ViT's class token). Modules a
forward does not call (e.g. `mlp-scratch`'s hand-written levels use the weights, not the modules)
show ``-`` as output shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn


@dataclass
class LayerRow:
    name: str
    type: str
    output_shape: str  # without the batch dimension, e.g. "64×16×16"; "-" when not called
    params: int  # the module's own parameters (not its children's)
    trainable: int
    calls: int = 0


@dataclass
class LayerTable:
    rows: list[LayerRow]
    output_shape: str
    totals: dict[str, int] = field(default_factory=dict)  # params, trainable, buffers
    note: str = ""  # why no shapes could be taken (e.g. an unfitted model)


def _shape(out) -> str:
    if isinstance(out, torch.Tensor):
        return "×".join(map(str, out.shape[1:])) or "scalar"
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return _shape(out[0]) + (f" (+{len(out) - 1})" if len(out) > 1 else "")
    return type(out).__name__


def layer_table(model: nn.Module, input_shape: tuple[int, ...], batch: int = 2) -> LayerTable:
    """Rows for every sub-module (in registration order) and totals; one forward pass on zeros."""
    shapes: dict[str, str] = {}
    calls: dict[str, int] = {}

    def hook(name: str):
        def fn(module, inputs, output):
            shapes[name] = _shape(output)
            calls[name] = calls.get(name, 0) + 1

        return fn

    modules = list(model.named_modules())
    handles = [m.register_forward_hook(hook(n or "(model)")) for n, m in modules]
    was_training = model.training
    note = ""
    try:
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        model.eval()
        with torch.no_grad():
            model(torch.zeros(batch, *input_shape, device=device))
    except Exception as e:  # noqa: BLE001 - e.g. a fitted baseline before fit_arrays: still list the layers
        note = f"no forward pass ({type(e).__name__}: {e})"
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    rows, seen = [], set()
    for name, m in modules:
        own = [
            p for p in m.parameters(recurse=False) if id(p) not in seen
        ]  # a shared tensor counts once
        seen.update(map(id, own))
        if name and not own and list(m.children()) and name not in shapes:
            continue  # an unused container adds nothing
        rows.append(
            LayerRow(
                name or "(model)",
                type(m).__name__,
                shapes.get(name or "(model)", "-"),
                sum(p.numel() for p in own),
                sum(p.numel() for p in own if p.requires_grad),
                calls.get(name or "(model)", 0),
            )
        )
    root = rows[0]
    if root.params == 0:  # the root row only matters when it holds parameters itself
        rows = rows[1:]
    totals = dict(
        params=sum(p.numel() for p in model.parameters()),
        trainable=sum(p.numel() for p in model.parameters() if p.requires_grad),
        buffers=sum(b.numel() for b in model.buffers()),
    )
    return LayerTable(rows, root.output_shape, totals, note)
