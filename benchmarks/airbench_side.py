"""vislab's ``fast`` recipe beside airbench's ``train94``, on the very same image tensors.

Data: Fashion-MNIST made CIFAR-shaped (28×28 zero-padded by 2 to 32×32, the grey channel copied to
three: 60,000 train / 10,000 test), and CIFAR-10 (50,000 / 10,000) when its files are present. Each is
written once in airbench's own format — ``{"images": uint8 N×32×32×3, "labels": int64 N, "classes":
[names]}`` saved by ``torch.save`` as ``<folder>/cifar10/train.pt`` and ``test.pt``, the files airbench's
``CifarLoader`` loads (``train94`` reads its test set from the relative path ``cifar10/test.pt``, so it
runs with ``<folder>`` as the working directory).

- airbench: ``airbench.train94(train_loader, verbose=False)`` with its published hyper-parameters
  (batch 1,024, 9.9 epochs, flip + translate 2); time = the whole call (network, whitening init,
  training) between two ``torch.cuda.synchronize``; test accuracy = ``airbench.evaluate`` at its own
  TTA level 2 (mirror + translate), as train94 reports it. One ``warmup94`` step first (untimed).
- vislab: ``--config fast`` through ``vislab.training.trainer.train`` on a source that reads the same
  ``train.pt``/``test.pt``. It trains on all the training images, as airbench does; its validation split,
  which ``best.pt`` is chosen on, is the first 5,000 of them (so no test image is ever selected on);
  time = summary.json's ``train_time_s`` (the epochs only) and the whole call beside it, with
  summary.json's time split (``time_split``; no figures drawn: ``train.figures=false``); test
  accuracy = summary.json's (flip TTA, the preset's). One untimed 1-epoch warm-up on CUDA.

The seeds alternate (airbench's run, then vislab's, per seed), so that a drifting machine touches both;
after each seed the results so far go to ``progress`` (a dataset's entry says ``seeds_done``).

Both sides run with cuDNN's autotuner on (``torch.backends.cudnn.benchmark``, as the speed records do):
importing airbench switches it on for the process, but each vislab run sets it to its own
``train.cudnn_benchmark`` (default false), so airbench's runs switch it on again and vislab's run with
``train.cudnn_benchmark=true`` (``VISLAB_SETS``, in the output).

airbench builds its network with ``.cuda()`` and times with CUDA events, so without CUDA its training is
skipped with that reason; the CPU path still checks that airbench's own ``CifarLoader`` reads the written
files.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

from common import NO_FIGURES, time_split
from vislab.config import DataConfig, load_config
from vislab.data.sources import SOURCES, load_source
from vislab.data.sources.registry import register_source
from vislab.data.types import ArraySet, SourceData
from vislab.errors import DataError
from vislab.training.trainer import train

TENSOR_SOURCE = "airbench-tensors"  # vislab's source reading <data.root>/train.pt and test.pt
AIRBENCH_DIR = "cifar10"  # the folder train94 reads its test set from, relative to the working dir
VAL_IMAGES = 5000  # vislab's validation split: the first training images (they are trained on too)
TINY = dict(n_train=384, n_test=128, batch=128, epochs=1)
VISLAB_SETS = ["train.cudnn_benchmark=true"]  # on top of --config fast, as airbench runs
# a dataset's files, named where they are missing: the flag that points at them, what it holds
WHERE = {
    "fashion-mnist": (
        "--fashion-root",
        "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
        "t10k-labels-idx1-ubyte.gz",
    ),
    "cifar10": (
        "--cifar-root",
        "cifar-10-batches-py/ or its files (data_batch_1 to data_batch_5 and test_batch)",
    ),
}


@dataclass
class CifarShaped:
    """One dataset as airbench expects it: uint8 N×32×32×3 images, int64 labels, class names."""

    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    classes: list[str]


def as_cifar_shape(x: np.ndarray) -> np.ndarray:
    """uint8 N×28×28×1 → N×32×32×3: zero-padded by 2 on each side, the grey channel copied to three."""
    padded = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)))
    return np.ascontiguousarray(np.repeat(padded, 3, axis=3))


def fashion_cifar_shaped(root: Path, n_train: int | None, n_test: int | None) -> CifarShaped:
    """Fashion-MNIST read by vislab's own reader (the official idx files), made CIFAR-shaped."""
    src = load_source(DataConfig(name="fashion-mnist", root=str(root), download=False))
    train, test = src.sets["train"], src.sets["test"]
    return CifarShaped(
        "fashion-mnist",
        as_cifar_shape(train.x[:n_train]),
        train.y[:n_train],
        as_cifar_shape(test.x[:n_test]),
        test.y[:n_test],
        list(src.class_names),
    )


def cifar10_arrays(root: Path, n_train: int | None, n_test: int | None) -> CifarShaped:
    """CIFAR-10's 50,000 training images (data_batch_1..5, in order) and 10,000 test images."""
    src = load_source(DataConfig(name="cifar10", root=str(root), download=False))
    train_x = np.concatenate([src.sets["train"].x, src.sets["val"].x])
    train_y = np.concatenate([src.sets["train"].y, src.sets["val"].y])
    test = src.sets["test"]
    return CifarShaped(
        "cifar10",
        train_x[:n_train],
        train_y[:n_train],
        test.x[:n_test],
        test.y[:n_test],
        list(src.class_names),
    )


def write_airbench_tensors(data: CifarShaped, folder: Path) -> Path:
    """``folder/cifar10/train.pt`` and ``test.pt`` in airbench's format; returns ``folder/cifar10``."""
    out = folder / AIRBENCH_DIR
    out.mkdir(parents=True, exist_ok=True)
    for name, x, y in (("train", data.train_x, data.train_y), ("test", data.test_x, data.test_y)):
        tensors = dict(
            images=torch.from_numpy(np.ascontiguousarray(x)),
            labels=torch.from_numpy(y.astype(np.int64)),
            classes=list(data.classes),
        )
        torch.save(tensors, out / f"{name}.pt")
    return out


def _read_tensor_file(path: Path) -> tuple[ArraySet, list[str]]:
    if not path.is_file():
        raise DataError(f"'{path}' not found: write it with write_airbench_tensors first.")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    return ArraySet(saved["images"].numpy(), saved["labels"].numpy()), list(saved["classes"])


def load_airbench_tensors(cfg: DataConfig) -> SourceData:
    """vislab source: ``data.root``'s airbench tensors; val = the first training images (also trained)."""
    root = Path(cfg.root)
    train, _ = _read_tensor_file(root / "train.pt")
    test, classes = _read_tensor_file(root / "test.pt")
    val = train.take(np.arange(min(VAL_IMAGES, len(train) // 10)))
    files = [str(root / "train.pt"), str(root / "test.pt")]
    return SourceData(dict(train=train, val=val, test=test), classes, files=files)


if TENSOR_SOURCE not in SOURCES:
    register_source(TENSOR_SOURCE)(load_airbench_tensors)


@contextlib.contextmanager
def working_dir(folder: Path) -> Iterator[None]:
    """Run the block with ``folder`` as the current directory (train94 reads ``cifar10/test.pt``)."""
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def import_airbench() -> ModuleType | str:
    """The airbench module, or the reason it cannot be used (not installed)."""
    try:
        import airbench  # optional (the `bench` extra); importing it sets cudnn.benchmark = True
    except ImportError as e:
        return f"airbench is not installed ({e}): pip install 'vislab[bench]' (or pip install airbench)"
    return airbench


def check_airbench_loader(airbench: ModuleType, tensors: Path, data: CifarShaped) -> dict:
    """airbench's own ``CifarLoader`` reads the written files (on the CPU: ``gpu='cpu'``)."""
    read = {}
    with working_dir(tensors.parent):
        for train_set, labels in ((True, data.train_y), (False, data.test_y)):
            loader = airbench.CifarLoader(AIRBENCH_DIR, train=train_set, gpu="cpu")
            same = bool(torch.equal(loader.labels, torch.from_numpy(labels.astype(np.int64))))
            read["train" if train_set else "test"] = dict(
                images_shape=list(loader.images.shape), labels_match=same
            )
    return read


def airbench_run(airbench: ModuleType, tensors: Path, seed: int, tiny: bool) -> dict:
    """One train94 run on ``tensors``: its wall time and test accuracy (TTA level 2)."""
    hyp = airbench.lib_airbench94.hyp
    batch, epochs = (TINY["batch"], TINY["epochs"]) if tiny else (hyp["opt"]["batch_size"], None)
    # loading the tensors onto the GPU is not timed (airbench's own timing leaves it out too)
    with working_dir(tensors.parent):
        loader = airbench.CifarLoader(
            AIRBENCH_DIR, train=True, batch_size=batch, aug=hyp["aug"], altflip=True
        )
        kwargs = dict(train_loader=loader, verbose=False) | ({"epochs": epochs} if epochs else {})
        torch.manual_seed(seed)
        torch.backends.cudnn.benchmark = (
            True  # airbench's own setting (the vislab run before reset it)
        )
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        model = airbench.train94(**kwargs)
        torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        test_loader = airbench.CifarLoader(AIRBENCH_DIR, train=False, batch_size=2000)
        acc = airbench.evaluate(model, test_loader, tta_level=hyp["net"]["tta_level"])
    return dict(seed=seed, train_s=round(seconds, 3), test_acc=round(acc, 4))


def airbench_warmup(airbench: ModuleType, tensors: Path) -> None:
    """airbench's own warm-up (one step); it prints a table row, sent to stderr."""
    hyp = airbench.lib_airbench94.hyp
    with working_dir(tensors.parent), contextlib.redirect_stdout(sys.stderr):
        loader = airbench.CifarLoader(
            AIRBENCH_DIR,
            train=True,
            batch_size=hyp["opt"]["batch_size"],
            aug=hyp["aug"],
            altflip=True,
        )
        airbench.warmup94(train_loader=loader)


def vislab_run(tensors: Path, seed: int, device: str, tiny: bool, extra: list[str]) -> dict:
    """One ``--config fast`` run on the tensors through vislab's trainer."""
    over = [
        f"data.name={TENSOR_SOURCE}",
        f"data.root={tensors}",
        "data.download=false",
        f"train.device={device}",
        f"train.seed={seed}",
        *VISLAB_SETS,
        NO_FIGURES,
        *extra,
    ]
    if tiny:
        over += [f"train.epochs={TINY['epochs']}", f"train.batch_size={TINY['batch']}"]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        s = train(load_config("fast", over), Path(tmp) / "run", quiet=True)
    return dict(
        seed=seed,
        train_s=s.train_time_s,
        whole_run_s=round(time.perf_counter() - t0, 3),
        test_acc=round(s.test_acc, 4),
        params=s.params,
        epochs=s.epochs_run,
        n_train=s.n_train,
        n_val=s.n_val,
        time_split=time_split(s),
    )


def _mean(runs: list[dict], key: str) -> float:
    return round(statistics.fmean(r[key] for r in runs), 4)


def airbench_unavailable(airbench: ModuleType | str) -> str | None:
    """Why airbench cannot train here, or None."""
    if isinstance(airbench, str):
        return airbench
    if not torch.cuda.is_available():
        return (
            "airbench's make_net94 moves the network to CUDA (.cuda()) and its train() times with "
            "torch.cuda.Event: it cannot train on the CPU"
        )
    return None


def warm_up(airbench: ModuleType | None, tensors: Path, device: str, tiny: bool) -> None:
    """One untimed warm-up of each side on CUDA (kernels chosen, allocator grown); none with --tiny."""
    if device != "cuda" or tiny:
        return
    if airbench is not None:
        airbench_warmup(airbench, tensors)
    vislab_run(tensors, 0, device, False, ["data.limit=4096", "train.epochs=1"])


def summarise(runs: list[dict], tta: str) -> dict:
    out = dict(
        runs=runs, train_s_mean=_mean(runs, "train_s"), test_acc_mean=_mean(runs, "test_acc")
    )
    if "whole_run_s" in runs[0]:
        out["whole_run_s_mean"] = _mean(runs, "whole_run_s")
    return dict(out, tta=tta)


def compare_on(
    data: CifarShaped,
    airbench: ModuleType | str,
    folder: Path,
    seeds: int,
    device: str,
    tiny: bool,
    extra: list[str],
) -> Iterator[dict]:
    """Both sides on one dataset, seed by seed (airbench, then vislab, with ``extra`` overrides); after
    each seed, the dataset's entry so far (``dataset_entry``)."""
    tensors = write_airbench_tensors(data, folder / data.name)
    reason = airbench_unavailable(airbench)
    theirs_ok = airbench if reason is None else None
    warm_up(theirs_ok, tensors, device, tiny)
    head = dict(dataset=data.name, n_train=len(data.train_y), n_test=len(data.test_y))
    skipped = dict(skipped=reason)
    if theirs_ok is None and not isinstance(airbench, str):
        skipped["loader_check"] = check_airbench_loader(airbench, tensors, data)
    ours, theirs = [], []
    for seed in range(seeds):
        if theirs_ok is not None:
            theirs.append(airbench_run(theirs_ok, tensors, seed, tiny))
        ours.append(vislab_run(tensors, seed, device, tiny, extra))
        yield dict(
            dataset_entry(head, ours, skipped if theirs_ok is None else theirs),
            tensors=str(tensors),
        )


def dataset_entry(head: dict, ours: list[dict], theirs: list[dict] | dict) -> dict:
    """One dataset's results after ``len(ours)`` seeds: each side's runs and means, and the ratio
    vislab / airbench (``theirs``: airbench's runs, or why it did not train)."""
    out = dict(head, seeds_done=len(ours))
    out["vislab"] = summarise(ours, "flip (the fast preset's model.tta)")
    out["vislab"]["val_split"] = f"the first {ours[0]['n_val']} training images (trained on too)"
    if isinstance(theirs, dict):
        return dict(out, airbench=theirs)
    out["airbench"] = summarise(theirs, "mirror + translate (airbench's TTA level 2)")
    ratio = out["vislab"]["train_s_mean"] / out["airbench"]["train_s_mean"]
    acc_diff = out["vislab"]["test_acc_mean"] - out["airbench"]["test_acc_mean"]
    return dict(
        out,
        time_ratio_vislab_over_airbench=round(ratio, 3),
        test_acc_diff_points=round(100 * acc_diff, 2),
    )


def datasets(fashion_root: Path, cifar_root: Path, tiny: bool) -> tuple[list[CifarShaped], dict]:
    """The datasets found (Fashion-MNIST, CIFAR-10) and, for each one missing, why."""
    n_train, n_test = (TINY["n_train"], TINY["n_test"]) if tiny else (None, None)
    found, missing = [], {}
    for name, read, root in (
        ("fashion-mnist", fashion_cifar_shaped, fashion_root),
        ("cifar10", cifar10_arrays, cifar_root),
    ):
        try:
            found.append(read(root, n_train, n_test))
        except DataError as e:
            missing[name] = missing_message(name, root, e)
    return found, missing


def missing_message(name: str, root: Path, error: DataError) -> str:
    """Why dataset ``name`` was not read from ``root``, said in this benchmark's flags."""
    # "not found": the folder or its files are missing; else they are unreadable, named by vislab
    if "not found" not in str(error):
        return f"{WHERE[name][0]} {root}: {error}"
    return not_found(name, root)


def not_found(name: str, root: Path) -> str:
    """Dataset ``name`` is not in ``root``: the flag to give and what its folder holds."""
    flag, files = WHERE[name]
    return f"{name} not found in {root}: give {flag} DIR, the folder that holds {files}."


def vs_airbench(
    seeds: int,
    device: str,
    tiny: bool,
    fashion_root: Path,
    cifar_root: Path,
    keep: Path | None,
    extra: list[str],
    progress: Callable[..., None],
) -> None:
    """The whole comparison: every dataset found, ``seeds`` runs of each side on each; ``extra``:
    overrides of vislab's runs (gpu.py takes them only on the CPU, where airbench cannot train). The
    results go to ``progress`` as keyword fields, again after each seed."""
    airbench = import_airbench()
    found, missing = datasets(fashion_root, cifar_root, tiny)
    version = None if isinstance(airbench, str) else metadata.version("airbench")
    progress(datasets=[], missing=missing, vislab_sets=VISLAB_SETS, airbench_version=version)
    done: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = (keep or Path(tmp)).resolve()
        for data in found:
            for entry in compare_on(data, airbench, folder, seeds, device, tiny, extra):
                progress(datasets=[*done, entry])
            done.append(entry)
