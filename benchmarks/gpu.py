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
Every vislab run draws no figures (``train.figures=false``) and its JSON carries summary.json's time
split (``time_split``: setup_s, train_time_s, epochs_eval_s, eval_s, figures_s).

Three other modes, each printing its own JSON object:

- ``--vs-airbench [--seeds N]``: vislab's ``fast`` recipe against airbench's ``train94`` on the same image
  tensors (Fashion-MNIST made CIFAR-shaped, and CIFAR-10 when present): both training times, both test
  accuracies and the ratio vislab / airbench (benchmarks/airbench_side.py says exactly what is timed).
- ``--vs-plain``: vislab's trainer against a plain PyTorch loop (benchmarks/plain_loop.py) on the same
  model built by vislab's registry, the same synthetic images resident on the device, batch size,
  number of steps, bf16 autocast on CUDA, channels_last and fused SGD, no augmentation on either side:
  training images/s of each (last epoch) and the ratio vislab / plain — vislab's overhead.
- ``--profile``: the GPU-busy share of training (CUDA kernel time / wall time, per epoch) of ``fast``,
  ``cnn`` and ``vit`` through vislab, and of the plain loop for ``cnn`` and ``vit``
  (benchmarks/busy_share.py).

Without CUDA it prints ``{"skipped": reason}`` — unless ``--device cpu`` (a smoke run of the code path;
``--tiny`` shrinks every mode to a few hundred images and one epoch, time-to-accuracy included, and hides
vislab's notes about so little data). ``--out FILE`` writes the JSON object to FILE too, rewritten after
each finished result with ``"finished": false`` until the end, so a run cut off by a time limit keeps
what it finished; stopped by SIGTERM or Ctrl-C, it prints that partial object and exits 130. A wrong flag
(an unknown ``--device`` or ``--models`` name, a number out of range, an ``--out`` it cannot write) ends it
before any work: one line naming the flag and what it takes, exit 2 (benchmarks/gpu_args.py). A mistake
of the user's in vislab's terms (a bad ``--set`` key or value, an unknown ``model.name``, found before the
first run: every run's config is built first; some of the files missing in ``--fashion-root`` for the time
to accuracy) ends it as ``vislab`` ends: the one message on stderr, exit 2, the partial object (its
``error`` that message) on stdout and in ``--out``. A dataset not found at all (no
folder, no training images) is skipped, saying so in the JSON; ``--vs-airbench`` lists each dataset it
could not read under ``missing`` and goes on.

``--set KEY=VALUE`` (repeatable) adds a vislab config override to each vislab run of the mode, after the
mode's own settings (the plain loop builds its model from the same config; ``--vs-airbench`` only with
``--device cpu``, where airbench cannot train and nothing is compared): ``--set
model.widths=[16,32,32]`` gives a smoke run small models. The JSON lists them under ``vislab_set``.
benchmarks/gpu_check.sh runs the three modes on a GPU machine, each with ``--out``.

Usage: ``python benchmarks/gpu.py [--models cnn,vit,resnet18,fast] [--target 0.93] [--compile]``
(``--models none``: the time to accuracy alone),
``python benchmarks/gpu.py --vs-airbench --seeds 3``, ``--vs-plain``, ``--profile``
[``--device cpu --tiny``] [``--set KEY=VALUE``]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from airbench_side import missing_message, not_found, vs_airbench  # noqa: E402
from busy_share import EpochProfiles, profiled_vislab_epochs  # noqa: E402
from common import (  # noqa: E402
    NO_FIGURES,
    Report,
    fashion_available,
    fashion_overrides,
    machine,
    time_split,
)
from gpu_args import models_for, parse_args  # noqa: E402
from plain_loop import PlainLoop  # noqa: E402
from vislab.config import Config, build_config, load_config  # noqa: E402
from vislab.errors import DataError, Note, TrainingInterrupted, UserError  # noqa: E402
from vislab.interrupts import term_as_ctrl_c  # noqa: E402
from vislab.models import build_model, check_model_options  # noqa: E402
from vislab_runs import (  # noqa: E402
    SYNTHETIC,
    VAL_FRACTION,
    register_synthetic,
    synthetic_overrides,
    train_clocked,
)

TINY = dict(n=256, n_test=64, batch=32, epochs=1)  # --tiny: the CPU smoke path of every mode
# --tiny's time-to-accuracy run: TINY's sizes of Fashion-MNIST (train; val and test)
TINY_TTA = [
    f"data.limit={TINY['n']}",
    f"data.limit_eval={TINY['n_test']}",
    f"train.batch_size={TINY['batch']}",
    f"train.epochs={TINY['epochs']}",
]


def mode_config(args: argparse.Namespace, name: str, epochs: int) -> Config:
    """Model ``name``'s vislab config in the mode asked for, then ``--set``, its model's options checked:
    built before the first run, so that a mistake in ``--set`` ends the benchmark before any training."""
    if args.profile:
        return checked(profile_config(name, args.device, args.batch, epochs, args.vislab_set))
    plain = args.vs_plain  # as the plain loop trains: no augmentation, no torch.compile
    over = synthetic_overrides(
        name,
        args.device,
        args.batch,
        epochs,
        args.compile and not plain,
        not plain,
        args.vislab_set,
    )
    return checked(build_config({}, over, source="--set"))


def checked(cfg: Config) -> Config:
    """``cfg``, its model's options checked as a run checks them (ConfigError naming ``--set``)."""
    check_model_options(cfg.model.name, cfg.model.kwargs(), source="--set")
    return cfg


def throughput(name: str, cfg: Config) -> dict:
    batch = cfg.train.batch_size
    if cfg.train.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    s, clock = train_clocked(cfg)
    seen = (s.n_train // batch) * batch
    return dict(
        model=name,
        params=s.params,
        batch_size=batch,
        train_images_per_s=round(seen / clock.rows[-1]["seconds"]),
        eval_images_per_s=round(s.n_test / s.test_time_s),
        peak_cuda_mb=s.peak_cuda_mb,
        peak_rss_mb=s.peak_rss_mb,
        first_epoch_s=clock.rows[0]["train_s"],
        compiled=s.compiled,  # what ran, as summary.json says (null: train.compile off)
        time_split=time_split(s),
    )


def tta_overrides(args: argparse.Namespace) -> list[str]:
    """``--config fast``'s overrides for the time to accuracy on Fashion-MNIST (``--tiny``: on
    ``TINY_TTA``'s few images), then ``--tta-epochs``, ``--set`` and ``--tta-set``."""
    over = [*fashion_overrides(args.fashion_root), f"train.device={args.device}", NO_FIGURES]
    epochs = [f"train.epochs={args.tta_epochs}"] if args.tta_epochs else []
    return [*over, *(TINY_TTA if args.tiny else []), *epochs, *args.vislab_set, *args.tta_set]


def time_to_accuracy(cfg: Config, over: list[str], target: float, root: Path) -> dict:
    """The run of ``cfg`` (``--config fast`` and ``over``): when validation accuracy first reaches
    ``target``, and the final test accuracy."""
    t0 = time.perf_counter()
    try:
        s, clock = train_clocked(cfg)
    except DataError as e:  # files of the folder missing or unreadable: said in this script's flags
        raise DataError(missing_message("fashion-mnist", root, e)) from None
    hit = next((r for r in clock.rows if r["val_acc"] is not None and r["val_acc"] >= target), None)
    return dict(
        recipe="--config fast",
        overrides=over,
        target_val_acc=target,
        reached_at=hit,
        epochs=len(clock.rows),
        n_train=s.n_train,
        train_time_s=s.train_time_s,
        whole_run_s=round(time.perf_counter() - t0, 1),
        test_acc=s.test_acc,
        curve=clock.rows,
        peak_cuda_mb=s.peak_cuda_mb,
        time_split=time_split(s),
    )


# ------------------------------------------------------------------ vislab against a plain loop
def plain_loop_for(cfg: Config, x: np.ndarray, y: np.ndarray, steps: int) -> PlainLoop:
    """The plain loop on ``cfg``'s model, built by vislab's registry with the same seed, and the images."""
    device = torch.device(cfg.train.device)
    images = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous().to(device)
    labels = torch.from_numpy(y).to(device)
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg.model.name, tuple(images.shape[1:]), 10, **cfg.model.kwargs())
    o = cfg.optim
    return PlainLoop(model, images, labels, cfg.train.batch_size, steps, o.lr, o.momentum)


def vs_plain(name: str, cfg: Config, data: tuple) -> dict:
    """Training images/s of vislab and of the plain loop (each side's last epoch) for model ``name``."""
    batch, epochs = cfg.train.batch_size, cfg.train.epochs
    s, clock = train_clocked(cfg)
    steps = s.n_train // batch  # vislab's epoch: its train split (val carved off), drop_last
    loop = plain_loop_for(cfg, *data, steps=steps)
    plain_s = [loop.epoch() for _ in range(epochs)][-1]
    vislab_ips, plain_ips = steps * batch / clock.rows[-1]["seconds"], steps * batch / plain_s
    return dict(
        model=name,
        params=s.params,
        steps_per_epoch=steps,
        vislab_images_per_s=round(vislab_ips, 1),
        plain_images_per_s=round(plain_ips, 1),
        ratio_vislab_over_plain=round(vislab_ips / plain_ips, 3),
        vislab_epoch_s=round(clock.rows[-1]["seconds"], 3),
        plain_epoch_s=round(plain_s, 3),
        vislab_time_split=time_split(s),
    )


# ------------------------------------------------------------------------- GPU-busy share
def profile_config(
    name: str, device: str, batch: int, epochs: int, extra: Sequence[str] = ()
) -> Config:
    """``fast`` with its preset (whose batch size, 512, is ``--batch``'s default), the others as
    ``--vs-plain`` trains them; then ``extra`` (``--set``)."""
    if name != "fast":
        over = synthetic_overrides(name, device, batch, epochs, False, False, extra)
        return build_config({}, over, source="--set")
    over = [
        f"data.name={SYNTHETIC}",
        f"data.val_fraction={VAL_FRACTION}",
        f"train.device={device}",
        NO_FIGURES,
    ]
    over += [f"train.epochs={epochs}", f"train.batch_size={batch}", *extra]
    return load_config("fast", over)


def busy_shares(name: str, cfg: Config, data: tuple) -> dict:
    """The busy share of the epochs of model ``name``'s ``cfg`` through vislab, and through the plain loop
    (not for ``fast``: its whitening init, weight averaging and alternating flips are vislab's)."""
    device, epochs = cfg.train.device, cfg.train.epochs
    vislab_epochs = EpochProfiles(torch.device(device))
    with profiled_vislab_epochs(vislab_epochs):
        s, _ = train_clocked(cfg)
    row = dict(model=name, batch_size=cfg.train.batch_size, vislab=vislab_epochs.summary())
    if name != "fast":
        loop = plain_loop_for(cfg, *data, steps=s.n_train // cfg.train.batch_size)
        plain_epochs = EpochProfiles(torch.device(device))
        for _ in range(epochs):
            plain_epochs.measure(loop.epoch)
        row["plain"] = plain_epochs.summary()
    return row


# ---------------------------------------------------------------------------------- main
def run_mode(args: argparse.Namespace, report: Report) -> None:
    """Run the mode asked for, each result into ``report`` as it finishes."""
    if args.vs_airbench:
        report.update(seeds=args.seeds)
        vs_airbench(
            args.seeds,
            args.device,
            args.tiny,
            args.fashion_root,
            args.cifar_root,
            args.keep_tensors,
            args.vislab_set,
            report.update,
        )
        return
    if args.vs_plain or args.profile:
        side_by_side(args, report)
    else:
        throughput_mode(args, report)


def side_by_side(args: argparse.Namespace, report: Report) -> None:
    """``--vs-plain`` or ``--profile``: each model through vislab and through the plain loop."""
    epochs = args.epochs or (3 if args.profile else 2)
    names, notes = models_for(args, "fast,cnn,vit" if args.profile else "cnn,vit,resnet18")
    report.update(epochs=epochs, n_train=args.n, notes=notes, models=[])
    configs = [(name, mode_config(args, name, epochs)) for name in names]
    data = synthetic_data(args)
    measure = busy_shares if args.profile else vs_plain
    for name, cfg in configs:
        report.add("models", measure(name, cfg, data))


def throughput_mode(args: argparse.Namespace, report: Report) -> None:
    """No mode flag: each model's throughput, then ``fast``'s time to accuracy on Fashion-MNIST."""
    names, notes = models_for(args, "cnn,vit,resnet18,fast")
    report.update(notes=notes, throughput=[])
    configs = [(name, mode_config(args, name, args.epochs or 2)) for name in names]
    over, found = tta_overrides(args), fashion_available(args.fashion_root)
    tta = checked(load_config("fast", over)) if found else None  # its mistakes before any run too
    synthetic_data(args)
    for name, cfg in configs:
        report.add("throughput", throughput(name, cfg))
    if tta is None:
        report.update(time_to_accuracy={"skipped": not_found("fashion-mnist", args.fashion_root)})
        return
    report.update(time_to_accuracy=time_to_accuracy(tta, over, args.target, args.fashion_root))


def synthetic_data(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    """The synthetic images registered as a data source: ``--n`` to train on, and the test split."""
    return register_synthetic(args.n, TINY["n_test"] if args.tiny else 10_000)


def mode_name(args: argparse.Namespace) -> str:
    modes = dict(vs_airbench="gpu-vs-airbench", vs_plain="gpu-vs-plain", profile="gpu-profile")
    return next((name for flag, name in modes.items() if getattr(args, flag)), "gpu")


def main() -> None:
    args = parse_args(" ".join(__doc__.split("\n\n")[0].split()), TINY)
    overrides = {"vislab_set": args.vislab_set} if args.vislab_set else {}
    report = Report(
        args.out,
        benchmark=mode_name(args),
        device=args.device,
        tiny=args.tiny,
        **overrides,
        machine=machine(),
    )
    if args.device == "cuda" and not torch.cuda.is_available():
        report.finish(skipped="no CUDA device visible to PyTorch (run on a GPU machine)")
        report.emit()
        return
    with warnings.catch_warnings():
        if args.tiny:  # notes about so few images (a small val split, few batches): not the point
            warnings.filterwarnings("ignore", category=Note)
        try:
            with term_as_ctrl_c():
                run_mode(args, report)
        except KeyboardInterrupt as stop:  # SIGTERM (a time limit) or Ctrl-C
            report.emit()
            print(stopped_message(args.out, isinstance(stop, TrainingInterrupted)), file=sys.stderr)
            sys.exit(130)
        except UserError as e:  # as the vislab CLI ends on one: its message, no traceback, exit 2
            said = " ".join(line.strip() for line in str(e).splitlines())  # one line
            report.update(error=said)
            report.emit()
            print(f"gpu.py: error: {said}", file=sys.stderr)
            sys.exit(2)
    report.finish()
    report.emit()


def stopped_message(out: Path | None, in_training: bool) -> str:
    """What a benchmark stopped by a signal kept, and what it did not."""
    kept = f"in {out} and on stdout" if out else "on stdout"
    lost = (
        " The vislab run it was training was in a temporary folder and is not kept."
        if in_training
        else ""
    )
    return (
        f"gpu.py: stopped before it finished. The results it finished are {kept}, marked "
        f'"finished": false.{lost}'
    )


if __name__ == "__main__":
    main()
