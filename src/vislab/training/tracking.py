"""Experiment trackers beyond the run directory's files (TensorBoard, Weights & Biases).

Each tracker is a callback (:class:`Tracker`) switched on by one ``track.*`` setting; one that cannot log an
epoch's row stops the run with a RunFailed naming the tracker and that setting. Both are optional extras:
``pip install 'vislab[tensorboard]'`` / ``pip install 'vislab[wandb]'``. W&B honours its own
environment (``WANDB_MODE=offline`` writes the run under ``RUN_DIR/wandb`` without a network).
"""

from __future__ import annotations

import math
import uuid
from numbers import Number

from vislab.config import Config
from vislab.errors import RunFailed, UserError, show_note
from vislab.training.rundir import RunDir
from vislab.training.state import Callback


def scalars(row: dict) -> dict[str, float]:
    """The finite numbers of an epoch row, per-class accuracies as ``val_per_class/<i>``."""
    out: dict[str, float] = {}
    for key, value in row.items():
        if key == "epoch":
            continue
        if isinstance(value, (list, tuple)):
            out.update(
                {
                    f"{key}/{i}": float(v)
                    for i, v in enumerate(value)
                    if isinstance(v, Number) and math.isfinite(v)
                }
            )
        elif isinstance(value, Number) and not isinstance(value, bool) and math.isfinite(value):
            out[key] = float(value)
    return out


class Tracker(Callback):
    """A callback the run's config switched on (``setting``, e.g. ``track.wandb``), not the user's own: it
    logs each epoch row (:meth:`log`) and ends with the run (:meth:`end`). Failing to log (a disk full, a
    lost W&B login) is a RunFailed (exit 1) naming it, its cause kept, not a traceback from its
    library; failing to end is a note: the run's own files are written whatever the tracker holds."""

    setting: str

    def log(self, row: dict) -> None:
        raise NotImplementedError

    def end(self) -> None:
        raise NotImplementedError

    def on_epoch_end(self, row: dict) -> None:
        try:
            self.log(row)
        except Exception as e:
            raise RunFailed(self._could_not(f"log epoch {row['epoch']}'s row", e)) from e

    def close(self) -> None:
        try:
            self.end()
        except Exception as e:
            show_note(
                f"{self._could_not('close', e)} Its record may be incomplete; the run's own files are "
                f"as its summary.json says."
            )

    def _could_not(self, doing: str, e: Exception) -> str:
        return f"{self.setting}=true: {type(self).__name__} could not {doing} ({type(e).__name__}: {e})."


class TensorBoardTracker(Tracker):
    """Scalars per epoch into ``RUN_DIR/tensorboard`` (event files)."""

    setting = "track.tensorboard"

    def __init__(self, run: RunDir):
        try:
            from torch.utils.tensorboard import SummaryWriter  # optional: vislab[tensorboard]
        except ImportError:
            raise UserError(
                "track.tensorboard=true needs the tensorboard package: "
                "pip install 'vislab[tensorboard]' (or set track.tensorboard=false)."
            ) from None
        self.writer = SummaryWriter(log_dir=str(run.path / "tensorboard"))

    def log(self, row: dict) -> None:
        for key, value in scalars(row).items():
            self.writer.add_scalar(key, value, global_step=int(row["epoch"]))
        self.writer.flush()

    def end(self) -> None:
        self.writer.close()


class WandbTracker(Tracker):
    """One W&B run per vislab run: config at start, the epoch row's scalars at every epoch."""

    setting = "track.wandb"

    def __init__(self, cfg: Config, run: RunDir):
        try:
            import wandb  # optional: vislab[wandb], slow to import
        except ImportError:
            raise UserError(
                "track.wandb=true needs the wandb package: pip install 'vislab[wandb]' "
                "(or set track.wandb=false)."
            ) from None
        id_file = run.path / "wandb" / "vislab-run-id"  # a resumed vislab run continues its W&B run
        try:
            run_id = id_file.read_text().strip() if id_file.is_file() else uuid.uuid4().hex[:8]
            id_file.parent.mkdir(parents=True, exist_ok=True)
            id_file.write_text(run_id)
            self.run = wandb.init(
                project=cfg.track.project,
                name=cfg.track.run_name or run.path.name,
                dir=str(run.path),
                config=cfg.to_dict(),
                id=run_id,
                resume="allow",
            )
        except Exception as e:  # login missing, network down, bad project name, ...
            raise UserError(
                f"Weights & Biases could not start a run ({type(e).__name__}: {e}). Log in with "
                f"`wandb login`, or set WANDB_MODE=offline to write it locally."
            ) from None

    def log(self, row: dict) -> None:
        self.run.log(scalars(row), step=int(row["epoch"]))

    def end(self) -> None:
        self.run.finish()


def build_trackers(cfg: Config, run: RunDir) -> list[Tracker]:
    """Trackers switched on in ``cfg.track`` (files are always written by the run directory)."""
    trackers: list[Tracker] = []
    try:
        if cfg.track.tensorboard:
            trackers.append(TensorBoardTracker(run))
        if cfg.track.wandb:
            trackers.append(WandbTracker(cfg, run))
    except BaseException:
        for t in trackers:
            t.close()  # a failure to is a note: the error that stopped the building is what is raised
        raise
    return trackers
