"""The decision boundary at each evaluation of a run on 2-D features (``circles``, RDFIA 1-ab): the
class the evaluated model predicts at each point of a fixed plotting grid, computed on the device (a few
KB an evaluation, brought to the host once an evaluation, as its metrics are: no step waits for it), kept
beside last.pt (``checkpoints/boundary_epochs.npz``, written when the epoch's row is told, after
last.pt) so that a resume goes on with it, and drawn by the run's scoring as
``figures/boundary_epochs.png`` (``plotting.boundary.plot_boundary_epochs``).

Recorded on the main rank of a run that draws its figures (``train.figures``), by a
:class:`~vislab.training.state.Callback` the loop adds before the user's (``boundary_recorder``)."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from zipfile import BadZipFile

import numpy as np
import torch

from vislab.files import atomic_write
from vislab.training.epoch_end import evaluated
from vislab.training.setup import Training
from vislab.training.state import Callback

BOUNDARY_FILE = "boundary_epochs.npz"  # in the run's checkpoints/, beside last.pt
GRID = 64  # points along each feature: 64×64 one-byte classes, 4 KB an evaluation


@dataclass
class BoundaryEpochs:
    """The predicted class over the grid (``axes``: its coordinates along x₁ and x₂, in the data's raw
    units) at each evaluated epoch, with that epoch's val accuracy (None: not recorded)."""

    axes: tuple[np.ndarray, np.ndarray]
    epochs: list[int] = field(default_factory=list)
    val_acc: list[float | None] = field(default_factory=list)
    preds: list[np.ndarray] = field(default_factory=list)  # each GRID×GRID class indices

    def save(self, path: Path) -> None:
        """Write the record to ``path`` (npz, whole or not at all)."""
        acc = [np.nan if a is None else a for a in self.val_acc]
        arrays = dict(x1=self.axes[0], x2=self.axes[1], epochs=np.asarray(self.epochs, np.int64))
        arrays.update(val_acc=np.asarray(acc, np.float64), preds=np.stack(self.preds))
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        atomic_write(path, lambda f: f.write(buf.getvalue()), option=None)

    @classmethod
    def load(cls, path: Path, until: int | None = None) -> BoundaryEpochs | None:
        """The record in ``path``, its epochs up to ``until`` (a resume's last.pt: later ones were
        trained after it); None where there is none or it cannot be read (it is a figure's, not the run's:
        recording starts again)."""
        with (
            contextlib.suppress(OSError, ValueError, KeyError, EOFError, BadZipFile),
            np.load(path) as f,
        ):
            keep = f["epochs"] <= until if until is not None else slice(None)
            acc = [None if np.isnan(a) else float(a) for a in f["val_acc"][keep]]
            preds = list(f["preds"][keep])
            return cls((f["x1"], f["x2"]), f["epochs"][keep].tolist(), acc, preds)
        return None


def grid_axes(points: np.ndarray, resolution: int = GRID) -> tuple[np.ndarray, np.ndarray]:
    """The grid's coordinates along each feature: the range of ``points`` (N×2) plus a 10% margin."""
    lo, hi = points.min(0).astype(np.float64), points.max(0).astype(np.float64)
    pad = 0.1 * np.maximum(hi - lo, 1e-3)
    return tuple(np.linspace(lo[i] - pad[i], hi[i] + pad[i], resolution) for i in range(2))


class BoundaryRecorder(Callback):
    """At each row with a val evaluation, the evaluated model's classes over the grid, added to the
    record and saved beside last.pt."""

    def __init__(self, t: Training, kept: BoundaryEpochs) -> None:
        self.t, self.kept = t, kept
        self.path = t.run.ckpt_dir / BOUNDARY_FILE
        xx, yy = np.meshgrid(*kept.axes)
        plane = torch.from_numpy(np.stack([xx.ravel(), yy.ravel()], 1).astype(np.float32))
        self.grid = t.data.spec.prepare(plane).to(
            t.device
        )  # normalised as the model takes it, once

    def on_epoch_end(self, row: dict) -> None:
        if row.get("val_acc") is None:  # no evaluation this epoch (train.eval_every)
            return
        k = self.kept
        k.epochs.append(row["epoch"])
        k.val_acc.append(row["val_acc"])
        k.preds.append(self._classes().cpu().numpy().reshape(len(k.axes[1]), len(k.axes[0])))
        k.save(self.path)

    @torch.no_grad()
    def _classes(self) -> torch.Tensor:
        """The evaluated model's class at each grid point, on the device (eval mode, the run's precision)."""
        model = evaluated(self.t)
        was_training = model.training
        model.eval()
        try:
            with self.t.optim.precision.autocast():
                classes = model(self.grid).argmax(1)
        finally:
            model.train(was_training)
        return classes.to(torch.uint8 if self.t.data.splits.num_classes <= 256 else torch.int32)


def boundary_recorder(t: Training, resumed: bool) -> list[Callback]:
    """The recorder of a 2-D feature run that draws its figures, on the main rank: after a resume going
    on with the saved record (its epochs up to last.pt's); [] for any other run."""
    x = t.data.splits.train.x
    if not (t.dist.is_main and t.cfg.figures and x.ndim == 2 and x.shape[1] == 2):
        return []
    path = t.run.ckpt_dir / BOUNDARY_FILE
    kept = BoundaryEpochs.load(path, until=t.loop.epoch) if resumed else None
    if kept is None:
        splits = t.data.splits
        points = np.concatenate([np.asarray(s.x, np.float64) for _, s in splits.items()])
        kept = BoundaryEpochs(grid_axes(points))
    return [BoundaryRecorder(t, kept)]
