"""The end of a training epoch, after its steps: the evaluation (val when due, test when tracked, of the
weight average when there is one), ``best.pt`` at the best ``train.select_metric`` so far, and the
patience that early stopping and ``schedule.name=plateau`` count; also row 0, the untrained model's
evaluation (``train.eval_at_start``). The loop that calls them is ``training/trainer.py``."""

from __future__ import annotations

import time

import torch

from vislab.training.evaluate import evaluate, file_identity, unsaved_buffers
from vislab.training.history import EpochRow
from vislab.training.metrics import Metrics
from vislab.training.plateau import better, improves
from vislab.training.runtime import unwrap
from vislab.training.saving import checkpoint
from vislab.training.setup import Training
from vislab.training.state import BestEval


def evaluated(t: Training) -> torch.nn.Module:
    """What evaluation scores: the weight average (``train.ema``) or the network, DDP unwrapped, inside
    the run's test-time augmentation (``train.tta``)."""
    return t.data.spec.wrap(_scored_model(t))


def _scored_model(t: Training) -> torch.nn.Module:
    """The weight average (``train.ema``) or the network, DDP unwrapped: what best.pt saves the weights of."""
    return unwrap(t.optim.ema.average if t.optim.ema else t.network.forward)


def _keep_best_eval(
    t: Training, epoch: int, val: Metrics, unsaved: dict[str, torch.Tensor] | None
) -> BestEval | None:
    """``val``, the evaluation of the best.pt just written, to keep in memory for the run's scoring
    (``evaluate.kept_val``), with the evaluated model's ``unsaved`` buffers as they were before it ran;
    None with several processes, whose scoring evaluates val again."""
    if unsaved is None:
        return None
    return BestEval(epoch, val, file_identity(t.run.ckpt_dir / "best.pt"), unsaved)


def evaluate_at_start(t: Training) -> EpochRow:
    """Row 0 (``train.eval_at_start``): the untrained model on val and on the train images epoch 1 trains
    on (un-augmented; ``drop_last`` leaves the last partial batch out of every epoch, and of this row).
    Its ``lr`` is None (null in metrics.jsonl): no optimizer step has been taken; its ``seconds`` are those
    of its evaluations (an epoch row's are its training steps')."""
    k, bs, net = t.data.splits.num_classes, t.cfg.eval_batch_size, evaluated(t)
    kw = dict(precision=t.optim.precision, dist=t.dist)
    started = time.perf_counter()
    first = t.data.train.trained_indices(t.loop.epoch)
    start = evaluate(net, t.data.train.unaugmented(bs, first), k, **kw)
    val, test = evaluate(net, t.data.val, k, **kw), track_test(t)
    took = round(time.perf_counter() - started, 4)
    t.loop.epochs_eval_s += took
    row = EpochRow(epoch=0, train_loss=start.loss, train_acc=start.acc, lr=None, seconds=took)
    row.add_val(val)
    row.add_test(test)
    return row


def track_test(t: Training) -> Metrics | None:
    """``train.track_test``: the test split's metrics now (its loss and accuracies go into the row), for
    the curves only — nothing reads them to select, stop or prune (those read val). None when off."""
    if not t.cfg.track_test:
        return None
    k, kw = t.data.splits.num_classes, dict(precision=t.optim.precision, dist=t.dist)
    return evaluate(evaluated(t), t.data.test, k, **kw)


def evaluate_and_checkpoint(t: Training, row: EpochRow) -> bool:
    """Score val when due (into ``row``); keep ``best.pt`` at the best value of ``train.select_metric`` so
    far (by any margin; a tie on val_acc or val_pacc goes to the lower val_loss), and its evaluation in
    memory (``loop.best_eval``, for the run's scoring); count the evaluation for the patience, which only
    an improvement by more than ``train.min_delta`` restarts (``plateau.improves``: at 0, a tie with a
    lower val_loss is one) — early stopping's of ``train.early_stop_metric`` where it is set, the
    plateau schedule's of ``train.select_metric``. When early stopping's patience runs out, the loop state says so
    (``stopped_early``: last.pt keeps it, nothing more is trained, even extended), and ``row``
    (``stopped_early: True``; callbacks see it, summary.json follows it) where that ended the run before
    its last epoch; ``schedule.name=plateau`` counts it (a cut acts from the next step). Whether plateau
    cut the learning rate (False when val was not due)."""
    tc, loop, optim = t.cfg, t.loop, t.optim
    epoch = row.epoch
    if epoch % tc.eval_every and epoch != tc.epochs:
        return False
    k = t.data.splits.num_classes
    # the buffers a checkpoint leaves out, as the evaluation starts (a forward may change them)
    unsaved = unsaved_buffers(_scored_model(t)) if t.dist.world == 1 else None
    started = time.perf_counter()
    val = evaluate(evaluated(t), t.data.val, k, precision=optim.precision, dist=t.dist)
    row.add_val(val)
    row.add_test(track_test(t))
    loop.epochs_eval_s += time.perf_counter() - started
    value = row.metric(tc.select_metric)
    if loop.best is None or better(
        value, loop.best, tc.select_metric, 0.0, val.loss, loop.best_loss
    ):
        loop.best, loop.best_epoch, loop.best_loss = value, epoch, val.loss
        checkpoint(t, "best.pt", epoch=epoch)
        loop.best_eval = _keep_best_eval(t, epoch, val, unsaved)
    improved = improves(row, t.history, tc.select_metric, tc.min_delta)  # this row is not in it yet
    step = epoch * optim.steps_per_epoch
    cut = optim.plateau.count(loop, improved, step) if optim.plateau else False
    if tc.stop_metric != tc.select_metric:  # train.early_stop_metric: its own count
        improved = improves(row, t.history, tc.stop_metric, tc.min_delta)
    loop.bad_evals = 0 if improved else loop.bad_evals + 1
    if tc.early_stop is not None and loop.bad_evals >= tc.early_stop:
        loop.stopped_early = True
        if epoch < tc.epochs:
            row.stopped_early = True
    return cut
