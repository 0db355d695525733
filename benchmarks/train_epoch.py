"""One training epoch: vislab's trainer vs a plain PyTorch loop written the reports' way.

Data: Fashion-MNIST at its native 28×28×1; the same 55,000 training images (vislab's seeded split,
5,000 held out for validation) and the official 10,000 test images for both sides. Same model (built
by vislab's registry, same seed), same SGD (lr 0.05, momentum 0.9), batch 128, one epoch, the same
augmentation (random crop 28 with zero padding 2 + horizontal flip p=0.5) and the same train-set
mean/std normalisation.

- plain loop: ``DataLoader`` over a Dataset of PIL images → torchvision RandomCrop,
  RandomHorizontalFlip, ToTensor, Normalize; ``num_workers`` = cores, ``persistent_workers=True``,
  workers started (one untimed data-only pass) before timing; ``model.train()``, forward,
  ``cross_entropy``, backward, step;
  ``loss.item()`` is *not* called per step. Test accuracy: the test set through a DataLoader
  (ToTensor + Normalize, batch 512, same workers) under ``torch.no_grad()``.
- vislab: ``vislab.training.trainer.train`` with the same settings (``train.epochs=1``); its epoch time
  is the trainer's ``train_time_s`` (the epoch loop only); its test accuracy is summary.json's.

What differs is only how each side feeds and runs the model: vislab gathers/augments whole batches
from one uint8 tensor in the training process (no per-image PIL work, no worker processes competing
for the cores), evaluates in batches of ``train.eval_batch_size`` under ``inference_mode``, and on
CPU uses whatever memory format the trainer chooses (reported).

Accuracy after a single epoch swings by more than a point from seed to seed, so the default is three
seeds and the output gives the per-seed differences next to their mean.

Usage: ``python benchmarks/train_epoch.py [--models cnn,vit] [--seeds 0,1,2] [--abba]``
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _args import Parser, names_of, seed_list, workers  # noqa: E402
from common import FASHION_ROOT, Timer, emit, fashion_available, fashion_overrides, machine  # noqa: E402
from vislab.config import build_config  # noqa: E402
from vislab.data import prepare_data  # noqa: E402
from vislab.models import MODELS, build_model  # noqa: E402
from vislab.training.trainer import train  # noqa: E402

MODEL_SETTINGS = {
    "cnn": [
        "model.name=cnn",
        "model.batchnorm=true",
        "model.dropout=0.5",
    ],  # rdfia: conv5×5 32/64/64 + fc 1000
    "vit": ["model.name=vit"],  # completed from the registry's defaults (see small_vit)
}
COMMON = [
    "optim.name=sgd",
    "optim.lr=0.05",
    "optim.momentum=0.9",
    "train.batch_size=128",
    "train.epochs=1",
    "augment.crop.p=1",
    "augment.crop.padding=2",
    "augment.hflip.p=0.5",
    "train.device=cpu",
]


class PilDataset(Dataset):
    def __init__(self, x, y, transform):
        self.x, self.y, self.transform = x, y, transform

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.x[i, :, :, 0], mode="L")), int(self.y[i])


def small_vit() -> list[str] | None:
    """Overrides for a small ViT on 28×28 (if the `vit` model is registered), else None."""
    if "vit" not in MODELS:
        return None
    from vislab.models import model_kwargs

    known = model_kwargs("vit")
    wanted = dict(patch_size=4, dim=64, depth=4, heads=4, mlp_dim=128, embed_dim=64, mlp_ratio=2)
    return ["model.name=vit", *(f"model.{k}={v}" for k, v in wanted.items() if k in known)]


def plain_loop(cfg, splits, stats, workers: int) -> dict:
    """The reports' way, on the same data/model/optimizer settings as ``cfg``."""
    import torchvision.transforms as T

    mean, std = stats.mean.tolist(), stats.std.tolist()
    pad = cfg.augment.crop.padding
    train_tf = T.Compose(
        [
            T.RandomCrop(28, padding=pad),
            T.RandomHorizontalFlip(),
            T.ToTensor(),
            T.Normalize(mean, std),
        ]
    )
    test_tf = T.Compose([T.ToTensor(), T.Normalize(mean, std)])
    kw = dict(num_workers=workers, persistent_workers=workers > 0)
    train_dl = DataLoader(
        PilDataset(splits.train.x, splits.train.y, train_tf),
        batch_size=cfg.train.batch_size,
        shuffle=True,
        drop_last=True,
        **kw,
    )
    test_dl = DataLoader(PilDataset(splits.test.x, splits.test.y, test_tf), batch_size=512, **kw)
    torch.manual_seed(cfg.train.seed)
    model = build_model(
        cfg.model.name, splits.sample_shape, splits.num_classes, **cfg.model.kwargs()
    )
    opt = torch.optim.SGD(model.parameters(), lr=cfg.optim.lr, momentum=cfg.optim.momentum)
    for _ in train_dl:  # start the workers and warm their caches: one untimed data-only pass
        pass
    for _ in test_dl:
        pass
    model.train()
    with Timer() as t_epoch:
        for x, y in train_dl:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    correct = 0
    with Timer() as t_test, torch.no_grad():
        for x, y in test_dl:
            correct += (model(x).argmax(1) == y).sum().item()
    return dict(
        epoch_s=round(t_epoch.seconds, 2),
        images_per_s=round(len(train_dl) * cfg.train.batch_size / t_epoch.seconds, 1),
        test_s=round(t_test.seconds, 2),
        test_acc=correct / len(splits.test),
        num_workers=workers,
    )


def vislab_run(cfg) -> dict:
    with tempfile.TemporaryDirectory() as tmp, Timer() as t_all:
        s = train(cfg, Path(tmp) / "run", quiet=True)
    n = (s.n_train // cfg.train.batch_size) * cfg.train.batch_size
    return dict(
        epoch_s=round(s.train_time_s, 2),
        images_per_s=round(n / s.train_time_s, 1),
        test_s=s.test_time_s,
        test_acc=s.test_acc,
        whole_run_s=round(t_all.seconds, 2),
        eval_batch_size=cfg.train.eval_batch_size,
        channels_last=cfg.train.channels_last,
    )


def compare(
    name: str, overrides: list[str], seeds: list[int], workers: int, abba: bool = False
) -> dict:
    rows = []
    for seed in seeds:
        cfg = build_config({}, [*fashion_overrides(), *COMMON, *overrides, f"train.seed={seed}"])
        splits, stats = prepare_data(cfg.data, cfg.train.seed)
        # ABBA order (plain, vislab, vislab, plain): a machine whose load drifts slows both sides alike
        theirs = plain_loop(cfg, splits, stats, workers)
        ours = vislab_run(cfg)
        rows.append(dict(seed=seed, vislab=ours, plain=theirs))
        if abba:
            ours = vislab_run(cfg)
            theirs = plain_loop(cfg, splits, stats, workers)
            rows.append(dict(seed=seed, vislab=ours, plain=theirs))
    mean = lambda side, k: sum(r[side][k] for r in rows) / len(rows)  # noqa: E731

    def acc(seed: int, side: str) -> float:
        runs = [r[side]["test_acc"] for r in rows if r["seed"] == seed]
        return sum(runs) / len(runs)

    return dict(
        model=name,
        overrides=overrides,
        runs=rows,
        epoch_time_ratio=round(mean("vislab", "epoch_s") / mean("plain", "epoch_s"), 3),
        test_acc_vislab=round(mean("vislab", "test_acc"), 4),
        test_acc_plain=round(mean("plain", "test_acc"), 4),
        test_acc_diff_points=round(
            100 * (mean("vislab", "test_acc") - mean("plain", "test_acc")), 2
        ),
        test_acc_diff_points_per_seed={
            s: round(100 * (acc(s, "vislab") - acc(s, "plain")), 2) for s in seeds
        },
    )


def main() -> None:
    ap = Parser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--models",
        type=names_of(list(MODEL_SETTINGS)),
        default="cnn,vit",
        help=f"some of {','.join(MODEL_SETTINGS)}, comma-separated",
    )
    ap.add_argument(
        "--seeds",
        type=seed_list,
        default="0,1,2",
        help="comma-separated; figures are means over seeds",
    )
    ap.add_argument("--workers", type=workers, default=os.cpu_count())
    ap.add_argument(
        "--abba",
        action="store_true",
        help="per seed: plain, vislab, vislab, plain (cancels load drift)",
    )
    args = ap.parse_args()
    if not fashion_available():
        emit(dict(benchmark="train_epoch", skipped=f"Fashion-MNIST not found in {FASHION_ROOT}"))
        return
    results, notes = [], []
    for name in args.models:
        overrides = MODEL_SETTINGS[name] if name != "vit" else small_vit()
        if overrides is None:
            notes.append(f"{name}: not registered in this checkout, skipped")
            continue
        results.append(compare(name, overrides, args.seeds, args.workers, args.abba))
    emit(
        dict(
            benchmark="train_epoch",
            data="Fashion-MNIST 28x28x1, 55000 train / 10000 test",
            common=COMMON,
            results=results,
            notes=notes,
            machine=machine(),
        )
    )


if __name__ == "__main__":
    main()
