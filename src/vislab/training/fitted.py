"""Models fitted on arrays (``trained_by="fit_arrays"``: majority, svm): one fit on the whole train split,
one metrics row, no epochs. The trainer (training/trainer.py) then scores the run as after epochs."""

from __future__ import annotations

import time

import torch

from vislab.data.loader import DeviceLoader
from vislab.models.hooks import model_size
from vislab.training.epoch_end import track_test
from vislab.training.evaluate import evaluate
from vislab.training.history import EpochRow, to_rows
from vislab.training.parts import parameters
from vislab.training.saving import checkpoint
from vislab.training.setup import Training
from vislab.training.state import StopFlag
from vislab.training.stopping import stop_unfitted


def fit_once(t: Training, stop: StopFlag) -> EpochRow:
    """``trained_by="fit_arrays"`` (majority, svm): fitted on the whole train split, not augmented (one
    random view of each image is no augmentation), one row, no epochs: marked ``fitted``, the run's last,
    returned once it is saved (the trainer tells the callbacks, as after an epoch) — under torchrun, by
    every rank once rank 0 has saved it. A signal stops it before or after the fit (which cannot be cut
    short), nothing saved. The trainer then scores the run (``finish_run``), as after a run's last
    epoch."""
    started = time.perf_counter()
    if not stop.received():  # one during the set-up: nothing to fit
        t.network.hooks.fit_arrays(*_whole_split(t.data.train))
    if stop.received():
        stop_unfitted(t, stop.received())
    t.loop.epoch, t.loop.best_epoch = 1, 1
    t.loop.train_time_s = time.perf_counter() - started
    model, k = t.network.model, t.data.splits.num_classes
    t.network.n_params = model_size(model, t.network.hooks)  # what the fit stored: summary's params
    t.log.line(f"fitted on the train split: {parameters(t.network.n_params)}")
    started = time.perf_counter()  # the row's evaluations: epochs_eval_s, as a trained run's
    fitted = evaluate(model, t.data.train.unaugmented(t.cfg.eval_batch_size), k)
    val = evaluate(model, t.data.val, k)
    row = EpochRow(1, fitted.loss, fitted.acc, lr=0.0, seconds=t.loop.train_time_s, fitted=True)
    row.add_val(val)
    row.add_test(track_test(t))
    t.loop.epochs_eval_s += time.perf_counter() - started
    t.history[:] = [row]  # its one row: a resume (after a callback stopped it) fits again
    if t.dist.is_main:
        # its one row, as every run has (the run directory contract)
        t.run.write_metrics(to_rows(t.history))
    checkpoint(t, "best.pt", epoch=1)
    checkpoint(t, "last.pt", resume=True)
    # no collective in a fit: without this, a rank > 0 could end (and read the run folder, as
    # vislab.train's Run does) before rank 0 had written its config.yaml
    t.dist.barrier()
    return row


def _whole_split(loader: DeviceLoader) -> tuple[torch.Tensor, torch.Tensor]:
    """Every sample of the split as it is (normalised, not augmented): what a model is fitted on once."""
    chunks = torch.arange(len(loader.y), device=loader.device).split(4096)
    xs, ys = zip(*(loader.batch(idx, augment=False) for idx in chunks))
    return torch.cat(xs), torch.cat(ys)
