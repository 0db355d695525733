"""matplotlib without a display (Agg), and the one helper that writes a figure to a PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display is needed (or wanted) on a server
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["plt", "save_figure"]


def save_figure(fig, path: str | Path, dpi: int = 110, tight: bool = True) -> Path:
    """Write ``fig`` to ``path`` (parent folders created), close it, and return the path.

    ``tight`` crops the saved image to what is drawn (``bbox_inches="tight"``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight" if tight else None)
    plt.close(fig)
    return path
