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
    else:  # no helper: cosine similarity of the patch positions' embeddings, found by name
        from vislab.report.figures import plot_pos_similarity

        pos = _pos_embedding(model)
        if pos is not None:
            out.append(figs.make(f"vit_pos_{safe}.png", f"{name}: similarity of the patches' positional embeddings",
                                 plot_pos_similarity, pos, title=name))
    if plot_att is not None:
        images = _sample_images(cfg, ckpt, figs, name)
        if images is not None:
            out.append(figs.make(f"vit_attention_{safe}.png", f"{name}: attention on test images", plot_att,
                                 model, *images))
    return [f for f in out if f]


def _pos_embedding(model):
    """The (patches × dim) positional embedding of a ViT (class token dropped), or None."""
    import numpy as np

    for key, t in [*model.named_parameters(), *model.named_buffers()]:
        if "pos" not in key.lower() or t.ndim not in (2, 3):
            continue
        pos = t.detach().float().reshape(-1, t.shape[-1]).cpu().numpy()
        for drop in (0, 1):  # a leading class-token position
            n = len(pos) - drop
            if n > 0 and int(round(np.sqrt(n))) ** 2 == n:
                return pos[drop:]
    return None


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
