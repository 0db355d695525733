"""Explanation maps over their image: one row, the image, then each map (attention head, rollout,
Grad-CAM, saliency) upsampled over it. Maps come from :mod:`vislab.explain_maps`; this module only draws."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure, SubFigure

from vislab.plotting.canvas import NotebookFigure, literal, plt, save_figure

ROW_IN = (1.9, 2.3)  # inches per panel (width) and per row (height)
NOTHING = ": all zero\n(no positive evidence)"  # after the caption of a map that is 0 everywhere


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
    fig = plt.figure(figsize=(ROW_IN[0] * (1 + len(labels)), ROW_IN[1]))
    draw_explanation_row(fig, image, maps, labels, title)
    fig.tight_layout()
    return save_figure(fig, path, dpi=100, tight=True)


def explanation_rows_figure(
    images: Sequence[np.ndarray],
    maps: Sequence[torch.Tensor],
    labels: Sequence[str],
    titles: Sequence[str],
) -> Figure:
    """One row per uint8 H×W×C image, as :func:`plot_explanation` draws one (what ``Run.explain``
    returns): the image, then each of its K × h × w ``maps``, captioned by ``labels`` (the same K for
    every row), the row by its title."""
    panels = 1 + len(labels)
    fig = NotebookFigure(
        figsize=(ROW_IN[0] * panels, ROW_IN[1] * len(images)), layout="constrained"
    )
    rows = fig.subfigures(len(images), 1, squeeze=False)[:, 0]
    for row, image, m, title in zip(rows, images, maps, titles):
        draw_explanation_row(row, image, m, labels, title)
    return fig


def draw_explanation_row(
    fig: Figure | SubFigure,
    image: np.ndarray,
    maps: torch.Tensor,
    labels: Sequence[str],
    title: str = "",
) -> None:
    """On ``fig`` (a figure or one row of one): the uint8 H×W×C ``image`` (grey on its 0–255 scale, not
    stretched), then each of the K × h × w ``maps`` upsampled over it (jet, half opaque). A map that is
    zero everywhere (Grad-CAM when no feature map speaks for the class) is not drawn: its caption says
    so (:data:`NOTHING`) over the bare image."""
    over = upsample_maps(maps, image.shape[:2])
    empty = [False, *(maps.detach().flatten(1).amax(1) <= 0).tolist()]
    axes = fig.subplots(1, 1 + len(over), squeeze=False)[0]
    gray = image.shape[-1] == 1
    shown = image[..., 0] if gray else image
    for ax, label, m, zero in zip(axes, ["input", *labels], [None, *over], empty):
        ax.imshow(shown, cmap="gray" if gray else None, vmin=0, vmax=255)
        if m is not None and not zero:
            ax.imshow(m, cmap="jet", alpha=0.5, vmin=0, vmax=1)
        ax.set_title(literal(label) + NOTHING if zero else literal(label), fontsize=8)
        ax.axis("off")
    if title:
        fig.suptitle(literal(title), fontsize=9)
