"""Classifying with a finished checkpoint: image files, PIL images or arrays (``vislab predict``,
``Run.predict``), or a model's raw feature vectors — top-k (class, probability) pairs, through the run's
own input steps. Nothing here prints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from vislab.data.images import (
    as_array,
    dark_counts,
    dark_note,
    expand_folders,
    load_image_or_error,
)
from vislab.errors import UserError, show_note
from vislab.predict import load_model, picked_model
from vislab.training.checkpoint import PickedCheckpoint
from vislab.training.record import RunRecord
from vislab.words import first_few

#: (class name, probability) pairs, best first
Ranked = list[tuple[str, float]]
#: images a forward pass when classifying many (and files decoded at a time): one pass per image would
#: take minutes for thousands, one pass for all of them as much memory as they take
PREDICT_BATCH = 256


def classify(
    model: torch.nn.Module, record: RunRecord, arrays: list[np.ndarray], top_k: int = 3
) -> list[Ranked]:
    """Top-k (class name, probability) pairs, best first, for each uint8 H×W×C array of
    :func:`image_shape`, through the run's input spec (centre crop, normalisation, test-time
    augmentation), :data:`PREDICT_BATCH` images a forward pass."""
    scored, names = record.inputs.wrap(model), record.model.class_names
    ranked: list[Ranked] = []
    with torch.inference_mode():
        for start in range(0, len(arrays), PREDICT_BATCH):
            batch = record.inputs.images(arrays[start : start + PREDICT_BATCH])
            ranked.extend(_ranked(p, names, top_k) for p in torch.softmax(scored(batch), 1))
    return ranked


def classify_features(
    model: torch.nn.Module, record: RunRecord, vectors: np.ndarray, top_k: int = 3
) -> list[Ranked]:
    """Top-k (class name, probability) pairs, best first, for each raw feature vector (a row of an N×D
    array, or one D-vector) of a model of feature vectors, normalised as in training."""
    x = feature_batch(record, vectors)
    with torch.inference_mode():
        probs = torch.softmax(model(x), 1)
    return [_ranked(p, record.model.class_names, top_k) for p in probs]


def feature_batch(record: RunRecord, vectors: np.ndarray) -> torch.Tensor:
    """Raw feature vectors (an N×D array, or one D-vector) as the model's N×D input, normalised as in
    training; UserError naming the shape to give for anything else (images, another D)."""
    (dim,) = record.inputs.sample_shape
    try:
        x = np.asarray(as_array(vectors), dtype=np.float32)
    except (TypeError, ValueError):  # image files, PIL images, ragged lists
        x = None
    x = x[None] if x is not None and x.ndim == 1 else x
    if x is None or x.ndim != 2 or x.shape[1] != dim:
        given = (
            f"an array of shape {x.shape}"
            if x is not None
            else f"a {type(vectors).__name__} of images"
        )
        raise UserError(
            f"this model takes {dim}-D feature vectors, not {given}: give an N×{dim} array of raw "
            f"features (or one vector of {dim} numbers)."
        )
    return record.inputs.prepare(torch.from_numpy(x))


def _ranked(probs: torch.Tensor, names: list[str], top_k: int) -> Ranked:
    p, idx = probs.topk(min(top_k, len(names)))
    return [(str(names[i]), float(q)) for q, i in zip(p.tolist(), idx.tolist())]


def image_shape(record: RunRecord, target: str | Path = "RUN") -> tuple[int, int, int]:
    """The (C, H, W) an image is resized to: the run's images (``sample_shape``), which :func:`classify`
    centre-crops to the model's input after ``augment.crop.size``. UserError for a model of feature
    vectors, naming what serves it (``target``: the run or checkpoint, for the commands it names)."""
    shape = record.inputs.sample_shape
    if len(shape) != 3:  # in the CLI's words and Python's: both reach here
        run = Path(target).parent.parent if Path(target).parent.name == "checkpoints" else target
        plane = "; its decision boundary: run.plot('boundary')" if tuple(shape) == (2,) else ""
        raise UserError(
            f"this checkpoint's model takes {shape[0]}-D feature vectors, not images: classify vectors "
            f"of your own in Python, vislab.Run('{run}').predict(x) with x an N×{shape[0]} array of raw "
            f"features{plane}. Score it on its own data with `vislab eval {target}` / run.evaluate(); "
            f"`vislab export {target} --format onnx` / run.export('onnx') writes the model and the "
            f"steps from raw features to its input."
        )
    return shape  # type: ignore[return-value]


def predict_images(
    target: Path, images: Sequence[Path], top_k: int = 3, trust_code: bool = False
) -> list[tuple[Path, Ranked | UserError]]:
    """The top-k classes of each image file (a folder: each image in it, :func:`expand_folders`), or
    the UserError that file gave (unreadable, missing); :data:`PREDICT_BATCH` files decoded at a time,
    each once. A note for the files of the other colours (:func:`converted_note`), one for the 16-bit
    files that decode dark (:func:`~vislab.data.images.dark_note`). UserError when no path given exists
    (a mistyped folder: nothing to classify)."""
    files = _image_files(images)
    model, record = load_model(target, trust_code)
    return _predicted(model, record, target, files, top_k)


def picked_predictions(
    target: Path, images: Sequence[Path], top_k: int = 3, trust_code: bool = False
) -> tuple[list[tuple[Path, Ranked | UserError]], PickedCheckpoint]:
    """:func:`predict_images`' results, and the checkpoint whose weights gave them (loaded, so its file
    is read once: ``vislab predict`` says which weights from it, :attr:`PickedCheckpoint.said`)."""
    files = _image_files(images)
    model, picked = picked_model(target, trust_code)
    return _predicted(model, picked.load().record, target, files, top_k), picked


def _predicted(
    model: torch.nn.Module, record: RunRecord, target: Path, files: list[Path], top_k: int
) -> list[tuple[Path, Ranked | UserError]]:
    """:func:`predict_images`' results for image ``files`` (``target``: the run or checkpoint of
    ``model`` and ``record``), with its notes."""
    shape = image_shape(record, target)
    out: list[tuple[Path, Ranked | UserError]] = []
    deep: list[int] = []  # the 16-bit files' largest values
    greys: dict[Path, bool] = {}  # the readable files' colours
    for start in range(0, len(files), PREDICT_BATCH):
        batch = files[start : start + PREDICT_BATCH]
        loaded = [load_image_or_error(path, shape, deep, greys) for path in batch]
        ranked = iter(
            classify(model, record, [a for a in loaded if isinstance(a, np.ndarray)], top_k)
        )
        out.extend(
            (p, a if isinstance(a, UserError) else next(ranked)) for p, a in zip(batch, loaded)
        )
    converted_note(greys, shape[0], record.model.name)
    if note := dark_note(
        dark_counts(deep), "given", "image folders for training decode them alike"
    ):
        show_note(note)
    return out


def converted_note(greys: Mapping[Path, bool], channels: int, name: str) -> None:
    """A note naming the image files in colour when model ``name`` takes grey images (``channels`` 1),
    or grey when it takes colour (``greys``: each file read, whether it holds only greys, as
    :func:`~vislab.data.images.load_image` found): each was converted to the model's channels
    (predicted on or explained as the model takes them)."""
    want, other = ("grey", "colour") if channels == 1 else ("colour", "grey")
    odd = [f for f, grey in greys.items() if grey is (channels == 3)]
    if odd:
        listed = ", ".join(f.name for f in odd[:3]) + (
            f" and {len(odd) - 3} more" if len(odd) > 3 else ""
        )
        show_note(
            f"{listed}: {other} image{'s' if len(odd) > 1 else ''}, converted to {want} for model "
            f"'{name}', which was trained on {want} images."
        )


def _image_files(paths: Sequence[Path]) -> list[Path]:
    """The image files ``paths`` name (a folder: each image in it, :func:`expand_folders`); UserError naming
    the paths when none of them exists (one missing among others is its own row)."""
    if paths and not any(Path(p).exists() for p in paths):
        named = first_few([f"'{p}'" for p in paths], 3)
        what = f"{named} does not exist" if len(paths) == 1 else f"none of {named} exists"
        raise UserError(
            f"{what}: give image files, or folders of them (every image inside is classified)."
        )
    return [Path(p) for p in expand_folders(paths)]  # type: ignore[arg-type]


def prediction_table(
    results: list[tuple[Path, Ranked | UserError]],
) -> tuple[list[str], list[dict]]:
    """:func:`predict_images`'s results as a table, one row per image, every row with every column:
    file, predicted, probability, class_2, probability_2 … (the other top-k classes), error (empty, or
    why the image could not be read); a missing class is empty, a missing probability None. The rows
    of ``vislab predict --csv`` and of ``Run.predict_files``."""
    k = max((len(r) for _, r in results if not isinstance(r, UserError)), default=1)
    fields = ["file", "predicted", "probability"]
    fields += [f"{c}_{i}" for i in range(2, k + 1) for c in ("class", "probability")]
    fields.append("error")
    rows = []
    for file, ranked in results:
        row: dict = {f: None if f.startswith("probability") else "" for f in fields}
        row["file"] = str(file)
        if isinstance(ranked, UserError):
            row["error"] = str(ranked)
        else:
            for i, (name, q) in enumerate(ranked, start=1):
                row["predicted" if i == 1 else f"class_{i}"] = name
                row["probability" if i == 1 else f"probability_{i}"] = round(q, 6)
        rows.append(row)
    return fields, rows
