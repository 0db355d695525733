"""Export a finished run's model to ONNX or TorchScript, with a JSON of what inference needs.

``export_run(run, "onnx")`` writes ``run/export/model.onnx`` and ``run/export/model.json`` (TorchScript:
``model.torchscript.pt`` and ``model.torchscript.json``; :func:`spec_path`): the input
shape, the normalisation (per-channel mean/std, or the ZCA mean and matrix), the class names, the
model name and options, the checkpoint the weights came from (its file, epoch, step when mid-epoch,
and the run's test accuracy where it is theirs), and the exact recipe from a uint8 H×W×C image to the
model's input. Every export is checked before it is written (``vislab.export_formats``): the exported
model must give PyTorch's outputs on batches of other sizes and values than the one it was traced on;
a forward with Python control flow that the tracer or exporter froze fails that check and is refused
(``UserError``, exit 2), as are the fitted baselines (``majority``, ``svm``).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import numpy as np
import torch

from vislab.config.files import read_yaml
from vislab.data.input_spec import InputSpec
from vislab.data.tta import TTA_MODES
from vislab.errors import UserError
from vislab.export_formats import INPUT_NAME, OUTPUT_NAME, check_export, to_onnx, to_torchscript
from vislab.models.hooks import hooks_of
from vislab.plotting.files import check_new_files
from vislab.predict import load_model
from vislab.training.checkpoint import (
    atomic_write,
    atomic_write_text,
    choose_checkpoint,
    load_checkpoint,
    weights_at,
)
from vislab.training.record import RunRecord
from vislab.training.rundir import RunDir, refuse_run_file
from vislab.training.summary import RunSummary
from vislab.training.writable import check_writable
from vislab.version import __version__

FORMATS = {"onnx": "model.onnx", "torchscript": "model.torchscript.pt"}
_FITTED = {
    "majority": "it ignores its input and returns the train split's class priors",
    "svm": "its forward replays scikit-learn's fitted SVC with Python loops over its classes and "
    "support-vector counts, which tracing freezes",
}


#: a run folder's own files (and its checkpoints/ folder): never written over by an export or a CSV
def _checked_request(target: Path, fmt: str) -> Path:
    """``target``, once ``fmt`` is an export format and ``target`` exists: UserError otherwise."""
    if fmt not in FORMATS:
        raise UserError(
            f"'{fmt}' is not an export format: use onnx or torchscript (--format; Python: fmt=)."
        )
    if not target.exists():
        raise UserError(
            f"run '{target}' does not exist: give a run directory (or its checkpoints/best.pt)."
        )
    return target


def export_run(
    target: str | Path,
    fmt: str,
    out: str | Path | None = None,
    *,
    trust_code: bool = False,
    checkpoint: str = "best",
    force: bool = False,
) -> tuple[Path, Path]:
    """Export a checkpoint of run ``target`` as ``fmt`` ("onnx" or "torchscript"): ``checkpoint`` "best"
    (its best.pt; its last.pt, with a ``CheckpointNote`` warning, when it has none yet) or "last"; a
    checkpoint file given as ``target`` is exported as it is.

    Writes the model to ``out`` (default ``RUN/export/model.onnx`` or ``model.torchscript.pt``; a
    folder — one that exists, or a name ending in ``/`` or without a suffix, then made — gets that name
    inside) and the inference spec beside it (:func:`spec_path`: ``X.json`` for ONNX, ``X.torchscript.json``
    for TorchScript, so both formats can go to one stem ``X``; its ``checkpoint``: :func:`checkpoint_spec`);
    returns both paths. Outside ``RUN/export/``, a file already at either
    path is replaced only with ``force``; a run's own files (``training.rundir.RUN_OWN``) and the checkpoint
    exported never are (checked before the export). ``trust_code``: as for ``predict.load_model``.
    ``UserError`` when the run is missing, the format unknown, ``out`` not a place the files can be
    written (checked before the export), the ONNX extra absent (``pip install 'vislab[onnx]'``) or the
    model cannot be exported faithfully::

        model_file, spec = export_run("runs/cnn", "onnx")
    """
    target = _checked_request(Path(target), fmt)
    ckpt_path, _ = choose_checkpoint(target, checkpoint)  # its note: load_model's
    path = _output_path(ckpt_path, fmt, out)
    spec_file = spec_path(path, fmt)
    _check_outputs(ckpt_path, fmt, [path, spec_file], force)
    check_writable(path, "the model", undone="nothing was exported", is_file=True)
    model, record = load_model(target, trust_code, checkpoint)
    name = record.model.name
    _refuse_fitted(model, name)
    own = hooks_of(model)  # what its eval forward does itself: its own TTA, its own weight average
    model = record.inputs.wrap(model)  # the run's test-time augmentation is exported with it
    example, checks = _batches(record.inputs)
    with torch.inference_mode(False), torch.no_grad():
        data, run = (to_onnx if fmt == "onnx" else to_torchscript)(model, example, name)
        diff = check_export(model, run, checks, name, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: f.write(data))
    spec = inference_spec(record, fmt, path.name, diff, [len(c) for c in checks], own.eval_tta)
    spec["checkpoint"] = checkpoint_spec(
        ckpt_path, target.is_dir() and checkpoint == "best", own.eval_weight_average
    )
    atomic_write_text(spec_file, json.dumps(spec, indent=2, ensure_ascii=False) + "\n")
    return path, spec_file


def spec_path(model: Path, fmt: str) -> Path:
    """The inference spec of ``model`` exported as ``fmt``, beside it: its stem and ``.json`` for ONNX
    (model.onnx → model.json), its stem, ``.torchscript`` where the stem does not end so, and ``.json`` for
    TorchScript (model.torchscript.pt → model.torchscript.json, X.pt and X.torchscript →
    X.torchscript.json): an ONNX and a TorchScript export to one stem keep a spec each."""
    stem = model.stem
    if fmt == "torchscript" and not stem.lower().endswith(".torchscript"):
        stem += ".torchscript"
    return model.with_name(f"{stem}.json")


def _refuse_fitted(model: torch.nn.Module, name: str) -> None:
    """UserError for a fitted baseline (trained_by='fit_arrays'): not a network to export."""
    if hooks_of(model).trained_by != "fit_arrays":
        return
    why = _FITTED.get(name, "its forward evaluates a model fitted on arrays, not a network")
    raise UserError(
        f"model '{name}' cannot be exported: it is a fitted baseline (trained_by='fit_arrays') and {why}. "
        f"Export a network trained by gradient steps (mlp, cnn, vit, resnet18, your own nn.Module, ...)."
    )


def _check_outputs(ckpt_path: Path, fmt: str, paths: list[Path], force: bool) -> None:
    """Refuse, before any work, to write over a run's own file or the checkpoint, and, outside the
    default folder (``RUN/export/``, vislab's own), over any file without ``force``."""
    for path in paths:
        refuse_run_file(path, "--out", also=ckpt_path)
    if paths[0].resolve() != _default_path(ckpt_path, fmt).resolve():
        if not force:
            _refuse_others_spec(*paths)
        check_new_files(paths, force, "--out (Python: force=True, or another out=)")


def _refuse_others_spec(model: Path, spec: Path) -> None:
    """UserError when ``spec`` is the inference spec of another exported model file than ``model``."""
    try:
        other = json.loads(spec.read_text(encoding="utf-8")).get("model_file")
    except (OSError, ValueError, AttributeError):  # none there, or not a spec: check_new_files says
        return
    if isinstance(other, str) and other != model.name:
        raise UserError(
            f"'{spec}' is the inference spec of the export '{spec.with_name(other)}', and the spec of "
            f"--out '{model}' goes there too: give --out another name (e.g. "
            f"{model.with_stem(model.stem + '-2')}), or --force to replace that spec (Python: force=True, "
            f"or another out=)."
        )


def _default_path(ckpt_path: Path, fmt: str) -> Path:
    """``RUN/export/<default name>`` (beside a checkpoint outside a run folder: ``export/`` there)."""
    run = ckpt_path.parent.parent if ckpt_path.parent.name == "checkpoints" else ckpt_path.parent
    return run / "export" / FORMATS[fmt]


def _output_path(ckpt_path: Path, fmt: str, out: str | Path | None) -> Path:
    """``out``, a default name inside the folder ``out`` (an existing folder, or a name that ends in a
    path separator or has no suffix), or ``RUN/export/<default name>``."""
    if out is None:
        return _default_path(ckpt_path, fmt)
    folder = str(out).endswith(("/", os.sep))
    out = Path(out)
    if out.is_dir() or folder or (not out.suffix and not out.exists()):
        return out / FORMATS[fmt]
    if out.suffix.lower() == ".json":
        raise UserError(
            f"'{out}' (--out; Python: out=) is where the model goes, and its inference spec is written "
            f"beside it (its stem and .json; .torchscript.json for TorchScript): give the model's file "
            f"name (e.g. "
            f"{_model_file_like(out, ckpt_path, fmt)})."
        )
    return out


def _model_file_like(spec: Path, ckpt_path: Path, fmt: str) -> Path:
    """A model file to suggest for ``--out`` given as the spec ``spec``: its stem with the format's
    suffix, unless that, its spec or ``spec`` is a file export refuses (a run's own), then
    ``RUN/export/``'s."""
    model = spec.with_suffix(Path(FORMATS[fmt]).suffix)
    try:
        for path in (model, spec_path(model, fmt), spec):
            refuse_run_file(path, "--out", also=ckpt_path)
    except UserError:
        return _default_path(ckpt_path, fmt)
    return model


def _batches(spec: InputSpec) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The model inputs to export with (2 samples) and to check the export on: other batch sizes and
    values (random, all black and all white images; random, −1 and +1 feature vectors)."""
    g, shape = torch.Generator().manual_seed(0), spec.input_shape
    if len(shape) == 3:
        raw = [
            torch.randint(0, 256, (2, *shape), generator=g),
            torch.randint(0, 256, (3, *shape), generator=g),
            torch.zeros(1, *shape),
            torch.full((4, *shape), 255),
        ]
        inputs = [spec.prepare(r.float().div(255)) for r in raw]
    else:
        inputs = [
            torch.randn(2, *shape, generator=g),
            torch.randn(3, *shape, generator=g),
            -torch.ones(1, *shape),
            torch.ones(4, *shape),
        ]
    return inputs[0], inputs[1:]


def inference_spec(
    record: RunRecord, fmt: str, file: str, diff: float, sizes: list[int], model_tta: str = "none"
) -> dict:
    """What inference needs besides the model file: shapes, normalisation, class names, the recipe —
    all from the run's input spec, the one definition of the evaluation transform; ``model_tta``: the
    test-time augmentation the model does itself (``ModelHooks.eval_tta``)."""
    spec = record.inputs
    shape, names = list(spec.input_shape), list(record.model.class_names)
    crop = spec.crop_window
    return {
        "format": fmt,
        "model_file": file,
        "vislab_version": __version__,
        "trained_with_vislab": record.vislab_version,
        "model": {"name": record.model.name, "kwargs": record.model.kwargs},
        "input": {
            "name": INPUT_NAME,
            "shape": shape,
            "layout": "NCHW" if len(shape) == 3 else "ND",
            "dtype": "float32",
            "batch_axis": "0 (any size)",
        },
        "output": {
            "name": OUTPUT_NAME,
            "shape": ["batch", len(names)],
            "dtype": "float32",
            "meaning": "class logits: softmax over axis 1 gives probabilities, argmax the class index",
        },
        "class_names": names,
        "centre_crop": crop,
        "test_time_augmentation": _tta_text(max(spec.tta, model_tta, key=TTA_MODES.index)),
        "normalization": normalization_spec(spec.stats),
        "recipe": recipe(spec.input_shape, spec.stats["mode"], crop),
        "check": {"max_abs_diff_vs_pytorch": diff, "batch_sizes": sizes},
    }


def checkpoint_spec(
    ckpt_path: Path, standing_in: bool = False, model_average: bool = False
) -> dict:
    """Where exported weights come from: the checkpoint ``file`` (``checkpoints/best.pt`` in a run
    folder), the ``epoch`` they are at and, mid-epoch, the ``step`` (else None): ``weights_at``; whether
    they are a weight average (``ema_average``): the model's own, which its eval forward uses
    (``model_average``: ``ModelHooks.eval_weight_average``), or the ``train.ema`` average (a best.pt of
    such a run, or a last.pt ``standing_in`` for a best.pt it lacks; a last.pt asked for holds the live
    weights); and the run's ``test_acc`` from summary.json where that scored these weights (a finished
    run's best.pt, of the epoch it names, trained with the run's model, data and seed: not one copied
    from another run), else None."""
    ckpt = load_checkpoint(ckpt_path)
    if ckpt_path.name == "best.pt":
        averaged = (ckpt.record.config or {}).get("train", {}).get("ema", {}).get("decay", 0) > 0
    else:
        averaged = standing_in and ckpt.resume is not None and ckpt.resume.ema is not None
    epoch, step = weights_at(ckpt)
    in_run = ckpt_path.parent.name == "checkpoints"
    summary = (RunDir(ckpt_path.parent.parent).read_summary() if in_run else None) or RunSummary()
    best = (
        ckpt_path.name == "best.pt"
        and summary.best_epoch == epoch
        and _same_run(ckpt.record.config, ckpt_path.parent.parent / "config.yaml")
    )
    return {
        "file": f"checkpoints/{ckpt_path.name}" if in_run else ckpt_path.name,
        "epoch": epoch,
        "step": step,
        "ema_average": averaged or model_average,
        "test_acc": summary.test_acc if best and summary.complete else None,
    }


def _same_run(config: dict | None, run_config: Path) -> bool:
    """Whether a checkpoint's ``config`` has the model, data and seed of the run's ``config.yaml``
    (False when either is missing or unreadable)."""
    try:
        saved = read_yaml(run_config, kind="run config")
    except UserError:
        return False
    seed = lambda c: (c.get("train") or {}).get("seed")  # noqa: E731
    return (
        bool(config)
        and all(config.get(k) == saved.get(k) for k in ("model", "data"))
        and (seed(config) == seed(saved))
    )


def _tta_text(mode: str) -> str:
    """What the exported model does about test-time augmentation (``train.tta``, with what the model
    does itself: the wider of the two, as each mode's views include the narrower one's)."""
    return {
        "none": "none",
        "flip": "inside the model: its logits are the mean over each image and its mirror; feed "
        "plain images",
        "flip-translate": "inside the model: its logits are the mean over each image, its mirror, and "
        "both shifted by one pixel up-left and down-right (borders reflected); feed plain images",
    }[mode]


def normalization_spec(stats: dict) -> dict:
    """The checkpoint's ``preprocess`` statistics as JSON (the ZCA matrix as base64 float32 bytes)."""
    mode = stats["mode"]
    if mode == "none":
        return {"mode": "none"}
    as_list = lambda t: torch.as_tensor(t).float().flatten().tolist()  # noqa: E731
    if mode == "standard":
        spec = {"mode": "standard", "mean": as_list(stats["mean"]), "std": as_list(stats["std"])}
        if "fixed" in stats:  # e.g. the ImageNet statistics of pretrained weights
            spec["fixed"] = stats["fixed"]
        return spec
    w = np.ascontiguousarray(torch.as_tensor(stats["W"]).float().numpy(), dtype="<f4")
    return {
        "mode": "zca",
        "epsilon": stats.get("epsilon"),
        "mean": as_list(stats["mean"]),
        "matrix": {
            "shape": list(w.shape),
            "dtype": "float32",
            "byte_order": "little",
            "order": "row-major",
            "encoding": "base64",
            "data": base64.b64encode(w.tobytes()).decode("ascii"),
        },
    }


def recipe(shape: tuple[int, ...], mode: str, crop: dict | None = None) -> list[str]:
    """The steps from a raw input (uint8 H×W×C image, or feature vector) to the model's input; ``crop``:
    ``InputSpec.crop_window`` (resize to its image size, then take the centre)."""
    norm = {
        "none": "No normalisation.",
        "standard": "Normalise: x = (x - mean) / std, with normalization.mean and .std per channel "
        "(broadcast over H and W)."
        if len(shape) == 3
        else "Normalise: x = (x - mean) / std element-wise (normalization.mean, .std).",
        "zca": "Whiten: flatten x to its D values (in C, H, W order for images), x = (x - mean) @ W with "
        "normalization.mean (D) and W = normalization.matrix (D×D: base64 of little-endian float32, "
        "row-major), then reshape back.",
    }[mode]
    if len(shape) != 3:
        return [
            f"Take each sample as a float32 vector of {shape[0]} features (the raw values of the dataset).",
            norm,
            f"Stack the samples into a float32 batch N×{shape[0]}: the model's input '{INPUT_NAME}'.",
        ]
    c, h, w = shape
    ih, iw = crop["image_size"] if crop else (h, w)
    grey = "greyscale (PIL mode L: L = 0.299 R + 0.587 G + 0.114 B)"
    steps = [
        "Turn the image upright as its EXIF orientation tag says (PIL.ImageOps.exif_transpose), as "
        "photo viewers show it.",
        "Bring an image deeper than 8 bits to 0-255 by rescaling, never clipping: a 16-bit image "
        "(values 0-65535) divided by 257, and so a 32-bit integer one whose values pass 255 but "
        "not 65535 (16-bit greys); a float image with values in [0, 1] times 255; values "
        "within 0-255 as they are; any other range stretched from its minimum (0) to its maximum "
        "(255); then rounded to uint8. An 8-bit image stays as it is.",
        f"Convert the image to {grey if c == 1 else 'RGB'} and resize it to {iw}×{ih} (width × "
        f"height) from its full size (a JPEG decoded whole: no draft mode) with PIL's bilinear "
        f"resampling (Image.resize(..., Image.BILINEAR), which filters over the whole shrink window; "
        f"OpenCV's INTER_LINEAR gives other pixels): a uint8 array H×W×C = {ih}×{iw}×{c}. "
        "(vislab predict, and training on an image folder, do these steps with PIL.)",
    ]
    if crop:
        top, left = crop["top"], crop["left"]
        steps.append(
            f"Centre-crop (the model was trained on random {h}×{w} crops): keep rows {top} to "
            f"{top + h - 1} and columns {left} to {left + w - 1}, a uint8 array {h}×{w}×{c}."
        )
    return [
        *steps,
        "Scale: x = float32(image) / 255, values in [0, 1].",
        f"Transpose H×W×C to C×H×W = {c}×{h}×{w}.",
        norm,
        f"Stack the images into a float32 batch N×{c}×{h}×{w}: the model's input '{INPUT_NAME}'; its "
        f"output '{OUTPUT_NAME}' is N×len(class_names).",
    ]
