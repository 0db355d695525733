"""Augmented images per second: vislab's DeviceLoader vs the reports' torch DataLoader of PIL images.

Both sides produce normalised float batches of the same 32×32×3 uint8 images with a random crop
(zero padding 4) and a random horizontal flip, reshuffled every epoch:

- vislab: the split is one uint8 tensor; per batch one index_select, crop + flip on the bytes, one
  scale-and-shift normalisation — in the main process, with torch's intra-op threads (= cores).
- reports: ``DataLoader(Dataset → PIL image → RandomCrop(32, padding=4) → RandomHorizontalFlip →
  ToTensor → Normalize)``, batch 128, ``num_workers`` = cores, ``persistent_workers=True``; the
  workers are started (and one epoch consumed) before timing.

Epochs of the two are interleaved (``--rounds``) and the median rate of each is reported, so a busy
machine slows both alike. Where one side's rounds spread more than 2× (max / min, ``rounds_spread``), the
machine was too busy for the medians to be trusted: the JSON's ``warning`` says so, and so does stderr.
Usage: ``python benchmarks/pipeline.py [--n 20000] [--batch 128]``
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _args import DEVICES, Parser, count, workers  # noqa: E402
from common import (  # noqa: E402
    Timer,
    busy_warning,
    emit,
    machine,
    median_rate,
    random_images,
    spread,
)
from vislab.config import AugmentConfig  # noqa: E402
from vislab.data.augment import build_augment  # noqa: E402
from vislab.data.loader import DeviceLoader  # noqa: E402
from vislab.data.preprocess import fit_stats  # noqa: E402
from vislab.data.types import ArraySet  # noqa: E402


class PilDataset(Dataset):
    """The reports' dataset: one PIL image per sample through a torchvision transform."""

    def __init__(self, x, y, transform):
        self.x, self.y, self.transform = x, y, transform

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.x[i])), int(self.y[i])


def torchvision_loader(x, y, mean, std, batch_size: int, workers: int) -> DataLoader:
    import torchvision.transforms as T

    tf = T.Compose(
        [
            T.RandomCrop(32, padding=4),
            T.RandomHorizontalFlip(),
            T.ToTensor(),
            T.Normalize(mean, std),
        ]
    )
    return DataLoader(
        PilDataset(x, y, tf),
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        persistent_workers=workers > 0,
    )


def vislab_loader(x, y, stats, batch_size: int, device: str) -> DeviceLoader:
    aug = build_augment(
        AugmentConfig.model_validate({"crop": {"p": 1.0, "padding": 4}, "hflip": {"p": 0.5}}),
        (3, 32, 32),
    )
    return DeviceLoader(ArraySet(x, y), stats, batch_size, device, shuffle=True, augment=aug)


def rate(batches) -> float:
    """Images per second over one pass (CUDA work finished before the clock stops)."""
    n = 0
    with Timer() as t:
        for xb, _ in batches:
            n += len(xb)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
    return n / t.seconds


def parse_args() -> argparse.Namespace:
    ap = Parser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=count, default=20_000, help="images")
    ap.add_argument("--batch", type=count, default=128)
    ap.add_argument("--rounds", type=count, default=5, help="interleaved epochs per side")
    ap.add_argument("--workers", type=workers, default=os.cpu_count())
    ap.add_argument(
        "--device",
        choices=DEVICES,
        default="cpu",
        help="vislab's device (cpu here; cuda on a GPU machine)",
    )
    args = ap.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        ap.error("argument --device: PyTorch sees no CUDA device here; give --device cpu")
    return args


def measure(args: argparse.Namespace) -> dict[str, list[float]]:
    """Each side's images/s, round by round: vislab at ``--batch`` and at 512, torchvision."""
    x, y = random_images(args.n)
    stats = fit_stats(x, "standard")
    mean, std = stats.mean.tolist(), stats.std.tolist()
    ours = vislab_loader(x, y, stats, args.batch, args.device)
    ours_big = vislab_loader(x, y, stats, 512, args.device)
    theirs = torchvision_loader(x, y, mean, std, args.batch, args.workers)

    rate(theirs)  # start the workers, warm both sides up
    rate(ours.epoch(0))
    rounds: dict[str, list[float]] = dict(vislab=[], vislab_batch512=[], torchvision=[])
    for r in range(args.rounds):
        rounds["torchvision"].append(rate(theirs))
        rounds["vislab"].append(rate(ours.epoch(r + 1)))
        rounds["vislab_batch512"].append(rate(ours_big.epoch(r + 1)))
    return rounds


def main() -> None:
    args = parse_args()
    rounds = measure(args)
    v, t = median_rate(rounds["vislab"]), median_rate(rounds["torchvision"])
    warning = busy_warning(rounds)
    if warning:
        print(f"pipeline.py: {warning}", file=sys.stderr)
    emit(
        dict(
            benchmark="pipeline",
            images=args.n,
            image_shape=[32, 32, 3],
            batch_size=args.batch,
            rounds=args.rounds,
            augmentation="random crop 32 (zero padding 4) + horizontal flip p=0.5 + per-channel standardisation",
            vislab=dict(
                images_per_s=v,
                device=args.device,
                threads=torch.get_num_threads(),
                images_per_s_batch512=median_rate(rounds["vislab_batch512"]),
                rounds=[round(a) for a in rounds["vislab"]],
            ),
            torchvision=dict(
                images_per_s=t,
                num_workers=args.workers,
                persistent_workers=args.workers > 0,
                rounds=[round(a) for a in rounds["torchvision"]],
            ),
            speedup=round(v / t, 2),
            rounds_spread={name: spread(r) for name, r in rounds.items()},
            **({"warning": warning} if warning else {}),
            machine=machine(),
        )
    )


if __name__ == "__main__":
    main()
