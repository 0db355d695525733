"""Explanation maps over their image: one row, the image, then each map (attention head, rollout,
Grad-CAM, saliency) upsampled over it. Maps come from :mod:`vislab.explain_maps`; this module only draws.

A map coarser than its image is a token map (attention, rollout: one value per patch) and is upsampled
nearest, each patch one flat block, as the model saw it; Grad-CAM comes already upsampled (bilinear, in
:mod:`vislab.explain_maps`: its feature-map cells see overlapping parts of the image) and saliency is per
pixel, so their size is the image's and they are drawn as they are."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure, SubFigure

from vislab.plotting.canvas import NotebookFigure, literal, plt, save_figure

ROW_IN = (1.9, 2.3)  # inches per panel (width) and per row (height)
# a map's colours: perceptually uniform and colour-blind safe, more opaque as the value rises (a low value
# lets the image through), over the image in grey at half contrast (:func:`draw_over`)
CMAP = "inferno"
ALPHA = (0.15, 0.9)  # the map's opacity at its least and at its largest value
UNDER = "0.5"  # the colour bar's ground: the grey of the image's middle, which its colours are blended with
LUMA = np.array([0.299, 0.587, 0.114])  # an RGB image's grey levels (ITU-R BT.601)
PER_MAP = "scaled per image"  # the colour bar of maps in arbitrary units, each min-max scaled
TITLE_PT = 8  # a panel's title, and the colour bar's label and ticks: no larger
BAR_PT = TITLE_PT
BAR_IN = 0.8  # the width a colour bar and its label add to a row
NOTHING = ": all zero\n(no positive evidence)"  # after the caption of a map that is 0 everywhere


def _upsampled(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """K × h × w maps as K × H × W, nearest (a token map: each patch one block), in their own units."""
    m = maps.detach().float().cpu()[:, None]
    return F.interpolate(m, size=size, mode="nearest-exact")[:, 0]


def upsample_maps(maps: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """K × h × w maps as K × H × W, nearest (:func:`_upsampled`), each min-max scaled to [0, 1] (a flat
    map becomes 0)."""
    m = _upsampled(maps, size)
    lo, hi = m.amin((1, 2), keepdim=True), m.amax((1, 2), keepdim=True)
    return ((m - lo) / (hi - lo).clamp_min(1e-12)).numpy()


def map_scale(
    maps: torch.Tensor, size: tuple[int, int], units: str | None
) -> tuple[np.ndarray, ScalarMappable]:
    """The K × h × w ``maps`` of one image upsampled to ``size`` and the colour scale they are drawn on:
    with ``units`` (attention weights: a share of the token's attention), one for the K maps, from their
    least to their largest value (attention that differs by a few hundredths still shows; the heads
    compared on one scale), the colour bar in those units; without (Grad-CAM, saliency: arbitrary
    units), each map min–max scaled to [0, 1] (:func:`upsample_maps`)."""
    over = _upsampled(maps, size).numpy() if units else upsample_maps(maps, size)
    lo, hi = (float(over.min()), float(over.max())) if units else (0.0, 1.0)
    return over, ScalarMappable(Normalize(lo, max(hi, lo + 1e-12)), cmap=overlay_colours())


def overlay_colours() -> ListedColormap:
    """:data:`CMAP` with an opacity rising from ``ALPHA[0]`` to ``ALPHA[1]`` with the value: what a map
    is drawn in, and its colour bar (on a grey ground, :data:`UNDER`) with it."""
    colours = mpl.colormaps[CMAP](np.linspace(0, 1, 256))
    colours[:, 3] = np.linspace(*ALPHA, 256)
    return ListedColormap(colours, name=f"{CMAP}-rising")


def draw_over(ax, image: np.ndarray, m: np.ndarray, scale: ScalarMappable) -> None:
    """On ``ax``: ``image`` (H×W×C, uint8 or floats in [0, 1]) in grey at half contrast (its 0–255 as
    64–191), and the map ``m`` over it in ``scale``'s colours (:func:`overlay_colours`)."""
    grey = image[..., 0] if image.shape[-1] == 1 else image[..., :3] @ LUMA
    peak = 1.0 if np.issubdtype(image.dtype, np.floating) else 255.0
    ax.imshow(grey, cmap="gray", vmin=-0.5 * peak, vmax=1.5 * peak)
    ax.imshow(m, cmap=scale.get_cmap(), norm=scale.norm)


def colour_bar(
    fig: Figure | SubFigure,
    scale: ScalarMappable,
    axes: list,
    units: str | None,
    shrink: float = 0.9,
) -> None:
    """A colour bar right of ``axes`` (``shrink``: its share of their height, at their foot): in
    ``units`` (a note in brackets on a line of its own: the label stays within a row of images), or
    without them each map's own min and max."""
    bar = fig.colorbar(scale, ax=axes, shrink=shrink, pad=0.02, anchor=(0.0, 0.0))
    bar.ax.set_facecolor(UNDER)  # the map's colours as they show over the grey image
    if units is None:
        bar.set_ticks([0, 1], labels=["min", "max"])
    bar.set_label(PER_MAP if units is None else units.replace(" (", "\n("), fontsize=BAR_PT)
    bar.ax.tick_params(labelsize=BAR_PT)


def head_labels(heads: int) -> list[str]:
    """The captions of ``heads`` attention heads: counted from 1, as a figure's blocks are."""
    return [f"head {h + 1}" for h in range(heads)]


def plot_explanation(
    image: np.ndarray,
    maps: torch.Tensor,
    labels: list[str],
    path: str | Path,
    title: str = "",
    units: str | None = None,
) -> Path:
    """PNG: the uint8 H×W×C ``image``, then each of the K × h × w ``maps`` over it (:func:`draw_over`)
    and their colour bar; ``units``: :func:`draw_explanation_row`'s."""
    wide = ROW_IN[0] * (1 + len(labels)) + BAR_IN
    fig = plt.figure(figsize=(wide, ROW_IN[1]), layout="constrained")
    draw_explanation_row(fig, image, maps, labels, title, units)
    return save_figure(fig, path, dpi=100, tight=True)


def explanation_rows_figure(
    images: Sequence[np.ndarray],
    maps: Sequence[torch.Tensor],
    labels: Sequence[str],
    titles: Sequence[str],
    units: str | None = None,
) -> Figure:
    """One row per uint8 H×W×C image, as :func:`plot_explanation` draws one (what ``Run.explain``
    returns): the image, then each of its K × h × w ``maps``, captioned by ``labels`` (the same K for
    every row), the row by its title, each row on its own scale with its colour bar
    (:func:`map_scale`)."""
    panels = 1 + len(labels)
    fig = NotebookFigure(
        figsize=(ROW_IN[0] * panels + BAR_IN, ROW_IN[1] * len(images)), layout="constrained"
    )
    rows = fig.subfigures(len(images), 1, squeeze=False)[:, 0]
    for row, image, m, title in zip(rows, images, maps, titles):
        draw_explanation_row(row, image, m, labels, title, units)
    return fig


def draw_explanation_row(
    fig: Figure | SubFigure,
    image: np.ndarray,
    maps: torch.Tensor,
    labels: Sequence[str],
    title: str = "",
    units: str | None = None,
) -> None:
    """On ``fig`` (a figure or one row of one): the uint8 H×W×C ``image`` (grey on its 0–255 scale, not
    stretched), then each of the K × h × w ``maps`` upsampled over it (:func:`draw_over`): with ``units``
    (e.g. "attention weight (image's min–max)") all on one scale, from their least to their
    largest value, a colour bar in those units beside them; without, each min-max scaled, the bar saying
    so (:func:`map_scale`, :func:`colour_bar`). A map that is zero everywhere (Grad-CAM when no feature map
    speaks for the class) is not drawn: its caption says so (:data:`NOTHING`) over the bare image."""
    over, scale = map_scale(maps, image.shape[:2], units)
    empty = [False, *(maps.detach().flatten(1).amax(1) <= 0).tolist()]
    axes = fig.subplots(1, 1 + len(over), squeeze=False)[0]
    gray = image.shape[-1] == 1
    shown = image[..., 0] if gray else image
    for ax, label, m, zero in zip(axes, ["input", *labels], [None, *over], empty):
        if m is not None and not zero:
            draw_over(ax, image, m, scale)
        else:
            ax.imshow(shown, cmap="gray" if gray else None, vmin=0, vmax=255)
        ax.set_title(literal(label) + NOTHING if zero else literal(label), fontsize=TITLE_PT)
        ax.axis("off")
    colour_bar(fig, scale, list(axes[1:]), units)
    if title:
        fig.suptitle(literal(title), fontsize=9)
