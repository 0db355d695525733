"""The learning-rate range test (L. Smith, "Cyclical Learning Rates for Training Neural Networks", 2017):
train for a few hundred steps while the learning rate grows exponentially, and watch the loss.

    lr_i = start · (end / start)^(i / (steps − 1)),   i = 0 … steps − 1

The loss curve is smoothed, searched and judged in :mod:`vislab.training.lr_curve`. A test whose loss
diverged rising from its very first step (no loss after it as low) saw no descent to suggest an lr from:
UserError saying the range starts too high, and a lower start.

With ``optim.head_lr`` the head trains at its own rate: where the rest of the model trains too, the curve's
lr is ``optim.lr`` and the head steps at head_lr/lr times it, the ratio configured, so the suggestion is
both rates at that ratio; where only the head trains (the rest frozen by ``train.freeze``), the curve's lr
is the head's own, and the suggestion an ``optim.head_lr``.

With gradient accumulation (``train.accumulate`` = k) each step of the test, as each optimizer step of
training, takes k batches, each loss scaled by 1/k.

The model, its optimizer and the caller's random number generators are left as they were: weights,
buffers (e.g. batch-norm statistics), gradients, train/eval modes and the optimizer's state are copied
before the test and put back after it.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import math
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from vislab.config import Config
from vislab.data.loader import DeviceLoader
from vislab.errors import UserError, show_note
from vislab.models.hooks import hooks_of
from vislab.training.lr_curve import (
    centred_mean,
    diverged_at_start,
    stop_reason,
    suggest,
)
from vislab.training.lr_finding import LRFinding, RangeTest
from vislab.training.model_checks import check_optimizer_trained, user_code
from vislab.training.optim import set_lr
from vislab.training.parts import build_optimisation, build_parts, init_from_data
from vislab.training.progress import Progress, loss_text
from vislab.training.runtime import Distributed, resolve_device, threads_note

# matplotlib (~1 s) is imported by LRFinding.plot when it draws ("on use"): the test itself needs none
if TYPE_CHECKING:
    pass


# ------------------------------------------------------------------------------ from a config
def lr_find(
    cfg: Config, test: RangeTest | None = None, on_start: Callable[[], None] | None = None
) -> LRFinding:
    """The range test on ``cfg``'s model, data and optimizer (as ``vislab train`` builds them: seeded,
    augmented batches, ``optim.*``, label smoothing, grad clip, AMP); nothing is written.

    ``on_start``: called once the model is built and known to be trained by the ``optim.name`` optimizer
    (a model that updates its own weights, or is fitted in one go, is refused first), before the first
    step — where ``vislab lr-find`` says what it tests. A Ctrl-C during the steps returns those taken
    (``interrupted``: :func:`lr_range_test`)."""
    test = test or RangeTest()
    device = resolve_device(cfg.train.device)
    if note := threads_note(cfg.train.threads, device):  # as train: refused far beyond the cores
        show_note(note)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        # the same set-up as `vislab train`: data, seeded model, augmented loader, optimizer, AMP
        data, network = build_parts(cfg, device, Distributed())
        check_optimizer_trained(network.model, cfg.model.name)
        if on_start is not None:
            on_start()
        # your own model (model.name=file.py:Net) raising: its traceback only, exit 2
        with user_code(cfg.model.name, network.model, "in the LR range test", code=network.code):
            init_from_data(network, data.train)  # as a new run: e.g. `fast`'s whitening
            batches, weights = len(data.train), data.class_weights
            optim = build_optimisation(cfg, network, device, batches, class_weights=weights)
            swept, ratio = _head_sweep(optim.opt, cfg.optim.lr, cfg.optim.head_lr)
            with _progress_bar(test.steps) as on_step:
                finding = lr_range_test(
                    network.model,
                    optim.opt,
                    _endless(data.train),
                    test,
                    loss_fn=optim.loss,
                    grad_clip=optim.grad_clip,
                    # bf16 as in training; fp16 would need the loss scaling the range test does not do
                    autocast=optim.autocast() if optim.precision.dtype == torch.bfloat16 else None,
                    accumulate=optim.accumulate,
                    on_step=on_step,
                )
    head = ", the head alone" if swept == "optim.head_lr" else ""
    finding.title = f"{cfg.model.name} on {cfg.data.name} ({cfg.optim.name}{head})"
    finding.swept, finding.head_ratio = swept, ratio
    return finding


@contextlib.contextmanager
def _progress_bar(steps: int) -> Iterator[Callable[[int, float, float], None]]:
    """Within: a terminal's bar over the test's ``steps`` (nothing elsewhere), told each step's number,
    lr and loss by the callable given."""
    bar = Progress()
    bar.start_steps("LR range test", steps)

    def show(step: int, lr: float, loss: float) -> None:
        if bar.wants_update(step):
            bar.show(step, f"lr {lr:.2e} loss {loss_text(loss)}")

    try:
        yield show
    finally:
        bar.stop()


def _head_sweep(
    opt: torch.optim.Optimizer, lr: float, head_lr: float | None
) -> tuple[str, float | None]:
    """(the setting the test's lr stands for, the head's lr as a multiple of it) for ``opt``, whose head
    groups (``optim.head_lr``) carry an ``lr_scale``: with no head_lr, optim.lr alone; with the rest of the
    model trained too, optim.lr, the head at head_lr/lr times it (:func:`set_lr`) as in training; with the
    head alone trained, optim.head_lr — its groups then swept at the test's lr itself (scale 1)."""
    if head_lr is None:
        return "optim.lr", None
    if all("lr_scale" in group for group in opt.param_groups):
        for group in opt.param_groups:
            group["lr_scale"] = 1.0
        return "optim.head_lr", None
    return "optim.lr", head_lr / lr


def _endless(loader: DeviceLoader) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The loader's batches, epoch after epoch (each epoch reshuffled and re-augmented)."""
    epoch = 0
    while True:
        yield from loader.epoch(epoch)
        epoch += 1


# ----------------------------------------------------------------------------- the test itself
def lr_range_test(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    test: RangeTest | None = None,
    *,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
    grad_clip: float | None = None,
    autocast: contextlib.AbstractContextManager | None = None,
    accumulate: int = 1,
    on_step: Callable[[int, float, float], None] | None = None,
) -> LRFinding:
    """Up to ``test.steps`` optimizer steps on ``batches`` (x, y) at exponentially growing lrs, each on
    ``accumulate`` batches, told to ``on_step`` (step from 1, lr, loss) as taken: the losses (each step's
    mean) and the suggestion; ``model`` and ``optimizer`` are restored after. A Ctrl-C ends it early: the
    steps taken are returned (``interrupted``; ``stopped`` says where), or with none, the interrupt."""
    test = test or RangeTest()
    check_optimizer_trained(model, type(model).__name__)
    saved = _snapshot(model, optimizer)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    lrs: list[float] = []
    losses: list[float] = []
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            stopped, diverged = _sweep(
                model, optimizer, batches, test, loss_fn, grad_clip, autocast, accumulate, lrs, losses,
                on_step,
            )  # fmt: skip
        interrupted = False
    except KeyboardInterrupt:  # the steps taken are kept (none: nothing to show, it goes on up)
        del lrs[len(losses) :]  # a step whose loss was not kept yet
        if not losses:
            raise
        interrupted, diverged = True, False
        stopped = (
            f"interrupted (Ctrl-C) after step {len(losses)} of {test.steps}: the curve ends at lr "
            f"{lrs[-1]:.3g}, not {test.end_lr:.3g}"
        )
    finally:
        _restore(model, optimizer, saved)
    if diverged and all(loss > losses[0] for loss in losses[1:]):  # rising from the start
        raise UserError(diverged_at_start(test.start_lr, RangeTest.start_lr, stopped, losses))
    if not losses:
        raise UserError(f"the LR range test took no step: {stopped or 'no batches'}.")
    smoothed = centred_mean(losses, test.half_window)
    lowest = lrs[int(np.argmin(smoothed))]
    return LRFinding(
        lrs, losses, smoothed, suggest(lrs, smoothed), lowest, stopped, test,
        accumulate=accumulate, interrupted=interrupted,
    )  # fmt: skip


def _sweep(
    model, optimizer, batches, test, loss_fn, grad_clip, autocast, accumulate, lrs, losses, on_step
):
    """The steps, each on ``accumulate`` batches, appended to ``lrs`` and ``losses`` as they are taken (a
    Ctrl-C keeps those); (why it stopped early, "" when it took them all; whether the loss diverged)."""
    hooks = hooks_of(model)
    model.train()
    best = math.inf
    steps = iter(batches)
    for i in range(test.steps):
        window = list(itertools.islice(steps, accumulate))
        if len(window) < accumulate:
            return f"the batches ran out after {i} steps", False
        lr = test.lr(i)
        loss = _step(model, optimizer, window, lr, loss_fn, grad_clip, autocast)
        hooks.after_step()
        value = loss.item()  # one host sync per step: the stop rule needs the value now
        if not math.isfinite(value):
            return f"the loss became {value} at lr {lr:.3g}", True
        lrs.append(lr)
        losses.append(value)
        if on_step is not None:
            on_step(i + 1, lr, value)
        smooth, why = stop_reason(losses, best, test.smoothing, test.diverge, test.rise)
        if why:
            return f"{why} at lr {lr:.3g} (step {i + 1})", True
        best = min(best, smooth)
    return "", False


def _step(model, optimizer, window, lr, loss_fn, grad_clip, autocast) -> torch.Tensor:
    """One optimizer step at ``lr`` on the batches of ``window``, each loss scaled by 1/k as the trainer
    accumulates them; their mean loss."""
    set_lr(optimizer, lr)  # a group's lr_scale (train.head_lr) as in training
    optimizer.zero_grad(set_to_none=True)
    losses = []
    for x, y in window:
        with autocast or contextlib.nullcontext():
            loss = loss_fn(model(x).float(), y)
        (loss / len(window) if len(window) > 1 else loss).backward()
        losses.append(loss.detach())
    if grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return torch.stack(losses).mean()


# ------------------------------------------------------------------------------- leave no trace
def _snapshot(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict:
    return dict(
        tensors={
            name: t.detach().clone()
            for name, t in [*model.named_parameters(), *model.named_buffers()]
        },
        grads={
            name: None if p.grad is None else p.grad.detach().clone()
            for name, p in model.named_parameters()
        },
        modes={m: m.training for m in model.modules()},
        optimizer=copy.deepcopy(optimizer.state_dict()),
    )


@torch.no_grad()
def _restore(model: torch.nn.Module, optimizer: torch.optim.Optimizer, saved: dict) -> None:
    params = dict(model.named_parameters())
    for name, value in saved["tensors"].items():
        current = params[name] if name in params else model.get_buffer(name)
        current.copy_(value)
    for name, grad in saved["grads"].items():
        params[name].grad = grad
    for m, training in saved["modes"].items():
        m.training = training
    optimizer.load_state_dict(saved["optimizer"])
