"""Shared pieces of the benchmarks: data, machine description, timing and the JSON line they print."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

FASHION_ROOT = Path("/usr/share/datasets/fashion-mnist")
# on every vislab run of a benchmark: no figures/ drawn after the timed part (summary.json's figures_s)
NO_FIGURES = "train.figures=false"
# summary.json's time split of a run, copied into the benchmarks' JSON
TIME_SPLIT = ("setup_s", "train_time_s", "epochs_eval_s", "eval_s", "figures_s")
# rounds of one measurement further apart than this (max / min): the machine was busy
BUSY_SPREAD = 2.0


def machine() -> dict:
    """What the figures were measured on (load average included: the machine may be shared)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    out = dict(
        date=time.strftime("%Y-%m-%d %H:%M"),
        cpu=cpu,
        cores=os.cpu_count(),
        torch=torch.__version__,
        torch_threads=torch.get_num_threads(),
        python=platform.python_version(),
        load_avg_1min=round(os.getloadavg()[0], 2),
    )
    if torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(0)
    return out


def random_images(
    n: int, size: int = 32, channels: int = 3, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random uint8 images N×size×size×C and labels in [0, 10)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, size, size, channels), dtype=np.uint8), rng.integers(0, 10, n)


def fashion_available(root: Path = FASHION_ROOT) -> bool:
    return any(
        (root / f).exists() for f in ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte")
    )


def fashion_overrides(root: Path = FASHION_ROOT) -> list[str]:
    """vislab config overrides for Fashion-MNIST as 28×28×1: 55k train / 5k val (seeded) / the official 10k test."""
    return [
        "data.name=fashion-mnist",
        f"data.root={root}",
        "data.download=false",
        f"data.val_fraction={5000 / 60000}",
    ]


def median_rate(samples: list[float]) -> float:
    return round(statistics.median(samples), 1)


def spread(samples: list[float]) -> float:
    """How far apart the rounds of one measurement are: max / min."""
    return round(max(samples) / min(samples), 2)


def busy_warning(rounds: dict[str, list[float]]) -> str | None:
    """A warning where the rounds of a measurement (``rounds``: name → rates) spread more than
    ``BUSY_SPREAD``×, else None."""
    wide = {name: spread(r) for name, r in rounds.items() if spread(r) > BUSY_SPREAD}
    if not wide:
        return None
    said = ", ".join(f"{name} {s}×" for name, s in wide.items())
    return (
        f"rounds disagree by more than {BUSY_SPREAD:g}× (max / min: {said}): the machine was busy, "
        f"so the medians are not to be trusted. Run it again on an idle machine."
    )


def time_split(summary) -> dict:
    """A vislab run's summary.json time split (``TIME_SPLIT``)."""
    return {key: getattr(summary, key) for key in TIME_SPLIT}


class Timer:
    def __enter__(self) -> Timer:
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.t0


def emit(result: dict) -> None:
    """The benchmark's one JSON object, on stdout."""
    json.dump(result, sys.stdout, indent=None, default=str)
    sys.stdout.write("\n")
    sys.stdout.flush()


class Report:
    """A benchmark's JSON object, filled in as its results finish. Each ``update`` rewrites ``path``
    (when given) whole, through a temporary file, so a run cut off by a time limit leaves valid JSON
    with the results it finished and ``"finished": false``. ``finish`` sets ``"finished": true``;
    ``emit`` prints the object on stdout."""

    def __init__(self, path: Path | None, **fields) -> None:
        self.path = path
        self.fields = dict(fields, finished=False)
        self.update()

    def update(self, **fields) -> None:
        self.fields.update(fields)
        if self.path is not None:
            part = self.path.with_name(self.path.name + ".part")
            part.write_text(json.dumps(self.fields, default=str) + "\n")
            part.replace(self.path)

    def add(self, key: str, value: object) -> None:
        """``value`` appended to the list under ``key``."""
        self.update(**{key: [*self.fields.get(key, []), value]})

    def finish(self, **fields) -> None:
        self.update(**fields, finished=True)

    def emit(self) -> None:
        emit(self.fields)
