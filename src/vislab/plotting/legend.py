"""Telling many runs apart in one plot: a colour per run, a legend kept off the data.

Runs (and a ROC's classes, a scatter's classes) differ by colour — the colours of matplotlib's property
cycle: by default ``tab10``; for a printed page (``plotting/style.py``) Okabe & Ito's colour-blind-safe ones —
and, past those, by marker and line style too: line ``i`` has colour ``i % n``, marker and line style
``i // n`` (n colours). Black is no run's colour (:data:`NOT_A_RUN`): it draws what is not one, a ROC's
averages. The comparison curves keep their line style for the split (solid train, dashed val, dotted
tracked test), so their runs past the colours differ by marker."""

from __future__ import annotations

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.lines import Line2D

MARKERS = (".", "s", "^", "D", "v", "P", "X", "*")
DASHES = ("-", "--", ":", "-.")
NOT_A_RUN = "#000000"  # the colour of averages, left out of the runs' palette
ONLY_BLACK = "#1f77b4"  # the runs' colour where the palette is black alone: tab10's first


def run_style(i: int) -> tuple[str, str, str]:
    """The colour (hex), marker and line style of the ``i``-th line of a plot: the current palette's
    colours but black (:data:`NOT_A_RUN`) in turn, each round of them with the next marker and line
    style."""
    colours = (to_hex(c) for c in mpl.rcParams["axes.prop_cycle"].by_key()["color"])
    palette = [c for c in colours if c != NOT_A_RUN] or [ONLY_BLACK]
    round_ = i // len(palette)
    return palette[i % len(palette)], MARKERS[round_ % len(MARKERS)], DASHES[round_ % len(DASHES)]


def legend_outside(ax: Axes, runs: list[str], styles: list[dict]) -> None:
    """A legend right of ``ax`` (the figure's right-most panel), outside every axes: one entry per run
    (its colour and marker) and one per kind of line (``Line2D`` options with a ``label``, e.g.
    ``{"linestyle": "--", "label": "val"}``), drawn in grey."""
    handles = [
        Line2D([], [], color=c, marker=m, label=name)
        for name, (c, m, _) in zip(runs, map(run_style, range(len(runs))))
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
