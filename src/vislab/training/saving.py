"""The checkpoints the loop writes: ``best.pt`` (the weights evaluation scored) and ``last.pt`` (the live
weights and everything needed to continue exactly: loop state, optimizer, RNG, EMA, loss scaler, the
number of processes). Opening ``last.pt`` for ``--resume`` is ``training/resume.py``'s."""

from __future__ import annotations

import torch

from vislab.training.checkpoint import save_checkpoint
from vislab.training.checks import split_sizes
from vislab.training.compiling import note_compiled
from vislab.training.record import Checkpoint, Resume
from vislab.training.setup import Training
from vislab.training.state import Saved


def checkpoint(t: Training, name: str, epoch: int | None = None, resume: bool = False) -> None:
    """Write ``checkpoints/<name>`` (main rank only): the record and weights, with the epoch it was taken
    at (best.pt: the weights evaluation scored — the average with ``train.ema``) or what resuming needs
    (last.pt: the live weights, the average beside them)."""
    if t.dist.is_main:
        ema = t.optim.ema
        weights = ema.state_dict() if ema and not resume else t.network.model.state_dict()
        if resume:  # what ran forward in this process, for summary.json after a resume
            note_compiled(t.network.net, t.loop)
        state = resume_state(t) if resume else None
        save_checkpoint(t.run.ckpt_dir / name, Checkpoint(t.record, weights, epoch, state))
    if resume:
        t.last_saved = Saved.of(t.loop)


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
        world=t.dist.world,
    )
