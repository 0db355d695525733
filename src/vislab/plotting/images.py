"""Data figures: image grids (one subplot per image), image mosaics (one picture), 2-D feature scatter; signed
images (normalised, whitened) mapped to grey levels for display. Each a :class:`NotebookFigure`, as the
Python API hands it back (``vislab.preview_data``)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from vislab.plotting.canvas import NotebookFigure, fit_name, literal, save_figure
from vislab.plotting.legend import MARKERS, run_style

Labels = list[str] | list[list[str]]  # under each image: one list for every row, or one per row
GRID_IN = 1.1  # a column of plot_image_grid, in inches
GRID_PT = 6  # its labels under the images


def row_labels(labels: Labels | None, rows: int) -> list[list[str]]:
    """The labels under each row's images: ``labels`` one list for every row (e.g. class names) or one
    list per row (e.g. a mixed image's two classes); none: empty lists."""
    if not labels:
        return [[] for _ in range(rows)]
    if isinstance(labels[0], str):
        return [[str(label) for label in labels]] * rows
    return [list(r) for r in labels]


def plot_image_grid(
    rows: list[np.ndarray],
    path: Path,
    row_titles: list[str] | None = None,
    labels: Labels | None = None,
) -> Path:
    """Grid of uint8 N×H×W×C images, one row per array (e.g. originals vs augmented), each row's title
    above it; ``labels`` (e.g. class names) are written under the images, fitted to their column
    (:func:`fit_label`): the same under every row, or a list per row (:func:`row_labels`)."""
    n = max(len(r) for r in rows)
    # a column's room for labels: its share of the width between matplotlib's default margins
    under = [
        [fit_label(s, 0.75 * GRID_IN, GRID_PT) for s in r] for r in row_labels(labels, len(rows))
    ]
    lines = max((s.count("\n") + 1 for r in under for s in r), default=0)
    fig = NotebookFigure(figsize=(n * GRID_IN, len(rows) * (1.25 + lines * 0.2)))
    axes = fig.subplots(len(rows), n, squeeze=False)
    for i, imgs in enumerate(rows):
        for j in range(n):
            ax = axes[i][j]
            ax.axis("off")
            if j < len(imgs):
                img = imgs[j]
                ax.imshow(
                    img[..., 0] if img.shape[-1] == 1 else img,
                    cmap="gray" if img.shape[-1] == 1 else None,
                    vmin=0,
                    vmax=255,
                )
                if j < len(under[i]):
                    ax.text(0.5, -0.04, literal(under[i][j]), transform=ax.transAxes,
                            ha="center", va="top", fontsize=GRID_PT, linespacing=1.0)  # fmt: skip
        if row_titles:
            axes[i][0].set_title(literal(row_titles[i]), fontsize=8, loc="left")
    return save_figure(fig, path)


def fit_label(label: str, width_in: float, points: float) -> str:
    """``label`` (a class name; a mixed image's two, 'A ·0.72 / B ·0.28') fitted to ``width_in`` inches
    of ``points``-sized text: one name on up to two lines, broken at underscores, spaces or hyphens, or
    cut in the middle (:func:`~vislab.plotting.canvas.fit_name`); a mixed image's names one a line."""
    chars = max(int(width_in * 72 / (0.62 * points)), 4)
    if all(len(line) <= chars for line in label.split("\n")):
        return label
    parts = label.replace(" / ", "\n").split("\n")  # a mixed image's classes: one a line
    return "\n".join(fit_name(part, chars, 2 if len(parts) == 1 else 1) for part in parts)


# How signed_to_display maps values to grey levels, for figure titles.
SIGNED_DISPLAY = "shown per image as 128 + 127·v / max|v|: grey = 0"


def signed_to_display(x: np.ndarray) -> np.ndarray:
    """Float N×H×W×C images of any range (e.g. standardised or whitened) → uint8 for display: each image
    scaled by its largest |value| (:data:`SIGNED_DISPLAY`), so 0 is mid-grey and the sign stays visible."""
    peak = np.abs(x).reshape(len(x), -1).max(axis=1).clip(min=1e-12)
    return np.rint(128 + 127 * x / peak[:, None, None, None]).clip(0, 255).astype(np.uint8)


def class_colors(n: int) -> list[str]:
    """The colour of each of ``n`` classes in every figure of feature data (samples, decision boundary):
    the current palette's (:func:`~vislab.plotting.legend.run_style`: a page's Okabe–Ito), again past it
    (their points then differ by marker: :func:`class_markers`)."""
    return [run_style(k)[0] for k in range(n)]


def class_markers(n: int) -> list[str]:
    """The marker of each of ``n`` classes' points: a round one, another for each round of colours
    past the palette (:func:`~vislab.plotting.legend.run_style`)."""
    return [m if m != MARKERS[0] else "o" for m in (run_style(k)[1] for k in range(n))]


def feature_label(k: int, raw: bool = False) -> str:
    """The axis name of the data's column ``k`` (counted from 0): x₁ for column 0; ``raw``: in the
    data's own units, before the run's normalisation (data.normalize)."""
    sub = str(k + 1).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))
    return f"x{sub} (raw)" if raw else f"x{sub}"


def plot_feature_scatter(
    x: np.ndarray, y: np.ndarray, class_names: list[str], path: Path, title: str = ""
) -> Path:
    """2-D feature data (e.g. `circles`) coloured by class; higher dimensions show their first two features."""
    fig = NotebookFigure(figsize=(4.5, 4.5))
    ax = fig.subplots()
    n = len(class_names)
    for k, (name, color, marker) in enumerate(zip(class_names, class_colors(n), class_markers(n))):
        pts = x[y == k]
        ax.scatter(
            pts[:, 0],
            pts[:, 1] if x.shape[1] > 1 else np.zeros(len(pts)),
            s=8,
            color=color,
            marker=marker,
            label=literal(name),
            alpha=0.7,
        )
    ax.set_xlabel(feature_label(0, raw=True))
    ax.set_ylabel(feature_label(1, raw=True))
    ax.legend(fontsize=7)
    ax.set_title(literal(title or "samples"))
    return save_figure(fig, path)


MOSAIC_COLUMNS = 4  # a single row of more images is wrapped into rows of at most this many
MOSAIC_IN = (0.75, 12.0)  # an image's least width, the mosaic's greatest, in inches
LABEL_IN = 0.15  # a line of labels under a row of images, in inches
LABEL_PT = 7  # the labels under a mosaic's images
HEAD_PT = 8  # a mosaic's row titles, above their rows
HEAD_IN = 0.17  # a line of a row title, in inches


def plot_image_mosaic(
    rows: list[np.ndarray],
    path: Path,
    row_titles: list[str] | None = None,
    scale: float = 0.45,
    labels: Labels | None = None,
) -> Path:
    """Like plot_image_grid (each row's title above it, wrapped to the mosaic's width; ``labels``,
    :func:`row_labels`, under the images, fitted to their column), drawn as one picture (one axes): fast
    for the report's sample grids. Rows of smaller images (e.g. augment.crop.size crops beside the
    originals) sit centred in their cells. A single row of more than :data:`MOSAIC_COLUMNS` images (a
    dataset's samples) is wrapped into rows of as many, its title above them. ``scale``: tenths of an
    inch per pixel, an image at least :data:`MOSAIC_IN` wide, the figure as large as its content."""
    under, title = row_labels(labels, len(rows)), None
    if len(rows) == 1 and len(rows[0]) > MOSAIC_COLUMNS:
        rows, under = _wrap_row(rows[0], under[0])
        title, row_titles = (row_titles or [None])[0], None
    n = max(len(r) for r in rows)
    h, w = max(r.shape[1] for r in rows), max(r.shape[2] for r in rows)
    pad = max(1, h // 16)
    px = max(scale / 10, MOSAIC_IN[0] / w)  # inches per pixel
    px = min(px, MOSAIC_IN[1] / (n * (w + pad) + pad))
    under = [[fit_label(s, (w + pad) * px, LABEL_PT) for s in r] for r in under]
    chars = max(int((n * (w + pad) - pad) * px * 72 / (0.6 * HEAD_PT)), 10)
    heads = [textwrap.fill(t, chars) for t in row_titles or []]
    lines = max((label.count("\n") + 1 for r in under for label in r), default=0)
    below = int(np.ceil(lines * LABEL_IN / px))  # pixels for the labels under a row
    above = int(np.ceil(max((t.count("\n") + 1 for t in heads), default=0) * HEAD_IN / px))
    pitch = above + h + pad + below
    canvas = _canvas(rows, (h, w), pad, pitch, n, above)
    inches = (canvas.shape[1] * px, canvas.shape[0] * px + (0.3 if title else 0.0))
    fig = NotebookFigure(figsize=inches)
    ax = fig.subplots()
    c = canvas.shape[2]
    ax.imshow(canvas[..., 0] if c == 1 else canvas, cmap="gray" if c == 1 else None, vmin=0,
              vmax=255, interpolation="nearest")  # fmt: skip
    ax.axis("off")
    for i, row in enumerate(under):
        for j, label in enumerate(row[: len(rows[i])]):
            x, y = pad + j * (w + pad) + w / 2, pad + i * pitch + above + h + pad / 2
            ax.text(x, y, literal(label), ha="center", va="top", fontsize=LABEL_PT, linespacing=1.0)
    for i, text in enumerate(heads):
        y = pad + i * pitch + above - pad / 2
        ax.text(pad, y, literal(text), ha="left", va="bottom", fontsize=HEAD_PT, linespacing=1.1)
    if title:
        ax.set_title(literal(title), fontsize=9)
    return save_figure(fig, path)


def _wrap_row(images: np.ndarray, labels: list[str]) -> tuple[list[np.ndarray], list[list[str]]]:
    """One row of images (and their labels) as rows of at most :data:`MOSAIC_COLUMNS`, as even as can be."""
    per = -(-len(images) // -(-len(images) // MOSAIC_COLUMNS))
    starts = range(0, len(images), per)
    return [images[k : k + per] for k in starts], [labels[k : k + per] for k in starts]


def _canvas(
    rows: list[np.ndarray], cell: tuple[int, int], pad: int, pitch: int, n: int, above: int = 0
) -> np.ndarray:
    """The white uint8 picture of the mosaic: row i's images from ``pad + i * pitch + above`` (``above``:
    its title's band), each centred in its h × w ``cell``."""
    h, w = cell
    c = rows[0].shape[3]
    canvas = np.full((len(rows) * pitch + pad, n * (w + pad) + pad, c), 255, dtype=np.uint8)
    for i, imgs in enumerate(rows):
        for j, img in enumerate(imgs):
            y = pad + i * pitch + above + (h - img.shape[0]) // 2
            x = pad + j * (w + pad) + (w - img.shape[1]) // 2
            canvas[y : y + img.shape[0], x : x + img.shape[1]] = img
    return canvas
