"""ViT initialisation: how fast vislab's `vit` learns early on, beside a plain PyTorch ViT of the same shape.

Early learning (the default) — Fashion-MNIST, 54,000 / 6,000 / 10,000 (vislab's seeded split of the official
60,000, the official test set), train-set standardisation, no augmentation. Three models of one shape
(patch 4, embed 64, depth 4, 4 heads, MLP 256, class token, learned positions: 205,066 parameters each):

- ``plain``: the ViT written below with ``nn.MultiheadAttention`` and PyTorch's default initialisation of
  every module (class token 0 and positions N(0, 0.02²), as vislab's);
- ``xavier``: vislab's ``vit`` with ``model.init=xavier`` (the default);
- ``timm``: vislab's ``vit`` with ``model.init=timm`` (the scheme before: every Linear N(0, 0.02²)).

All three train the same way in the loop below: AdamW lr 1e-3 (weight decay 0, vislab's default), batch 64,
2 epochs of 843 steps; per seed the same torch seed before building each model and the same batches.
Figures: validation ACC after 50, 100, 200 and 400 steps, test ACC after each epoch.

Long run (``--long``) — RDFIA 1-e's setting through vislab's own trainer (the vit-study suite's base: embed 32,
patch 7, 2 blocks, 2 heads, sinusoidal positions, Adam 1e-3, batch 128; ``--epochs``, 30 unless given, the
practical's 10 too short to converge on this data) on the MNIST test set, the only MNIST here, carved into
8,000 / 1,000 / 1,000, once per init and seed; the test ACC is summary.json's (best epoch by validation).

Usage: ``nice -n 10 python benchmarks/vit_init.py [--seeds 0,1,2] [--models plain,xavier,timm]``
and ``... --long --models xavier,timm [--epochs 100]`` (one JSON object on stdout; progress and a table on
stderr).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _args import Parser, count, names_of, seed_list  # noqa: E402
from common import FASHION_ROOT, Timer, emit, fashion_available, machine  # noqa: E402
from vislab.config import build_config  # noqa: E402
from vislab.data import prepare_data  # noqa: E402
from vislab.data.preprocess import apply_stats  # noqa: E402
from vislab.models import build_model  # noqa: E402
from vislab.training.trainer import train  # noqa: E402

# a folder holding the official MNIST test set's IDX files (t10k-*.gz; 10,000 digits): --mnist-root
MNIST_ROOT = Path(os.environ.get("VISLAB_MNIST_ROOT", "data/mnist"))
SHAPE = dict(patch=4, dim=64, depth=4, heads=4, mlp=256)
# --models: the plain ViT below, and vislab's vit with model.init=xavier or timm
MODELS = ("plain", "xavier", "timm")
BATCH, LR, EPOCHS = 64, 1e-3, 2
VAL_MARKS = (50, 100, 200, 400)  # steps after which validation ACC is recorded


# ------------------------------------------------------------------------------ the plain ViT
class PlainBlock(nn.Module):
    """Pre-norm: x + MHA(LN(x)), then x + MLP(LN(x)); every module keeps PyTorch's default init."""

    def __init__(self, dim: int, heads: int, mlp: int):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.GELU(), nn.Linear(mlp, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class PlainViT(nn.Module):
    def __init__(self, channels: int, size: int, classes: int, patch, dim, depth, heads, mlp):
        super().__init__()
        self.patch_embed = nn.Conv2d(channels, dim, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, (size // patch) ** 2 + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*(PlainBlock(dim, heads, mlp) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(len(x), -1, -1), x], 1) + self.pos_embed
        return self.head(self.norm(self.blocks(x))[:, 0])


def build(name: str, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    if name == "plain":
        return PlainViT(1, 28, 10, **SHAPE)
    s = SHAPE
    return build_model(
        "vit",
        (1, 28, 28),
        10,
        patch_size=s.patch,
        embed_dim=s.dim,
        depth=s.depth,
        num_heads=s.heads,
        mlp_hidden=s.mlp,
        init=name,
    )


# ------------------------------------------------------------------------- data and training
def fashion_tensors(seed: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """vislab's split for ``seed`` as standardised float tensors N×1×28×28 and labels."""
    cfg = build_config(
        {}, ["data.name=fashion-mnist", f"data.root={FASHION_ROOT}", "data.download=false"]
    )
    splits, stats = prepare_data(cfg.data, seed)
    out = {}
    for name, part in splits.items():
        x = torch.from_numpy(part.x).permute(0, 3, 1, 2).float().div_(255)
        out[name] = (apply_stats(x, stats), torch.from_numpy(part.y).long())
    return out


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    correct = sum(
        (model(x[i : i + 1000]).argmax(1) == y[i : i + 1000]).sum().item()
        for i in range(0, len(x), 1000)
    )
    model.train()
    return round(correct / len(x), 4)


def train_plainly(model: nn.Module, data: dict, seed: int) -> dict:
    """AdamW, batch 64, EPOCHS epochs (last partial batch dropped); the batch order depends only on ``seed``."""
    (x, y), val, test = data["train"], data["val"], data["test"]
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.0)
    order = torch.Generator().manual_seed(seed)
    out: dict = {"params": sum(p.numel() for p in model.parameters())}
    step = 0
    with Timer() as t:
        for epoch in range(1, EPOCHS + 1):
            perm = torch.randperm(len(x), generator=order)
            for i in range(len(x) // BATCH):
                idx = perm[i * BATCH : (i + 1) * BATCH]
                loss = F.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                step += 1
                if step in VAL_MARKS:
                    out[f"val_acc_step{step}"] = accuracy(model, *val)
            out[f"test_acc_epoch{epoch}"] = accuracy(model, *test)
    out["seconds"] = round(t.seconds, 1)
    return out


def early_learning(models: list[str], seeds: list[int]) -> dict:
    runs = []
    for seed in seeds:
        data = fashion_tensors(seed)
        for name in models:
            row = dict(model=name, seed=seed, **train_plainly(build(name, seed), data, seed))
            print(row, file=sys.stderr, flush=True)
            runs.append(row)
    keys = [k for k in runs[0] if k.startswith(("val_acc", "test_acc"))]
    means = {
        m: {k: round(statistics.mean(r[k] for r in runs if r["model"] == m), 4) for k in keys}
        for m in models
    }
    return dict(runs=runs, means=means)


# ---------------------------------------------------------------------------------- long run
RDFIA_1E = [
    "data.name=mnist",
    "data.download=false",
    "data.use=[test]",
    "data.split=[8000,1000,1000]",
    "model.name=vit",
    "model.embed_dim=32",
    "model.patch_size=7",
    "model.depth=2",
    "model.num_heads=2",
    "model.pos_embed=sinusoidal",
    "optim.name=adam",
    "optim.lr=0.001",
    "train.batch_size=128",
    "train.device=cpu",
]


def long_run(inits: list[str], seeds: list[int], epochs: int, mnist_root: Path) -> list[dict]:
    rows = []
    for seed in seeds:
        for init in inits:
            over = [f"model.init={init}", f"train.seed={seed}", f"train.epochs={epochs}"]
            over.append(f"data.root={mnist_root}")
            cfg = build_config({}, [*RDFIA_1E, *over])
            with tempfile.TemporaryDirectory() as tmp:
                s = train(cfg, Path(tmp) / "run", quiet=True)
            row = dict(
                init=init,
                seed=seed,
                test_acc=round(s.test_acc, 4),
                val_acc=round(s.val_acc, 4),
                best_epoch=s.best_epoch,
                train_time_s=round(s.train_time_s, 1),
            )
            print(row, file=sys.stderr, flush=True)
            rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------- main
def print_table(result: dict) -> None:
    runs, means = result["runs"], result["means"]
    keys = list(next(iter(means.values())))
    print("model   seed  " + "  ".join(k.replace("_acc_", " ") for k in keys), file=sys.stderr)
    for r in runs:
        cells = "  ".join(f"{r[k]:.4f}".rjust(len(k) - 4) for k in keys)
        print(f"{r['model']:<7} {r['seed']:>4}  {cells}", file=sys.stderr)
    for m, row in means.items():
        cells = "  ".join(f"{row[k]:.4f}".rjust(len(k) - 4) for k in keys)
        print(f"{m:<7} mean  {cells}", file=sys.stderr)


def main() -> None:
    ap = Parser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=seed_list, default="0,1,2")
    ap.add_argument(
        "--models", type=names_of(MODELS), default="plain,xavier,timm", help=", ".join(MODELS)
    )
    ap.add_argument("--threads", type=count, default=1, help="torch CPU threads")
    ap.add_argument("--long", action="store_true", help="RDFIA 1-e on MNIST instead (vislab inits)")
    ap.add_argument("--epochs", type=count, default=30, help="epochs of the --long runs")
    ap.add_argument("--mnist-root", type=Path, default=MNIST_ROOT, help="MNIST test set (--long)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    seeds, models = args.seeds, args.models
    result: dict = dict(benchmark="vit_init", machine=machine())
    if args.long:
        if not (args.mnist_root / "t10k-images-idx3-ubyte.gz").exists():
            emit(
                dict(benchmark="vit_init", skipped=f"MNIST test set not found in {args.mnist_root}")
            )
            return
        inits = [m for m in models if m != "plain"]
        result.update(
            setting=f"RDFIA 1-e, MNIST test set as 8000/1000/1000, {args.epochs} epochs",
            runs=long_run(inits, seeds, args.epochs, args.mnist_root),
        )
    else:
        if not fashion_available():
            emit(dict(benchmark="vit_init", skipped=f"Fashion-MNIST not found in {FASHION_ROOT}"))
            return
        result.update(setting="Fashion-MNIST 54000/6000/10000", **early_learning(models, seeds))
        print_table(result)
    emit(result)


if __name__ == "__main__":
    main()
