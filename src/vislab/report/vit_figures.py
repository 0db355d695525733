"""Report figures for ViT runs: positional embeddings and attention maps (via models/vit.py's helpers)."""

from __future__ import annotations

from pathlib import Path


def vit_figures(figs, name: str, run_dir: Path, cfg) -> list[dict]:
    """Positional-embedding similarity and attention maps on a few test images; [] for other models or
    when models/vit.py offers no such helper."""
    if cfg is None or cfg.model.name != "vit":
        return []
    try:
        from vislab.models import vit as vitmod
    except ImportError:
        return []
    plot_pos = getattr(vitmod, "plot_pos_embedding", None)
    plot_att = getattr(vitmod, "plot_attention", None)
    if plot_pos is None and plot_att is None:
        return []
    from vislab.predict import load_model

    try:
        model, ckpt = load_model(run_dir)
    except Exception as e:
        figs.notes.append(f"{name}: ViT figures skipped, model not loaded ({e})")
        return []
    out = []
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    if plot_pos is not None:
        out.append(figs.make(f"vit_pos_{safe}.png", f"{name}: positional embeddings", plot_pos, model))
    if plot_att is not None:
        images = _sample_images(cfg, ckpt, figs, name)
        if images is not None:
            out.append(figs.make(f"vit_attention_{safe}.png", f"{name}: attention on test images", plot_att,
                                 model, *images))
    return [f for f in out if f]


def _sample_images(cfg, ckpt: dict, figs, name: str, n: int = 6):
    """(normalised input batch, uint8 images) of the first ``n`` test images, as the model sees them."""
    import torch

    from vislab.data import load_splits
    from vislab.data.loader import DeviceLoader

    try:
        splits = load_splits(cfg.data, cfg.train.seed)
    except Exception as e:
        figs.notes.append(f"{name}: attention maps skipped, data not loaded ({e})")
        return None
    test = splits.test.take(torch.arange(min(n, len(splits.test))).numpy())
    loader = DeviceLoader(test, ckpt["preprocess"], n, torch.device("cpu"))
    x, _ = next(iter(loader.epoch(0)))
    return x, test.x
