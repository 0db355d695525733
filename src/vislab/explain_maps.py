"""The maps behind ``vislab explain``, for a model and a normalised batch: attention maps and attention
rollout for transformers (vislab's ``vit``, timm ViTs: any model whose hooks give attention maps), Grad-CAM
for models with a Grad-CAM layer (any convolutional network) and saliency for any model (captum, a
dependency of vislab). What a model offers is asked of its hooks (:func:`vislab.models.hooks.hooks_of`),
never guessed from its class. Every map is a ``B × K × h × w`` tensor: ``K`` heads for ``attention``, one
map otherwise; ``h × w`` the patch grid (attention, rollout) or the input's size (gradcam, saliency).
Mistakes are UserErrors naming each option both ways, command line / Python: ``--block 3 / block=3``.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Sequence
from numbers import Integral

import torch
from torch import nn

from vislab.errors import UserError
from vislab.figure_hooks import (
    attention_layer,
    figure_attentions,
    figure_gradcam_layer,
    figure_tokens,
    hooks_advice,
    ignored_hooks,
    model_words,
    why_no_attention,
)
from vislab.models.hooks import TokenGrid, hooks_of, patch_embedding
from vislab.training.record import RunRecord

METHODS = ("attention", "rollout", "gradcam", "saliency")
# attention and rollout maps: a share of a token's attention, drawn from the image's least to its largest
ATTENTION_UNITS = "attention weight (image's min–max)"
HEAD_UNITS = "attention weight (all heads, min–max)"  # a block's heads, drawn on one scale


def attention_rollout(attentions: list[torch.Tensor], residual: bool = True) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema 2020): R = Â_L ⋯ Â_1 with Â = mean over heads of A, plus the
    identity for the skip connection (Â = ½A + ½I, rows renormalised) when ``residual``. B × T × T."""
    t = attentions[0].shape[-1]
    eye = torch.eye(t, device=attentions[0].device)
    result = eye.expand(attentions[0].shape[0], t, t)
    for a in attentions:
        a = a.mean(1)
        if residual:
            a = 0.5 * a + 0.5 * eye
            a = a / a.sum(-1, keepdim=True)
        result = a @ result
    return result


def run_probabilities(model: nn.Module, record: RunRecord, x: torch.Tensor) -> torch.Tensor:
    """B × classes: what the run predicts for the normalised batch ``x``, as predict, eval and
    predictions_test.npz do — the model inside its test-time augmentation (``train.tta``), if any."""
    with torch.no_grad():
        return torch.softmax(record.inputs.wrap(model)(x), 1)


def tta_note(tta: str) -> str:
    """What a title or caption of maps adds for a run with test-time augmentation ``tta``; "" without."""
    if tta == "none":
        return ""
    return f"maps of the plain forward pass; the run predicts with train.tta={tta}"


def explain_maps(
    model: nn.Module,
    x: torch.Tensor,
    method: str,
    block: int = -1,
    target: torch.Tensor | None = None,
    name: str | None = None,
    code: dict | None = None,
) -> torch.Tensor:
    """The maps of ``method`` for the normalised batch ``x``: B × K × h × w (see the module docstring).

    ``block``: the block whose heads ``attention`` shows (default the last); ``target``: the class each
    gradient method explains (default the plain model's argmax on ``x``; the class a run with test-time
    augmentation predicts: ``run_probabilities(model, record, x).argmax(1)``); ``name``: the model's, as
    its run names it (``record.model.name``), for messages (default: its class's), and with ``code``
    (``record.model.code``) to blame the user's own hooks (:func:`vislab.figure_hooks.hook_output`)."""
    return maps_and_depth(model, x, method, block, target, name, code)[0]


def attention_query(tokens: TokenGrid) -> str:
    """Which tokens' attention the maps of method attention and rollout show, for titles and captions:
    the class token's, or (a model without one, e.g. ``model.pool=mean``) the mean of every token's."""
    return "class token's attention" if tokens.class_token else "mean of all tokens' attention"


def maps_and_depth(
    model: nn.Module,
    x: torch.Tensor,
    method: str,
    block: int,
    target: torch.Tensor | None,
    name: str | None = None,
    code: dict | None = None,
) -> tuple[torch.Tensor, int, str | None]:
    """:func:`explain_maps`'s maps, the model's number of attention blocks and whose attention the maps
    show (:func:`attention_query`); 0 and None for the gradient methods, which do not look at them."""
    check_method(method)
    model.eval()
    who = model_words(model, name)
    if hooks_of(model).trained_by == "fit_arrays":
        raise UserError(
            f"{who} is a fitted baseline, not a network: it has no attention "
            f"or gradients to explain. Explain a network trained by gradient steps (mlp, cnn, vit, ...)."
        )
    if method in ("attention", "rollout"):
        attns, tokens = _attentions(model, x, name, code)
        if method == "rollout":
            r = attention_rollout(attns, tokens.residual)  # B × T × T
            row = r[:, :1] if tokens.class_token else r.mean(1, keepdim=True)
        else:
            a = attns[_block_index(block, len(attns))]  # B × heads × T × T
            row = a[:, :, 0] if tokens.class_token else a.mean(2)  # class token → every token
        n = tokens.grid[0] * tokens.grid[1]
        # drop the class (and register) tokens
        maps = row[..., -n:].reshape(len(x), -1, *tokens.grid)
        return maps, len(attns), attention_query(tokens)
    if target is None:
        with torch.no_grad():
            target = model(x).argmax(1)
    return _gradient_map(model, x, method, target, who, (name, code)), 0, None


def _block_index(block: int, depth: int) -> int:
    if not -depth <= block < depth:
        raise UserError(
            f"--block {block} / block={block}: this model has {depth} blocks (0 to {depth - 1}, or -1 "
            f"for the last)."
        )
    return block % depth


def check_block(block: object, method: str, attends: bool = True) -> None:
    """UserError unless ``block`` is None (not given) or a whole number given with method attention,
    the one method drawn per block (the CLI and the API share this rule); ``attends``: whether the model
    has attention maps (a ViT), so that the refusal suggests method attention only for one that has."""
    if block is None:
        return
    if isinstance(block, bool) or not isinstance(block, Integral):
        raise UserError(
            f"block={block!r}: give the block as a whole number, 0 for the first, -1 for the last "
            f"(--block 0 / block=0)."
        )
    if method != "attention" and not attends:
        raise UserError(
            f"--block {block} / block={block} picks an attention block (--block alone means --method "
            f"attention), and this model has no attention maps: only a ViT has them. Drop the block: "
            f"method {method} draws no single block."
        )
    if method != "attention":
        raise UserError(
            f"--block {block} / block={block} chooses the block whose heads method attention shows; "
            f"method {method} draws no single block: drop the block, or use method attention "
            f"(--method attention / method='attention')."
        )


def class_index(given: object, names: Sequence[str], method: str) -> int:
    """The class the gradient methods explain, ``given`` as one of the run's class ``names`` (compared
    NFC-normalised, as evaluation matches class names) or, from Python, its index; UserError for any other
    class (naming the class names and the closest), and with method attention or rollout, whose maps
    do not depend on a class (attention weights: what the model looks at, not for which class)."""
    if method in ("attention", "rollout"):
        raise UserError(
            f"--class {given} / target={given!r} chooses the class that method gradcam or saliency "
            f"explains; method {method}'s attention maps are the same whatever the class: drop the "
            f"class, or use method saliency (--method saliency / method='saliency')."
        )
    if isinstance(given, Integral) and not isinstance(given, bool) and 0 <= given < len(names):
        return int(given)
    if isinstance(given, str):
        known = [unicodedata.normalize("NFC", n) for n in names]
        if (want := unicodedata.normalize("NFC", given)) in known:
            return known.index(want)
    near = difflib.get_close_matches(str(given), list(names), n=1)
    listed = ", ".join(names[:30]) + (" …" if len(names) > 30 else "")
    raise UserError(
        f"--class {given} / target={given!r} is not a class of this run"
        f"{f' (did you mean {near[0]!r}?)' if near else ''}: give one of its class names, {listed} "
        f"(or, from Python, an index 0 to {len(names) - 1})."
    )


def _attentions(
    model: nn.Module, x: torch.Tensor, name: str | None, code: dict | None
) -> tuple[list[torch.Tensor], TokenGrid]:
    """(per-block attention B × heads × T × T, how the T tokens cover the image), from the model's hooks
    (:func:`figure_tokens`, :func:`figure_attentions`); UserError naming what is missing without them."""
    tokens = figure_tokens(model, name, code)
    attns = None if tokens is None else figure_attentions(model, x, tokens, name, code)
    if tokens is not None and attns:
        return attns, tokens
    use = (
        "use method gradcam (convolutional models: --method gradcam / method='gradcam') or saliency "
        "(any model: --method saliency / method='saliency')"
    )
    layer, who, ignored = attention_layer(model), model_words(model, name), ignored_hooks(model)
    if layer is None and not ignored:
        raise UserError(
            f"{who} has no attention layers, so it has no attention maps or rollout: {use}."
        )
    hook = "token_grid()" if tokens is None else "attention_maps()"
    has = f"{who} has attention layers ({layer}), but"
    if ignored:
        has = f"{who} has no attention maps that vislab reads:"
    raise UserError(
        f"{has} {why_no_attention(model, hook)} Until then, use method saliency "
        f"(--method saliency / method='saliency')."
    )


def _gradient_map(
    model: nn.Module,
    x: torch.Tensor,
    method: str,
    target: torch.Tensor,
    who: str,
    owner: tuple[str | None, dict | None] = (None, None),
) -> torch.Tensor:
    """Grad-CAM at the model's Grad-CAM layer, upsampled to the input; or saliency |∂logit/∂x| max over channels."""
    try:  # optional dependency: vislab[explain]
        from captum.attr import LayerAttribution, LayerGradCam, Saliency
    except ImportError:
        raise UserError(
            f"method {method} needs captum, which vislab installs: this environment lacks it. "
            f"Reinstall vislab, or pip install captum."
        ) from None
    x = x.clone().requires_grad_(True)
    if method == "saliency":
        grad = Saliency(model).attribute(x, target=target, abs=True)
        return grad.amax(1, keepdim=True).detach()
    layer = _gradcam_layer(model, who, *owner)
    cam = LayerGradCam(model, layer).attribute(x, target=target, relu_attributions=True)
    return LayerAttribution.interpolate(cam, tuple(x.shape[-2:]), "bilinear").detach()


def _gradcam_layer(
    model: nn.Module, who: str, name: str | None = None, code: dict | None = None
) -> nn.Module:
    """The layer the model's hooks name for Grad-CAM, or a UserError naming ``who`` (:func:`model_words`) and the
    methods that work."""
    layer = figure_gradcam_layer(model, name, code)
    if layer is not None:
        return layer
    if (
        figure_tokens(model, name, code) is not None
    ):  # e.g. a ViT: its one conv is the patch embedding
        raise UserError(
            f"method gradcam explains a convolutional network's last feature map; {who} is a "
            f"vision transformer, whose one convolution only cuts the "
            f"image into patches: use method attention or rollout, or saliency (--method rollout / "
            f"method='rollout')."
        )
    if patch_embedding(model) is not None:
        raise UserError(
            f"method gradcam explains a convolutional network's last feature map; the one "
            f"convolution of {who} only cuts the image into patches (a vision transformer's patch "
            f"embedding): "
            f"use method saliency (--method saliency / method='saliency'). For attention maps and "
            f"rollout, {hooks_advice(model)}"
        )
    raise UserError(
        f"method gradcam needs a convolutional layer, and {who} has none: use method saliency, "
        f"for any model (--method saliency / method='saliency')."
    )


def default_method(model: nn.Module, name: str | None = None, code: dict | None = None) -> str:
    """What ``vislab explain`` shows without ``--method``: ``rollout`` for a model with attention maps
    (a ViT), ``gradcam`` for one with a Grad-CAM layer (a convolutional network), else ``saliency``
    (a ViT of the user's own without the attention hooks too). ``name``, ``code``: as
    :func:`vislab.figure_hooks.hook_output`'s."""
    if figure_tokens(model, name, code) is not None:
        return "rollout"
    layer = figure_gradcam_layer(model, name, code)
    return "gradcam" if layer is not None else "saliency"


def map_units(method: str) -> str | None:
    """What the maps of ``method`` hold, for their colour bar: attention and rollout a share of a
    token's attention (:data:`ATTENTION_UNITS`: drawn from the image's least to its largest), the
    gradient methods None (arbitrary units: each map scaled to its own min and max)."""
    return ATTENTION_UNITS if method in ("attention", "rollout") else None


def check_method(method: str | None) -> None:
    if method is not None and method not in METHODS:
        raise UserError(
            f"method {method!r} is unknown (--method / method=): use one of {', '.join(METHODS)}."
        )
