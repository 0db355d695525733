"""The RDFIA two-class toy: points on two noisy concentric circles (2-D float features, not images)."""

from __future__ import annotations

import importlib.metadata

import numpy as np

from vislab.config import DataConfig
from vislab.data.cache import cached_arrays
from vislab.data.sources.registry import register_source
from vislab.data.types import ArraySet, SourceData
from vislab.errors import DataError

FACTOR = 0.5  # radius of the inner circle relative to the outer one
SEEDS = {"train": 0, "test": 1}  # independent draws for the two sets


@register_source("circles")
def load_circles(cfg: DataConfig) -> SourceData:
    """``cfg.n_samples`` points per set with ``cfg.noise``; label 0 = outer circle, 1 = inner circle."""
    sets = {}
    for key, seed in SEEDS.items():
        if key in cfg.use:
            drawn = _circles(cfg.n_samples, cfg.noise, seed)
            sets[key] = ArraySet(drawn["x"], drawn["y"])
    return SourceData(sets, ["outer", "inner"])


def _circles(n: int, noise: float, seed: int) -> dict[str, np.ndarray]:
    """One draw of scikit-learn's ``make_circles``, kept in the decoded-array cache: importing
    sklearn.datasets takes 1-2 s, longer than training the RDFIA 1-ab MLP on them."""
    version = importlib.metadata.version("scikit-learn")  # another version may draw other points

    def draw() -> dict[str, np.ndarray]:
        from sklearn.datasets import make_circles

        x, y = make_circles(n_samples=n, noise=noise, factor=FACTOR, random_state=seed)
        return {"x": x.astype(np.float32), "y": y.astype(np.int64)}

    def check(found: dict[str, np.ndarray]) -> None:
        x, y = found.get("x"), found.get("y")
        if x is None or y is None or x.shape != (n, 2) or y.shape != (n,) or x.dtype != np.float32:
            raise DataError("a cached circles draw has the wrong shape")

    return cached_arrays(
        f"circles-sklearn{version}-n{n}-noise{noise!r}-seed{seed}", [], draw, check
    )
