"""Data figures: image grids (one subplot per image), image mosaics (one picture), 2-D feature scatter; signed
images (normalised, whitened) mapped to grey levels for display."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vislab.plotting.canvas import literal, plt, save_figure


def plot_image_grid(
    rows: list[np.ndarray],
    path: Path,
    row_titles: list[str] | None = None,
    labels: list[str] | None = None,
) -> Path:
    """Grid of uint8 N×H×W×C images, one row per array (e.g. originals vs augmented); ``labels`` (e.g. class
    names) are written under the images of every row."""
    n = max(len(r) for r in rows)
    fig, axes = plt.subplots(
        len(rows), n, figsize=(n * 1.1, len(rows) * (1.45 if labels else 1.2)), squeeze=False
    )
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
                if labels and j < len(labels):
                    ax.text(
                        0.5,
                        -0.04,
                        literal(labels[j]),
                        transform=ax.transAxes,
                        ha="center",
                        va="top",
                        fontsize=6,
                    )
        if row_titles:
            axes[i][0].set_title(literal(row_titles[i]), fontsize=8, loc="left")
    return save_figure(fig, path)


# How signed_to_display maps values to grey levels, for figure titles.
SIGNED_DISPLAY = "shown per image as 128 + 127·v / max|v|: grey = 0"


def signed_to_display(x: np.ndarray) -> np.ndarray:
    """Float N×H×W×C images of any range (e.g. standardised or whitened) → uint8 for display: each image
    scaled by its largest |value| (:data:`SIGNED_DISPLAY`), so 0 is mid-grey and the sign stays visible."""
    peak = np.abs(x).reshape(len(x), -1).max(axis=1).clip(min=1e-12)
    return np.rint(128 + 127 * x / peak[:, None, None, None]).clip(0, 255).astype(np.uint8)


def plot_feature_scatter(
    x: np.ndarray, y: np.ndarray, class_names: list[str], path: Path, title: str = ""
) -> Path:
    """2-D feature data (e.g. `circles`) coloured by class; higher dimensions show their first two features."""
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for k, name in enumerate(class_names):
        pts = x[y == k]
        ax.scatter(
            pts[:, 0],
            pts[:, 1] if x.shape[1] > 1 else np.zeros(len(pts)),
            s=8,
            label=literal(name),
            alpha=0.7,
        )
    ax.set_xlabel("feature 0")
    ax.set_ylabel("feature 1")
    ax.legend(fontsize=7)
    ax.set_title(literal(title or "samples"))
    return save_figure(fig, path)


def plot_image_mosaic(
    rows: list[np.ndarray], path: Path, row_titles: list[str] | None = None, scale: float = 0.45
) -> Path:
    """Like plot_image_grid, drawn as one picture (one axes): fast for the report's sample grids. Rows of
    smaller images (e.g. augment.crop.size crops beside the originals) sit centred in their cells."""
    n = max(len(r) for r in rows)
    h, w = max(r.shape[1] for r in rows), max(r.shape[2] for r in rows)
    c = rows[0].shape[3]
    pad = max(1, h // 16)
    canvas = np.full((len(rows) * (h + pad) + pad, n * (w + pad) + pad, c), 255, dtype=np.uint8)
    for i, imgs in enumerate(rows):
        for j, img in enumerate(imgs):
            y = pad + i * (h + pad) + (h - img.shape[0]) // 2
            x = pad + j * (w + pad) + (w - img.shape[1]) // 2
            canvas[y : y + img.shape[0], x : x + img.shape[1]] = img
    inches = (
        max(4.0, min(12.0, canvas.shape[1] * scale / 10)),
        max(1.0, canvas.shape[0] * scale / 10 + 0.2),
    )
    fig, ax = plt.subplots(figsize=inches)
    ax.imshow(
        canvas[..., 0] if c == 1 else canvas,
        cmap="gray" if c == 1 else None,
        vmin=0,
        vmax=255,
        interpolation="nearest",
    )
    ax.axis("off")
    for i, title in enumerate(row_titles or []):
        ax.text(
            -pad, pad + i * (h + pad) + h / 2, literal(title), ha="right", va="center", fontsize=8
        )
    return save_figure(fig, path)
