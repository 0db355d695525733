"""Telling many runs apart in one plot: a colour per run, a legend kept off the data.

Line style already says which split a curve is (solid train, dashed val, dotted tracked test), so runs
differ by colour — the colours of matplotlib's property cycle: by default ``tab10``, ten hues chosen to be
told apart; for a printed page (``plotting/style.py``) Okabe & Ito's eight colour-blind-safe ones — and,
past those, by marker too: run ``i`` has colour ``i % n`` and marker ``i // n`` (n colours). Lines that
are known to be many (the ROC curves of ten classes) take ``tab10`` where the palette has fewer colours."""

from __future__ import annotations

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.lines import Line2D

MARKERS = (".", "s", "^", "D", "v", "P", "X", "*")
TAB10 = tuple(to_hex(c) for c in mpl.colormaps["tab10"].colors)


def run_style(i: int, lines: int = 0) -> tuple[str, str]:
    """The colour (hex) and marker of the ``i``-th run of a plot, from the current palette — or, when
    the plot's ``lines`` outnumber its colours, from ``tab10`` if that has more."""
    palette = [to_hex(c) for c in mpl.rcParams["axes.prop_cycle"].by_key()["color"]]
    if len(palette) < min(lines, len(TAB10)):
        palette = list(TAB10)
    return palette[i % len(palette)], MARKERS[(i // len(palette)) % len(MARKERS)]


def legend_outside(ax: Axes, runs: list[str], styles: list[dict]) -> None:
    """A legend right of ``ax`` (the figure's right-most panel), outside every axes: one entry per run
    (its colour and marker) and one per kind of line (``Line2D`` options with a ``label``, e.g.
    ``{"linestyle": "--", "label": "val"}``), drawn in grey."""
    handles = [
        Line2D([], [], color=c, marker=m, label=name)
        for name, (c, m) in zip(runs, map(run_style, range(len(runs))))
    ]
    handles += [Line2D([], [], color="0.3", **style) for style in styles]
    legend_beside(ax, handles)


def legend_beside(ax: Axes, handles: list) -> None:
    """A legend of ``handles`` right of ``ax``, outside it (a long list wraps into columns)."""
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),  # axes coordinates: just right of the panel
        borderaxespad=0.0,
        fontsize=7,
        ncols=1 + len(handles) // 25,  # a long list wraps into columns rather than off the page
    )
