"""Normalisation fitted on the TRAIN split only: per-channel standardisation or ZCA whitening — or the
fixed ImageNet statistics that pretrained weights expect.

The statistics are a dict of tensors (stored in checkpoints, reused for val/test/predict):
``{"mode": str, "mean": Tensor, "std": Tensor}`` or ``{"mode": "zca", "mean": Tensor(D), "W": Tensor(D×D)}``.
"""

from __future__ import annotations

import numpy as np
import torch

from vislab.errors import UserError

MAX_ZCA_DIM = 4096  # D×D whitening matrix; CIFAR-10 is 3072
# The fixed ImageNet statistics that torchvision's and timm's pretrained weights expect (RGB in [0, 1]);
# a single-channel image gets their channel averages.
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def fit_stats(x: np.ndarray, mode: str, epsilon: float = 0.1) -> dict:
    """Fit statistics on train samples: uint8 N×H×W×C images (scaled to [0, 1]) or float N×D features."""
    if mode == "none":
        return {"mode": "none"}
    if mode == "imagenet":  # not fitted: the statistics pretrained weights were trained with
        if x.dtype != np.uint8 or x.ndim != 4 or x.shape[-1] not in (1, 3):
            raise UserError(
                f"data.normalize=imagenet needs RGB or grey images; these samples are "
                f"{'×'.join(map(str, x.shape[1:]))} {x.dtype}. Use data.normalize=standard."
            )
        mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
        if x.shape[-1] == 1:
            mean, std = mean.mean().view(1), std.mean().view(1)
        return {"mode": "standard", "mean": mean, "std": std, "fixed": "imagenet"}
    if x.dtype == np.uint8:
        xf = torch.from_numpy(x).float().div_(255)  # N×H×W×C
        axes = (0, 1, 2)
    else:
        xf = torch.from_numpy(x.astype(np.float32))
        axes = (0,)
    if mode == "standard":
        mean = xf.mean(dim=axes)
        std = xf.std(dim=axes).clamp_min(1e-6)
        return {"mode": "standard", "mean": mean, "std": std}
    # ZCA: X = centred train samples (N×D, pixels in C×H×W order); Σ = XᵀX / N = U S Uᵀ;
    # W = U (S + ε)^-½ Uᵀ whitens while staying as close as possible to the original images.
    flat = xf.permute(0, 3, 1, 2).reshape(len(x), -1) if x.dtype == np.uint8 else xf
    d = flat.shape[1]
    if d > MAX_ZCA_DIM:
        raise UserError(
            f"ZCA on {d}-dimensional samples needs a {d}×{d} matrix; use data.normalize=standard "
            f"or smaller images (ZCA is supported up to {MAX_ZCA_DIM} values per sample)."
        )
    mean = flat.mean(0)
    centred = flat - mean
    cov = (centred.T @ centred).double() / len(flat)
    s, u = torch.linalg.eigh(cov)
    w = (u * (s.clamp_min(0) + epsilon).rsqrt()) @ u.T
    return {"mode": "zca", "mean": mean, "W": w.float(), "epsilon": float(epsilon)}


def apply_stats(x: torch.Tensor, stats: dict) -> torch.Tensor:
    """Normalise a float batch (N×C×H×W in [0, 1], or N×D features) with fitted statistics."""
    mode = stats["mode"]
    if mode == "none":
        return x
    if mode == "standard":
        mean, std = stats["mean"].to(x.device), stats["std"].to(x.device)
        if x.ndim == 4:
            mean, std = mean.view(1, -1, 1, 1), std.view(1, -1, 1, 1)
        return (x - mean) / std
    shape = x.shape
    flat = x.reshape(shape[0], -1)
    return ((flat - stats["mean"].to(x.device)) @ stats["W"].to(x.device)).reshape(shape)


def stats_to_device(stats: dict, device: torch.device) -> dict:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in stats.items()}
