"""Evaluation of a split: the metrics of a model on it (each evaluated epoch's, the run's scoring's), and
the best epoch's evaluation kept for the run's scoring (``kept_val``). The end of a run — best weights →
val/test metrics → summary + figures — is ``training/scoring.py``."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from vislab.data.loader import DeviceLoader
from vislab.training.metrics import Metrics, compute_metrics
from vislab.training.precision import Precision
from vislab.training.runtime import Distributed, unwrap
from vislab.training.state import LoopState


@torch.inference_mode()
def predict_logits(
    model: torch.nn.Module, loader: DeviceLoader, precision: Precision | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (float32, CPU) and labels of a whole split, in order; forward passes in ``precision``
    (the run's autocast), float32 without one."""
    was_training = model.training
    model.eval()
    logits, labels = [], []
    fp32 = precision is None or precision.dtype is None
    with torch.autocast("cpu", enabled=False) if fp32 else precision.autocast():  # type: ignore[union-attr]
        for x, y in loader.epoch(0):
            logits.append(model(x).float())
            labels.append(y)
    model.train(was_training)
    return torch.cat(logits).cpu(), torch.cat(labels).cpu()


def evaluate(
    model: torch.nn.Module,
    loader: DeviceLoader,
    num_classes: int,
    precision: Precision | None = None,
    with_roc: bool = False,
    dist=None,
) -> Metrics:
    """The metrics of ``model`` (DDP unwrapped) on ``loader``'s split, its forward passes in ``precision``;
    with ``dist``, rank 0's, which every rank gets."""
    model = unwrap(model)
    # DDP: every rank evaluates the same model, and all act on rank 0's figures
    if dist is not None:
        dist.sync_buffers(model)
    logits, labels = predict_logits(model, loader, precision)
    loss = split_loss(logits, labels)
    metrics = compute_metrics(logits, labels, num_classes, loss=loss, with_roc=with_roc)
    return dist.from_main(metrics) if dist is not None else metrics


def split_loss(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The mean cross-entropy of a split's ``logits`` (N×K, as float32) against its ``labels``: the one
    loss a run's rows, its summary.json and eval's scores all hold."""
    return F.cross_entropy(logits.float(), labels.long()).item()


def kept_val(
    loop: LoopState,
    epoch: int | None,
    written: tuple[int, int, int] | None,
    model: torch.nn.Module,
    dist: Distributed,
) -> Metrics | None:
    """The val metrics of the scored weights, of ``epoch``, as their epoch's evaluation made them
    (``loop.best_eval``),
    where scoring val again is sure to give the same numbers: one process (never a resume that started
    without them), the weights loaded from the very best.pt file that evaluation wrote (``written``:
    its ``file_identity`` now), of that epoch, and the model's buffers outside the state dict as they
    were when that evaluation started (the evaluation ran the same model, or the train.ema copy of it, in
    the same TTA; a forward that changes plain Python attributes is not seen). None otherwise: evaluate
    val."""
    kept = loop.best_eval
    if kept is None or dist.world > 1 or written is None or written != kept.file:
        return None
    if epoch != kept.epoch:
        return None
    now = unsaved_buffers(model)
    same = now.keys() == kept.unsaved.keys() and all(
        torch.equal(now[n], kept.unsaved[n]) for n in now
    )
    return kept.metrics if same else None


def file_identity(path: Path) -> tuple[int, int, int] | None:
    """``path``'s inode, size and modification time in ns (None: no file); a checkpoint written again —
    atomically, as a new file — has another."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def unsaved_buffers(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Copies of ``model``'s buffers that its state dict leaves out (``persistent=False``): what a
    checkpoint does not restore."""
    saved = model.state_dict().keys()
    return {name: b.detach().clone() for name, b in model.named_buffers() if name not in saved}
