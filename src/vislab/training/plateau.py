"""Evaluations that do not improve: the test of "better" (``train.select_metric`` by ``train.min_delta``, from
the last evaluation that improved so: :func:`improves`), and ``schedule.name=plateau``, which
cuts the learning rate after ``schedule.patience`` of them in a row. (best.pt follows the best value by any
margin: ``min_delta`` only decides what counts for the patience.) A tie on val_acc or val_pacc — common on a
small val set — goes to the lower val_loss, for best.pt and, at ``min_delta=0``, for the patience too.

The rule is torch's ReduceLROnPlateau's (the mode from the metric, an absolute threshold, no cool-down),
with one difference: the patience counts as ``train.early_stop`` does — the cut comes at the
``patience``-th evaluation without improvement, torch's at the one after (torch's ``patience=2`` is
``schedule.patience=3`` here). The count restarts after a cut and at an improvement; evaluations during
the warm-up do not count. The state — the cuts so far (``LoopState.lr_drop``) and the count
(``LoopState.plateau_bad``) — is the loop's, so ``last.pt`` resumes it exactly."""

from __future__ import annotations

import math
from dataclasses import dataclass

from vislab.config import ScheduleConfig
from vislab.training.history import EpochRow
from vislab.training.optim import warmup_used
from vislab.training.state import LoopState


def better(
    value: float,
    best: float,
    metric: str,
    min_delta: float = 0.0,
    loss: float | None = None,
    best_loss: float | None = None,
) -> bool:
    """Whether ``value`` of ``metric`` improves on ``best`` by more than ``min_delta`` (a loss: lower). At
    ``min_delta=0`` a tie on an accuracy goes to the lower val_loss: ``loss`` (``value``'s) below
    ``best_loss`` (``best``'s), where both are known."""
    if metric.endswith("loss"):
        return value < best - min_delta
    if value == best and min_delta == 0 and loss is not None and best_loss is not None:
        return loss < best_loss
    return value > best + min_delta


def improves(row: EpochRow, history: list[EpochRow], metric: str, min_delta: float) -> bool:
    """Whether ``row`` (not in ``history`` yet) counts as an improvement for the patience
    (``train.early_stop``, ``schedule.patience``): it beats by more than ``min_delta`` the reference
    evaluation (:func:`_reference_row`: at 0, a tie goes to the lower val_loss); True before the first
    evaluation."""
    ref = _reference_row(history, metric, min_delta)
    if ref is None:
        return True
    return better(
        row.metric(metric), ref.metric(metric), metric, min_delta, row.val_loss, ref.val_loss
    )


def _reference_row(history: list[EpochRow], metric: str, min_delta: float) -> EpochRow | None:
    """The evaluation the next must beat by more than ``min_delta`` to count as an improvement: the first
    one's, then each one's that beat it so — Lightning's EarlyStopping ``best_score``,
    ReduceLROnPlateau's ``best``. At ``min_delta=0`` the best so far (of a tie, the lower val_loss's);
    above, it can lag behind that, which best.pt follows. Read from the run's metrics rows (epoch 0,
    before training, does not count), which ``last.pt`` keeps: a resumed run has it exactly. None
    before the first evaluation."""
    ref = None
    for row in history:
        value = row.metric(metric)
        if row.epoch <= 0 or value is None:
            continue
        if ref is None or better(
            value, ref.metric(metric), metric, min_delta, row.val_loss, ref.val_loss
        ):
            ref = row
    return ref


@dataclass(frozen=True)
class Plateau:
    """``schedule.name=plateau``'s settings: cut by ``factor`` after ``patience`` evaluations without
    improvement, never below ``floor`` (``schedule.min_lr`` as a multiple of the largest group's base lr:
    each group then stops at min_lr itself, as torch's ReduceLROnPlateau floors each group at min_lr),
    and only once the ``warmup`` (optimizer steps) is over."""

    factor: float
    patience: int
    floor: float
    warmup: int

    @classmethod
    def of(cls, cfg: ScheduleConfig, lr: float, steps_per_epoch: int) -> Plateau | None:
        """The plateau rule of a run whose largest base lr is ``lr`` (optim.lr, or optim.head_lr when
        larger); None for the other schedules."""
        if cfg.name != "plateau":
            return None
        floor = min(1.0, cfg.min_lr / lr)
        return cls(cfg.factor, cfg.patience, floor, warmup_used(cfg, steps_per_epoch))

    def count(self, loop: LoopState, improved: bool, step: int) -> bool:
        """Count an evaluation after optimizer step ``step`` into ``loop`` (improved or not); cut the lr
        where the patience has run out. Whether it cut."""
        if improved or step < self.warmup:
            loop.plateau_bad = 0
            return False
        loop.plateau_bad += 1
        if loop.plateau_bad < self.patience:
            return False
        loop.plateau_bad = 0
        drop = max(loop.lr_drop * self.factor, self.floor)
        # the floor reached by float products (0.1 * 0.1 = 0.010000000000000002 above 0.01) is no new cut
        if drop > loop.lr_drop or math.isclose(drop, loop.lr_drop, rel_tol=1e-9):
            return False
        loop.lr_drop = drop
        return True
