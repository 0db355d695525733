"""Where a run goes on from: its ``last.pt`` opened for ``--resume`` (with more epochs: ``extend``), and
the checkpoints the loop writes — ``best.pt`` (the weights evaluation scored) and ``last.pt`` (the live
weights and everything needed to continue exactly: loop state, optimizer, RNG, EMA, loss scaler)."""

from __future__ import annotations

from pathlib import Path

import torch

from vislab.config import Config, build_config
from vislab.errors import DataError, UserError
from vislab.training.checkpoint import load_checkpoint, save_checkpoint
from vislab.training.checks import split_sizes
from vislab.training.record import Checkpoint, Resume
from vislab.training.rundir import RunDir
from vislab.training.setup import Training
from vislab.training.state import LoopState


def open_resume(run: RunDir) -> Checkpoint:
    """The run's ``last.pt``, checked to be a resumable vislab checkpoint. The errors name the fix for
    both callers: the command's options / :func:`vislab.train`'s arguments."""
    last = run.ckpt_dir / "last.pt"
    if not run.path.is_dir():
        raise UserError(
            f"nothing to resume: '{run.path}' does not exist (a typo, or the run never started?). "
            f"Start the run as a new one: {_anew(run.path)}."
        )
    if not last.is_file():  # e.g. killed before its first checkpoint: nothing to continue
        raise UserError(
            f"nothing to resume in '{run.path}': no checkpoints/last.pt (the run never finished a "
            f"checkpoint). Start it again: {_anew(run.path)}."
        )
    ckpt = load_checkpoint(last)
    if ckpt.resume is None:
        raise DataError(
            f"'{last}' is not a resumable vislab checkpoint (no config/state/history). "
            f"Start a new run."
        )
    return ckpt


def _anew(path: Path) -> str:
    """How to start a run into ``path`` rather than resume it, in the command's and the API's words."""
    return (
        f"its command with --out {path}, without --resume / vislab.train(..., out={str(path)!r}) "
        f"without resume=True"
    )


def _init_from(path: Path) -> str:
    """``train.init_from`` from ``path``, in the command's and the API's words."""
    return f"--init-from {path} / train__init_from={str(path)!r}"


def extend(cfg: Config, epochs: int, loop: LoopState, path: Path) -> Config:
    """``cfg`` with ``train.epochs = epochs``, for a run whose loop is at ``loop``; UserError where the run
    stopped early (training on would keep its patience count: it would stop again at the next evaluation
    that does not improve), where the schedule's learning rates depend on the total (the epochs already
    trained would have had other rates) or nothing is left to train."""
    if epochs == cfg.train.epochs:
        return cfg
    if loop.stopped_early:
        raise UserError(
            f"cannot extend '{path}' to {epochs} epochs: its train.early_stop patience ran out "
            f"{loop.early_stop(cfg.train.select_metric, cfg.train.early_stop)}. Training on would keep "
            f"that count and stop again at the first evaluation that does not improve. Start a new run "
            f"from its weights instead: {_init_from(path)}, with train.epochs={epochs} (and a larger "
            f"train.early_stop, or none)."
        )
    if cfg.schedule.name in ("cosine", "onecycle"):
        raise UserError(
            f"cannot extend '{path}' to {epochs} epochs: its schedule.name={cfg.schedule.name} spreads "
            f"the learning rate over all {cfg.train.epochs} epochs, so the epochs already trained would "
            f"have had other rates with {epochs}. Start a new run with train.epochs={epochs} (or "
            f"{_init_from(path)} to start from its weights)."
        )
    if epochs <= loop.epoch:
        raise UserError(
            f"cannot extend '{path}' to {epochs} epochs: it has trained {loop.epoch} already. Give more "
            f"epochs than that."
        )
    return build_config(cfg.to_dict(), [f"train.epochs={epochs}"], source=f"--epochs {epochs}")


def checkpoint(t: Training, name: str, epoch: int | None = None, resume: bool = False) -> None:
    """Write ``checkpoints/<name>`` (main rank only): the record and weights, with the epoch it was taken
    at (best.pt: the weights evaluation scored — the average with ``train.ema``) or what resuming needs
    (last.pt: the live weights, the average beside them)."""
    if t.dist.is_main:
        ema = t.optim.ema
        weights = ema.state_dict() if ema and not resume else t.network.model.state_dict()
        state = resume_state(t) if resume else None
        save_checkpoint(t.run.ckpt_dir / name, Checkpoint(t.record, weights, epoch, state))


def resume_state(t: Training) -> Resume:
    """What ``last.pt`` needs beyond the weights to continue exactly where the loop is."""
    on_cuda = t.device.type == "cuda"
    return Resume(
        loop=t.loop,
        history=t.history,
        optimizer=t.optim.opt.state_dict() if t.optim.opt else None,
        rng=torch.get_rng_state(),
        cuda_rng=torch.cuda.get_rng_state() if on_cuda else None,
        step_tracking=t.steps.state_dict(),
        ema=t.optim.ema.state_dict() if t.optim.ema else None,
        scaler=t.optim.scaler.state_dict() if t.optim.scaler else None,
        split_sizes=split_sizes(t.data.splits),
    )
