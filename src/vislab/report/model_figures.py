"""Report figures that need the trained model itself: a ViT's positional embeddings and attention maps,
and the decision boundary of any model on 2-D feature data (``circles``)."""

from __future__ import annotations

from pathlib import Path


def model_figures(figs, name: str, run_dir: Path, cfg) -> list[dict]:
    """The model-specific figures of one run ([] when its model and data have none)."""
    if cfg is None:
        return []
    is_vit = cfg.model.name == "vit"
    if not is_vit and cfg.data.name != "circles":
        return []
    from vislab.predict import load_model

    try:
        model, ckpt = load_model(run_dir)
        test, x = _test_batch(cfg, ckpt, None if is_vit else 100_000)
    except Exception as e:
        figs.notes.append(f"{name}: model figures skipped, model or data not loaded ({e})")
        return []
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    if is_vit:
        from vislab.models.vit import plot_attention, plot_pos_embedding

        out = [
            figs.make(
                f"vit_pos_{safe}.png", f"{name}: positional embeddings", plot_pos_embedding, model
            ),
            figs.make(
                f"vit_attention_{safe}.png",
                f"{name}: attention on test images",
                plot_attention,
                model,
                x,
                test.x,
            ),
        ]
    elif x.ndim == 2 and x.shape[1] == 2:
        from vislab.report.boundary import plot_decision_boundary

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


def _test_batch(cfg, ckpt: dict, n: int | None):
    """(first ``n`` test samples as an ArraySet, the same as the model's normalised input); n=None: 6."""
    import torch

    from vislab.data import load_splits
    from vislab.data.loader import DeviceLoader

    splits = load_splits(cfg.data, cfg.train.seed)
    n = min(n or 6, len(splits.test))
    test = splits.test.take(torch.arange(n).numpy())
    x, _ = next(iter(DeviceLoader(test, ckpt["preprocess"], n, torch.device("cpu")).epoch(0)))
    return test, x
