"""``ModelInfo``: a model's layer table (:mod:`vislab.models.layer_table`) as ``vislab.model_info``
returns it — the totals as attributes, the layers as a DataFrame, the totals in words — and ``vislab
model info`` prints it."""

from __future__ import annotations

import fnmatch
import html
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import torch.nn as nn

from vislab.config.overrides import as_yaml
from vislab.errors import UserCodeError
from vislab.models.hooks import TokenGrid, hooks_of, model_size, stores_buffers
from vislab.models.layer_table import NO_PASS, AttentionCost, LayerRow, layer_table
from vislab.models.option_checks import allowed_values, type_descriptions
from vislab.models.options import option_help
from vislab.models.receptive_field import Field
from vislab.models.registry import (
    MODELS,
    model_kwargs,
    option_defaults,
)

if TYPE_CHECKING:  # pandas is imported on use (ModelInfo.layers)
    import pandas as pd


# --------------------------------------------------------------------------- a model's options as it uses them
def resolved_options(name: str, given: dict[str, Any]) -> dict[str, tuple[Any, str]]:
    """Each option of model ``name`` → (the value it uses, where that value comes from): "" for a value
    ``given`` or its signature's default, "preset P" or "NAME's default" for one it leaves unset
    (None) for its preset or builder to fill (:func:`~vislab.models.registry.option_defaults`)."""
    signature = model_kwargs(name)
    preset = given.get("preset", signature.get("preset"))
    filled = option_defaults(name, preset)
    out: dict[str, tuple[Any, str]] = {}
    for key, default in signature.items():
        if key in given:
            out[key] = (given[key], "")
        elif default is None and filled.get(key) is not None:
            out[key] = (filled[key], f"preset {preset}" if preset else f"{name}'s default")
        else:
            out[key] = (default, "")
    return out


def option_rows(name: str, given: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(option, the value it uses, the values allowed, what it does) for each option of registered model
    ``name`` with the options ``given``: what ``vislab model info`` prints under the layer table."""
    fn = MODELS[name]
    allowed = allowed_values(fn)
    what = {
        **type_descriptions(fn),
        **option_help(fn),
    }  # @described's line, else the type's description
    rows = []
    for key, (value, source) in resolved_options(name, given).items():
        shown = f"{as_yaml(value)} ({source})" if source else as_yaml(value)
        rows.append((key, shown, allowed.get(key, ""), what.get(key, "")))
    return rows


# --------------------------------------------------------------------------- what vislab.model_info returns
@dataclass
class ModelInfo:
    """A model's layer table at one input shape (what ``vislab.model_info`` returns and ``vislab model
    info`` prints): ``rows`` (or ``layers``, a DataFrame), the totals as attributes, ``lines()`` in words.

    ``attention``: a transformer's token count and the MACs of its attention (None without attention)."""

    name: str  # the model name; a run's folder and its model name
    input_shape: tuple[int, ...]
    num_classes: int | None  # None: an nn.Module given as it is
    output_shape: str
    rows: list[LayerRow]
    params: int
    trainable: int
    weights: int  # the layers' weights (matrices, kernels: ≥ 2-D), as hand counts give them
    buffers: (
        int  # values held outside torch's parameters (batch-norm statistics; a fitted model's fit)
    )
    macs: int  # multiply-accumulates per image (0 when no forward pass ran: see ``note``)
    attention: AttentionCost | None = None
    note: str = ""  # why no forward pass ran (e.g. a fitted baseline before it is fitted)
    # ``params`` counts the buffers (``model_size``): a fitted model's (majority, svm), or one without parameters
    counts_buffers: bool = False
    frozen: tuple[
        str, ...
    ] = ()  # a run's train.freeze patterns, whose parameters ``trainable`` leaves out

    @classmethod
    def of(
        cls,
        model: nn.Module,
        input_shape: tuple[int, ...],
        name: str,
        num_classes: int | None,
        frozen: Sequence[str] = (),
    ):
        """The layer table of ``model`` (one forward pass on zeros, see the module docstring); ``params``
        as a run's summary and the results tables count them (:func:`model_size`). ``frozen``: a run's
        train.freeze patterns, its parameters that match set not to train (:func:`freeze_as_trained`),
        so that ``trainable`` counts what the run trained."""
        freeze_as_trained(model, frozen)
        t = layer_table(model, tuple(input_shape))
        totals = {k: t.totals[k] for k in ("params", "trainable", "weights", "buffers", "macs")}
        counts_buffers = stores_buffers(model)
        rows = _buffers_as_params(model, t.rows, t.output_shape) if counts_buffers else t.rows
        totals["params"] = model_size(model)
        return cls(
            name,
            tuple(input_shape),
            num_classes,
            t.output_shape,
            rows,
            **totals,
            attention=_with_grid(t.attention, model, name, input_shape),
            note=t.note,
            counts_buffers=counts_buffers,
            frozen=tuple(frozen),
        )

    @property
    def title(self) -> str:
        """'cnn: input 1×28×28 → output 10'; '… → no output: the forward pass failed' when it did; a fitted
        model before its fit: '… → no output before its fit'."""
        failed = (
            "no output before its fit"
            if self.counts_buffers
            else "no output: the forward pass failed"
        )
        out = failed if self.note else f"output {self.output_shape}"
        return f"{self.name}: input {'×'.join(map(str, self.input_shape))} → {out}"

    @property
    def attention_share(self) -> float | None:
        """The attention's fraction of the MACs (None without attention)."""
        return self.attention.macs / max(self.macs, 1) if self.attention else None

    @property
    def layers(self) -> pd.DataFrame:
        """One row per layer: layer, type, output_shape, params, trainable, macs, receptive_field and jump
        (an int for a square field, (rows, columns) otherwise; None for layers without a window)."""
        import pandas as pd  # on use: the CLI formats ``rows`` without pandas (~1 s to import)

        table = pd.DataFrame(
            [
                dict(
                    layer=r.name,
                    type=r.type,
                    output_shape=r.output_shape,
                    params=r.params,
                    trainable=r.trainable,
                    macs=r.macs,
                )
                for r in self.rows
            ]
        )
        for column, which in (("receptive_field", "size"), ("jump", "jump")):
            sides = [_side(r.field, which) for r in self.rows]
            square = all(v is None or isinstance(v, int) for v in sides)  # else (rows, columns) too
            table[column] = pd.Series(sides, dtype="Int64" if square else object)
        return table

    def lines(self) -> list[str]:
        """The totals in words: parameters, MACs, what receptive fields mean, a ViT's tokens and attention."""
        return _cost_lines(self)

    def __repr__(self) -> str:
        if self.note:  # nothing was counted: why, not "0 MACs"
            why = " ".join(self.note.removeprefix(NO_PASS).split())[:300]
            return f"<ModelInfo {self.title} {why}: {self.params:,} parameters, MACs not counted>"
        return f"<ModelInfo {self.title}: {self.params:,} parameters, {self.macs:,} MACs per image>"

    def _repr_html_(self) -> str:
        """The notebook view: the title (then why no forward pass ran, if none did), the layer table, the
        totals in words."""
        failed = f"<p><b>{html.escape(self.note)}</b></p>" if self.note else ""
        items = "".join(f"<li>{html.escape(line)}</li>" for line in self.lines())
        view = self.layers.astype(object).fillna("")  # layers without a field: blank, not <NA>
        for column in ("params", "trainable", "macs"):
            view[column] = [f"{v:,}" for v in view[column]]
        table = view.to_html(index=False)
        return f"<div><b>{html.escape(self.title)}</b>{failed}{table}<ul>{items}</ul></div>"


def _with_grid(
    a: AttentionCost | None, model: nn.Module, name: str, input_shape: Sequence[int]
) -> AttentionCost | None:
    """``a`` with its patch grid from the model's ``token_grid`` hook (read through ``hooks_of``: a method
    of that name on a class that does not subclass ModelHooks is no hook) where no patchify convolution
    showed it (a ViT's shifted patch tokenization cuts its patches without one)."""
    if a is None or a.grid is not None:
        return a
    tokens = hooks_of(model).token_grid()
    if tokens is None:
        return a
    if not TokenGrid.holds_one(tokens):
        raise UserCodeError(
            f"model '{name}': its token_grid() hook returned {tokens!r}; it must return a TokenGrid, "
            f"e.g. TokenGrid(grid=(rows, columns), class_token=True), or None (see "
            f"vislab.models.hooks.ModelHooks.token_grid)."
        )
    (gh, gw), (h, w) = tokens.grid, tuple(input_shape[-2:])
    return replace(a, grid=(gh, gw), patch=(h // gh, w // gw))


def freeze_as_trained(model: nn.Module, patterns: Sequence[str]) -> None:
    """``model``'s parameters whose names match one of a run's ``train.freeze`` ``patterns`` (fnmatch, as
    training matches them) set not to train (``requires_grad`` false), as the run trained them."""
    for name, p in model.named_parameters():
        if any(fnmatch.fnmatch(name, pattern) for pattern in patterns):
            p.requires_grad_(False)


def _buffers_as_params(model: nn.Module, rows: list[LayerRow], output_shape: str) -> list[LayerRow]:
    """``rows`` with each module's own buffers in its ``params`` (a fitted model's, see :func:`model_size`),
    and the model's own row, which the table leaves out when it holds no parameters and costs no MACs,
    put back first when it holds buffers (majority's class prior)."""
    modules = dict(model.named_modules())

    def own(name: str) -> int:
        return sum(b.numel() for b in modules[name].buffers(recurse=False))

    key = {"(model)": ""}
    rows = [replace(r, params=r.params + own(key.get(r.name, r.name))) for r in rows]
    if (not rows or rows[0].name != "(model)") and own(""):
        rows.insert(0, LayerRow("(model)", type(model).__name__, output_shape, own(""), 0))
    return rows


def _side(f: Field | None, which: str) -> int | tuple[int, int] | None:
    """A field's size or jump: one number when square."""
    if f is None:
        return None
    h, w = getattr(f, which)
    return h if h == w else (h, w)


def _si(n: float, unit: str) -> str:
    """23152400, 'MAC' → '23.2 MMAC'."""
    for prefix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {prefix}{unit}"
    return f"{n:g} {unit}"


def _cost_lines(info: ModelInfo) -> list[str]:
    """The lines under the table: parameters, MACs, receptive fields, a ViT's tokens and attention."""
    macs, shape = info.macs, info.input_shape
    lines = [_parameters_line(info)]
    if not info.note:  # else no forward pass ran: nothing was counted
        lines.append(
            f"MACs per image: {macs:,} ({_si(macs, 'MAC')} = {_si(2 * macs, 'FLOP')}): the "
            f"multiply-accumulates of convolutions, matrix products and attention, by torch's flop "
            f"counter; element-wise layers (activations, norms, pooling) cost none"
        )
    fields = [r.field for r in info.rows if r.field]
    if fields:
        wider = any(max(f.size) > max(shape[-2:]) for f in fields)
        padding = f"; a field wider than the {shape[-2]}×{shape[-1]} input reaches into the padding"
        lines.append(
            "receptive field: the input pixels one output unit sees; jump: input pixels between "
            "neighbouring units (the product of the strides so far)" + (padding if wider else "")
        )
    if info.attention:
        lines += _attention_lines(info.attention, macs)
    if info.note:
        lines.append(f"note: {info.note}")
    return lines


def _parameters_line(info: ModelInfo) -> str:
    """The parameters (as a run's summary and the results tables count them: :func:`model_size`), then
    how they are held: a trained model's trainable share, weights and biases, and its buffers; a fitted
    model's (``counts_buffers``) buffers, which are its parameters."""
    if not info.counts_buffers:
        weights = info.weights
        how = (
            f" as the run trained them, train.freeze=[{', '.join(info.frozen)}]"
            if info.frozen
            else ""
        )
        return (
            f"parameters: {info.params:,} (trainable {info.trainable:,}{how}; weights {weights:,} "
            f"+ 1-D biases and scales {info.params - weights:,}), buffers: {info.buffers:,} values"
        )
    if info.note:  # not fitted yet: what it will hold is set by its fit
        return (
            "parameters: set by its fit on the train split, not known before it (a fitted model: "
            "`vislab model info RUN` of a trained run counts them)"
        )
    values = f"{info.buffers:,} value{'' if info.buffers == 1 else 's'}"
    return (
        f"parameters: {info.params:,}, what the model stores: {values} held as buffers (torch "
        f"parameters {info.params - info.buffers:,}, trainable {info.trainable:,}: a fitted model is set "
        f"by its fit, not by gradient descent), as a run's summary and the results tables count them"
    )


def _attention_lines(a: AttentionCost, total_macs: int) -> list[str]:
    tokens = f"tokens: {a.tokens}"
    if a.grid:
        gh, gw = a.grid
        extra = a.extra_tokens
        tokens += f" = {gh}×{gw} patches of {a.patch[0]}×{a.patch[1]}"
        tokens += (
            " + 1 class token"
            if extra == 1
            else f" + {extra} prefix tokens (class, distillation or register)"
            if extra
            else " (no class token)"
        )
    share = 100 * a.macs / max(total_macs, 1)
    mixing = 100 * a.mixing_macs / max(total_macs, 1)
    return [
        tokens,
        f"attention: {a.macs:,} MACs ({share:.1f} % of the total), of which Q·Kᵀ and A·V "
        f"{a.mixing_macs:,} ({mixing:.1f} %), the part that grows with tokens² "
        f"(the rest: the Q, K, V and output projections, linear in tokens)",
    ]
