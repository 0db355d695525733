"""The RDFIA two-class toy: points on two noisy concentric circles (2-D float features, not images)."""

from __future__ import annotations

import numpy as np

from vislab.config import DataConfig
from vislab.data.sources.registry import register_source
from vislab.data.types import ArraySet, SourceData

FACTOR = 0.5  # radius of the inner circle relative to the outer one
SEEDS = {"train": 0, "test": 1}  # independent draws for the two sets


@register_source("circles")
def load_circles(cfg: DataConfig) -> SourceData:
    """``cfg.n_samples`` points per set with ``cfg.noise``; label 0 = outer circle, 1 = inner circle."""
    # sklearn.datasets takes seconds to import: only when the circles are drawn.
    from sklearn.datasets import make_circles

    sets = {}
    for key, seed in SEEDS.items():
        if key in cfg.use:
            x, y = make_circles(
                n_samples=cfg.n_samples, noise=cfg.noise, factor=FACTOR, random_state=seed
            )
            sets[key] = ArraySet(x.astype(np.float32), y)
    return SourceData(sets, ["outer", "inner"])
