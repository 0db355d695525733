"""vislab's side of benchmarks/gpu.py on synthetic images: the data source, each model's settings and a
run timed epoch by epoch (in a temporary folder, not kept)."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from common import NO_FIGURES, random_images
from vislab.config import Config
from vislab.data.sources import SOURCES
from vislab.data.types import ArraySet, SourceData
from vislab.training.state import Callback
from vislab.training.summary import RunSummary
from vislab.training.trainer import train

MODEL_SETTINGS = {
    "cnn": ["model.name=cnn", "model.batchnorm=true", "model.dropout=0.5"],
    "vit": ["model.name=vit"],
    "resnet18": ["model.name=resnet18"],
    "fast": ["model.name=fast"],
}
AUGMENT = ["augment.crop.p=1", "augment.crop.padding=4", "augment.hflip.p=0.5"]
SYNTHETIC = "bench-synthetic"
VAL_FRACTION = 0.02  # of the synthetic training images, held out for validation


def register_synthetic(n_train: int, n_test: int) -> tuple[np.ndarray, np.ndarray]:
    """Source `bench-synthetic`: random 32×32×3 images (throughput does not depend on the pixels).
    Returns the training images and labels (the plain loop trains on the same ones)."""
    x, y = random_images(n_train + n_test)

    def load(cfg) -> SourceData:
        return SourceData(
            {
                "train": ArraySet(x[:n_train], y[:n_train]),
                "test": ArraySet(x[n_train:], y[n_train:]),
            },
            [str(i) for i in range(10)],
        )

    SOURCES[SYNTHETIC] = load
    return x[:n_train], y[:n_train]


class EpochClock(Callback):
    """Callback: each epoch's and the cumulative training seconds, and validation accuracy."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.train_s = 0.0

    def on_epoch_end(self, row: dict) -> None:
        self.train_s += row["seconds"]
        self.rows.append(
            dict(
                epoch=row["epoch"],
                seconds=row["seconds"],
                train_s=round(self.train_s, 2),
                val_acc=row.get("val_acc"),
            )
        )


def synthetic_overrides(
    name: str,
    device: str,
    batch: int,
    epochs: int,
    compile_: bool,
    augment: bool,
    extra: Sequence[str] = (),
) -> list[str]:
    """vislab's settings for model ``name`` on the synthetic images (SGD lr 0.05, momentum 0.9, no
    figures), then ``extra`` (``--set``)."""
    return [
        f"data.name={SYNTHETIC}",
        f"data.val_fraction={VAL_FRACTION}",
        *MODEL_SETTINGS[name],
        "optim.name=sgd",
        "optim.lr=0.05",
        "optim.momentum=0.9",
        f"train.batch_size={batch}",
        "train.eval_batch_size=2048",
        f"train.epochs={epochs}",
        f"train.device={device}",
        f"train.compile={str(compile_).lower()}",
        *(AUGMENT if augment else []),
        NO_FIGURES,
        *extra,
    ]


def train_clocked(cfg: Config) -> tuple[RunSummary, EpochClock]:
    """One vislab run in a temporary folder: its summary and its epoch times."""
    clock = EpochClock()
    with tempfile.TemporaryDirectory() as tmp:
        s = train(cfg, Path(tmp) / "run", quiet=True, callbacks=[clock])
    return s, clock
