"""scikit-learn's bundled 8×8 handwritten digits (1,797 images; no download): one official set, 'train'."""

from __future__ import annotations

import numpy as np

from vislab.config import DataConfig
from vislab.data.sources.registry import register_source
from vislab.data.types import ArraySet, SourceData
from vislab.errors import DataError


@register_source("digits")
def load_digits(cfg: DataConfig) -> SourceData:
    """All 1,797 digits as uint8 N×8×8×1 (0..16 scaled to 0..255) in 'train'; the split carves val/test."""
    if "train" not in cfg.use:
        raise DataError(
            f"the 'digits' dataset has a single set, 'train', but data.use={list(cfg.use)}. "
            f"Add train to data.use (the val/test splits are carved from it)."
        )
    # sklearn.datasets takes seconds to import: only when the digits are loaded.
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    x = np.rint(bunch.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)[..., None]
    return SourceData({"train": ArraySet(x, bunch.target)}, [str(d) for d in range(10)])
