"""Explanation maps over their image: one row, the image, then each map (attention head, rollout,
Grad-CAM, saliency) upsampled over it. Maps come from :mod:`vislab.explain`; this module only draws."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vislab.plotting.canvas import plt, save_figure


def upsample_maps(maps: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """K × h × w maps as K × H × W, bilinear, each min-max scaled to [0, 1] (a flat map becomes 0)."""
    m = maps.detach().float().cpu()[:, None]
    m = F.interpolate(m, size=size, mode="bilinear", align_corners=False)[:, 0]
    lo, hi = m.amin((1, 2), keepdim=True), m.amax((1, 2), keepdim=True)
    return ((m - lo) / (hi - lo).clamp_min(1e-12)).numpy()


def plot_explanation(
    image: np.ndarray, maps: torch.Tensor, labels: list[str], path: str | Path, title: str = ""
) -> Path:
    """PNG: the uint8 H×W×C ``image``, then each of the K × h × w ``maps`` over it (jet, half opaque)."""
    over = upsample_maps(maps, image.shape[:2])
    n = 1 + len(over)
    fig, axes = plt.subplots(1, n, figsize=(1.9 * n, 2.3), squeeze=False)
    gray = image.shape[-1] == 1
    shown = image[..., 0] if gray else image
    for ax, label, m in zip(axes[0], ["input", *labels], [None, *over]):
        ax.imshow(shown, cmap="gray" if gray else None)
        if m is not None:
            ax.imshow(m, cmap="jet", alpha=0.5, vmin=0, vmax=1)
        ax.set_title(label, fontsize=8)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=100, tight=True)
