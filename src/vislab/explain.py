"""Why a finished run predicts what it does: attention maps and attention rollout for ViTs (vislab's
``vit`` and timm ViTs), Grad-CAM and saliency (captum, ``pip install 'vislab[explain]'``) for any model.

Images go through the run's own preprocessing exactly as ``vislab predict`` (resize, centre crop,
normalisation: :mod:`vislab.predict`). Every map is a ``B × K × h × w`` tensor: ``K`` heads for
``attention``, one map otherwise; ``h × w`` the patch grid (attention, rollout) or the input's size
(gradcam, saliency).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vislab.data.augment import centre_crop
from vislab.data.preprocess import apply_stats
from vislab.errors import UserError
from vislab.models.hooks import hooks_of
from vislab.models.vit import ViT, attention_rollout
from vislab.plotting.explain import plot_explanation
from vislab.predict import classify, image_shape, load_image, load_model

METHODS = ("attention", "rollout", "gradcam", "saliency")


@dataclass
class Explanation:
    """One image's maps: ``maps`` K × h × w, ``labels`` one caption per map, ``top`` (class, prob)."""

    maps: torch.Tensor
    labels: list[str]
    top: tuple[str, float]


def model_input(ckpt: dict, arrays: Sequence[np.ndarray]) -> torch.Tensor:
    """uint8 H×W×C images (of :func:`vislab.predict.image_shape`) as the normalised batch the model takes."""
    x = torch.stack([torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1) for a in arrays])
    return apply_stats(centre_crop(x.float().div_(255), _crop(ckpt)), ckpt["preprocess"])


def _crop(ckpt: dict) -> int | None:
    """The centre-crop side of a run trained on crops (``augment.crop.size``), as ``classify`` takes it."""
    return (
        ckpt["input_shape"][-1] if tuple(image_shape(ckpt)) != tuple(ckpt["input_shape"]) else None
    )


def explain_maps(
    model: nn.Module,
    x: torch.Tensor,
    method: str,
    block: int = -1,
    target: torch.Tensor | None = None,
) -> torch.Tensor:
    """The maps of ``method`` for the normalised batch ``x``: B × K × h × w (see the module docstring).

    ``block``: the block whose heads ``attention`` shows (default the last); ``target``: the class each
    gradient method explains (default the predicted one)."""
    if method not in METHODS:
        raise UserError(f"--method '{method}' is unknown: use one of {', '.join(METHODS)}.")
    model.eval()
    if hooks_of(model).trained_by == "fit_arrays":
        raise UserError(
            f"this model ({type(model).__name__}) is a fitted baseline, not a network: it has no attention "
            f"or gradients to explain. Explain a network trained by gradient steps (mlp, cnn, vit, ...)."
        )
    if method in ("attention", "rollout"):
        attns, grid, has_cls, residual = _attentions(model, x)
        if method == "rollout":
            r = attention_rollout(attns, residual)  # B × T × T
            row = r[:, :1] if has_cls else r.mean(1, keepdim=True)
        else:
            a = attns[_block_index(block, len(attns))]  # B × heads × T × T
            row = a[:, :, 0] if has_cls else a.mean(2)  # class token → every token
        n = grid[0] * grid[1]
        return row[..., -n:].reshape(len(x), -1, *grid)  # drop the class (and register) tokens
    if target is None:
        with torch.no_grad():
            target = model(x).argmax(1)
    return _gradient_map(model, x, method, target)


def _block_index(block: int, depth: int) -> int:
    if not -depth <= block < depth:
        raise UserError(
            f"--block {block}: this model has {depth} blocks (0 to {depth - 1}, or -1)."
        )
    return block % depth


def _attentions(model: nn.Module, x: torch.Tensor) -> tuple[list[torch.Tensor], tuple, bool, bool]:
    """(per-block attention B × heads × T × T, patch grid, has a class token, blocks are residual)."""
    if isinstance(model, ViT):
        return model.attention_maps(x), tuple(model.grid), model.pool == "cls", model.residual
    timm_blocks = [m for m in model.modules() if _is_timm_attention(m)]
    if not timm_blocks:
        raise UserError(
            f"this model ({type(model).__name__}) has no attention layers, so it has no attention maps "
            f"or rollout: use --method gradcam (convolutional models) or --method saliency (any model)."
        )
    with _recording(timm_blocks) as kept, torch.no_grad():
        model(x)
    grid = tuple(model.patch_embed.grid_size)
    return kept, grid, getattr(model, "cls_token", None) is not None, True


def _is_timm_attention(m: nn.Module) -> bool:
    """A timm ViT attention module: its softmax weights pass through ``attn_drop`` when not fused."""
    return hasattr(m, "fused_attn") and isinstance(getattr(m, "attn_drop", None), nn.Module)


@contextmanager
def _recording(modules: list[nn.Module]):
    """Record the attention weights of timm attention modules (unfused for the time) in a list."""
    kept: list[torch.Tensor] = []
    hooks = [
        m.attn_drop.register_forward_hook(lambda _m, i, _o: kept.append(i[0])) for m in modules
    ]
    fused = [m.fused_attn for m in modules]
    try:
        for m in modules:
            m.fused_attn = False  # the explicit softmax path, whose weights reach attn_drop
        yield kept
    finally:
        for m, f, h in zip(modules, fused, hooks):
            m.fused_attn = f
            h.remove()


def _gradient_map(
    model: nn.Module, x: torch.Tensor, method: str, target: torch.Tensor
) -> torch.Tensor:
    """Grad-CAM at the last conv layer, upsampled to the input; or saliency |∂logit/∂x| max over channels."""
    try:  # optional dependency: vislab[explain]
        from captum.attr import LayerAttribution, LayerGradCam, Saliency
    except ImportError:
        raise UserError(f"--method {method} needs captum: pip install 'vislab[explain]'.") from None
    x = x.clone().requires_grad_(True)
    if method == "saliency":
        grad = Saliency(model).attribute(x, target=target, abs=True)
        return grad.amax(1, keepdim=True).detach()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if _has_attention(model):  # its one conv is the patch embedding: no feature map worth a CAM
        raise UserError(
            f"--method gradcam explains a convolutional network's last feature map; this model "
            f"({type(model).__name__}) is a ViT: use --method attention or rollout, or saliency."
        )
    if not convs:
        raise UserError(
            f"--method gradcam needs a convolutional layer, and this model ({type(model).__name__}) has "
            f"none: use --method saliency (any model)."
        )
    cam = LayerGradCam(model, convs[-1]).attribute(x, target=target, relu_attributions=True)
    return LayerAttribution.interpolate(cam, tuple(x.shape[-2:]), "bilinear").detach()


def _has_attention(model: nn.Module) -> bool:
    return isinstance(model, ViT) or any(_is_timm_attention(m) for m in model.modules())


def explain_images(
    target: str | Path,
    images: Sequence[Path],
    method: str = "rollout",
    out: Path | None = None,
    block: int = -1,
    trust_code: bool = False,
) -> list[Path]:
    """``vislab explain``: one PNG per image (the image, then each map over it) in ``out`` (default
    ``RUN/explain``). Every image is read before any work, so a bad file stops the command early."""
    if method not in METHODS:
        raise UserError(f"--method '{method}' is unknown: use one of {', '.join(METHODS)}.")
    model, ckpt = load_model(target, trust_code)
    shape = image_shape(ckpt)
    arrays = [load_image(Path(p), shape) for p in images]
    folder = Path(out) if out is not None else _default_folder(Path(target))
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--out '{folder}' is a file; give a folder for the PNGs.")
    paths = []
    for path, arr in zip(images, arrays):
        e = explain_one(model, ckpt, arr, method, block)
        shown = centre_crop(torch.from_numpy(arr).permute(2, 0, 1), _crop(ckpt))
        png = folder / f"{Path(path).stem}_{method}.png"
        title = f"{Path(path).name}: {e.top[0]} ({e.top[1]:.2f})"
        paths.append(plot_explanation(shown.permute(1, 2, 0).numpy(), e.maps, e.labels, png, title))
    return paths


def explain_one(
    model: nn.Module, ckpt: dict, arr: np.ndarray, method: str, block: int = -1
) -> Explanation:
    """One uint8 H×W×C image's maps by ``method``, with captions and the top class."""
    maps = explain_maps(model, model_input(ckpt, [arr]), method, block)[0]
    [ranked] = classify(model, ckpt, [arr], top_k=1)
    if method == "attention":
        labels = [f"head {h}" for h in range(len(maps))]
    else:
        labels = [{"rollout": "attention rollout", "gradcam": "Grad-CAM"}.get(method, method)]
    return Explanation(maps, labels, ranked[0])


def _default_folder(target: Path) -> Path:
    run_dir = target if target.is_dir() else target.parent.parent  # RUN/checkpoints/best.pt → RUN
    return run_dir / "explain"
