"""Using a finished checkpoint: evaluate it on a split, or classify image files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vislab.config import build_config
from vislab.data import prepare_data
from vislab.data.loader import DeviceLoader
from vislab.data.preprocess import apply_stats
from vislab.errors import DataError, UserError
from vislab.models import build_model, skip_pretrained
from vislab.plotting.runs import plot_confusion
from vislab.train.checkpoint import load_checkpoint, resolve_checkpoint
from vislab.train.metrics import compute_metrics

console = Console()

_MODEL_KEYS = {
    "model_name": str,
    "model_kwargs": dict,
    "input_shape": (list, tuple),
    "num_classes": int,
    "class_names": (list, tuple),
    "preprocess": dict,
    "state_dict": dict,
}


def load_model(target: str | Path) -> tuple[torch.nn.Module, dict]:
    """Rebuild the model of a checkpoint (needs nothing but the checkpoint)."""
    path = resolve_checkpoint(target)
    ckpt = load_checkpoint(path)
    bad = [k for k, t in _MODEL_KEYS.items() if not isinstance(ckpt.get(k), t)]
    if bad:
        raise DataError(
            f"checkpoint '{path}' lacks or has malformed {', '.join(bad)}: it is damaged or was not "
            f"written by vislab's trainer. Use best.pt/last.pt from a vislab run directory."
        )
    with skip_pretrained():  # the checkpoint's state dict is the model; no pretrained file needed
        model = build_model(
            ckpt["model_name"],
            tuple(ckpt["input_shape"]),
            ckpt["num_classes"],
            **ckpt["model_kwargs"],
        )
    try:
        model.load_state_dict(ckpt["state_dict"])
    except (
        RuntimeError,
        KeyError,
        TypeError,
        ValueError,
    ) as e:  # missing/unexpected keys, shape mismatch
        raise DataError(
            f"checkpoint '{path}': its weights do not fit the model it describes "
            f"({ckpt['model_name']}, {ckpt['model_kwargs']}): {' '.join(str(e).split())[:300].rstrip('.')}. "
            f"The file is damaged or "
            f"from an incompatible vislab version ({ckpt.get('vislab_version', 'unknown')})."
        ) from None
    return model.eval(), ckpt


def evaluate_checkpoint(target: Path, split: str, overrides: list[str], out: Path | None) -> dict:
    """Score a checkpoint on a split of its dataset, with the checkpoint's own normalisation."""
    if split not in ("train", "val", "test"):
        raise UserError(f"--split must be train, val or test, not '{split}'.")
    model, ckpt = load_model(target)
    if not isinstance(ckpt.get("config"), dict):
        raise DataError(
            f"checkpoint '{target}' holds no config, so its dataset is unknown: use a checkpoint "
            f"written by vislab's trainer."
        )
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise UserError(f"--out '{out}' is a file; give a folder for the confusion PNG.")
    fixed = [o for o in overrides if o.split("=", 1)[0].strip().startswith("model.")]
    if fixed:
        raise UserError(
            f"--set {fixed[0]}: eval scores the checkpoint's own model, whose options cannot change. "
            f"Only data.* (and train.eval_batch_size) settings apply here."
        )
    cfg = build_config(ckpt["config"], overrides, source="checkpoint config")
    splits, stats = prepare_data(cfg.data, cfg.train.seed, stats=ckpt["preprocess"])
    want = (tuple(ckpt["input_shape"]), int(ckpt["num_classes"]))
    got = (tuple(splits.sample_shape), splits.num_classes)
    if got != want:
        shape = lambda s: "×".join(map(str, s))  # noqa: E731
        raise UserError(
            f"checkpoint '{target}' was trained on {shape(want[0])} inputs with {want[1]} classes, but "
            f"this data ({cfg.data.name}) gives {shape(got[0])} inputs with {got[1]} classes. Evaluate "
            f"on data of the same shape (the run's own: no data.* overrides), or resize with data.resize."
        )
    data = dict(splits.items())[split]
    loader = DeviceLoader(data, stats, cfg.train.eval_batch_size)
    with torch.inference_mode():
        logits = torch.cat([model(x) for x, _ in loader.epoch(0)])
    m = compute_metrics(logits, torch.from_numpy(data.y), splits.num_classes, with_roc=True)
    table = Table(title=f"{split}: acc {m.acc:.4f}, per-class acc {m.pacc:.4f}, n={m.n}")
    table.add_column("class")
    table.add_column("accuracy", justify="right")
    table.add_column("support", justify="right")
    for name, acc, row in zip(splits.class_names, m.per_class, m.confusion):
        table.add_row(escape(str(name)), f"{acc:.4f}", str(int(row.sum())))
    console.print(table)
    target = Path(target)
    folder = out or (target / "figures" if target.is_dir() else target.parent)
    png = plot_confusion(
        m.confusion, splits.class_names, Path(folder) / f"confusion_{split}.png", title=split
    )
    console.print(escape(f"confusion matrix: {png}"))
    return {"acc": m.acc, "pacc": m.pacc, "auc": m.auc}


def load_image(path: Path, shape: tuple[int, int, int]) -> np.ndarray:
    """Decode an image file to uint8 H×W×C of the model's input shape (C, H, W); UserError if unreadable."""
    c, h, w = shape
    if not Path(path).is_file():
        raise UserError(f"'{path}' does not exist or is not a file: give PNG/JPEG/BMP/... files.")
    try:
        with Image.open(path) as img:
            img = img.convert("L" if c == 1 else "RGB").resize((w, h), Image.BILINEAR)
            arr = np.array(img, dtype=np.uint8)
    except (UnidentifiedImageError, Image.DecompressionBombError) as e:
        raise UserError(
            f"'{path}' is not a readable image ({type(e).__name__}): give PNG/JPEG/BMP/... files."
        ) from None
    except Exception as e:  # noqa: BLE001 - PIL's decoders raise many types (OSError, ValueError, SyntaxError, ...)
        raise UserError(
            f"'{path}' is not a readable image ({type(e).__name__}: {str(e)[:120]}): give PNG/JPEG/BMP/... "
            f"files."
        ) from None
    return arr[..., None] if arr.ndim == 2 else arr


def predict_images(target: Path, images: list[Path], top_k: int = 3) -> int:
    """Print the top-k classes per image; a bad file gets its own error line. Returns the number of failures."""
    model, ckpt = load_model(target)
    shape = tuple(ckpt["input_shape"])
    if len(shape) != 3:
        raise UserError(f"this checkpoint's model takes {shape[0]}-D feature vectors, not images.")
    names, failures = ckpt["class_names"], 0
    k = min(top_k, len(names))
    for path in images:
        try:
            arr = load_image(path, shape)
        except UserError as e:
            console.print(
                f"[red]{escape(str(path))}: error:[/] {escape(str(e))}",
                highlight=False,
                soft_wrap=True,
            )
            failures += 1
            continue
        x = torch.from_numpy(arr).permute(2, 0, 1)[None].float().div_(255)
        with torch.inference_mode():
            probs = torch.softmax(model(apply_stats(x, ckpt["preprocess"])), 1)[0]
        p, idx = probs.topk(k)
        ranked = ", ".join(f"{names[i]} {q:.3f}" for q, i in zip(p.tolist(), idx.tolist()))
        console.print(escape(f"{path}: {ranked}"), highlight=False, soft_wrap=True)
    return failures
