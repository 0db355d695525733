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

import base64
import contextlib
import copy
import html
import itertools
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from vislab.config import Config
from vislab.data.loader import DeviceLoader
from vislab.errors import UserError, show_note
from vislab.models.hooks import hooks_of
from vislab.training.lr_curve import (
    RULE,
    centred_mean,
    diverged_at_start,
    stop_reason,
    suggest,
    weak_suggestion,
)
from vislab.training.model_checks import check_optimizer_trained, user_code
from vislab.training.optim import set_lr
from vislab.training.parts import build_optimisation, build_parts, init_from_data
from vislab.training.runtime import Distributed, resolve_device, threads_note

# matplotlib (~1 s) is imported by LRFinding.plot when it draws ("on use"): the test itself needs none
if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class RangeTest:
    """The test's settings: lr from ``start_lr`` to ``end_lr`` over ``steps`` steps."""

    start_lr: float = 1e-7
    end_lr: float = 10.0
    steps: int = 200
    smoothing: float = 0.9  # β of the stop rule's moving average (module docstring)
    window: float = 0.2  # the drawn curve: the mean over this many decades of lr on either side
    diverge: float = 4.0  # stop once the smoothed loss exceeds this many times its minimum
    rise: float = 1.2  # ... or this many times its start (lr_curve's docstring)

    def __post_init__(self) -> None:
        if not 0 < self.start_lr < self.end_lr:
            raise UserError(
                f"the LR range test needs 0 < start lr < end lr, got start {self.start_lr:g} and end "
                f"{self.end_lr:g}. E.g. --start-lr 1e-7 --end-lr 10 / start_lr=1e-7, end_lr=10."
            )
        if self.steps < 10:
            raise UserError(f"the LR range test needs at least 10 steps (got {self.steps}).")
        if not 0 <= self.smoothing < 1 or min(self.diverge, self.rise) <= 1 or self.window < 0:
            raise UserError(
                f"the LR range test needs smoothing in [0, 1), diverge > 1, rise > 1 and window ≥ 0 "
                f"(got {self.smoothing:g}, {self.diverge:g}, {self.rise:g}, {self.window:g})."
            )

    def lr(self, i: int) -> float:
        return self.start_lr * (self.end_lr / self.start_lr) ** (i / (self.steps - 1))

    @property
    def half_window(self) -> int:
        """The drawn curve's neighbours on either side: ``window`` decades in steps."""
        steps_per_decade = (self.steps - 1) / math.log10(self.end_lr / self.start_lr)
        return round(self.window * steps_per_decade)


@dataclass(repr=False)
class LRFinding:
    """What the test measured: one entry per step taken, and the suggested learning rate.

    >>> f = vislab.lr_find(model="cnn", data="digits", steps=100)
    >>> f.suggestion, f.plot()   # the lr to train with; loss against lr (a Figure)
    """

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]  # the centred mean (module docstring)
    suggestion: float  # by ``rule`` (``interrupted``: of the steps taken only, no lr to train with)
    min_loss_lr: float  # the lr of the lowest smoothed loss
    stopped: str  # why it ended before ``test.steps`` ("" when it ran them all)
    test: RangeTest
    rule: str = RULE
    title: str = ""  # what was tested, e.g. "cnn on digits (sgd)"
    accumulate: int = 1  # batches per step (train.accumulate)
    # cut short by Ctrl-C: the steps taken until then (``stopped`` says where)
    interrupted: bool = False
    # the setting the curve's lr is: optim.head_lr where only the head trains
    swept: str = "optim.lr"
    # with optim.head_lr where the rest trains too: head_lr / lr, the head's lr as a multiple of the curve's
    head_ratio: float | None = None

    @property
    def settings(self) -> dict[str, float]:
        """The suggestion as the settings to train with (rounded to 2 significant digits): ``optim.lr``, with
        ``optim.head_lr`` at its ratio to it as the test swept them; or ``optim.head_lr`` alone where only
        the head trained."""
        lr = float(f"{self.suggestion:.2g}")
        if self.head_ratio is None:
            return {self.swept: lr}
        return {self.swept: lr, "optim.head_lr": float(f"{lr * self.head_ratio:.2g}")}

    @property
    def warning(self) -> str:
        """Why the suggestion is weak (:func:`weak_suggestion`), or ""."""
        return weak_suggestion(self.losses, self.smoothed)

    def lines(self) -> list[str]:
        """What the test found, in sentences: the steps run, the lowest loss, the suggestion, a warning;
        for a test cut short by Ctrl-C, no suggestion: the range it did not reach is unknown."""
        each = f" of {self.accumulate} accumulated batches" if self.accumulate > 1 else ""
        ran = f"{len(self.lrs)} steps{each}, lr {self.lrs[0]:.3g} → {self.lrs[-1]:.3g}"
        lines = [
            f"ran {ran}" + (f"; stopped: {self.stopped}" if self.stopped else ""),
            f"lowest smoothed loss {min(self.smoothed):.4g} at lr {self.min_loss_lr:.3g}",
        ]
        if self.interrupted:
            return [
                *lines,
                f"no lr suggested: the range was cut short before its end (lr {self.test.end_lr:.3g}), "
                f"and the steepest descent and the divergence may lie beyond lr {self.lrs[-1]:.3g}",
            ]
        return lines + self._suggested() + ([f"warning: {self.warning}"] if self.warning else [])

    def _suggested(self) -> list[str]:
        """The suggestion's lines: the setting the curve's lr is, then, with ``optim.head_lr``, the head's."""
        values = list(self.settings.values())
        lines = [f"suggested {self.swept}: {values[0]:g} ({self.rule})"]
        if self.swept == "optim.head_lr":
            lines.append("only the head trains (optim.head_lr): the curve's lr is the head's own")
        elif self.head_ratio is not None:
            lines.append(
                f"suggested optim.head_lr: {values[1]:g}, {self.head_ratio:.3g}× optim.lr as the test "
                f"swept the head (the ratio of optim.head_lr to optim.lr as given)"
            )
        return lines

    def plot(self) -> Figure:
        """Loss against lr (log scale): each step's loss, the smoothed curve, the suggestion marked."""
        from vislab.plotting.lr_find import lr_find_figure  # on use (see the imports)

        cut = (
            f" (interrupted at lr {self.lrs[-1]:.2g}: no lr suggested)" if self.interrupted else ""
        )
        fig = lr_find_figure(
            self.lrs,
            self.losses,
            self.smoothed,
            self.suggestion,
            self.min_loss_lr,
            self.title + cut,
        )
        if self.interrupted:  # its suggestion's line taken out
            ax = fig.axes[0]
            for line in [x for x in ax.lines if x.get_label().startswith("suggested lr")]:
                line.remove()
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        return fig

    def __repr__(self) -> str:
        what = f"{self.title}: " if self.title else ""
        if self.interrupted:
            return f"<LRFinding {what}no lr suggested after {len(self.lrs)} steps (interrupted)>"
        said = ", ".join(f"{k.removeprefix('optim.')} {v:g}" for k, v in self.settings.items())
        return f"<LRFinding {what}suggested {said} after {len(self.lrs)} steps>"

    def _repr_html_(self) -> str:
        """The notebook view: what was found, then the plot inline."""
        items = "".join(f"<li>{html.escape(line)}</li>" for line in self.lines())
        png = base64.b64encode(self.plot()._repr_png_()).decode()
        head = f"LR range test: {html.escape(self.title)}" if self.title else "LR range test"
        return (
            f"<div><b>{head}</b><ul>{items}</ul>"
            f"<img src='data:image/png;base64,{png}' alt='loss against learning rate'/></div>"
        )


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
    if note := threads_note(
        cfg.train.threads, device
    ):  # refused far beyond the cores, as train does
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
            )
    head = ", the head alone" if swept == "optim.head_lr" else ""
    finding.title = f"{cfg.model.name} on {cfg.data.name} ({cfg.optim.name}{head})"
    finding.swept, finding.head_ratio = swept, ratio
    return finding


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
) -> LRFinding:
    """Take up to ``test.steps`` optimizer steps on ``batches`` (x, y) at exponentially growing learning
    rates, each on ``accumulate`` batches, and return the losses (each step's mean) and the suggestion;
    ``model`` and ``optimizer`` are restored after. A Ctrl-C ends the test early: the steps taken are
    returned (``interrupted``; ``stopped`` says at which step), or with none, the KeyboardInterrupt."""
    test = test or RangeTest()
    check_optimizer_trained(model, type(model).__name__)
    saved = _snapshot(model, optimizer)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    lrs: list[float] = []
    losses: list[float] = []
    interrupted = False
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            stopped, diverged = _sweep(
                model, optimizer, batches, test, loss_fn, grad_clip, autocast, accumulate, lrs, losses
            )  # fmt: skip
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
    lowest = int(np.argmin(smoothed))
    suggestion = suggest(lrs, smoothed)
    return LRFinding(
        lrs, losses, smoothed, suggestion, lrs[lowest], stopped, test,
        accumulate=accumulate, interrupted=interrupted,
    )  # fmt: skip


def _sweep(model, optimizer, batches, test, loss_fn, grad_clip, autocast, accumulate, lrs, losses):
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
