"""A layer table for any model: every sub-module with its output shape, its own parameters, its own cost
and, for conv and pool layers, its receptive field.

One forward pass on a zero batch (eval mode, no grad) gives it all — of the model, or of the network a
model names for it (``ModelHooks.measured_network``: e.g. ``fast``'s, whose eval forward runs an averaged
copy on each image and its mirror):

- output shapes from forward hooks;
- multiply-accumulates (MACs) from torch's own flop counter (``torch.utils.flop_counter.FlopCounterMode``;
  one MAC = 2 FLOPs), per input image. It counts matrix products, convolutions and attention; element-wise
  work (activations, norms, pooling, softmax) costs no MACs. Attention runs on PyTorch's reference ("math")
  kernel during the pass, so that Q·Kᵀ and A·V are counted on every device;
- receptive fields and jumps from ``vislab.models.receptive_field``;
- for models with attention (a ViT): the token count, and the attention's share of the MACs.

Each row counts only what a module holds or computes itself (its children excluded), so parameters and
MACs add up to the totals; a root row ``(model)`` holds what the model does itself (e.g. a ViT's class
token, or a layer's maths done on its weights without calling it). Modules a forward does not call show
``-`` as output shape.

``vislab.models.info.ModelInfo`` is that table as ``vislab.model_info`` returns it and ``vislab model
info`` prints it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from vislab.models.hooks import hooks_of
from vislab.models.receptive_field import Field, FieldTracker

_WINDOW_MODULES = (
    nn.Conv2d,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.LPPool2d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveMaxPool2d,
)


@dataclass
class LayerRow:
    name: str
    type: str
    output_shape: str  # without the batch dimension, e.g. "64×16×16"; "-" when not called
    params: int  # the module's own parameters (not its children's)
    trainable: int
    calls: int = 0
    macs: int = 0  # multiply-accumulates per image in the module's own forward (not its children's)
    field: Field | None = None  # conv and pool layers: receptive field and jump (first call)


@dataclass
class AttentionCost:
    """What the attention of a transformer costs, per image (all attention modules together)."""

    tokens: int  # sequence length the attention sees
    grid: (
        tuple[int, int] | None
    )  # the patch grid, when a patchify conv (kernel = stride) made the tokens
    patch: tuple[int, int] | None  # its patch size
    macs: int  # the attention modules: Q, K, V and output projections, Q·Kᵀ and A·V
    mixing_macs: int  # Q·Kᵀ and A·V only: the part that grows with tokens²

    @property
    def extra_tokens(self) -> int:
        """Tokens that are not patches (a class token, register tokens), when the grid is known."""
        return self.tokens - self.grid[0] * self.grid[1] if self.grid else 0


@dataclass
class LayerTable:
    rows: list[LayerRow]
    output_shape: str
    totals: dict[str, int] = field(
        default_factory=dict
    )  # params, weights, trainable, buffers, macs
    note: str = ""  # why no shapes could be taken (e.g. an unfitted model)
    attention: AttentionCost | None = None  # models with attention modules


@dataclass
class _Pass:
    """What one forward pass recorded, by module name ('' = the model)."""

    shapes: dict[str, str] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    fields: dict[str, Field] = field(default_factory=dict)
    flops: dict[str, dict[str, int]] = field(default_factory=dict)  # op → FLOPs, children included
    total_flops: int = 0  # per image
    tokens: int | None = None
    grid: tuple[int, int] | None = None
    patch: tuple[int, int] | None = None
    note: str = ""
    output_shape: str = "-"  # the measured network's output
    names: dict[nn.Module, str] = field(default_factory=dict)  # each module's one name in the model


def _shape(out) -> str:
    if isinstance(out, torch.Tensor):
        return "×".join(map(str, out.shape[1:])) or "scalar"
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return _shape(out[0]) + (f" (+{len(out) - 1})" if len(out) > 1 else "")
    return type(out).__name__


def _is_attention(m: nn.Module) -> bool:
    return isinstance(m, nn.MultiheadAttention) or type(m).__name__.endswith("Attention")


NO_PASS = "no forward pass "  # a note's start: the exception follows


def _forward_pass(
    model: nn.Module, network: nn.Module, input_shape: tuple[int, ...], batch: int
) -> _Pass:
    """One pass of ``network`` (``model`` or a sub-module of it), recorded under ``model``'s names."""
    names = {m: n for n, m in model.named_modules()}
    p, tracker = _Pass(names=names), FieldTracker()

    def after(m, inputs, output):
        name, out = names[m], output[0] if isinstance(output, tuple) else output
        p.shapes[name] = _shape(output)
        p.calls[name] = p.calls.get(name, 0) + 1
        f = tracker.field_of(out) if isinstance(m, _WINDOW_MODULES) else None
        if f is not None and name not in p.fields:  # the first call's
            p.fields[name] = f
        patchify = isinstance(m, nn.Conv2d) and m.kernel_size == m.stride and max(m.stride) > 1
        if patchify and p.grid is None:
            p.grid, p.patch = tuple(out.shape[-2:]), m.kernel_size

    def before_attention(m, args, kwargs):
        x = args[0] if args else kwargs.get("query", kwargs.get("x"))
        if p.tokens is None and isinstance(x, torch.Tensor) and x.ndim == 3:
            seq_first = isinstance(m, nn.MultiheadAttention) and not m.batch_first
            p.tokens = x.shape[0] if seq_first else x.shape[1]

    handles = [m.register_forward_hook(after) for m in names]
    handles += [
        m.register_forward_pre_hook(before_attention, with_kwargs=True)
        for m in names
        if _is_attention(m)
    ]
    counter = FlopCounterMode(display=False)
    was_training = model.training
    try:
        device = next((t.device for t in model.parameters()), torch.device("cpu"))
        model.eval()
        x = torch.zeros(batch, *input_shape, device=device)
        with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), counter, tracker:
            tracker.mark(x)
            p.output_shape = _shape(network(x))
    except Exception as e:  # noqa: BLE001 - e.g. a fitted baseline before fit_arrays: still list the layers
        p.note = f"{NO_PASS}({type(e).__name__}: {e})"
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    _count_flops(p, counter.get_flop_counts(), network, batch)
    return p


def _count_flops(p: _Pass, counts: dict, network: nn.Module, batch: int) -> None:
    """Each module's FLOPs per sample (``counts``: FlopCounterMode's, of ``network``) into ``p``, under
    the model's names, and the pass's total."""
    root = type(network).__name__  # the counter names modules "ViT", "ViT.blocks.0", ...
    within = {m: n for n, m in network.named_modules()}  # the counter's: root + "." + these
    for m, name in p.names.items():
        inner = within.get(m)
        ops = {} if inner is None else counts.get(f"{root}.{inner}" if inner else root, {})
        p.flops[name] = {str(op): n // batch for op, n in ops.items()}
    p.total_flops = sum(counts.get("Global", {}).values()) // batch


def _own_macs(p: _Pass, name: str, module: nn.Module) -> int:
    """MACs of ``module``'s own forward: its count less its called sub-modules' (one MAC = 2 FLOPs)."""
    inner = sum(sum(p.flops.get(c, {}).values()) for c in _called_below(p, module))
    own = sum(p.flops.get(name, {}).values()) - inner
    return max(own, 0) // 2  # < 0 only if a sub-module also ran outside this module's forward


def _called_below(p: _Pass, module: nn.Module):
    """The names of the nearest sub-modules that ran, looking through containers that did not (a
    ModuleList); by module, so a layer registered twice (``fast``'s ``whiten``, also ``net.0``) is found."""
    for child in module.children():
        if p.names[child] in p.calls:
            yield p.names[child]
        else:
            yield from _called_below(p, child)


def _attention_cost(model: nn.Module, p: _Pass) -> AttentionCost | None:
    """Tokens and MACs of the outermost attention modules (one inside another is counted once)."""
    if p.tokens is None:
        return None
    outer: list[str] = []
    for name, m in model.named_modules():
        if _is_attention(m) and not any(name.startswith(o + ".") for o in outer):
            outer.append(name)
    flops = [p.flops.get(n, {}) for n in outer]
    mixing = sum(v for ops in flops for op, v in ops.items() if _mixes_tokens(op))
    total = sum(sum(ops.values()) for ops in flops)
    return AttentionCost(p.tokens, p.grid, p.patch, total // 2, mixing // 2)


def _mixes_tokens(op: str) -> bool:
    """Batched products (Q·Kᵀ, A·V on the math kernel) and fused attention kernels."""
    return op in ("aten.bmm", "aten.baddbmm") or "attention" in op


def layer_table(model: nn.Module, input_shape: tuple[int, ...], batch: int = 2) -> LayerTable:
    """Rows for every sub-module (in registration order) and totals; one forward pass on zeros (of the
    model's ``measured_network``: modules outside it without parameters get no row)."""
    network = hooks_of(model).measured_network() or model
    p = _forward_pass(model, network, input_shape, batch)
    measured = set(network.modules())
    rows, seen = [], set()
    for name, m in model.named_modules():
        own = [
            t for t in m.parameters(recurse=False) if id(t) not in seen
        ]  # a shared tensor counts once
        seen.update(map(id, own))
        unused = name and not own and name not in p.shapes
        if unused and (list(m.children()) or m not in measured):
            continue  # an unused container adds nothing, nor a module beside the network measured
        key = name or "(model)"
        rows.append(
            LayerRow(
                key,
                type(m).__name__,
                p.shapes.get(name, "-"),
                sum(t.numel() for t in own),
                sum(t.numel() for t in own if t.requires_grad),
                p.calls.get(name, 0),
                _own_macs(p, name, m),
                p.fields.get(name),
            )
        )
    root = rows[0]
    if (
        root.params == 0 and root.macs == 0
    ):  # the root row matters only if it holds or does something
        rows = rows[1:]
    totals = dict(
        params=sum(t.numel() for t in model.parameters()),
        # the layers' weights (matrices, kernels: ≥ 2-D), as hand counts give them; not biases or norm scales
        weights=sum(t.numel() for t in model.parameters() if t.ndim >= 2),
        trainable=sum(t.numel() for t in model.parameters() if t.requires_grad),
        buffers=sum(b.numel() for b in model.buffers()),
        macs=p.total_flops // 2,
    )
    return LayerTable(rows, p.output_shape, totals, p.note, _attention_cost(model, p))
