"""What a model is fed at evaluation time, defined once: the images' shape, the centre crop to the model's
input, the normalisation fitted on the train split, and the test-time augmentation around the model.

Training-time evaluation (the val/test loaders), ``predict``, ``explain``, ``export`` (its JSON recipe)
and the report all take an :class:`InputSpec`; none derives the crop or reads the statistics itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from vislab.config import AugmentConfig
from vislab.data.crop import centre_crop, centre_offsets, model_input_shape
from vislab.data.preprocess import NormStats, apply_stats
from vislab.data.tta import with_tta
from vislab.errors import ConfigError


@dataclass(frozen=True)
class InputSpec:
    """A raw sample → the model's input. ``sample_shape``: the images (C, H, W) after ``data.resize``, or
    (D,) features; ``input_shape``: what the model takes — the samples, or their centre
    ``size``×``size`` crop after ``augment.crop.size``; ``stats``: the normalisation statistics
    (:func:`vislab.data.preprocess.fit_stats`: standard, ZCA or none); ``tta``: the test-time
    augmentation evaluation puts around the model (``train.tta``, :mod:`vislab.data.tta`)."""

    sample_shape: tuple[int, ...]
    input_shape: tuple[int, ...]
    stats: NormStats
    tta: str = "none"

    @classmethod
    def build(
        cls,
        augment: AugmentConfig,
        sample_shape: Sequence[int],
        stats: NormStats,
        tta: str = "none",
    ) -> InputSpec:
        """The spec of a run: its samples' shape, the crop its config asks for, its statistics, its TTA."""
        shape = tuple(sample_shape)
        if tta != "none" and len(shape) != 3:
            raise ConfigError(
                f"train.tta={tta} mirrors and shifts images, but this data holds {shape[0]}-D feature "
                f"vectors. Use train.tta=none."
            )
        return cls(shape, model_input_shape(augment, shape), stats, tta)

    @property
    def is_image(self) -> bool:
        return len(self.input_shape) == 3

    @property
    def crop_size(self) -> int | None:
        """The side of the centre crop (the model was trained on random crops of it); None: whole images."""
        return self.input_shape[-1] if self.sample_shape != self.input_shape else None

    @property
    def crop_window(self) -> dict | None:
        """The centre crop as the export JSON states it: image size, crop side, top and left offsets."""
        if self.crop_size is None:
            return None
        (_, h, w), size = self.sample_shape, self.crop_size
        top, left = centre_offsets(h, w, size)
        return {"image_size": [h, w], "size": size, "top": top, "left": left}

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """A float batch (N×C×H×W in [0, 1] of ``sample_shape``, or N×D) → the model's normalised input."""
        return apply_stats(centre_crop(x, self.crop_size), self.stats)  # crop_size is None for N×D

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model as evaluation runs it: inside the test-time augmentation, if any."""
        return with_tta(model, self.tta)

    def images(self, arrays: Sequence[np.ndarray]) -> torch.Tensor:
        """uint8 H×W×C images of ``sample_shape`` → the model's normalised input batch."""
        x = torch.stack(
            [torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1) for a in arrays]
        )
        return self.prepare(x.float().div_(255))
