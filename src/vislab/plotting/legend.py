"""Telling many runs apart in one plot: a colour per run, a legend kept off the data.

Line style already says which split a curve is (solid train, dashed val, dotted tracked test), so runs
differ by colour — the colours of matplotlib's property cycle: by default ``tab10``, ten hues chosen to be
told apart; for a printed page (``plotting/style.py``) Okabe & Ito's eight colour-blind-safe ones — and,
past those, by marker too: run ``i`` has colour ``i % n`` and marker ``i // n`` (n colours)."""

from __future__ import annotations

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.lines import Line2D

MARKERS = (".", "s", "^", "D", "v", "P", "X", "*")


def run_style(i: int) -> tuple[str, str]:
    """The colour (hex) and marker of the ``i``-th run of a plot, from the current palette."""
    palette = [to_hex(c) for c in mpl.rcParams["axes.prop_cycle"].by_key()["color"]]
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
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),  # axes coordinates: just right of the panel
        borderaxespad=0.0,
        fontsize=7,
        ncols=1 + len(handles) // 25,  # a long list wraps into columns rather than off the page
    )
