"""Export a finished run's model to ONNX or TorchScript, with a JSON of what inference needs.

``export_run(run, "onnx")`` writes ``run/export/model.onnx`` and ``run/export/model.json``: the input
shape, the normalisation (per-channel mean/std, or the ZCA mean and matrix), the class names, the
model name and options, and the exact recipe from a uint8 H×W×C image to the model's input. Every
export is checked before it is written: the exported model must give PyTorch's outputs on batches of
other sizes and values than the one it was traced on; a forward with Python control flow that the
tracer or exporter froze fails that check and is refused (``UserError``, exit 2), as are the fitted
baselines (``majority``, ``svm``).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from vislab.data.input_spec import InputSpec
from vislab.errors import UserError
from vislab.models.hooks import hooks_of
from vislab.predict import load_model
from vislab.training.checkpoint import atomic_write, atomic_write_text, resolve_checkpoint
from vislab.training.record import RunRecord
from vislab.version import __version__

FORMATS = {"onnx": "model.onnx", "torchscript": "model.torchscript.pt"}
INPUT_NAME, OUTPUT_NAME = "input", "logits"
#: the exported model must match PyTorch within this (absolute, plus relative to the logits' scale)
CHECK_ATOL, CHECK_RTOL = 1e-4, 1e-3
_FITTED = {
    "majority": "it ignores its input and returns the train split's class priors",
    "svm": "its forward replays scikit-learn's fitted SVC with Python loops over its classes and "
    "support-vector counts, which tracing freezes",
}

Runner = Callable[[torch.Tensor], torch.Tensor]


def export_run(
    target: str | Path, fmt: str, out: str | Path | None = None, *, trust_code: bool = False
) -> tuple[Path, Path]:
    """Export the best checkpoint of run ``target`` as ``fmt`` ("onnx" or "torchscript").

    Writes the model to ``out`` (default ``RUN/export/model.onnx`` or ``model.torchscript.pt``; a
    folder gets that name inside) and the inference spec beside it (same stem, ``.json``); returns
    both paths. ``trust_code``: as for ``vislab.predict.load_model`` (a run of the user's own model
    code). ``UserError`` when the run is missing, the format unknown, the ONNX extra absent
    (``pip install 'vislab[onnx]'``) or the model cannot be exported faithfully::

        model_file, spec = export_run("runs/cnn", "onnx")
    """
    if fmt not in FORMATS:
        raise UserError(f"--format '{fmt}' is not an export format: use onnx or torchscript.")
    target = Path(target)
    if not target.exists():
        raise UserError(
            f"run '{target}' does not exist: give a run directory (or its checkpoints/best.pt)."
        )
    ckpt_path = resolve_checkpoint(target)
    model, record = load_model(ckpt_path, trust_code=trust_code)
    name = record.model.name
    _refuse_fitted(model, name)
    model = record.inputs.wrap(
        model
    )  # the run's test-time augmentation is part of the exported model
    path = _output_path(ckpt_path, fmt, out)
    example, checks = _batches(record.inputs)
    with torch.inference_mode(False), torch.no_grad():
        data, run = (_onnx if fmt == "onnx" else _torchscript)(model, example, name)
        diff = _check(model, run, checks, name, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: f.write(data))
    spec_path = path.with_suffix(".json")
    spec = inference_spec(record, fmt, path.name, diff, [len(c) for c in checks])
    atomic_write_text(spec_path, json.dumps(spec, indent=2, ensure_ascii=False) + "\n")
    return path, spec_path


def _refuse_fitted(model: torch.nn.Module, name: str) -> None:
    """UserError for a fitted baseline (trained_by='fit_arrays'): not a network to export."""
    if hooks_of(model).trained_by != "fit_arrays":
        return
    why = _FITTED.get(name, "its forward evaluates a model fitted on arrays, not a network")
    raise UserError(
        f"model '{name}' cannot be exported: it is a fitted baseline (trained_by='fit_arrays') and {why}. "
        f"Export a network trained by gradient steps (mlp, cnn, vit, resnet18, your own nn.Module, ...)."
    )


def _output_path(ckpt_path: Path, fmt: str, out: str | Path | None) -> Path:
    """``out``, a default name inside the folder ``out``, or ``RUN/export/<default name>``."""
    if out is None:
        run = (
            ckpt_path.parent.parent if ckpt_path.parent.name == "checkpoints" else ckpt_path.parent
        )
        return run / "export" / FORMATS[fmt]
    out = Path(out)
    if out.is_dir():
        return out / FORMATS[fmt]
    if out.suffix.lower() == ".json":
        raise UserError(
            f"--out '{out}' is where the model goes, and its inference spec is written beside it with "
            f"the same stem and .json: give the model's file name (e.g. {out.with_suffix('.onnx')})."
        )
    return out


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


def _torchscript(model: torch.nn.Module, example: torch.Tensor, name: str) -> tuple[bytes, Runner]:
    """Trace ``model`` on ``example``; the saved bytes and the reloaded module that runs them."""
    with _quiet():
        try:
            traced = torch.jit.trace(model, example, check_trace=False)
        except Exception as e:  # noqa: BLE001 - the tracer raises any type the forward does
            raise UserError(
                f"model '{name}' could not be traced to TorchScript: {_summary(e)}. Its forward must be "
                f"tensor operations only; rewrite the failing part, or try --format onnx."
            ) from None
        buf = io.BytesIO()
        torch.jit.save(traced, buf)
        data = buf.getvalue()
        loaded = torch.jit.load(io.BytesIO(data), map_location="cpu")
    return data, loaded


def _onnx(model: torch.nn.Module, example: torch.Tensor, name: str) -> tuple[bytes, Runner]:
    """Export ``model`` with torch's ONNX exporter (batch axis dynamic); the bytes and an onnxruntime
    session that runs them."""
    try:  # optional extra (vislab[onnx]): torch's exporter needs onnx + onnxscript, the check onnxruntime
        import onnx  # noqa: F401
        import onnxruntime
        import onnxscript  # noqa: F401
    except ImportError as e:
        raise UserError(
            f"--format onnx needs the ONNX packages ({e.name} is missing): pip install 'vislab[onnx]'."
        ) from None
    batch = torch.export.Dim("batch", min=1)
    with _quiet():
        try:
            program = torch.onnx.export(
                model,
                (example,),
                dynamo=True,
                verbose=False,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_shapes=({0: batch},),
            )
            data = program.model_proto.SerializeToString()
        except Exception as e:  # noqa: BLE001 - the exporter wraps whatever the forward or a pass raised
            raise UserError(
                f"model '{name}' could not be exported to ONNX: torch's exporter failed ({_summary(e)}). "
                f"A forward with Python control flow on tensor values or on the batch size, or an operator "
                f"ONNX lacks, cannot be exported: rewrite that part with tensor operations (e.g. "
                f"torch.where instead of an if), or avoid the operator."
            ) from None
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])

    def run(x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0])

    return data, run


def _check(
    model: torch.nn.Module, run: Runner, checks: list[torch.Tensor], name: str, fmt: str
) -> float:
    """The largest |exported − PyTorch| over ``checks``; UserError when they differ (a frozen branch)."""
    worst = 0.0
    for x in checks:
        want = model(x).float()
        try:
            with _quiet():
                got = run(x).float()
        except Exception as e:  # noqa: BLE001 - the exported program fails on another batch size
            got, why = None, f"it fails on a batch of {len(x)} ({_summary(e)})"
        if got is not None and got.shape != want.shape:
            why = f"it returns shape {tuple(got.shape)} for a batch of {len(x)}, not {tuple(want.shape)}"
        elif got is not None:
            diff = float((got - want).abs().max())
            scale = float(want.abs().max())
            if diff <= CHECK_ATOL + CHECK_RTOL * scale:
                worst = max(worst, diff)
                continue
            why = f"its outputs differ from PyTorch's by up to {diff:.3g} on a batch of {len(x)}"
        raise UserError(
            f"model '{name}' cannot be exported to {fmt}: the exported model does not compute what the "
            f"PyTorch model does ({why}). Its forward has Python control flow (an if or a loop on tensor "
            f"values or the batch size) that {'tracing' if fmt == 'torchscript' else 'the exporter'} froze "
            f"for the example batch: rewrite it with tensor operations (e.g. torch.where) to export it."
        )
    return worst


def inference_spec(record: RunRecord, fmt: str, file: str, diff: float, sizes: list[int]) -> dict:
    """What inference needs besides the model file: shapes, normalisation, class names, the recipe —
    all from the run's input spec, the one definition of the evaluation transform."""
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
        "test_time_augmentation": _tta_text(spec.tta),
        "normalization": normalization_spec(spec.stats),
        "recipe": recipe(spec.input_shape, spec.stats["mode"], crop),
        "check": {"max_abs_diff_vs_pytorch": diff, "batch_sizes": sizes},
    }


def _tta_text(mode: str) -> str:
    """What the exported model does about test-time augmentation (``train.tta``)."""
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
        "Bring an image deeper than 8 bits to 0-255 by rescaling, never clipping: a 16-bit image "
        "(values 0-65535) divided by 257; a float image with values in [0, 1] times 255; values "
        "within 0-255 as they are; any other range stretched from its minimum (0) to its maximum "
        "(255); then rounded to uint8. An 8-bit image stays as it is.",
        f"Convert the image to {grey if c == 1 else 'RGB'} and resize it to {iw}×{ih} (width × "
        f"height) from its full size (a JPEG decoded whole: no draft mode) with PIL's bilinear "
        f"resampling (Image.resize(..., Image.BILINEAR), which filters over the whole shrink window; "
        f"OpenCV's INTER_LINEAR gives other pixels): a uint8 array H×W×C = {ih}×{iw}×{c}. "
        "(vislab predict, and training on an image folder, do both steps with PIL.)",
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


def _summary(e: BaseException) -> str:
    """An exception as one short line: its type and the gist of its message (torch's exporter text
    carries a page of advice and an 'Exception summary' section; keep the summary)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e))
    if "## Exception summary" in text:
        text = text.split("## Exception summary", 1)[1]
    text = re.split(r"Caused by:|consider using", text, maxsplit=1)[0]  # torch's internal hints
    text = " ".join(text.split())
    return f"{type(e).__name__}: {text[:300]}{'…' if len(text) > 300 else ''}".rstrip(": ")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the tracer's and exporter's warnings, progress lines and graph dumps (Python and C++
    writers alike: file descriptors 1 and 2 point to a scratch file meanwhile)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as sink, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
