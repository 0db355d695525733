"""Report figures that need the trained model itself: a ViT's positional embeddings and attention maps,
a convolutional model's Grad-CAM (``vislab explain``'s, when captum is installed), and the decision
boundary of any model on 2-D feature data (``circles``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vislab.config import Config
from vislab.data.augment import centre_crop
from vislab.data.loader import DeviceLoader
from vislab.data.types import ArraySet
from vislab.explain import explain_maps
from vislab.models.vit import rollout_maps
from vislab.plotting.boundary import plot_decision_boundary
from vislab.plotting.explain import plot_explanation
from vislab.plotting.vit import plot_attention, plot_pos_embedding
from vislab.predict import load_model
from vislab.report.figure_set import FigureSet, safe_name

CONV_MODELS = ("cnn", "resnet18")  # the models whose report shows Grad-CAM


def model_figures(figs: FigureSet, name: str, run_dir: Path, cfg: Config | None) -> list[dict]:
    """The model-specific figures of one run ([] when its model and data have none)."""
    if cfg is None:
        return []
    is_vit, is_conv = cfg.model.name == "vit", cfg.model.name in CONV_MODELS
    if not (is_vit or is_conv) and cfg.data.name != "circles":
        return []
    try:
        model, ckpt = load_model(run_dir)
        test, x = _test_batch(figs, cfg, ckpt, None if is_vit or is_conv else 100_000)
    except Exception as e:
        figs.notes.append(f"{name}: model figures skipped, model or data not loaded ({e})")
        return []
    safe = safe_name(name)
    if is_vit:
        out = [
            figs.make(
                f"vit_pos_{safe}.png", f"{name}: positional embeddings", _vit_positions, model
            ),
            figs.make(
                f"vit_attention_{safe}.png",
                f"{name}: attention on test images",
                _vit_attention,
                model,
                x,
                test.x,
            ),
            figs.make(
                f"vit_heads_{safe}.png",
                f"{name}: each head's class-token attention (last block) on a test image",
                _vit_heads,
                model,
                x,
                test.x,
            ),
        ]
    elif is_conv and test.is_image:
        out = [
            figs.make(
                f"gradcam_{safe}.png",
                f"{name}: Grad-CAM of the predicted class on test images",
                _gradcam,
                model,
                x,
                test.x,
            )
        ]
    elif x.ndim == 2 and x.shape[1] == 2:
        out = [
            figs.make(
                f"boundary_{safe}.png",
                f"{name}: decision boundary on the test points",
                plot_decision_boundary,
                model,
                x,
                test.y,
                class_names=ckpt.get("class_names"),
                title=name,
            )
        ]
    else:
        out = []
    return [f for f in out if f]


def _vit_positions(model: torch.nn.Module, path: Path) -> Path:
    """The ViT's positional-embedding table and its patch similarities."""
    return plot_pos_embedding(model.pos_embed[0], model.grid, path, class_token=model.pool == "cls")


def _vit_attention(model: torch.nn.Module, x: torch.Tensor, display, path: Path) -> Path:
    """The ViT's attention rollout on the normalised batch ``x`` over the images ``display``."""
    maps = rollout_maps(model, x.to(next(model.parameters()).device))
    return plot_attention(maps, x, display, path=path)


def _vit_heads(model: torch.nn.Module, x: torch.Tensor, display, path: Path) -> Path:
    """``vislab explain --method attention`` on the first image of ``x``: one panel per head."""
    maps = explain_maps(model, x[:1].to(next(model.parameters()).device), "attention")[0]
    return plot_explanation(display[0], maps, [f"head {h}" for h in range(len(maps))], path)


def _gradcam(model: torch.nn.Module, x: torch.Tensor, display, path: Path) -> Path:
    """Grad-CAM (``vislab explain --method gradcam``) on the normalised batch ``x`` over ``display``."""
    maps = explain_maps(model, x.to(next(model.parameters()).device), "gradcam")[:, 0]
    return plot_attention(maps, x, display, path=path, label="Grad-CAM")


def _test_batch(
    figs: FigureSet, cfg: Config, ckpt: dict, n: int | None
) -> tuple[ArraySet, torch.Tensor]:
    """(first ``n`` test samples as an ArraySet, the same as the model's normalised input); n=None: 6."""
    splits = figs.splits(cfg)
    n = min(n or 6, len(splits.test))
    test = splits.test.take(torch.arange(n).numpy())
    size = cfg.augment.crop.size  # a model trained on crops sees the centre crop, as in evaluation
    loader = DeviceLoader(test, ckpt["preprocess"], n, torch.device("cpu"), size=size)
    x, _ = next(iter(loader.epoch(0)))
    if size and test.is_image:  # the images shown are the ones the model saw
        shown = centre_crop(torch.from_numpy(test.x).permute(0, 3, 1, 2), size)
        test = ArraySet(np.ascontiguousarray(shown.permute(0, 2, 3, 1).numpy()), test.y)
    return test, x
