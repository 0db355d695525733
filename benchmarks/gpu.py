"""GPU figures of vislab's own trainer: training and evaluation images/s, peak GPU memory, and
time-to-accuracy on Fashion-MNIST.

Throughput: for each model (cnn, vit, resnet18, fast — those registered), ``vislab.training.trainer.train``
runs two epochs on 50,000 synthetic 32×32×3 images (resident on the GPU, crop + flip augmentation,
bf16 autocast, channels_last, fused SGD; ``--compile`` adds torch.compile). Training images/s come
from the second epoch's time (the first includes warm-up and compilation); evaluation images/s from
the test split's scoring time (10,000 images, ``inference_mode``, batches of 2,048); peak memory is
summary.json's ``peak_cuda_mb`` (CUDA max allocated, reset before each model).

Time-to-accuracy: the ``fast`` preset (``--config fast``) on Fashion-MNIST; the training seconds
(evaluation excluded) when validation accuracy first reaches ``--target``, and the final test accuracy.

Without CUDA it prints ``{"skipped": reason}`` — unless ``--device cpu`` (a smoke run of the code path).
Usage: ``python benchmarks/gpu.py [--models cnn,vit,resnet18,fast] [--target 0.93] [--compile]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit, fashion_available, fashion_overrides, machine, random_images  # noqa: E402
from vislab.config import build_config, load_config  # noqa: E402
from vislab.data.sources import SOURCES  # noqa: E402
from vislab.data.types import ArraySet, SourceData  # noqa: E402
from vislab.models import MODELS  # noqa: E402
from vislab.training.state import Callback  # noqa: E402
from vislab.training.trainer import train  # noqa: E402

MODEL_SETTINGS = {
    "cnn": ["model.name=cnn", "model.batchnorm=true", "model.dropout=0.5"],
    "vit": ["model.name=vit"],
    "resnet18": ["model.name=resnet18"],
    "fast": ["model.name=fast"],
}


def register_synthetic(n_train: int, n_test: int) -> None:
    """Source `bench-synthetic`: random 32×32×3 images (throughput does not depend on the pixels)."""
    x, y = random_images(n_train + n_test)

    def load(cfg) -> SourceData:
        return SourceData(
            {
                "train": ArraySet(x[:n_train], y[:n_train]),
                "test": ArraySet(x[n_train:], y[n_train:]),
            },
            [str(i) for i in range(10)],
        )

    SOURCES["bench-synthetic"] = load


class EpochClock(Callback):
    """Callback: cumulative training seconds and validation accuracy after each epoch."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.train_s = 0.0

    def on_epoch_end(self, row: dict) -> None:
        self.train_s += row["seconds"]
        self.rows.append(
            dict(epoch=row["epoch"], train_s=round(self.train_s, 2), val_acc=row.get("val_acc"))
        )


def throughput(
    name: str, device: str, epochs: int, batch: int, compile_: bool, n_train: int
) -> dict:
    cfg = build_config(
        {},
        [
            "data.name=bench-synthetic",
            "data.val_fraction=0.02",
            *MODEL_SETTINGS[name],
            "optim.name=sgd",
            "optim.lr=0.05",
            "optim.momentum=0.9",
            f"train.batch_size={batch}",
            "train.eval_batch_size=2048",
            f"train.epochs={epochs}",
            f"train.device={device}",
            f"train.compile={str(compile_).lower()}",
            "augment.crop.p=1",
            "augment.crop.padding=4",
            "augment.hflip.p=0.5",
        ],
    )
    clock = EpochClock()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory() as tmp:
        s = train(cfg, Path(tmp) / "run", quiet=True, callbacks=[clock])
    seen = (s["n_train"] // batch) * batch
    last = clock.rows[-1]["train_s"] - (clock.rows[-2]["train_s"] if len(clock.rows) > 1 else 0)
    return dict(
        model=name,
        params=s["params"],
        batch_size=batch,
        train_images_per_s=round(seen / last),
        eval_images_per_s=round(s["n_test"] / s["test_time_s"]),
        peak_cuda_mb=s.get("peak_cuda_mb"),
        peak_rss_mb=s["peak_rss_mb"],
        first_epoch_s=clock.rows[0]["train_s"],
        compile=compile_,
    )


def time_to_accuracy(device: str, target: float, epochs: int | None, extra: list[str]) -> dict:
    over = [*fashion_overrides(), f"train.device={device}", *extra] + (
        [f"train.epochs={epochs}"] if epochs else []
    )
    cfg = load_config("fast", over)
    clock = EpochClock()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        s = train(cfg, Path(tmp) / "run", quiet=True, callbacks=[clock])
    hit = next((r for r in clock.rows if r["val_acc"] is not None and r["val_acc"] >= target), None)
    return dict(
        recipe="--config fast",
        overrides=over,
        target_val_acc=target,
        reached_at=hit,
        epochs=len(clock.rows),
        train_time_s=s["train_time_s"],
        whole_run_s=round(time.perf_counter() - t0, 1),
        test_acc=s["test_acc"],
        curve=clock.rows,
        peak_cuda_mb=s.get("peak_cuda_mb"),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="cnn,vit,resnet18,fast")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--n", type=int, default=50_000, help="synthetic training images")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--target", type=float, default=0.93)
    ap.add_argument(
        "--tta-epochs", type=int, default=None, help="override the preset's train.epochs"
    )
    ap.add_argument(
        "--tta-set", action="append", default=[], help="extra --set for the time-to-accuracy run"
    )
    args = ap.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        emit(
            dict(
                benchmark="gpu",
                skipped="no CUDA device visible to PyTorch (run on a GPU machine)",
                machine=machine(),
            )
        )
        return
    register_synthetic(args.n, 10_000)
    results, notes = [], []
    for name in args.models.split(","):
        if name not in MODELS:
            notes.append(f"{name}: not registered in this checkout, skipped")
            continue
        results.append(throughput(name, args.device, args.epochs, args.batch, args.compile, args.n))
    tta = (
        time_to_accuracy(args.device, args.target, args.tta_epochs, args.tta_set)
        if fashion_available()
        else {"skipped": "Fashion-MNIST not found"}
    )
    emit(
        dict(
            benchmark="gpu",
            device=args.device,
            throughput=results,
            time_to_accuracy=tta,
            notes=notes,
            machine=machine(),
        )
    )


if __name__ == "__main__":
    main()
