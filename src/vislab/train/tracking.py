"""Experiment trackers beyond the run directory's files (TensorBoard, Weights & Biases).

Each tracker is a callback with ``on_epoch_end(row)`` and ``close()``.
"""

from __future__ import annotations

from vislab.config import Config
from vislab.train.rundir import RunDir


def build_trackers(cfg: Config, run: RunDir) -> list:
    """Trackers switched on in ``cfg.track`` (files are always written by the run directory)."""
    return []
