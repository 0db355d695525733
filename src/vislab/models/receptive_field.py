"""Receptive fields: how many input pixels one output unit of a conv or pool layer sees, and its jump.

For a window op (convolution, pooling) with kernel k, dilation d and stride s, taking a map whose units see
``r_in`` pixels and lie ``j_in`` pixels apart (the jump: the product of the strides before it)::

    r_out = r_in + d·(k − 1)·j_in        j_out = j_in · s

(per axis; the input image has r = 1, j = 1). Padding changes neither. The field is the theoretical one: it
may grow past the image, over the padding.

``FieldTracker`` follows every tensor of one forward pass (a ``TorchFunctionMode``) rather than the order of
the layers, so branches are right: a ResNet's 1×1 shortcut starts from its block's input, and an element-wise
op (the residual sum, a ReLU, a concatenation) passes on the widest field of the inputs on its grid.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

Pair = tuple[int, int]


@dataclass(frozen=True)
class Field:
    size: Pair  # input pixels one unit sees (rows, columns)
    jump: Pair  # input pixels between neighbouring units (rows, columns)

    def after(self, kernel: Pair, stride: Pair, dilation: Pair = (1, 1)) -> Field:
        """The field after a window op (the formula in the module docstring)."""
        size = tuple(
            r + d * (k - 1) * j for r, k, d, j in zip(self.size, kernel, dilation, self.jump)
        )
        return Field(size, tuple(j * s for j, s in zip(self.jump, stride)))  # type: ignore[arg-type]

    def widest(self, other: Field) -> Field:
        return Field(
            tuple(map(max, self.size, other.size)),  # type: ignore[arg-type]
            tuple(map(max, self.jump, other.jump)),  # type: ignore[arg-type]
        )


PIXEL = Field((1, 1), (1, 1))

# positional parameters of the window ops (as torch.nn.functional names them), from the input on
_WINDOW_ARGS = {
    "conv2d": ("input", "weight", "bias", "stride", "padding", "dilation"),
    "max_pool2d": ("input", "kernel_size", "stride", "padding", "dilation"),
    "max_pool2d_with_indices": ("input", "kernel_size", "stride", "padding", "dilation"),
    "avg_pool2d": ("input", "kernel_size", "stride", "padding"),
    "lp_pool2d": ("input", "norm_type", "kernel_size", "stride"),
    "adaptive_avg_pool2d": ("input", "output_size"),
    "adaptive_max_pool2d": ("input", "output_size"),
}
_KEEP_FIELD = {"pad"}  # padding resizes the map but not what a unit sees


def _pair(v, default: Pair) -> Pair:
    if v is None or (isinstance(v, (list, tuple)) and not v):
        return default
    if isinstance(v, int):
        return (v, v)
    return (int(v[0]), int(v[-1]))


def _window(name: str, args: tuple, kwargs: dict, out: torch.Tensor) -> tuple[Pair, Pair, Pair]:
    """(kernel, stride, dilation) of a window op call."""
    a = dict(zip(_WINDOW_ARGS[name], args)) | kwargs
    x = a["input"]
    if name == "conv2d":
        kernel = tuple(a["weight"].shape[-2:])
        return kernel, _pair(a.get("stride"), (1, 1)), _pair(a.get("dilation"), (1, 1))
    if name.startswith("adaptive"):
        kernel, stride = zip(*(_adaptive(n, m) for n, m in zip(x.shape[-2:], out.shape[-2:])))
        return kernel, stride, (1, 1)
    kernel = _pair(a["kernel_size"], (1, 1))
    return kernel, _pair(a.get("stride"), kernel), _pair(a.get("dilation"), (1, 1))


def _adaptive(n: int, m: int) -> tuple[int, int]:
    """An adaptive pool from ``n`` to ``m`` along one axis as a window and stride: torch's windows are
    [⌊i·n/m⌋, ⌈(i+1)·n/m⌉), of one width and spacing when m divides n; else the widest of each (5 → 3:
    windows [0, 2), [1, 4), [3, 5): 3 wide, starts 2 apart at most), so the field is what a unit may see."""
    starts = [i * n // m for i in range(m)]
    ends = [-(-(i + 1) * n // m) for i in range(m)]
    widest = max(e - s for s, e in zip(starts, ends))
    return widest, max((b - a for a, b in zip(starts, starts[1:])), default=n)


class FieldTracker(TorchFunctionMode):
    """Within ``with FieldTracker() as t:``, ``t.mark(x)`` the input images, run the model, then read
    ``t.field_of(tensor)`` for any 4-D map it computed (None when the map's field is unknown)."""

    def __init__(self) -> None:
        super().__init__()
        self._fields: dict[int, tuple[weakref.ref, Field]] = {}

    def mark(self, x: torch.Tensor, field: Field = PIXEL) -> None:
        self._fields[id(x)] = (weakref.ref(x), field)

    def field_of(self, t: object) -> Field | None:
        entry = self._fields.get(id(t))
        return entry[1] if entry is not None and entry[0]() is t else None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = getattr(func, "__name__", "")
        first = out[0] if isinstance(out, tuple) and out else out  # max pool may return indices too
        if name in _WINDOW_ARGS or name in _KEEP_FIELD:
            field = self.field_of(args[0] if args else kwargs.get("input"))
            if field is not None and isinstance(first, torch.Tensor):
                if name in _WINDOW_ARGS:
                    field = field.after(*_window(name, args, kwargs, first))
                self.mark(first, field)
            return out
        self._pass_on(args, kwargs, out)
        return out

    def _pass_on(self, args, kwargs, out) -> None:
        """Element-wise and layout ops: each 4-D output gets the widest field of the inputs on its grid."""
        inputs = [
            (t.shape[-2:], f)
            for t in tree_leaves((args, kwargs))
            if isinstance(t, torch.Tensor) and t.ndim == 4 and (f := self.field_of(t)) is not None
        ]
        if not inputs:
            return
        for t in tree_leaves(out):
            if not isinstance(t, torch.Tensor) or t.ndim != 4:
                continue
            same = [f for grid, f in inputs if grid == t.shape[-2:]]
            if same:
                field = same[0]
                for f in same[1:]:
                    field = field.widest(f)
                self.mark(t, field)
