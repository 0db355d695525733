"""``torchrun -m vislab train`` without ``--out``: every rank trains into the folder rank 0 names. Each rank
names ``runs/<model>-<data>-<time>`` by its own clock, and ranks that start a second apart named two
folders (one rank then failed on a folder that was not a run). Ranks as spawned processes (gloo, CPU)."""

from __future__ import annotations

import os
from pathlib import Path

import torch.multiprocessing as mp

from conftest import tiny_config
from test_distributed import _free_port
from vislab.cli.worker import leave


def _rank(rank: int, world: int, port: int, cwd: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))  # fmt: skip
    os.chdir(cwd)
    import vislab.api.runs as runs

    runs.default_run_dir = lambda cfg: Path("runs") / f"clock-of-rank-{rank}"  # clocks that differ
    runs.train_config(tiny_config("train.epochs=1"), None, quiet=True)
    leave(0)  # as a `vislab train --nproc` worker ends (vislab.cli.worker)


def test_every_rank_trains_into_the_folder_rank_0_names(tmp_path):
    mp.start_processes(_rank, args=(2, _free_port(), str(tmp_path)), nprocs=2, start_method="spawn")
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["clock-of-rank-0"]
    assert (tmp_path / "runs" / "clock-of-rank-0" / "summary.json").is_file()
