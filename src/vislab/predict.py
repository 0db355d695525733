"""Using a finished checkpoint: evaluate it on a split, or classify images (files, PIL images, arrays).

One implementation for the CLI (``vislab eval`` / ``vislab predict``: tables and lines on the console) and
the Python API (``vislab.Run.evaluate`` / ``Run.predict``: plain values)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vislab.config import build_config
from vislab.data import prepare_data
from vislab.data.augment import centre_crop, model_input_shape
from vislab.data.loader import DeviceLoader
from vislab.data.preprocess import apply_stats
from vislab.data.types import ArraySet
from vislab.errors import DataError, UserError
from vislab.models import build_model, skip_pretrained
from vislab.models.user import recorded_code
from vislab.plotting.mistakes import (
    GALLERY_SIZE,
    confident_mistakes,
    confused_pairs,
    pair_lines,
    plot_mistakes,
)
from vislab.plotting.runs import plot_confusion
from vislab.training.checkpoint import load_checkpoint, resolve_checkpoint
from vislab.training.metrics import Metrics, compute_metrics

console = Console()

#: An image the API can classify: a file path, a PIL image, or a uint8 (0-255) or float (0-1) array of
#: H×W, H×W×C or C×H×W.
ImageLike = str | Path | Image.Image | np.ndarray

_MODEL_KEYS = {
    "model_name": str,
    "model_kwargs": dict,
    "input_shape": (list, tuple),
    "num_classes": int,
    "class_names": (list, tuple),
    "preprocess": dict,
    "state_dict": dict,
}


def load_model(target: str | Path, trust_code: bool = False) -> tuple[torch.nn.Module, dict]:
    """Rebuild the model of a checkpoint (needs nothing but the checkpoint).

    A model that is the user's own code (``model.name=file.py:Net``) is imported only with
    ``trust_code=True`` or when the file has the sha256 the run recorded; else UntrustedCode (exit 2)."""
    path = resolve_checkpoint(target)
    ckpt = load_checkpoint(path)
    bad = [k for k, t in _MODEL_KEYS.items() if not isinstance(ckpt.get(k), t)]
    if not _fits_crop(ckpt.get("sample_shape"), ckpt.get("input_shape")):
        bad.append("sample_shape")
    if bad:
        raise DataError(
            f"checkpoint '{path}' lacks or has malformed {', '.join(bad)}: it is damaged or was not "
            f"written by vislab's trainer. Use best.pt/last.pt from a vislab run directory."
        )
    code = recorded_code(ckpt["model_name"], ckpt.get("model_code"), trust_code, str(target))
    with code as name, skip_pretrained():  # the state dict is the model; no pretrained file needed
        model = build_model(
            name,
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


def _fits_crop(sample: object, model_input: object) -> bool:
    """A checkpoint's ``sample_shape`` (absent before ``augment.crop.size``): the images, of which the model's
    ``input_shape`` is the centre crop — same length and channels, sides at least as large."""
    if sample is None:
        return True
    if not (_is_shape(sample) and _is_shape(model_input) and len(sample) == len(model_input)):
        return False
    return sample[0] == model_input[0] and all(a >= b for a, b in zip(sample, model_input))


def _is_shape(value: object) -> bool:
    return isinstance(value, (list, tuple)) and all(type(v) is int and v > 0 for v in value)


def score_checkpoint(
    target: str | Path, split: str = "test", overrides: Sequence[str] = (), trust_code: bool = False
) -> tuple[Metrics, list[str]]:
    """A checkpoint's metrics on a split of its dataset (with the checkpoint's own normalisation) and the
    class names; ``overrides`` are ``--set`` assignments (data.* and train.eval_batch_size only)."""
    scored = _score(target, split, overrides, trust_code)
    return scored.metrics, scored.class_names


@dataclass
class _Scored:
    """A split scored by a checkpoint: its metrics, class names, probabilities and the split itself."""

    metrics: Metrics
    class_names: list[str]
    probs: np.ndarray
    data: ArraySet


def _score(target: str | Path, split: str, overrides: Sequence[str], trust_code: bool) -> _Scored:
    if split not in ("train", "val", "test"):
        raise UserError(f"--split must be train, val or test, not '{split}'.")
    model, ckpt = load_model(target, trust_code)
    if not isinstance(ckpt.get("config"), dict):
        raise DataError(
            f"checkpoint '{target}' holds no config, so its dataset is unknown: use a checkpoint "
            f"written by vislab's trainer."
        )
    fixed = [o for o in overrides if o.split("=", 1)[0].strip().startswith("model.")]
    if fixed:
        raise UserError(
            f"--set {fixed[0]}: eval scores the checkpoint's own model, whose options cannot change. "
            f"Only data.* (and train.eval_batch_size) settings apply here."
        )
    cfg = build_config(ckpt["config"], list(overrides), source="checkpoint config")
    splits, stats = prepare_data(cfg.data, cfg.train.seed, stats=ckpt["preprocess"])
    want = (tuple(ckpt["input_shape"]), int(ckpt["num_classes"]))
    got = (model_input_shape(cfg.augment, splits.sample_shape), splits.num_classes)
    if got != want:
        shape = lambda s: "×".join(map(str, s))  # noqa: E731
        raise UserError(
            f"checkpoint '{target}' was trained on {shape(want[0])} inputs with {want[1]} classes, but "
            f"this data ({cfg.data.name}) gives {shape(got[0])} inputs with {got[1]} classes. Evaluate "
            f"on data of the same shape (the run's own: no data.* overrides), or resize with data.resize."
        )
    data = dict(splits.items())[split]
    # the centre crop of training's evaluation (augment.crop.size), on every split
    loader = DeviceLoader(data, stats, cfg.train.eval_batch_size, size=cfg.augment.crop.size)
    with torch.inference_mode():
        logits = torch.cat([model(x) for x, _ in loader.epoch(0)])
    m = compute_metrics(logits, torch.from_numpy(data.y), splits.num_classes, with_roc=True)
    probs = torch.softmax(logits.float(), 1).numpy()
    return _Scored(m, list(splits.class_names), probs, data)


def evaluate_checkpoint(
    target: Path,
    split: str,
    overrides: list[str],
    out: Path | None,
    trust_code: bool = False,
    mistakes: int = GALLERY_SIZE,
) -> dict:
    """``vislab eval``: score a checkpoint on a split, print the per-class table and the most confused
    pairs, write the confusion PNG and the gallery of the ``mistakes`` most confidently wrong images."""
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise UserError(f"--out '{out}' is a file; give a folder for the confusion PNG.")
    if mistakes < 0:
        raise UserError(f"--mistakes must be 0 (no gallery) or more, not {mistakes}.")
    scored = _score(target, split, overrides, trust_code)
    m, class_names = scored.metrics, scored.class_names
    table = Table(title=f"{split}: acc {m.acc:.4f}, per-class acc {m.pacc:.4f}, n={m.n}")
    table.add_column("class")
    table.add_column("accuracy", justify="right")
    table.add_column("support", justify="right")
    for name, acc, row in zip(class_names, m.per_class, m.confusion):
        table.add_row(escape(str(name)), f"{acc:.4f}", str(int(row.sum())))
    console.print(table)
    target = Path(target)
    folder = out or (target / "figures" if target.is_dir() else target.parent)
    png = plot_confusion(
        m.confusion, class_names, Path(folder) / f"confusion_{split}.png", title=split
    )
    console.print(escape(f"confusion matrix: {png}"))
    _report_mistakes(scored, split, Path(folder), mistakes)
    return {"acc": m.acc, "pacc": m.pacc, "auc": m.auc}


def _report_mistakes(scored: _Scored, split: str, folder: Path, n: int) -> None:
    """Print the most confused pairs; write the gallery of the ``n`` most confidently wrong images."""
    pairs = confused_pairs(scored.metrics.confusion)
    console.print(f"most confused pairs ({split}, true → predicted):", highlight=False)
    for line in pair_lines(pairs, scored.class_names) or ["none: every prediction is right"]:
        console.print(escape(f"  {line}"), highlight=False)
    if n == 0:
        return
    wrong = confident_mistakes(scored.probs, scored.data.y, n)
    images = scored.data.x if scored.data.is_image else None
    png = plot_mistakes(
        images, wrong, pairs, scored.class_names, folder / f"mistakes_{split}.png", title=split
    )
    what = f"most confidently wrong ({len(wrong)})" if images is not None else "pairs (no images)"
    console.print(escape(f"{what}: {png}"), highlight=False)


def load_image(path: Path, shape: tuple[int, int, int]) -> np.ndarray:
    """Decode an image file to uint8 H×W×C of the model's input shape (C, H, W); UserError if unreadable."""
    if not Path(path).is_file():
        raise UserError(f"'{path}' does not exist or is not a file: give PNG/JPEG/BMP/... files.")
    try:
        with Image.open(path) as img:
            return _fit(img, shape)
    except (UnidentifiedImageError, Image.DecompressionBombError) as e:
        raise UserError(
            f"'{path}' is not a readable image ({type(e).__name__}): give PNG/JPEG/BMP/... files."
        ) from None
    except Exception as e:  # noqa: BLE001 - PIL's decoders raise many types (OSError, ValueError, SyntaxError, ...)
        raise UserError(
            f"'{path}' is not a readable image ({type(e).__name__}: {str(e)[:120]}): give PNG/JPEG/BMP/... "
            f"files."
        ) from None


def _fit(img: Image.Image, shape: tuple[int, int, int]) -> np.ndarray:
    """A PIL image as uint8 H×W×C of the model's input shape (C, H, W): grey or RGB, resized bilinearly."""
    c, h, w = shape
    arr = np.array(img.convert("L" if c == 1 else "RGB").resize((w, h), Image.BILINEAR), np.uint8)
    return arr[..., None] if arr.ndim == 2 else arr


def image_array(image: ImageLike, shape: tuple[int, int, int]) -> np.ndarray:
    """Any :data:`ImageLike` as uint8 H×W×C of the model's input shape; arrays pass through PIL like files,
    so the same picture gives the same input whichever way it comes."""
    if isinstance(image, (str, Path)):
        return load_image(Path(image), shape)
    if isinstance(image, Image.Image):
        return _fit(image, shape)
    if not isinstance(image, np.ndarray):
        raise UserError(
            f"cannot classify a {type(image).__name__}: give image file paths, PIL images or numpy arrays."
        )
    arr = image
    if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3):
        arr = arr.transpose(1, 2, 0)  # C×H×W → H×W×C
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] != 3):
        raise UserError(
            f"an image array must be H×W, H×W×C or C×H×W with 1 or 3 channels, not shape {image.shape}."
        )
    if arr.dtype != np.uint8:
        if not np.issubdtype(arr.dtype, np.number) or not np.isfinite(arr).all():
            raise UserError(
                f"an image array must hold finite numbers, not {arr.dtype} with NaN/inf."
            )
        scale = 255.0 if arr.max(initial=0) <= 1.0 else 1.0  # floats in [0, 1] or values in 0-255
        arr = np.clip(np.rint(arr * scale), 0, 255).astype(np.uint8)
    return _fit(Image.fromarray(arr), shape)


def classify(
    model: torch.nn.Module, ckpt: dict, arrays: list[np.ndarray], top_k: int = 3
) -> list[list[tuple[str, float]]]:
    """Top-k (class name, probability) pairs, best first, for each uint8 H×W×C array of
    :func:`image_shape`; centre-cropped to the model's input when the run trained on crops."""
    names = ckpt["class_names"]
    k = min(top_k, len(names))
    size = (
        ckpt["input_shape"][-1] if tuple(image_shape(ckpt)) != tuple(ckpt["input_shape"]) else None
    )
    out = []
    for arr in arrays:
        x = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1)[None].float().div_(255)
        x = centre_crop(x, size)
        with torch.inference_mode():
            probs = torch.softmax(model(apply_stats(x, ckpt["preprocess"])), 1)[0]
        p, idx = probs.topk(k)
        out.append([(str(names[i]), float(q)) for q, i in zip(p.tolist(), idx.tolist())])
    return out


def image_shape(ckpt: dict) -> tuple[int, int, int]:
    """The (C, H, W) an image is resized to: the run's images (``sample_shape``), which :func:`classify`
    centre-crops to the model's ``input_shape`` after ``augment.crop.size`` (checkpoints before it: the
    input shape). UserError for a model of feature vectors."""
    shape = tuple(ckpt.get("sample_shape") or ckpt["input_shape"])
    if len(shape) != 3:
        raise UserError(f"this checkpoint's model takes {shape[0]}-D feature vectors, not images.")
    return shape  # type: ignore[return-value]


def predict_images(
    target: Path, images: list[Path], top_k: int = 3, trust_code: bool = False
) -> int:
    """Print the top-k classes per image; a bad file gets its own error line. Returns the number of failures."""
    model, ckpt = load_model(target, trust_code)
    shape, failures = image_shape(ckpt), 0
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
        [ranked] = classify(model, ckpt, [arr], top_k)
        text = ", ".join(f"{name} {q:.3f}" for name, q in ranked)
        console.print(escape(f"{path}: {text}"), highlight=False, soft_wrap=True)
    return failures
