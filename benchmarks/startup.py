"""Start-up cost: the whole ``vislab train`` digits command, ``import vislab.api``, and a Fashion-MNIST
load decoded from its ``.gz`` files (cold) against one read back from the decoded-array cache.

- command: ``vislab train --set data.name=digits --set model.name=cnn --set train.epochs=2`` into a
  temporary ``--out``, as a fresh process (wall time, and user + system CPU of the process);
- import: ``python -c "import vislab.api"`` in a fresh process, and the ten modules with the largest
  cumulative time in its ``-X importtime`` report;
- commands that train nothing (their time is mostly imports): ``vislab compare`` on a digits run and
  ``vislab model info cnn``, each as a fresh process (wall time), and which heavy libraries it imported;
- Fashion-MNIST (when ``/usr/share/datasets/fashion-mnist`` holds it: Debian's dataset-fashion-mnist):
  the four files copied into a temporary folder, loaded once with no cache (decode + write the cache),
  then ``--repeat`` times from the cache; in this process, imports excluded.

Medians of ``--repeat`` runs (default 3). The machine may be shared: ``machine()`` records its load.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from _args import Parser, count
from common import FASHION_ROOT, Timer, emit, fashion_available, machine
from vislab.config import DataConfig
from vislab.data.sources import load_source

COMMAND = [
    "train",
    "--set",
    "data.name=digits",
    "--set",
    "model.name=cnn",
    "--set",
    "train.epochs=2",
]


def timed_process(args: list[str]) -> tuple[float, float]:
    """(wall s, user + system CPU s) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def command_times(repeat: int) -> dict:
    walls, cpus = [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            wall, cpu = timed_process(
                [sys.executable, "-m", "vislab", *COMMAND, "--out", f"{tmp}/r", "-q"]
            )
        walls.append(wall)
        cpus.append(cpu)
    return dict(
        wall_s=_median(walls), cpu_s=_median(cpus), wall_runs_s=[round(w, 2) for w in walls]
    )


def import_times(repeat: int) -> dict:
    walls = [timed_process([sys.executable, "-c", "import vislab.api"])[0] for _ in range(repeat)]
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import vislab.api"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = re.findall(r"import time:\s+\d+ \|\s+(\d+) \|\s*(\S+)", out.stderr)
    top = sorted(((int(us), name) for us, name in rows), reverse=True)[:10]
    return dict(wall_s=_median(walls), top10_cumulative_s={n: round(us / 1e6, 3) for us, n in top})


HEAVY = ("torch", "torch._dynamo", "kornia", "matplotlib", "optuna", "pandas", "sklearn")
IMPORTED = """
import json, sys
from vislab.cli import main
main({args!r})
print(json.dumps([m for m in {heavy!r} if m in sys.modules]))
"""


def reading_times(repeat: int) -> dict:
    """Wall time of ``vislab compare`` on a run of COMMAND and of ``vislab model info cnn``, and the heavy
    libraries (HEAVY) each imported."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        args = [sys.executable, "-m", "vislab", *COMMAND, "--out", f"{tmp}/r", "-q"]
        subprocess.run(args, check=True, capture_output=True)
        for name, argv in (
            ("compare", ["compare", f"{tmp}/r"]),
            ("model_info", ["model", "info", "cnn"]),
        ):
            walls = [
                timed_process([sys.executable, "-m", "vislab", *argv])[0] for _ in range(repeat)
            ]
            code = IMPORTED.format(args=argv, heavy=HEAVY)
            said = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            )
            out[name] = dict(
                wall_s=_median(walls), imported=json.loads(said.stdout.splitlines()[-1])
            )
    return out


def fashion_times(repeat: int) -> dict:
    """Cold: decoded into an empty cache folder of its own (the user's cache may hold these very files,
    under the same key: their copies keep name, size and mtime); then read back from it."""
    with tempfile.TemporaryDirectory() as tmp, _cache_dir(Path(tmp, "cache")) as cache:
        for f in FASHION_ROOT.glob("*-ubyte*"):
            shutil.copy2(f, tmp)
        cfg = DataConfig(name="fashion-mnist", root=tmp, download=False)
        with Timer() as cold:
            load_source(cfg)
        cached = []
        for _ in range(repeat):
            with Timer() as t:
                load_source(cfg)
            cached.append(t.seconds)
        size = sum(f.stat().st_size for f in cache.rglob("*.npy"))
    return dict(
        cold_s=round(cold.seconds, 3), cached_s=_median(cached), cache_mb=round(size / 2**20, 1)
    )


@contextlib.contextmanager
def _cache_dir(path: Path) -> Iterator[Path]:
    """``$VISLAB_CACHE_DIR`` set to ``path`` while inside."""
    before = os.environ.get("VISLAB_CACHE_DIR")
    os.environ["VISLAB_CACHE_DIR"] = str(path)
    try:
        yield path
    finally:
        if before is None:
            del os.environ["VISLAB_CACHE_DIR"]
        else:
            os.environ["VISLAB_CACHE_DIR"] = before


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def main() -> None:
    parser = Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=count, default=3)
    args = parser.parse_args()
    result = dict(
        benchmark="startup",
        machine=machine(),
        command=command_times(args.repeat),
        import_api=import_times(args.repeat),
        reading_commands=reading_times(args.repeat),
    )
    if fashion_available():
        result["fashion_mnist_load"] = fashion_times(args.repeat)
    emit(result)


if __name__ == "__main__":
    main()
