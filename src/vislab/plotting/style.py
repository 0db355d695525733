"""The page style: figures drawn for a printed page, one column (3.3 in) or two (6.9 in) wide, every text
at least 8 pt at that size, in a colour-blind-safe palette (Okabe & Ito's).

:func:`page_style` is a matplotlib rcParams context: figures built inside it take its sizes and colours
(runs are told apart by :func:`vislab.plotting.legend.run_style`, which reads the palette from it), and
:func:`fit_to_page` sizes a built figure for the page and raises any smaller text to the minimum.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator

import matplotlib as mpl
import numpy as np
from cycler import cycler
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine, LayoutEngine, TightLayoutEngine
from matplotlib.legend import Legend
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, Locator

COLUMN_IN = 3.3  # one column of a two-column paper, in inches
PAGE_IN = 6.9  # the full text width
MIN_PT = 8.0  # the smallest text a page figure holds
MIN_HEIGHT_IN = 2.2  # the lowest page figure: room for an axis label at MIN_PT and its ticks
DPI = 300  # the PNG's resolution
# Okabe & Ito (2008), "Color Universal Design": told apart with every common colour-vision deficiency
# (black last: no run's colour, legend.NOT_A_RUN, but a ROC's averages'; yellow late: faint on white)
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

PAGE_RC = {
    "font.size": 8.5,
    "axes.titlesize": 9,
    "axes.labelsize": 8.5,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "figure.titlesize": 9,
    "axes.linewidth": 0.6,
    "lines.linewidth": 1.2,
    "lines.markersize": 3.5,
    "axes.prop_cycle": cycler(color=list(OKABE_ITO)),
    "savefig.dpi": DPI,
    "pdf.fonttype": 42,  # TrueType in the PDF: its text stays text (searchable, editable)
    "ps.fonttype": 42,
}


@contextlib.contextmanager
def page_style() -> Iterator[None]:
    """rcParams for a printed page while the block runs (sizes in points at the page's size)."""
    with mpl.rc_context(PAGE_RC):
        yield


def page_width(fig: Figure) -> float:
    """The page width a figure drawn at its own size gets: two columns when it was drawn wider than
    7.5 in (panels side by side, rows of images), else one."""
    return PAGE_IN if fig.get_figwidth() > 7.5 else COLUMN_IN


def visible_texts(fig: Figure) -> list[Text]:
    """Every Text artist of ``fig`` that is shown and holds characters (titles, labels, tick labels,
    legend entries, annotations)."""
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip() and _shown(t)]


def _shown(t: Text) -> bool:
    """Whether every parent up to the figure is visible (a hidden axis hides its tick labels)."""
    parent = getattr(t, "axes", None)
    return parent is None or parent.get_visible()


class ReflowLayout(LayoutEngine):
    """The layout of a figure its own code places in inches (the mistakes gallery): ``place(fig, width)``
    sizes the figure for ``width`` inches and places every axes and text again for it (fewer images a
    row, a title wrapped anew), which :func:`fit_to_page` calls instead of scaling the figure."""

    _adjust_compatible = False
    _colorbar_gridspec = False

    def __init__(self, place: Callable[[Figure, float], None]):
        super().__init__()
        self.place = place

    def execute(self, fig: Figure) -> None:
        """Nothing at draw time: :attr:`place` laid the figure out for its size."""


class FittingTicks(Locator):
    """Ticks at 0 … n-1 (a class each), every ``step``-th one where all would crowd the axis at the size it
    is drawn: as many as fit its length ``pitch_pt`` points apart (a label's room: its line height, more
    for a slanted one). Laid out again at every draw, so a figure sized for a page thins its labels."""

    def __init__(self, n: int, pitch_pt: float):
        self.n, self.pitch_pt = n, pitch_pt

    def __call__(self) -> list[int]:
        ax = self.axis.axes
        box = ax.get_window_extent()
        length = (box.width if self.axis is ax.xaxis else box.height) * 72 / ax.figure.dpi
        step = -(-self.n // max(int(length // self.pitch_pt), 1))
        return list(range(0, self.n, max(step, 1)))

    def tick_values(self, vmin: float, vmax: float) -> list[int]:
        return self()


def name_ticks(axis, names: list[str], pitch_pt: float) -> None:
    """Label ``axis`` (an x or y axis) with ``names``, one a position 0 … n-1, every one that fits
    (:class:`FittingTicks`) — a minor tick marks each position."""
    axis.set_ticks(range(len(names)), minor=True)
    axis.set_major_locator(FittingTicks(len(names), pitch_pt))
    axis.set_major_formatter(
        FuncFormatter(lambda x, _: names[int(round(x))] if 0 <= round(x) < len(names) else "")
    )


def fit_to_page(fig: Figure, width: float, min_pt: float = MIN_PT) -> Figure:
    """Size ``fig`` for a page: ``width`` inches wide, its height scaled with it (at most 1.25 times the
    width: a figure fits the page; at least MIN_HEIGHT_IN: its axis labels fit); every text below
    ``min_pt`` raised to it; the layout then fitted again, a legend beside the panels that runs off the
    figure moved under them (:func:`_legends_below`). A figure laid out by a :class:`ReflowLayout`
    (its texts at least 8 pt by design) is laid out anew for ``width`` instead, as tall as it then needs."""
    engine = fig.get_layout_engine()
    if isinstance(engine, ReflowLayout):
        engine.place(fig, width)
        return fig
    w, h = fig.get_size_inches()
    h -= sum(legend.below for legend in _below(fig))  # a legend under the panels: laid out anew
    fig.set_size_inches(width, max(min(h / w, 1.25) * width, MIN_HEIGHT_IN))
    for t in visible_texts(fig):
        if t.get_fontsize() < min_pt:
            t.set_fontsize(min_pt)
    # a one-off fig.tight_layout() leaves a placeholder engine that lays out nothing at the new size
    if not isinstance(engine, (ConstrainedLayoutEngine, TightLayoutEngine)):
        with (
            warnings.catch_warnings()
        ):  # "not compatible with tight_layout": some axes keep their place
            warnings.simplefilter("ignore", UserWarning)
            fig.tight_layout()
    _legends_below(fig)
    return fig


def _legends_below(fig: Figure) -> None:
    """Move each panel's legend that runs off ``fig`` (a legend beside the panels, of many runs, at a
    page's size) under the panels; lay out each legend so moved (by an earlier fit too) in as many columns
    as the width holds, one under another, the figure grown by their height, the panels above them."""
    if not any(ax.get_legend() for ax in fig.axes) and not _below(fig):
        return
    renderer = _agg_renderer(fig)
    for ax in fig.axes:
        old = ax.get_legend()
        # a legend of entries only (one of a title alone stays where it is)
        if (
            old is not None
            and old.get_texts()
            and not _inside(fig, old.get_window_extent(renderer))
        ):
            old.remove()
            _in_columns(fig, old, renderer)
    legends = [_in_columns(fig, legend, renderer) for legend in _below(fig)]  # for today's width
    if not legends:
        return
    for legend in legends:
        legend.below = legend.get_window_extent(renderer).height / fig.dpi
    total = sum(legend.below for legend in legends)
    fig.set_size_inches(fig.get_figwidth(), fig.get_figheight() + total)
    under = 0.0
    for legend in reversed(legends):  # the first one top
        legend.set_bbox_to_anchor((0.5, under / fig.get_figheight()), transform=fig.transFigure)
        under += legend.below
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        # twice: the first measures the panels' texts as an earlier layout (a constrained one, at the
        # figure's old size) left them, and may place the x axis's labels over the legends
        for _ in range(2):
            fig.tight_layout(rect=(0, total / fig.get_figheight(), 1, 1))


def _below(fig: Figure) -> list[Legend]:
    """The legends of ``fig`` that :func:`_legends_below` put under its panels (``below``: their height,
    in inches, that the figure was grown by)."""
    return [legend for legend in fig.legends if hasattr(legend, "below")]


def _in_columns(fig: Figure, old: Legend, renderer) -> Legend:
    """``old``'s entries as a legend under the panels of ``fig`` (``old`` removed from it), in the most
    columns whose rows fit its width."""
    if old in fig.legends:
        old.remove()
    labels = [t.get_text() for t in old.get_texts()]
    size, title = old.get_texts()[0].get_fontsize(), old.get_title()
    for ncols in range(len(labels), 0, -1):
        legend = fig.legend(
            old.legend_handles, labels, loc="lower center", ncols=ncols, fontsize=size
        )
        legend.set_title(title.get_text() or None, prop={"size": title.get_fontsize()})
        if ncols == 1 or legend.get_window_extent(renderer).width <= fig.bbox.width:
            break
        legend.remove()
    legend.below = 0.0  # laid out by _legends_below: again at each fit
    return legend


def _inside(fig: Figure, extent) -> bool:
    """Whether ``extent`` (in pixels) lies within ``fig``, give or take a pixel."""
    box = fig.bbox.padded(1)
    return box.contains(*extent.p0) and box.contains(*extent.p1)


def _agg_renderer(fig: Figure):
    """A renderer of ``fig`` as savefig draws it (an Agg canvas: fig's own may not draw), the figure
    drawn: its texts placed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    own = fig.canvas
    renderer = FigureCanvasAgg(fig).get_renderer()
    try:
        fig.draw(renderer)
    finally:
        fig.set_canvas(own)
    return renderer


def cut_texts(fig: Figure) -> list[str]:
    """The texts drawn partly off ``fig`` as savefig draws it (by more than a pixel), and the tick labels
    drawn over a neighbour of theirs (:func:`_crowded_ticks`)."""
    renderer = _agg_renderer(fig)
    drawn = _drawn_texts(fig)
    cut = [t.get_text() for t in drawn if not _inside(fig, t.get_window_extent(renderer))]
    return cut + _crowded_ticks(fig, set(drawn), renderer)


def _crowded_ticks(fig: Figure, drawn: set[Text], renderer) -> list[str]:
    """The tick labels of each axis that overlap the next one's (by more than a pixel), as
    "a overlaps b": two labels of an axis are turned alike, so they overlap where their centres are
    nearer than half their widths along the text and half their heights across it."""
    out = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            labels = [t for t in axis.get_ticklabels() if t in drawn]
            for a, b in zip(labels, labels[1:]):
                if _overlap(a, b, renderer):
                    out.append(f"{a.get_text()} overlaps {b.get_text()}")
    return out


def _overlap(a: Text, b: Text, renderer) -> bool:
    """Whether two texts turned by the same angle overlap by more than a pixel."""
    angle = np.deg2rad(a.get_rotation())
    along, across = (
        np.array([np.cos(angle), np.sin(angle)]),
        np.array([-np.sin(angle), np.cos(angle)]),
    )
    ea, eb = a.get_window_extent(renderer), b.get_window_extent(renderer)
    gap = np.array([eb.x0 + eb.x1 - ea.x0 - ea.x1, eb.y0 + eb.y1 - ea.y0 - ea.y1]) / 2
    (wa, ha), (wb, hb) = (_size(t, renderer) for t in (a, b))
    return bool(abs(gap @ along) < (wa + wb) / 2 - 1 and abs(gap @ across) < (ha + hb) / 2 - 1)


def _size(t: Text, renderer) -> tuple[float, float]:
    """Width and height of ``t`` unturned, in pixels."""
    w, h, _ = renderer.get_text_width_height_descent(
        t.get_text(), t.get_fontproperties(), ismath=False
    )
    return w, h


def _drawn_texts(fig: Figure) -> list[Text]:
    """:func:`visible_texts` less the tick labels matplotlib does not draw: those of an axes drawn
    without its axis (an image panel) or of a tick outside the view (a locator's extra ticks)."""
    tick_labels, drawn = set(), set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                labels = {tick.label1, tick.label2}
                tick_labels |= labels
                loc = tick.get_loc()
                if ax.axison and axis.get_visible() and loc is not None and lo <= loc <= hi:
                    drawn |= labels
    return [t for t in visible_texts(fig) if t not in tick_labels or t in drawn]
