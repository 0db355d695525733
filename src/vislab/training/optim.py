"""Optimizers, their weight-decay groups, and per-step learning-rate schedules (with optional linear warm-up).

The schedule is a pure function of the global step, so resuming needs only the step count — but
``plateau``'s cuts, which follow the evaluations (training/plateau.py)."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from vislab.config import Config, OptimConfig, ScheduleConfig


class _Eager(torch.optim.Optimizer):
    """torch's optimizer methods minus their wrappers that keep torch.compile out of optimizer code: each
    wrapper imports torch._dynamo, the compiler stack, on first use — whatever ``foreach``/``fused`` say —
    which cost every run 1.9 s on 2 idle cores. vislab never compiles optimizer code (``train.compile``
    compiles the model's forward), so they have nothing to do: same maths, state_dict and step hooks."""

    add_param_group = inspect.unwrap(torch.optim.Optimizer.add_param_group)
    zero_grad = inspect.unwrap(torch.optim.Optimizer.zero_grad)
    state_dict = inspect.unwrap(torch.optim.Optimizer.state_dict)
    load_state_dict = inspect.unwrap(torch.optim.Optimizer.load_state_dict)
    _raw_step: Callable[..., Any]  # the subclass's torch step, unwrapped

    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        # what torch's wrapper does outside torch.compile: no autograd unless ``differentiable``
        with torch.set_grad_enabled(self.defaults["differentiable"]):
            return type(self)._raw_step(self, closure)


class SGD(_Eager, torch.optim.SGD):
    _raw_step = inspect.unwrap(torch.optim.SGD.step)


class Adam(_Eager, torch.optim.Adam):
    _raw_step = inspect.unwrap(torch.optim.Adam.step)


class AdamW(_Eager, torch.optim.AdamW):
    _raw_step = inspect.unwrap(torch.optim.AdamW.step)


def build_optimizer(params, cfg: OptimConfig) -> torch.optim.Optimizer:
    """``cfg``'s optimizer, fused (one kernel for all parameters) where torch has a fused kernel (CUDA and CPU) —
    on 2 CPU cores an Adam step of the cnn takes 0.36 ms instead of 3.9 ms, and no per-parameter ``.item()``.
    A subclass of torch's (``isinstance(opt, torch.optim.Adam)`` holds) that does not load torch's compiler."""
    params = list(params)
    if cfg.name == "sgd":
        cls, kwargs = SGD, dict(momentum=cfg.momentum, nesterov=cfg.nesterov and cfg.momentum > 0)
    else:
        cls, kwargs = (Adam if cfg.name == "adam" else AdamW), dict(betas=cfg.betas)
    kwargs.update(lr=cfg.lr, weight_decay=cfg.weight_decay)
    try:
        return cls(params, fused=True, **kwargs)
    except (RuntimeError, ValueError, TypeError):  # a device or dtype without a fused kernel
        return cls(params, **kwargs)


def decay_groups(model: nn.Module, params: list, cfg: OptimConfig, names: set[str]) -> list:
    """``params`` (parameters, or groups of them) as the optimizer takes them: unchanged with
    ``optim.decay_bias_norm`` (or no weight decay), else each group split in two, the parameters that
    should not shrink towards 0 in a copy of the group at weight_decay 0: the 1-D ones (biases,
    normalisation layers' scales and shifts) and those of ``names`` (the model's hook
    ``no_weight_decay``: position embeddings, class tokens; names that are not parameters are skipped)."""
    if cfg.decay_bias_norm or cfg.weight_decay == 0:
        return params
    keep = {id(p) for n, p in model.named_parameters() if _spared(n, p, names)}
    groups = params if params and isinstance(params[0], dict) else [{"params": params}]
    split = []
    for group in groups:
        ps = list(group["params"])
        split.append({**group, "params": [p for p in ps if id(p) not in keep]})
        split.append({**group, "params": [p for p in ps if id(p) in keep], "weight_decay": 0.0})
    return [g for g in split if g["params"]]


def _spared(name: str, param: torch.Tensor, names: set[str]) -> bool:
    """Whether ``optim.decay_bias_norm=false`` spares parameter ``name``: 1-D, or one of ``names``."""
    return param.ndim <= 1 or name in names


def l1_params(model: nn.Module, cfg: OptimConfig, names: set[str]) -> list[torch.Tensor]:
    """The weights ``optim.l1`` penalises: those weight decay applies to — every trainable one, or with
    ``optim.decay_bias_norm=false`` not those :func:`decay_groups` spares; [] where optim.l1 is 0."""
    if cfg.l1 == 0:
        return []
    return [
        p
        for n, p in model.named_parameters()
        if p.requires_grad and (cfg.decay_bias_norm or not _spared(n, p, names))
    ]


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Every parameter group at learning rate ``lr``, times the group's ``lr_scale`` (e.g. a fine-tuned
    model's new head, ``optim.head_lr``: the trainer sets its scale at each step, ``Optimisation.at``)."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)


def head_lr(optimizer: torch.optim.Optimizer | None) -> float | None:
    """The learning rate the head's groups (``optim.head_lr``: those with an ``lr_scale``) took their last
    step at, scheduled as they train (:func:`set_lr`); None without such groups."""
    groups = [g for g in optimizer.param_groups if "lr_scale" in g] if optimizer else []
    return groups[0]["lr"] if groups else None


ONECYCLE_FLOOR = 1e-4  # onecycle's last factor: its cosine ends at optim.lr / 10,000, never at 0


def round_half_up(x: float) -> int:
    """``x`` to the nearest whole number, halves up (2.5 → 3; Python's round() gives 2): the one rounding
    of the schedules' steps, warm-up and onecycle's peak."""
    return math.floor(x + 0.5)


def warmup_steps(cfg: ScheduleConfig, steps_per_epoch: int) -> int:
    """``schedule.warmup_epochs`` in whole optimizer steps, rounded half up (what ``warmup_note`` says)."""
    return round_half_up(cfg.warmup_epochs * steps_per_epoch)  # 1.5 steps would peak at 1.33


def warmup_used(cfg: ScheduleConfig, steps_per_epoch: int) -> int:
    """The warm-up steps a run takes: :func:`warmup_steps`, but none for one step at lr (no warm-up, as
    ``config.notes.warmup_note`` says)."""
    warm = warmup_steps(cfg, steps_per_epoch)
    return warm if warm > 1 else 0


def lr_factor(
    cfg: ScheduleConfig, step: int, steps_per_epoch: int, total_steps: int, base_lr: float = 1.0
) -> float:
    """Multiplier of ``base_lr`` (a parameter group's own lr: ``optim.lr``, or ``optim.head_lr``'s) at
    optimizer step ``step`` (0-based), one rule for every schedule: a linear warm-up over
    ``cfg.warmup_epochs`` (in whole steps), then the schedule from its own beginning over the steps that
    remain — exponential and step count their epochs (``steps_per_epoch`` steps each) from the warm-up's
    end (epoch boundaries, as in the reports, after a warm-up of whole epochs) and multiply by
    ``cfg.gamma_read``; cosine decays to the absolute lr ``min_lr`` (torch's CosineAnnealingLR eta_min, the
    same for every group), which it would reach one step after the last. onecycle: see :func:`onecycle`.
    plateau is 1 here (its cuts follow the evaluations: training/plateau.py). A pure function of the step:
    resuming needs the step only."""
    warm = warmup_used(cfg, steps_per_epoch)
    if step < warm:
        return (step + 1) / warm
    step, total_steps = step - warm, total_steps - warm  # the schedule's own clock starts here
    epoch = step // steps_per_epoch
    if cfg.name == "exponential":
        return cfg.gamma_read**epoch
    if cfg.name == "step":
        return cfg.gamma_read ** (epoch // cfg.step_size)
    if cfg.name == "cosine":
        floor, progress = min(1.0, cfg.min_lr / base_lr), min(1.0, step / max(1.0, total_steps))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    if cfg.name == "onecycle":
        return onecycle(step, total_steps, rises=not warm)
    return 1.0


def onecycle(step: int, total_steps: int, rises: bool = True) -> float:
    """onecycle's factor at ``step`` of ``total_steps``: a straight line from 0.04 at step 0 up to exactly 1
    at the peak step p = 0.25·(total_steps − 1) rounded half up (T = 11: 2.5 → 3), then half a cosine down
    to ``ONECYCLE_FLOOR``, reached at the last step (total_steps − 1). A run of at most 2 steps has p = 0:
    it starts at the full factor 1. Without its rise (``rises=False``: a warm-up given replaces it), the
    cosine starts at 1 at step 0. Not torch's OneCycleLR, whose rise is a cosine over 30 % of the steps
    and whose end is 4e-6 (its start 1/25 divided by 1e4); the same start (1/25) and progress
    (step / (total − 1), so that the last step ends the cycle)."""
    last = max(total_steps - 1, 0)
    peak = round_half_up(0.25 * last) if rises else 0
    if step < peak:
        return 0.04 + 0.96 * step / peak
    if step >= last:
        return ONECYCLE_FLOOR if last > peak else 1.0
    down = (step - peak) / (last - peak)
    return ONECYCLE_FLOOR + (1 - ONECYCLE_FLOOR) * 0.5 * (1 + math.cos(math.pi * down))


def optimizer_steps(batches_per_epoch: int, accumulate: int) -> int:
    """Optimizer steps per epoch: one per ``train.accumulate`` batches (an epoch's last window may be
    short)."""
    return -(-batches_per_epoch // accumulate)


def scheduled_lr(cfg: Config, step: int, per_epoch: int, base_lr: float | None = None) -> float:
    """The learning rate the schedule (warm-up included) sets at optimizer ``step`` of a run of ``cfg``
    with ``per_epoch`` steps an epoch, for a parameter group starting at ``base_lr`` (None: optim.lr; the
    head's: optim.head_lr) — before plateau's cuts, which follow the evaluations."""
    lr, total = base_lr or cfg.optim.lr, cfg.train.epochs * per_epoch
    return lr * lr_factor(cfg.schedule, step, per_epoch, total, lr)


def lr_per_step(
    lr_at: Callable[[int], float], steps_per_epoch: int, rows: list[dict]
) -> list[tuple[float, float]]:
    """The learning rate of every optimizer step of the epochs of metrics ``rows``, as (place on the epoch
    axis, lr): step i of epoch e at e - 1 + (i + 1) / ``steps_per_epoch``, its last at e, whose lr is the
    row's. ``lr_at`` is the run's schedule with plateau's cuts as they are now; each epoch is scaled to its
    row's lr, which had the cuts of its time (a cut acts from the next epoch on, so none falls inside one).
    Computed, not logged: the schedule is a function of the step."""
    points: list[tuple[float, float]] = []
    for row in rows:
        epoch, lr = row["epoch"], row.get("lr")
        if epoch < 1 or lr is None:  # row 0 (train.eval_at_start) is before any step
            continue
        first = (epoch - 1) * steps_per_epoch
        at_end = lr_at(first + steps_per_epoch - 1)
        scale = lr / at_end if at_end else 1.0  # 1.0 exactly but after plateau's cuts
        points += [
            (epoch - 1 + (i + 1) / steps_per_epoch, lr_at(first + i) * scale)
            for i in range(steps_per_epoch)
        ]
    return points
