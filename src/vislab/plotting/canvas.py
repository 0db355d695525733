"""matplotlib without a display (Agg), and the one helper that writes a figure to a PNG."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

if "ipykernel" not in sys.modules:  # a notebook keeps its inline backend; elsewhere files only
    matplotlib.use("Agg")  # no display is needed (or wanted) on a server
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["NotebookFigure", "plt", "save_figure"]


class NotebookFigure(Figure):
    """A Figure outside pyplot (nothing shown or kept open behind the caller's back) that a notebook shows
    as a PNG (IPython's ``_repr_png_``), whether or not pyplot's inline backend was ever started."""

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=90, bbox_inches="tight")
        return buf.getvalue()


def save_figure(fig, path: str | Path, dpi: int = 110, tight: bool = True) -> Path:
    """Write ``fig`` to ``path`` (parent folders created), close it, and return the path.

    ``tight`` crops the saved image to what is drawn (``bbox_inches="tight"``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight" if tight else None)
    plt.close(fig)
    return path
