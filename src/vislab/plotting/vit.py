"""A Vision Transformer's figures, from its tensors: the positional-embedding table, attention-rollout maps.

The model side (its hooks' ``position_embedding``, ``token_grid`` and ``attention_maps``, read by
:mod:`vislab.explain_maps`) stays with the model; these functions only draw what they are given.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.ticker import MaxNLocator

from vislab.plotting.canvas import fit_name, literal, plt, save_figure
from vislab.plotting.explain import colour_bar, draw_over, map_scale

PANELS_IN = (12.0, 5.6)  # the positional-embedding figure: table and similarity map side by side
IMAGE_IN = 2.2  # an attention panel (image, and its map under it)
TITLE_CHARS = 14  # a title's line: ~0.8 in at 8 pt, a panel of six across a printed page
# the height a title's line adds: at 8 pt on the page, where six panels shrink to about half their size
TITLE_LINE_IN = 0.35


def position_similarity(table: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every pair of rows of a T × D table: T × T, symmetric, ones on the diagonal
    (an all-zero row has similarity 0 with everything)."""
    unit = F.normalize(table.detach().double().cpu(), dim=1)
    return unit @ unit.T


def plot_pos_embedding(
    table: torch.Tensor,
    grid: tuple[int, int] | None,
    path: str | Path,
    class_token: bool = False,
    title: str = "positional embedding",
) -> Path:
    """PNG: the positional-embedding table (position × dimension) and the cosine similarity of its rows.

    ``table``: T × D (e.g. a model's hooks' ``position_embedding()``, or
    :func:`vislab.models.vit.sinusoidal_table`), row 0 the class token's when ``class_token`` (left out
    of the similarity map). ``grid`` (rows, columns): the patches form an image grid, and the map shows,
    per patch, a tile of its similarity with every patch; ``None``: a 1-D sequence, and the map is
    position × position."""
    table = table.detach().float().cpu()
    patches = table[1:] if class_token else table
    sim = position_similarity(patches).float()
    if grid is not None:  # tile (i, j) = patch (i, j)'s similarity with the gh × gw patches
        gh, gw = grid
        sim = sim.reshape(gh, gw, gh, gw).permute(0, 2, 1, 3).reshape(gh * gh, gw * gw)
    # panels drawn to be read at their own size (the report shows them on a row of their own): the
    # similarity map, the one a reader studies, square and ~5 in
    fig, (a1, a2) = plt.subplots(1, 2, figsize=PANELS_IN, width_ratios=[1, 1.15])
    scale = float(table.abs().max()) or 1.0  # symmetric colours: white = 0
    im = a1.imshow(table.T.numpy(), aspect="auto", cmap="RdBu_r", vmin=-scale, vmax=scale)
    token = "token" if grid is not None else "position"
    a1.set(
        xlabel=f"{token} (0 = class token)" if class_token else token,
        ylabel="embedding dimension",
        title=title,
    )
    fig.colorbar(im, ax=a1)
    im = a2.imshow(sim.numpy(), cmap="viridis", vmin=-1, vmax=1)
    if grid is not None:
        _draw_tiles(a2, grid)
    else:
        a2.set(xlabel="position", ylabel="position", title="cosine similarity of positions")
    # tokens and dimensions are counted: no 0.5 (a tile map's ticks are its patch rows and columns)
    for axis in (
        (a1.xaxis, a1.yaxis) if grid is not None else (a1.xaxis, a1.yaxis, a2.xaxis, a2.yaxis)
    ):
        axis.set_major_locator(MaxNLocator(integer=True))
    fig.colorbar(im, ax=a2)
    fig.tight_layout()
    return save_figure(fig, path, tight=False)


def _draw_tiles(ax, grid: tuple[int, int]) -> None:
    """White lines between the tiles of a patch-grid similarity map (tile (i, j): gh × gw pixels, patch
    (i, j)'s similarity with every patch), ticks at the tiles' centres numbered by patch row and column
    (every k-th past 16), and the title."""
    gh, gw = grid
    for k in range(1, max(gh, gw)):
        if k < gh:
            ax.axhline(k * gh - 0.5, color="w", lw=0.5)
        if k < gw:
            ax.axvline(k * gw - 0.5, color="w", lw=0.5)
    rows, cols = range(0, gh, -(-gh // 16)), range(0, gw, -(-gw // 16))
    ax.set_yticks([i * gh + (gh - 1) / 2 for i in rows], [str(i) for i in rows])
    ax.set_xticks([j * gw + (gw - 1) / 2 for j in cols], [str(j) for j in cols])
    ax.tick_params(length=0)
    ax.set(
        title=f"cosine similarity of positions\n(tile = one patch vs all {gh}×{gw} patches)",
        xlabel="patch column",
        ylabel="patch row",
    )


def plot_attention(
    maps: torch.Tensor,
    images: torch.Tensor,
    display: np.ndarray | None = None,
    *,
    path: str | Path,
    max_images: int = 8,
    label: str = "attention rollout",
    titles: Sequence[str] | None = None,
) -> Path:
    """PNG: images (top) and their attention maps (or any ``label`` map: Grad-CAM) overlaid (bottom),
    each image under its title from ``titles`` (e.g. its predicted and true class), if given, wrapped to
    fit a panel at a printed page's width (:data:`TITLE_CHARS`), and a colour bar.

    ``maps``: B × grid_h × grid_w, how much each patch feeds the prediction (e.g. attention rollout:
    ``vislab.explain_maps.explain_maps(model, x, "rollout")[:, 0]``), each scaled to its own min–max
    (rollout weights of one image differ by hundredths; Grad-CAM's units are arbitrary), as the colour
    bar says (:data:`~vislab.plotting.explain.PER_MAP`).
    ``images``: the normalised B×C×H×W batch the model took; ``display``: the same images as uint8
    N×H×W×C (else ``images`` min-max scaled)."""
    x = images[:max_images]
    if display is None:
        lo, hi = x.amin((1, 2, 3), keepdim=True), x.amax((1, 2, 3), keepdim=True)
        display = ((x - lo) / (hi - lo).clamp_min(1e-8)).permute(0, 2, 3, 1).cpu().numpy()
    over, scale = map_scale(maps[: len(x)], display.shape[1:3], None)
    wrapped = [wrap_title(t) for t in titles[: len(x)]] if titles is not None else None
    lines = max((t.count("\n") + 1 for t in wrapped), default=0) if wrapped else 0
    n = len(x)
    fig, axes = plt.subplots(
        2, n, figsize=(IMAGE_IN * n + 1, 2 * IMAGE_IN + TITLE_LINE_IN * lines), squeeze=False,
        layout="constrained",
    )  # fmt: skip
    for i in range(n):
        img = display[i]
        gray = img.shape[-1] == 1
        axes[0, i].imshow(img[..., 0] if gray else img, cmap="gray" if gray else None)
        draw_over(axes[1, i], img, over[i], scale)
        for ax in axes[:, i]:
            ax.axis("off")
        if wrapped is not None:
            axes[0, i].set_title(literal(wrapped[i]), fontsize=8)
    for ax, text in zip(axes[:, 0], ("input", label)):  # beside the row: the titles are the images'
        ax.text(-0.05, 0.5, text, rotation=90, ha="right", va="center", transform=ax.transAxes)
    colour_bar(fig, scale, axes.ravel().tolist(), None, shrink=0.45)  # beside the maps' row
    return save_figure(fig, path, tight=False)


def wrap_title(title: str, width: int = TITLE_CHARS) -> str:
    """``title``'s lines, each on at most three lines of ``width`` characters: broken between words and
    at underscores, else a word on a line of its own, a word longer than the line cut in the middle
    (:func:`~vislab.plotting.canvas.fit_name`: the end of long_class_name_7 stays)."""
    return "\n".join(fit_name(line, width, 3) for line in title.split("\n"))
