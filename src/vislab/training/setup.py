"""A run's set-up, built once and fully (:func:`set_up`): its parts (:mod:`vislab.training.parts`), the
config recorded, the first lines and notes, the optimizer's state when resuming, and step tracking —
everything the loop touches, in one ``Training``."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from vislab.config import (
    Config,
    TrainConfig,
)
from vislab.config.notes import ema_note
from vislab.data.download import is_default_root
from vislab.errors import show_note
from vislab.models.registry import with_checked_options
from vislab.training.checks import (
    check_own_step,
    run_notes,
    unused_settings,
)
from vislab.training.compiling import BEFORE_RECORD, forward_net
from vislab.training.history import EpochRow
from vislab.training.parts import (
    Network,
    Optimisation,
    RunData,
    build_optimisation,
    build_parts,
    first_start_init,
    parameters,
)
from vislab.training.progress import Progress
from vislab.training.record import Checkpoint, ModelRecord, Resume, RunRecord
from vislab.training.rundir import RunDir
from vislab.training.runtime import (
    Distributed,
    resolve_device,
    set_cudnn_benchmark,
    set_threads,
    threads_note,
)
from vislab.training.state import LoopState, Saved
from vislab.training.step_log import StepTracker
from vislab.version import __version__


@dataclass
class Training:
    """Everything one run's loop touches, built once by ``set_up``: where it writes, the record, the
    data, the network, the optimisation, the loop's position and history, tracking and progress."""

    cfg: TrainConfig
    run: RunDir
    dist: Distributed
    device: torch.device
    record: RunRecord
    data: RunData
    network: Network
    optim: Optimisation
    loop: LoopState
    history: list[EpochRow]
    log: Progress
    steps: StepTracker
    # (cpu, cuda) RNG states of an epoch interrupted mid-way
    resume_rng: tuple[torch.Tensor | None, torch.Tensor | None] = (None, None)
    last_saved: Saved | None = None  # how far last.pt's training goes (None: no last.pt yet)


def set_up(
    cfg: Config,
    run: RunDir,
    ckpt: Checkpoint | None,
    quiet: bool,
    dist: Distributed,
    build_as: str | None = None,
) -> Training:
    """The run, fully built: data, model (data-dependent init for a new run), the DDP/compiled net, the
    optimizer (its state when resuming), the loop state; the config saved."""
    started = time.perf_counter()
    tc = cfg.train
    device = dist.device or resolve_device(tc.device)
    if (note := threads_note(tc.threads, device)) and dist.is_main:  # refused far beyond the cores
        show_note(note)
    threads = set_threads(tc.threads)  # recorded: CPU float sums round by the count
    set_cudnn_benchmark(device, tc.cudnn_benchmark)
    data, network = build_parts(cfg, device, dist, ckpt, build_as, f"run '{run.path}'")
    if ckpt is None:  # a resumed run's settings were checked when it started
        check_own_step(cfg, network)
    cfg = recorded_config(with_checked_options(cfg, build_as))  # config.yaml, checkpoints' record
    if dist.is_main:
        run.write_config(cfg.to_yaml(), unused_settings(cfg, network))
    log = Progress(quiet=quiet or not dist.is_main)
    _announce(cfg, data, network, device, log, dist.is_main)
    resume = ckpt.resume if ckpt else None
    how = network.hooks.trained_by
    if how != "fit_arrays" and resume is None and network.start is None:  # last.pt holds it
        first_start_init(cfg.model.name, run, dist, network, data.train)  # a model's first start
    net = forward_net(network.model, tc.compile, dist, device, how, cfg.model.name)
    network.net, network.graphs = net
    loop = _resumed_loop(resume) if resume else LoopState()
    _record_part(loop, resume is not None, threads)
    optim = build_optimisation(cfg, network, device, len(data.train), loop, data.class_weights)
    if dist.is_main and (note := ema_note(cfg, how, optim.steps_per_epoch)):
        show_note(note)
    if optim.scaler is not None:
        log.line(
            "train.amp: fp16 with loss scaling (this GPU computes bf16 only by slow emulation)"
        )
    if resume:
        _restore_optimisation(optim, resume)
    steps = start_tracking(tc, network, device, dist, resume, optim.scaler is not None)
    loop.setup_s += time.perf_counter() - started
    return Training(
        tc, run, dist, device, run_record(cfg, data, network, run, ckpt), data, network, optim, loop,
        list(resume.history) if resume else [], log, steps,
        (resume.rng, resume.cuda_rng) if resume else (None, None),
        Saved.of(loop) if resume else None,
    )  # fmt: skip


def _resumed_loop(resume: Resume) -> LoopState:
    """The loop state last.pt saved; from a last.pt older than ``best_loss``, its best epoch's val_loss
    read from the history it keeps, so that a tie on an accuracy goes to the lower val_loss for best.pt
    as it does for the patience (``plateau.better``)."""
    loop = resume.loop
    if loop.best_loss is None and loop.best_epoch is not None:
        row = next((r for r in resume.history if r.epoch == loop.best_epoch), None)
        loop.best_loss = row.val_loss if row is not None else None
    return loop


def _announce(
    cfg: Config, data: RunData, network: Network, device: torch.device, log: Progress, main: bool
) -> None:
    """The run's first lines: model, data sizes, parameters, device, then (``main``: in the main process)
    a :class:`~vislab.errors.Note` warning for where its weights came from and what it froze
    (``Network.start_notes``), and for each setting that does nothing here, or that another defeats
    (``run_notes``): the command shows it as a ``note:`` line, a Python caller gets the warning, quiet
    or not."""
    n = "/".join(str(len(s)) for _, s in data.splits.items())
    # a fitted model's size is known once fitted: fit_once says it then
    fitted = network.hooks.trained_by == "fit_arrays"
    size = "" if fitted else f", {parameters(network.n_params)}"
    log.line(f"{cfg.model.name} on {cfg.data.name}: {n} train/val/test{size}, device {device}")
    if main:  # train.init_from's and train.freeze's lines first: what the run starts from
        for note in network.start_notes() + run_notes(cfg, data, network):
            show_note(note)


def _restore_optimisation(optim: Optimisation, resume: Resume) -> None:
    """The optimizer's, the weight average's and the loss scaler's state where last.pt saved them."""
    if optim.opt is not None and resume.optimizer:
        optim.opt.load_state_dict(resume.optimizer)
    if optim.ema is not None and resume.ema:
        optim.ema.load_state_dict(resume.ema)
    if optim.scaler is not None and resume.scaler:
        optim.scaler.load_state_dict(resume.scaler)


def recorded_config(cfg: Config) -> Config:
    """``cfg`` as the run records it: a relative data.root given by the user that exists here made
    absolute, so that eval, predict and report find the data from any folder (data.root is
    result-neutral: the run's identity is unchanged). The default folder stays as it is."""
    root = Path(cfg.data.root).expanduser()
    if root.is_absolute() or is_default_root(root) or not root.is_dir():
        return cfg
    data = cfg.data.model_copy(update={"root": os.path.abspath(root)})
    return cfg.model_copy(update={"data": data})


def start_tracking(
    tc: TrainConfig,
    network: Network,
    device: torch.device,
    dist: Distributed,
    resume: Resume | None,
    scaled: bool = False,
) -> StepTracker:
    """The step-loss and gradient-norm sums (rank 0 only: the other ranks track nothing); ``scaled``: a
    loss scaler skips the steps whose gradients overflow, whose norms then do not count. A model that
    makes its own updates is tracked where its step leaves gradients in .grad (else the trainer notes
    ``StepTracker.gradless_note``)."""
    main = dist.is_main
    grads = tc.track_grad_norm and main
    if grads and network.hooks.trained_by == "fit_arrays":
        show_note("train.track_grad_norm: this model is fitted in one go (no steps): no gradients.")
        grads = False
    tracker = StepTracker(network.model, device, tc.log_every if main else 0, grads, scaled)
    tracker.load_state_dict(resume.step_tracking if resume else None)
    return tracker


def run_record(
    cfg: Config, data: RunData, network: Network, run: RunDir, ckpt: Checkpoint | None = None
) -> RunRecord:
    """What every checkpoint of this run carries beside the weights (``ckpt``: the checkpoint a resume
    started from, whose record of train.init_from it keeps: :func:`_kept_start`)."""
    names = list(data.splits.class_names)
    model_record = ModelRecord(cfg.model.name, cfg.model.kwargs(), names, network.code)
    start = network.start.record() if network.start else _kept_start(cfg, run, ckpt)
    return RunRecord(
        model_record, data.spec, cfg.to_dict(), __version__, data.splits.fingerprint, start
    )


def _kept_start(cfg: Config, run: RunDir, ckpt: Checkpoint | None) -> dict | None:
    """A resumed run's record of train.init_from (a resume loads the run's own weights, not the other
    run's): its checkpoint's; from a checkpoint written before checkpoints kept it (older files), what
    the run's summary.json says (``init.init_from``, read before it is written over); None for a run
    started now, without train.init_from, or where neither says it (a summary.json deleted, or written
    by a stop, which records no init)."""
    if ckpt is None or ckpt.record.init_from is not None or not cfg.train.init_from:
        return ckpt.record.init_from if ckpt else None
    summary = run.read_summary()
    init = summary.init if summary is not None and isinstance(summary.init, dict) else {}
    first = init.get("init_from")
    return first if isinstance(first, dict) else None


def _record_part(loop: LoopState, resumed: bool, threads: int) -> None:
    """Start this process's part of the run's records: its CPU thread count, in the order the parts
    trained with it (a last.pt older than that record: unknown, so none); ``loop.compiled`` of a last.pt
    older than its record (what ran forward before is not known)."""
    if (not resumed or loop.threads) and loop.threads[-1:] != [threads]:
        loop.threads.append(threads)
    if resumed and not loop.compiled:
        loop.compiled.append(BEFORE_RECORD)
