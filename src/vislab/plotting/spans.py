"""A y axis that does not magnify round-off: a near-flat curve (a majority baseline's loss, 2.3026 give or
take 1e-4) is drawn flat on an axis at least :func:`min_span` tall, its ticks written in full (no "+2.302"
offset above the axis)."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import ScalarFormatter

# the least span of a y axis: this share of its values' size, and never less than FLAT_SPAN
FLAT_SHARE, FLAT_SPAN = 0.05, 0.01


def min_span(centre: float) -> float:
    """The least span of a y axis whose values lie around ``centre``."""
    return max(FLAT_SHARE * abs(centre), FLAT_SPAN)


def keep_span(ax: Axes) -> None:
    """Widen the y axis of ``ax`` (linear, what is drawn on it so far) to :func:`min_span` around its
    values where they span less, from 0 up where they are all positive and the span would reach below 0;
    tick labels without an offset."""
    formatter = ax.yaxis.get_major_formatter()
    if isinstance(formatter, ScalarFormatter):
        formatter.set_useOffset(False)
    lo, hi = ax.dataLim.intervaly
    if ax.get_yscale() != "linear" or not np.isfinite([lo, hi]).all() or lo > hi:
        return
    span = min_span((lo + hi) / 2)
    if hi - lo >= span:
        return
    bottom = (lo + hi - span) / 2
    if lo >= 0 > bottom:
        bottom = 0.0
    ax.set_ylim(bottom, bottom + span)
