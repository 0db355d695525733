"""Data-parallel training as 2 processes (gloo on CPU) through the real trainer, for test_distributed and
test_torchrun_out (``from ddp_ranks import ...``). Each rank imports this module to find its function: it
imports what a rank needs, not the test modules' helpers (pytest's, the CLI's)."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import torch
import torch.multiprocessing as mp

from vislab.cli.worker import leave
from vislab.config import Config
from vislab.errors import TrainingInterrupted
from vislab.training.state import Callback, StopTraining

# the launch's runs: dropout, random crops and batch norm, so that the ranks stay equal only through DDP's
# all-reduced gradients and averaged statistics, and a resume only by restoring RNG, optimizer and position
OVERRIDES = (
    "model.name=cnn",
    "model.widths=[8,16]",
    "model.fc=[32]",
    "model.batchnorm=true",
    "model.dropout=0.2",
    "augment.crop.p=0.5",
    "augment.crop.padding=1",
    "data.limit=400",
    "optim.lr=0.01",
    "train.epochs=2",
    "train.select_metric=val_acc",
    "train.figures=false",
)
STEPS_PER_EPOCH = 200 // 32  # each rank's share of data.limit=400, in batches of 32 (drop_last)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Run(NamedTuple):
    """One training by every rank: into ``out``, resumed from it, stopped after an epoch or by a SIGTERM that
    every rank sends itself as it reaches optimizer step ``sigterm_at_step`` (the step runs, then the loop
    stops); each rank saves the final weights of a run that finishes (before best.pt is reloaded) in
    ``dumps(out)``."""

    out: Path
    resume: bool = False
    stop_after: int | None = None
    sigterm_at_step: int | None = None
    rank0_stops_at: int | None = (
        None  # rank 0's callback alone raises vislab.StopTraining at this epoch
    )


class UnnamedRun(NamedTuple):
    """A training given no folder (``vislab.api.runs.train_config(cfg, None)``, what ``torchrun -m vislab
    train`` without ``--out`` calls) in the folder ``cwd``, where each rank's clock names another default
    folder (``runs/clock-of-rank-<rank>``). Last of a launch: it leaves the process group as it ends."""

    cwd: Path


def dumps(out: Path) -> Path:
    """Where the ranks save the final weights of the run trained into ``out``."""
    return out.parent / f"{out.name}-dump"


def final_weights(out: Path, world: int = 2) -> list[dict]:
    """Each rank's final weights in the run trained into ``out``."""
    return [torch.load(dumps(out) / f"rank{r}.pt") for r in range(world)]


# What a rank imports, imported once a test session by multiprocessing's fork server, which then forks each
# rank: a spawned rank imported it all afresh (torch, vislab, and torch._dynamo, which DDP's constructor
# imports: ~10 s of a 2-core machine per launch, for under 1 s of training). Forked from a server that has
# never trained, a rank is as new as a spawned one: nothing of an earlier launch is in its memory.
_PRELOAD = ["vislab.training.trainer", "vislab.api.runs", "vislab.cli.worker", "torch._dynamo"]


def run_ddp(cfg: Config, *runs: Run | UnnamedRun, world: int = 2) -> None:
    """``world`` new processes (gloo on CPU) train ``cfg`` in each of ``runs``, one after the other."""
    for run in runs:
        if isinstance(run, Run) and not (run.stop_after or run.sigterm_at_step):
            dumps(run.out).mkdir(exist_ok=True)
    multiprocessing.set_forkserver_preload(_PRELOAD)  # read as the server starts (the first launch)
    mp.start_processes(
        _worker, args=(world, free_port(), cfg, runs), nprocs=world, start_method="forkserver"
    )


class _StopAfter(Exception):
    pass


class _StopAfterEpoch(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, row):
        if row["epoch"] == self.epoch:
            raise _StopAfter()


class _Rank0Stops(Callback):
    """vislab.StopTraining at ``epoch``'s row, given to rank 0 alone (a decision of one rank's: a clock,
    a file)."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, row):
        if row["epoch"] == self.epoch:
            raise StopTraining("rank 0 decided")


def _forbid_writes() -> None:
    """Make any file write through vislab's run-directory code fail loudly (for ranks > 0)."""
    import vislab.training.checkpoint as checkpoint
    import vislab.training.rundir as rundir

    def refuse(*a, **k):
        raise AssertionError(f"a non-main rank tried to write: {a[:1]}")

    checkpoint.atomic_write = rundir.atomic_write = rundir.atomic_write_text = refuse
    rundir.RunDir.open = refuse


def _sigterm_at_step(step: int) -> Callable[[], None]:
    """Make this process send itself a SIGTERM, once, as the trainer asks the learning rate of ``step``;
    returns the undo."""
    import vislab.training.optim as optim

    real, sent = optim.lr_factor, []

    def lr_factor(schedule, at, *args):
        if at == step and not sent:
            sent.append(at)
            os.kill(os.getpid(), signal.SIGTERM)
        return real(schedule, at, *args)

    optim.lr_factor = lr_factor
    return lambda: setattr(optim, "lr_factor", real)


_launched: dict[str, Path] = {}  # this process's: without xdist, made_once makes anew at each call


def launched_once(tmp_path_factory) -> Path:
    """A folder holding what one launch of 2 ranks wrote, made once a test session (test_distributed and
    test_torchrun_out read it; under pytest-xdist the first worker to need it makes it while the others
    wait: both ranks keep 2 cores busy, a second launch at the same time would only be slower):

    - ``run``: OVERRIDES trained to the end (the ranks' final weights in ``run-dump``);
    - ``stopped``: trained again from scratch and stopped after epoch 1;
    - ``cut``: again, stopped by a SIGTERM in the middle of epoch 2 (at step ``STEPS_PER_EPOCH + 2``);
    - ``rank0-stopped``: again, ended after epoch 1 by a vislab.StopTraining of rank 0's callback alone;
    - ``unnamed``: the working folder of a run given no folder (``UnnamedRun``)."""
    from fixtures import made_once  # the tests' side, which the ranks need not import

    if "folder" not in _launched:
        _launched["folder"] = made_once(tmp_path_factory, "ddp-launch", _launch)[0]
    return _launched["folder"]


def _launch(folder: Path) -> dict:
    from conftest import tiny_config  # the tests' side: the ranks are given the config

    (folder / "unnamed").mkdir()
    run_ddp(
        tiny_config(*OVERRIDES),
        Run(folder / "run"),
        Run(folder / "stopped", stop_after=1),
        Run(folder / "cut", sigterm_at_step=STEPS_PER_EPOCH + 2),
        Run(folder / "rank0-stopped", rank0_stops_at=1),
        UnnamedRun(folder / "unnamed"),
    )
    return {}


def _worker(rank, world, port, cfg, runs):
    """One DDP rank: the real trainer, for each of ``runs`` in turn (one process group)."""
    os.environ.update(
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    import vislab.training.trainer as trainer
    from vislab.training.runtime import Distributed

    finish = trainer.finish_run

    def dumping_finish(run, record, network, *args, **kwargs):
        torch.save(network.model.state_dict(), dumps(run.path) / f"rank{rank}.pt")
        return finish(run, record, network, *args, **kwargs)

    trainer.finish_run = dumping_finish
    if rank > 0:
        _forbid_writes()
    dist = Distributed("cpu")
    try:
        for run in runs:
            if isinstance(run, UnnamedRun):
                trainer.finish_run = finish
                _train_unnamed(run, cfg, rank)
                continue
            callbacks = [_StopAfterEpoch(run.stop_after)] if run.stop_after else []
            if run.rank0_stops_at and rank == 0:
                callbacks.append(_Rank0Stops(run.rank0_stops_at))
            undo = _sigterm_at_step(run.sigterm_at_step) if run.sigterm_at_step else lambda: None
            try:
                with contextlib.suppress(_StopAfter, TrainingInterrupted):
                    trainer.train(
                        cfg, run.out, resume=run.resume, quiet=True, dist=dist, callbacks=callbacks
                    )
            finally:
                undo()
    finally:
        dist.close()
    # as a `vislab train --nproc` worker leaves (vislab.cli.worker): no interpreter shutdown
    leave(0)


def _train_unnamed(run: UnnamedRun, cfg: Config, rank: int) -> None:
    import vislab.api.runs as runs

    os.chdir(run.cwd)
    runs.default_run_dir = lambda cfg: Path("runs") / f"clock-of-rank-{rank}"  # clocks that differ
    runs.train_config(cfg, None, quiet=True)
