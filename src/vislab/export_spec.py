"""The inference spec an export writes beside its model (:func:`vislab.export.export_run`), as JSON: the
input shape, the normalisation (per-channel mean/std, or the ZCA mean and matrix), the class names, the
model name and options, the exact recipe from a uint8 H×W×C image to the model's input, how the export
was checked against PyTorch (:class:`ExportCheck`) and the checkpoint its weights came from
(:class:`WeightsOrigin`); and what an export returns (:class:`Exported`).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from vislab.config.build import setting
from vislab.config.files import read_yaml
from vislab.data.input_spec import InputSpec
from vislab.data.preprocess import NormStats
from vislab.data.tta import TTA_MODES
from vislab.errors import UserError
from vislab.export_formats import INPUT_NAME, OUTPUT_NAME, SPEC_IN_FILE
from vislab.training.checkpoint import PickedCheckpoint, load_checkpoint, weights_at
from vislab.training.record import RunRecord
from vislab.training.rundir import RunDir
from vislab.training.summary import RunSummary
from vislab.version import __version__


@dataclass(frozen=True)
class ExportCheck:
    """How the export was checked (the spec's ``check``): the largest difference of its outputs from
    PyTorch's, on batches of these sizes."""

    max_abs_diff_vs_pytorch: float
    batch_sizes: list[int]


@dataclass(frozen=True)
class WeightsOrigin:
    """Where the exported weights come from (the spec's ``checkpoint``; :func:`weights_origin`)."""

    #: the checkpoint file: ``checkpoints/best.pt`` in a run folder, else its name
    file: str
    #: the epoch its weights are at; None for a checkpoint that does not record it (a hand-made one)
    epoch: int | None
    #: mid-epoch, the steps trained in ``epoch``; else None
    step: int | None
    #: whether the weights are a weight average (``train.ema``'s, or the model's own)
    ema_average: bool
    #: the run's test accuracy (summary.json) where it scored these weights; else None
    test_acc: float | None


@dataclass(frozen=True)
class Exported:
    """What an export wrote: the model file and its inference spec, with the spec's ``checkpoint`` and
    ``check``, and which weights of the checkpoint file were exported (``weights``:
    :attr:`PickedCheckpoint.said`). It is the pair ``(model_file, spec_file)`` too: unpacked, indexed,
    sliced or measured::

        model_file, spec_file = export_run("runs/cnn", "onnx")
        export_run("runs/cnn", "onnx")[0]   # the model file
    """

    model_file: Path
    spec_file: Path
    origin: WeightsOrigin
    check: ExportCheck
    weights: str

    def __iter__(self) -> Iterator[Path]:
        return iter(self._pair)

    def __getitem__(self, index: int | slice) -> Path | tuple[Path, ...]:
        return self._pair[index]

    def __len__(self) -> int:
        return 2

    @property
    def _pair(self) -> tuple[Path, Path]:
        return (self.model_file, self.spec_file)


def inference_spec(
    record: RunRecord,
    fmt: str,
    file: str,
    check: ExportCheck,
    origin: WeightsOrigin,
    model_tta: str = "none",
) -> dict:
    """The spec as JSON: what inference needs besides the model ``file`` (shapes, normalisation, class
    names, the recipe — all from the run's input spec, the one definition of the evaluation transform;
    ``model_tta``: the test-time augmentation the model does itself, ``ModelHooks.eval_tta``), then the
    export's ``check`` and the ``checkpoint`` its weights come from (``origin``)."""
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
        "recipe": recipe(spec.input_shape, spec.stats.mode, crop),
        "check": asdict(check),
        "checkpoint": asdict(origin),
    }


def weights_origin(picked: PickedCheckpoint, model_average: bool = False) -> WeightsOrigin:
    """Where the exported weights of ``picked`` come from: the checkpoint ``file`` (``checkpoints/best.pt``
    in a run folder), the ``epoch`` they are at and, mid-epoch, the ``step`` (else None): ``weights_at``;
    whether they are a weight average (``ema_average``): the model's own, which its eval forward uses
    (``model_average``: ``ModelHooks.eval_weight_average``), or the ``train.ema`` average (a best.pt of
    such a run, or its last.pt, asked for or standing in for a best.pt it lacks: ``picked.ema_average``);
    and the test accuracy of the run's summary.json where that scored these weights
    (:meth:`PickedCheckpoint.scored_in`) and they were trained with the run's model, data and seed (not
    copied from another run) — an export cannot score them, so where the file at hand is not the one
    scored its weights must equal that file's (:func:`_same_weights`) — else None."""
    ckpt_path, ckpt = picked.path, picked.load()
    if ckpt_path.name == "best.pt":
        averaged = setting(ckpt.record.config, "train.ema.decay", 0) > 0
    else:
        averaged = picked.ema_average
    epoch, step = weights_at(ckpt)
    in_run = ckpt_path.parent.name == "checkpoints"
    summary = (RunDir(ckpt_path.parent.parent).read_summary() if in_run else None) or RunSummary()
    scored = (
        picked.scored_in(summary)
        and _same_run(ckpt.record.config, ckpt_path.parent.parent / "config.yaml")
        and _same_weights(picked, summary)
    )
    return WeightsOrigin(
        file=f"checkpoints/{ckpt_path.name}" if in_run else ckpt_path.name,
        epoch=epoch,
        step=step,
        ema_average=averaged or model_average,
        test_acc=summary.test_acc if scored else None,
    )


def _same_weights(picked: PickedCheckpoint, summary: RunSummary) -> bool:
    """Whether the weights used of ``picked`` are those of the file ``summary`` scored
    (:meth:`RunSummary.scored_file`): that file itself, or tensor for tensor the weights used of it
    (its ``train.ema`` average where it holds one); False where that file is gone or unreadable."""
    name = summary.scored_file()
    if name is None or name == picked.path.name:
        return name is not None
    try:
        theirs = picked.weights(load_checkpoint(picked.path.with_name(name)))
    except UserError:
        return False
    ours = picked.weights(picked.load())
    return theirs.keys() == ours.keys() and all(torch.equal(theirs[k], ours[k]) for k in ours)


def _same_run(config: dict | None, run_config: Path) -> bool:
    """Whether a checkpoint's ``config`` has the model, data and seed of the run's ``config.yaml``
    (False when either is missing or unreadable)."""
    try:
        saved = read_yaml(run_config, kind="run config")
    except UserError:
        return False
    return (
        bool(config)
        and all(config.get(k) == saved.get(k) for k in ("model", "data"))
        and setting(config, "train.seed") == setting(saved, "train.seed")
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


def normalization_spec(stats: NormStats) -> dict:
    """The checkpoint's ``preprocess`` statistics as JSON (the ZCA matrix as base64 float32 bytes)."""
    mode = stats.mode
    if mode == "none":
        return {"mode": "none"}
    as_list = lambda t: torch.as_tensor(t).float().flatten().tolist()  # noqa: E731
    if mode == "standard":
        spec = {"mode": "standard", "mean": as_list(stats.mean), "std": as_list(stats.std)}
        if stats.fixed is not None:  # e.g. the ImageNet statistics of pretrained weights
            spec["fixed"] = stats.fixed
        return spec
    w = np.ascontiguousarray(torch.as_tensor(stats.W).float().numpy(), dtype="<f4")
    return {
        "mode": "zca",
        "epsilon": stats.epsilon,
        "mean": as_list(stats.mean),
        "matrix": {
            "shape": list(w.shape),
            "dtype": "float32",
            "byte_order": "little",
            "order": "row-major",
            "encoding": "base64",
            "data": base64.b64encode(w.tobytes()).decode("ascii"),
        },
    }


def input_hint(spec: InputSpec, spec_file: str) -> str:
    """How to make the model's input of the right shape, in the words of its :func:`recipe` (the resize,
    a centre crop): what a TorchScript export says to a batch of another shape (``spec_file``: the
    inference spec's name)."""
    where = (
        f"as the recipe of {spec_file} says (its 'recipe'; also inside this file: "
        f"torch.jit.load(f, _extra_files={{'{SPEC_IN_FILE}': ''}}))"
    )
    if not spec.is_image:
        return f"Give each sample as its {spec.input_shape[0]} raw features, normalised {where}."
    c, h, w = spec.input_shape
    crop = spec.crop_window
    ih, iw = crop["image_size"] if crop else (h, w)
    cut = f", then centre-crop it to {w}×{h}" if crop else ""
    return (
        f"Convert each image to {'greyscale' if c == 1 else 'RGB'} and resize it to {iw}×{ih} (width × "
        f"height) with PIL's bilinear resampling{cut}, then scale, transpose and normalise it {where}."
    )


def _normalisation_step(mode: str, images: bool) -> str:
    """The recipe's step for normalisation ``mode`` (data.normalize) of images or feature vectors."""
    return {
        "none": "No normalisation.",
        "standard": "Normalise: x = (x - mean) / std, with normalization.mean and .std per channel "
        "(broadcast over H and W)."
        if images
        else "Normalise: x = (x - mean) / std element-wise (normalization.mean, .std).",
        "zca": "Whiten: flatten x to its D values (in C, H, W order for images), x = (x - mean) @ W with "
        "normalization.mean (D) and W the D×D matrix of normalization.matrix: its .data, base64 of "
        "little-endian float32 in row-major order (.shape, .dtype, .byte_order and .order say so), "
        "then reshape back.",
    }[mode]


def recipe(shape: tuple[int, ...], mode: str, crop: dict | None = None) -> list[str]:
    """The steps from a raw input (uint8 H×W×C image, or feature vector) to the model's input; ``crop``:
    ``InputSpec.crop_window`` (resize to its image size, then take the centre)."""
    norm = _normalisation_step(mode, images=len(shape) == 3)
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
        "Lay an image with transparency (an alpha channel, or a transparent colour or palette entry: "
        "PNG's tRNS, a GIF's transparency index) on white: alpha-composite it over opaque white "
        "(PIL: Image.alpha_composite(white, image.convert('RGBA')).convert('RGB')), as image viewers "
        "show it on a white page.",
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
