"""Normalisation fitted on the TRAIN split only: per-channel standardisation or ZCA whitening — or the
fixed ImageNet statistics that pretrained weights expect.

The statistics travel as one :class:`NormStats` (reused for val/test/predict); a checkpoint stores its
:meth:`NormStats.to_dict`, the dict of tensors vislab has always written: ``{"mode": "none"}``,
``{"mode": "standard", "mean": Tensor, "std": Tensor}`` (plus ``"fixed": "imagenet"``) or
``{"mode": "zca", "mean": Tensor(D), "W": Tensor(D×D), "epsilon": float}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import torch

from vislab.config import DataConfig
from vislab.errors import UserError, show_note

#: data.zca_epsilon's default: the courses' recipe (no note says it smooths)
DEFAULT_ZCA_EPSILON = DataConfig.model_fields["zca_epsilon"].default

MAX_ZCA_DIM = 4096  # D×D whitening matrix; CIFAR-10 is 3072
# The fixed ImageNet statistics that torchvision's and timm's pretrained weights expect (RGB in [0, 1]);
# a single-channel image gets their channel averages.
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
_TENSORS = {"none": (), "standard": ("mean", "std"), "zca": ("mean", "W")}  # what each mode needs


@dataclass(frozen=True, eq=False)
class NormStats:
    """Normalisation statistics fitted on the train split. ``mode``: none, standard or zca; ``mean``: per
    channel (images) or per value (features; ZCA: per value of the flattened sample); ``std``: per channel
    (standard); ``W``: the D×D whitening matrix and ``epsilon`` its ε (zca); ``fixed``: "imagenet" where
    the statistics are the ones pretrained weights expect rather than fitted."""

    mode: str
    mean: torch.Tensor | None = None
    std: torch.Tensor | None = None
    W: torch.Tensor | None = None  # the whitening matrix's name in the maths
    epsilon: float | None = None
    fixed: str | None = None

    def to(self, device: torch.device | str) -> NormStats:
        """The same statistics with their tensors on ``device``."""
        moved = {k: v.to(device) for k, v in self._present().items() if isinstance(v, torch.Tensor)}
        return replace(self, **moved)

    def to_dict(self) -> dict[str, Any]:
        """The dict a checkpoint stores (``preprocess``): the keys of the fields that are set."""
        return self._present()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NormStats:
        """The statistics of a checkpoint's ``preprocess`` dict; ValueError naming what is malformed."""
        mode = d.get("mode")
        if not isinstance(mode, str) or mode not in _TENSORS:
            raise ValueError(f"mode {mode!r} is not one of {', '.join(_TENSORS)}")
        bad = [k for k in _TENSORS[mode] if not isinstance(d.get(k), torch.Tensor)]
        if d.get("epsilon") is not None and not isinstance(d["epsilon"], (int, float)):
            bad.append("epsilon")
        if d.get("fixed") is not None and not isinstance(d["fixed"], str):
            bad.append("fixed")
        if bad:
            raise ValueError(f"{mode} statistics lack or have malformed {', '.join(bad)}")
        return cls(**{f.name: d.get(f.name) for f in fields(cls)})

    def _present(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }


def fit_stats(x: np.ndarray, mode: str, epsilon: float = 0.1) -> NormStats:
    """Fit statistics on train samples: uint8 N×H×W×C images (scaled to [0, 1]) or float N×D features."""
    if mode == "none":
        return NormStats("none")
    if mode == "imagenet":  # not fitted: the statistics pretrained weights were trained with
        return _imagenet_stats(x)
    if x.dtype == np.uint8:
        xf = torch.from_numpy(x).float().div_(255)  # N×H×W×C
        axes = (0, 1, 2)
    else:
        xf = torch.from_numpy(x.astype(np.float32))
        axes = (0,)
    if mode == "standard":
        return _standard_stats(xf, axes)
    # ZCA: X = centred train samples (N×D, pixels in C×H×W order); Σ = XᵀX / N = U S Uᵀ;
    # W = U (S + ε)^-½ Uᵀ whitens while staying as close as possible to the original images.
    flat = xf.permute(0, 3, 1, 2).reshape(len(x), -1) if x.dtype == np.uint8 else xf
    d = flat.shape[1]
    if too_large := zca_too_large((x.shape[3], *x.shape[1:3]) if x.dtype == np.uint8 else (d,)):
        raise UserError(too_large)
    mean = flat.mean(0)
    centred = flat - mean
    cov = (centred.T @ centred).double() / len(flat)
    s, u = torch.linalg.eigh(cov)
    mean_var = s.clamp_min(0).mean().item()
    n = len(flat)
    if note := _zca_span_note(n, d, epsilon, mean_var) or _zca_shrink_note(n, d, epsilon, mean_var):
        show_note(note)
    w = (u * (s.clamp_min(0) + epsilon).rsqrt()) @ u.T
    return NormStats("zca", mean, W=w.float(), epsilon=float(epsilon))


def zca_too_large(shape: tuple[int, ...]) -> str:
    """Why ZCA cannot be fitted on samples of ``shape`` (C×H×W, as the model gets them, or D), with the
    settings that fix it; "" when it can."""
    d = math.prod(shape)
    if d <= MAX_ZCA_DIM:
        return ""
    said = "×".join(map(str, shape)) if len(shape) == 3 else f"{d}-dimensional"
    standard = "--set data.normalize=standard / data__normalize=standard"
    problem = (
        f"ZCA (data.normalize=zca) on {said} samples needs a {d}×{d} matrix, and vislab fits ZCA on "
        f"at most {MAX_ZCA_DIM} values per sample."
    )
    if len(shape) != 3:
        return f"{problem} Use per-value standardisation: {standard}."
    channels, side = shape[0], min(shape[1:])
    fit = min(math.isqrt(MAX_ZCA_DIM // channels), side)
    return (
        f"{problem} Make the samples smaller: resize the images, --set data.resize={fit} / "
        f"data__resize={fit}, or crop them, --set augment.crop.size={fit} / augment__crop__size={fit} "
        f"(ZCA is fitted on the centre crop, the model's input); or standardise instead: {standard}."
    )


def _imagenet_stats(x: np.ndarray) -> NormStats:
    """The fixed ImageNet statistics for RGB or grey images (their channel averages); UserError else."""
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise UserError(
            f"data.normalize=imagenet needs RGB or grey images; these samples are "
            f"{'×'.join(map(str, x.shape[1:]))} {x.dtype}. Use data.normalize=standard."
        )
    mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
    if x.shape[-1] == 1:
        mean, std = mean.mean().view(1), std.mean().view(1)
    return NormStats("standard", mean, std, fixed="imagenet")


def _standard_stats(xf: torch.Tensor, axes: tuple[int, ...]) -> NormStats:
    """Mean and (unbiased) std over ``axes``: per channel of images, per value of features. Where each
    statistic has one value to go by (one feature vector), there is no spread: std 1, with a note."""
    mean = xf.mean(dim=axes)
    if xf.numel() < 2 * mean.numel():  # the unbiased std of one value is NaN
        show_note(
            "data.normalize=standard is fitted on the train split's one sample, which has no spread: "
            "each value is centred on it but not scaled (std 1), and that sample becomes all zeros. "
            "Leave normalisation out, --set data.normalize=none / data__normalize=none, or train on "
            "more samples."
        )
        return NormStats("standard", mean, torch.ones_like(mean))
    std = xf.std(dim=axes)
    # a value constant over the train split has no spread to scale by: 1/std would blow up any other
    # value it takes in val, test or a new image (1/1e-6), so it is centred only (scikit-learn's
    # StandardScaler does the same)
    flat = std < 1e-6
    if flat.any():
        show_note(
            _constant_note([int(i) for i in flat.nonzero().flatten()], len(axes) > 1, len(std))
        )
    return NormStats("standard", mean, torch.where(flat, torch.ones_like(std), std))


def _constant_note(flat: list[int], images: bool, n: int) -> str:
    """The note for the channels (``images``) or features ``flat`` (indices, of ``n``) that are constant
    over the train split."""
    what = "channel" if images else "feature"
    listed = ", ".join(map(str, flat[:8])) + (f" and {len(flat) - 8} more" if len(flat) > 8 else "")
    return (
        f"data.normalize=standard: {what}{'s' if len(flat) > 1 else ''} {listed} (of {n}, counted from 0) "
        f"{'is' if len(flat) == 1 else 'are'} constant over the train split: centred but not scaled "
        f"(std 1), so that another value there in val, test or a new image stays near the train "
        f"values' scale. If val or test vary there and train does not, the model has not learnt to "
        f"read {'it' if len(flat) == 1 else 'them'}."
    )


def _zca_span_note(n: int, d: int, epsilon: float, mean_var: float) -> str | None:
    """The note for ZCA fitted on ``n`` ≤ ``d`` train samples of ``d`` values with an ε below their mean
    variance per value ``mean_var`` (0.1, the default ε, where they have none): the directions outside
    the train samples' span, where val and test samples still have a part, are scaled by 1/√ε; else
    None. (8×8 digits, 40 train images, ε=1e-5: val inputs' RMS 20.6 against train's 0.78.)"""
    floor = mean_var if mean_var > 0 else 0.1
    if n > d or epsilon >= floor:
        return None
    larger = 10 ** math.ceil(math.log10(floor))
    return (
        f"ZCA (data.normalize=zca) is fitted on {n} train sample{'s' if n > 1 else ''} of {d} values: "
        f"they span at most {n - 1} of the {d} directions, and each direction outside their span is "
        f"scaled by 1/√ε = {epsilon**-0.5:.3g} (data.zca_epsilon={epsilon:g}; the train values' mean "
        f"variance is {mean_var:.2g}). The train samples have no part there, but val and test samples "
        f"do: their whitened inputs come out far larger than the train inputs, and the val loss can be "
        f"far above the train loss from the start. Use a larger ε, --set data.zca_epsilon={larger:g} / "
        f"data__zca_epsilon={larger:g}, or more than {d} train samples."
    )


def _zca_shrink_note(n: int, d: int, epsilon: float, mean_var: float) -> str | None:
    """The note for a ZCA ε given above the mean variance per value ``mean_var`` of ``n`` train samples
    of ``d`` values, which shrinks most directions (those of eigenvalues below ε) rather than whitening
    them; else None — and None for the default ε (the courses' recipe, on [0, 1] pixels above their
    variance of 0.06-0.09, as the README says) and where ``n`` ≤ ``d`` (:func:`_zca_span_note`'s advice,
    a larger ε, is the one that stands)."""
    if n <= d or epsilon == DEFAULT_ZCA_EPSILON or mean_var <= 0 or epsilon <= mean_var:
        return None
    smaller = 10 ** math.floor(math.log10(mean_var / 30))
    return (
        f"data.zca_epsilon={epsilon:g} is above the train values' mean variance ({mean_var:.2g}): ZCA "
        f"(data.normalize=zca) shrinks most directions rather than whitening them (ε is a regulariser; "
        f"the whitened covariance is far from the identity). To whiten more, --set "
        f"data.zca_epsilon={smaller:g} / data__zca_epsilon={smaller:g} (it amplifies noise too)."
    )


def apply_stats(x: torch.Tensor, stats: NormStats) -> torch.Tensor:
    """Normalise a float batch (N×C×H×W in [0, 1], or N×D features) with fitted statistics."""
    if stats.mode == "none":
        return x
    if stats.mode == "standard":
        mean, std = stats.mean.to(x.device), stats.std.to(x.device)
        if x.ndim == 4:
            mean, std = mean.view(1, -1, 1, 1), std.view(1, -1, 1, 1)
        return (x - mean) / std
    shape = x.shape
    flat = x.reshape(shape[0], -1)
    return ((flat - stats.mean.to(x.device)) @ stats.W.to(x.device)).reshape(shape)
