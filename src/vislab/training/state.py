"""The training loop's state, the stop signals it watches, and the end of a diverged run."""

from __future__ import annotations

import copy
import signal
import threading
from dataclasses import dataclass, field, fields

import torch

from vislab.interrupts import take_ctrl_c
from vislab.training.metrics import Metrics
from vislab.words import counted


@dataclass
class BestEval:
    """The val evaluation of the epoch ``best.pt`` holds, kept in memory by the process that made it (never
    in last.pt: a resume starts without one), so that scoring the run need not evaluate val again
    (``evaluate.kept_val`` says when it may not)."""

    epoch: int
    metrics: Metrics
    file: tuple[int, int, int] | None  # best.pt as written: (inode, size, mtime in ns)
    unsaved: dict[str, torch.Tensor]  # the model's buffers outside its state dict, before it ran


@dataclass
class LoopState:
    """Where training stands. Saved in ``last.pt`` as a plain dict (``to_dict``) for exact resume."""

    epoch: int = 0  # epochs completed
    step: int = 0  # steps done in the current epoch (non-zero only when resuming mid-epoch)
    best: float | None = None  # best value of train.select_metric so far
    best_epoch: int | None = None
    # its val_loss, which breaks a tie on an accuracy (plateau.better); None in an older last.pt, whose
    # resume reads it from its history (setup._resumed_loop)
    best_loss: float | None = None
    # evaluations since train.early_stop_metric (else select_metric) last improved: early stop's count
    bad_evals: int = 0
    stopped_early: bool = False  # train.early_stop or a callback ended it: a resume trains no more
    stop_reason: str | None = None  # a callback's StopTraining ended it: which callback, and why
    lr_drop: float = 1.0  # schedule.name=plateau: the product of its cuts so far (times optim.lr)
    plateau_bad: int = 0  # schedule.name=plateau: evaluations not improving since the best or a cut
    train_time_s: float = 0.0
    setup_s: float = 0.0  # building data, model and optimizer, summed over the run's processes
    # the epochs' evaluations (val, train.track_test's test, train.eval_at_start's row 0; a fitted model's
    # row: train, val, test), summed likewise
    epochs_eval_s: float = 0.0
    partial: torch.Tensor | None = None  # (loss·n, correct, n) of an epoch interrupted mid-way
    # the CPU threads training used (train.threads, else torch's count), in order: a resume under another
    # count than the last adds it (runtime.set_threads); empty in a last.pt older than this field (and
    # kept so: the count its first part used is unknown)
    threads: list[int] = field(default_factory=list)
    # what ran forward with train.compile (compiling.note_compiled: "compiled", "graphs", "eager (...)"), in
    # order: a resume that compiled otherwise adds its own; empty where compiling was off
    compiled: list[str] = field(default_factory=list)
    # this process's evaluation of best.pt's epoch (epoch_end): in memory only, not in to_dict
    best_eval: BestEval | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        """What last.pt saves: every field but ``best_eval``."""
        return {
            f.name: copy.deepcopy(getattr(self, f.name))
            for f in fields(self)
            if f.name != "best_eval"
        }

    def early_stop(self, metric: str, patience: int | None, min_delta: float = 0.0) -> str:
        """When and why ``train.early_stop`` ended the run, e.g. ``after epoch 5: val_pacc did not
        improve for 2 evaluations (train.early_stop=2)``; with ``min_delta`` (``train.min_delta``) > 0,
        ``did not improve by more than train.min_delta=0.01``: a smaller rise (which still updates
        best.pt) counts toward the patience. A callback's stop (``stop_reason``): ``after epoch 3: callback
        GoodEnough stopped it (good enough)``."""
        if self.stop_reason is not None:
            return f"after epoch {self.epoch}: {self.stop_reason}"
        n = self.bad_evals
        return (
            f"after epoch {self.epoch}: {metric} did not improve{by_min_delta(min_delta)} for {n} "
            f"evaluation{'' if n == 1 else 's'} (train.early_stop={patience})"
        )

    @classmethod
    def from_dict(cls, saved: dict) -> LoopState:
        """The state ``to_dict`` saved; a last.pt of vislab 0.2.0 or older also holds ``global_step`` (the
        batches trained so far), which nothing reads."""
        return cls(**{k: v for k, v in saved.items() if k != "global_step"})


@dataclass(frozen=True)
class Saved:
    """How far the training a run's ``last.pt`` holds goes: ``epoch`` epochs, then ``step`` steps of the
    next (a signal or an error mid-epoch saved it there; a resume from it keeps it until it saves again)."""

    epoch: int
    step: int = 0

    @classmethod
    def of(cls, loop: LoopState) -> Saved:
        """Where ``loop`` stands: what a last.pt saved now holds, or what a resumed one held."""
        return cls(loop.epoch, loop.step)

    def __str__(self) -> str:
        """Where it stands: ``after epoch 2``, or ``epoch 3, step 5``."""
        if self.step:
            return f"epoch {self.epoch + 1}, step {self.step}"
        return f"after epoch {self.epoch}"

    def amount(self) -> str:
        """What it holds: ``2 epochs``, ``1 epoch and 5 steps``, ``5 steps``."""
        parts = [counted(self.epoch, "epoch")] if self.epoch else []
        return " and ".join([*parts, counted(self.step, "step")] if self.step else parts)


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of an epoch's shuffling, augmentation and dropout: any epoch replays on its own."""
    return seed * 1_000_003 + 7919 * (epoch + 1)


class StopFlag:
    """Set by SIGINT/SIGTERM; the loop finishes the current step, saves and exits."""

    def __init__(self) -> None:
        self.signal: str | None = None
        self._old: dict = {}

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        if take_ctrl_c():  # pressed before, and swallowed by a finaliser (vislab.interrupts)
            self.signal = "SIGINT"
        return self

    def _handle(self, signum, frame) -> None:
        self.signal = signal.Signals(signum).name

    def received(self) -> str | None:
        """The name of the signal that asked the run to stop (SIGINT, SIGTERM; a Ctrl-C swallowed before
        the flag was entered counts as SIGINT), or None: the same as reading ``signal``. Python runs the
        handlers between bytecodes of the main thread, so a signal that came while a C call blocked (a
        collective) is seen once that call has returned."""
        return self.signal

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def by_min_delta(min_delta: float) -> str:
    """What counts as an improvement, after "improve": `` by more than train.min_delta=0.01``; "" for 0."""
    return f" by more than train.min_delta={min_delta:g}" if min_delta > 0 else ""


class StopTraining(Exception):
    """Raised by a :class:`Callback`'s ``on_epoch_end`` to end training cleanly after that row, as
    ``train.early_stop`` does: ``raise vislab.StopTraining("good enough")``. The run is scored as usual
    (its best.pt, test, figures; summary.json "complete", ``stopped_early`` true where epochs were left,
    ``message`` the reason); a resume trains nothing more. Under ``--nproc``/torchrun, rank 0's callbacks
    decide for every rank (all stop after the same row)."""


class Callback:
    """What ``train(callbacks=[...])`` calls on each object: subclass and override what you need (the
    hooks are ``on_epoch_end`` and ``close``; a misspelled ``on_*`` method is never called, and a note
    says so)."""

    def on_epoch_end(self, row: dict) -> None:
        """After each metrics row is written (row 0 too, with ``train.eval_at_start``), as metrics.jsonl
        holds it: a plain dict (``EpochRow.to_json``, training/history.py). The row after which
        ``train.early_stop`` ends the run says so (``stopped_early: True``), as does the one row of a model
        fitted once (``fitted: True``: majority, svm); the run's last row is one of those or epoch
        ``train.epochs``'s (``EpochRow.ends_run``).

        To end training here as ``train.early_stop`` would, raise :class:`StopTraining` (``raise
        vislab.StopTraining("val_acc above 0.9")``): the other callbacks still get the row, then the run
        is scored from its best.pt and finishes "complete", its last row and summary.json
        ``stopped_early`` (before its last epoch), summary.json's ``message`` naming the callback and
        the reason; a resume trains nothing more (``epochs=`` cannot extend it).

        Any other exception (e.g. ``optuna.TrialPruned``) ends the run as a failure: it reaches the
        caller, a note added naming this callback; summary.json says "failed" ("interrupted" for a
        KeyboardInterrupt) and its ``message`` names the callback, the run's files and checkpoints stay
        as written, and ``train(out=..., resume=True, callbacks=[...])`` goes on."""

    def close(self) -> None:
        """Once, when the run ends: finished, failed or interrupted."""


#: the methods vislab calls on a Callback
HOOKS = ("on_epoch_end", "close")
