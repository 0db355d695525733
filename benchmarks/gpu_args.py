"""benchmarks/gpu.py's flags, each checked before any work (benchmarks/_args.py: how a mistake ends)."""

from __future__ import annotations

import argparse
from pathlib import Path

from _args import DEVICES, Parser, count, fraction, names_of, unwritable
from common import FASHION_ROOT
from vislab.models import MODELS
from vislab_runs import MODEL_SETTINGS, VAL_FRACTION

NO_MODEL = "none"  # --models none: no model (the default mode: the time to accuracy alone)


def models(text: str) -> list[str]:
    """``--models``: names of ``MODEL_SETTINGS`` separated by commas, or ``none``."""
    return [] if text == NO_MODEL else names_of(list(MODEL_SETTINGS))(text)


def parser(description: str) -> Parser:
    ap = Parser(description=description)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--vs-airbench", action="store_true", help="fast against airbench's train94")
    mode.add_argument("--vs-plain", action="store_true", help="vislab against a plain PyTorch loop")
    mode.add_argument("--profile", action="store_true", help="GPU-busy share of training")
    ap.add_argument(
        "--models",
        type=models,
        default=None,
        help=f"some of {','.join(MODEL_SETTINGS)}, or {NO_MODEL}; default: cnn,vit,resnet18,fast "
        "(--vs-plain: cnn,vit,resnet18; --profile: fast,cnn,vit)",
    )
    ap.add_argument("--device", choices=DEVICES, default="cuda")
    ap.add_argument("--tiny", action="store_true", help="a few hundred images, one epoch (smoke)")
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write the JSON object here too, rewritten after each finished result",
    )
    ap.add_argument("--seeds", type=count, default=3, help="--vs-airbench: runs of each side")
    ap.add_argument("--batch", type=count, default=512)
    ap.add_argument("--n", type=count, default=50_000, help="synthetic training images")
    ap.add_argument("--epochs", type=count, default=None, help="default 2 (--profile: 3)")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--target", type=fraction, default=0.93)
    ap.add_argument("--fashion-root", type=Path, default=FASHION_ROOT)
    ap.add_argument("--cifar-root", type=Path, default=Path("data"))
    ap.add_argument("--keep-tensors", type=Path, default=None, help="write airbench's files here")
    ap.add_argument(
        "--tta-epochs", type=count, default=None, help="override the preset's train.epochs"
    )
    ap.add_argument(
        "--tta-set", action="append", default=[], help="extra --set for the time-to-accuracy run"
    )
    ap.add_argument(
        "--set",
        dest="vislab_set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a vislab config override for every run (--vs-airbench: with --device cpu only), "
        "e.g. model.widths=[16,32,32]",
    )
    return ap


def parse_args(description: str, tiny: dict) -> argparse.Namespace:
    """The flags, checked; ``--tiny`` sets ``--n``, ``--batch`` and ``--epochs`` to ``tiny``'s."""
    ap = parser(description)
    args = ap.parse_args()
    if args.vislab_set and args.vs_airbench and args.device != "cpu":
        ap.error(
            "--set is not passed on to --vs-airbench's runs on a GPU (airbench_side.py trains the "
            "preset, as airbench trains its own); give it with --device cpu, a smoke run of the code path"
        )
    why = unwritable(args.out) if args.out is not None else None
    if why:
        ap.error(f"argument --out: {why}")
    if args.tiny:
        args.n, args.batch, args.epochs = tiny["n"], tiny["batch"], tiny["epochs"]
    n_train = args.n - round(args.n * VAL_FRACTION)  # as vislab carves the validation split
    # --models none times no model: the Fashion-MNIST run alone, which reads neither --n nor --batch
    if n_train < args.batch and not args.vs_airbench and args.models != []:
        ap.error(
            f"argument --n: {args.n} synthetic images ({VAL_FRACTION:.0%} held out for validation) "
            f"leave no training batch of {args.batch} (--batch); give a larger --n or a smaller --batch"
        )
    return args


def models_for(args: argparse.Namespace, default: str) -> tuple[list[str], list[str]]:
    """The models asked for that this checkout registers, and a note for each one it does not."""
    names = default.split(",") if args.models is None else args.models
    notes = [f"{n}: not registered in this checkout, skipped" for n in names if n not in MODELS]
    return [n for n in names if n in MODELS], notes
