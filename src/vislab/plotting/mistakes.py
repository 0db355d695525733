"""What a classifier gets wrong, drawn: a gallery of the most confidently wrong images and the most
confused class pairs, picked by :mod:`vislab.plotting.mistake_picks` from plain arrays (probabilities,
labels, a confusion matrix), so that ``vislab eval`` (fresh logits) and the report (a run's
``predictions_test.npz``) show the same images."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path, PurePath

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.text import Text
from matplotlib.textpath import text_to_path
from matplotlib.ticker import MaxNLocator

from vislab.plotting.canvas import NotebookFigure, cut_middle, fit_name, literal, save_figure
from vislab.plotting.mistake_picks import Mistake, pair_lines
from vislab.plotting.style import ReflowLayout

GALLERY_COLS = 8  # images a row
TEXT_PT = 8.0  # titles, tick labels: the smallest text a printed page holds
HEAD_PT = 10.0  # the overall title
TITLE_CHARS = 13  # characters a line of an image's title ("T-shirt/top →")
CELL_IN = 1.3  # an image's cell (inches): the image and the gap to its neighbour
GAP_IN = 0.25  # between neighbouring images
CLEARANCE_IN = 0.12  # between neighbouring titles, at the least
TILE_PX = 32  # an image is enlarged to at least this side in the gallery's picture (whole factors)


def mistakes_figure(
    images: np.ndarray | None,
    mistakes: list[Mistake],
    pairs: list[tuple[int, int, int]],
    class_names: list[str],
    title: str = "",
) -> Figure:
    """A gallery of wrong images (uint8 N×H×W×C of the split, indexed by ``Mistake.index``), each titled
    true → predicted and the probability (:func:`mistake_title`), above a bar chart of the most confused
    pairs. ``images`` None (feature vectors: nothing to show): the chart alone, titled for what it shows.

    The images are one picture (one axes, one ``imshow`` of the tiled images; their titles are the
    figure's texts): a third of the drawing time of an axes per image. Laid out in inches by
    :class:`_Gallery`, not left to the layout engine, at its own width (at most :data:`GALLERY_COLS` cells
    of :data:`CELL_IN` a row) and again at a page's width (``plotting.style.fit_to_page``): fewer images a
    row there, each cell still wider than its title."""
    shown = mistakes if images is not None else []
    titles = [literal(mistake_title(m, class_names)) for m in shown]
    labels = [literal(s.rsplit(":", 1)[0]) for s in pair_lines(pairs, class_names)]
    fig = NotebookFigure()
    head = fig.text(0.5, 1, "", ha="center", va="top", fontsize=HEAD_PT)
    tiles = _tiles(images, shown)
    grid = fig.add_axes((0, 0, 1, 1)) if shown else None
    if grid is not None:
        grid.axis("off")
        # RGBA bytes, no interpolation: a PDF holds the picture as it is, a PNG resamples no floats
        grid.imshow(np.full((1, 1, 4), 255, np.uint8), interpolation="none", aspect="auto")
    texts = [
        fig.text(0, 0, t, ha="center", va="bottom", fontsize=TEXT_PT, linespacing=1.1)
        for t in titles
    ]
    chart = fig.add_axes((0, 0, 1, 1))
    _draw_pairs(chart, pairs, labels, under_gallery=images is not None)
    gallery = _Gallery(
        head=head,
        words=_headline(title, shown, images is not None),
        tiles=tiles,
        grid=grid,
        titles=texts,
        title_in=max((t.count("\n") + 1 for t in titles), default=0) * TEXT_PT * 1.25 / 72 + 0.05,
        cell_min=_widest_in(titles, TEXT_PT) + CLEARANCE_IN,
        chart=chart,
        left=_label_width(labels),
        n_pairs=len(pairs),
    )
    fig.set_layout_engine(ReflowLayout(gallery.place))
    gallery.place(fig, gallery.own_width())
    return fig


def _tiles(images: np.ndarray | None, shown: list[Mistake]) -> np.ndarray:
    """The shown images (0–255) as N×S×S×4 uint8 RGBA tiles (a grey image's one channel thrice, opaque:
    RGBA bytes are drawn as they are, where grey ones go through a colour map at every draw), each
    centred on white in a square and enlarged by a whole factor to at least :data:`TILE_PX` pixels
    (nearest neighbour: the same pixels, finer steps for the gaps and title bands between them)."""
    if images is None or not shown:
        return np.zeros((0, 1, 1, 4), np.uint8)
    picked = np.clip(np.asarray(images)[[m.index for m in shown]], 0, 255).astype(np.uint8)
    if picked.ndim == 3:  # N×H×W grey
        picked = picked[..., None]
    opaque = np.full((*picked.shape[:3], 1), 255, np.uint8)
    picked = np.concatenate([np.broadcast_to(picked[..., :3], (*picked.shape[:3], 3)), opaque], -1)
    n, h, w, c = picked.shape
    k = max(1, -(-TILE_PX // max(h, w)))
    side = k * max(h, w)
    out = np.full((n, side, side, c), 255, np.uint8)
    big = picked.repeat(k, axis=1).repeat(k, axis=2)
    y, x = (side - k * h) // 2, (side - k * w) // 2
    out[:, y : y + k * h, x : x + k * w] = big
    return out


@dataclass
class _Gallery:
    """The gallery's artists and what their places follow from, laid out for any width by :meth:`place`:
    a cell per image (its title in a band above it), rows of as many cells as the width holds, the
    headline's band above the grid and the pairs chart below it."""

    head: Text  # the headline, wrapped to the width
    words: str  # its text, unwrapped
    tiles: np.ndarray  # the images, N×S×S×4 (:func:`_tiles`)
    grid: Axes | None  # the one axes they are drawn in, as one tiled picture (None: no images)
    titles: list[Text]  # an image's title each
    title_in: float  # the band above an image: the tallest title
    cell_min: float  # the narrowest cell: the widest title and a clearance
    chart: Axes
    left: float  # room left of the chart for its labels
    n_pairs: int

    def own_width(self) -> float:
        """The width the gallery is drawn at on its own: a row of up to GALLERY_COLS cells of CELL_IN,
        or the chart's labels and 3 in of bars when wider."""
        return max(min(GALLERY_COLS, max(len(self.tiles), 1)) * CELL_IN, self.left + 3.0)

    def place(self, fig: Figure, width: float) -> None:
        """Size ``fig`` ``width`` inches wide, as tall as its rows need, and place every part for it."""
        n = max(len(self.tiles), 1)
        cols = min(GALLERY_COLS, n, max(int(width // self.cell_min), 1))
        rows = -(-len(self.tiles) // cols)
        cell = _Cells(self.tiles.shape[1], min(CELL_IN, width / cols), self.title_in)
        lines = textwrap.wrap(self.words, _chars(width - 0.2, HEAD_PT))
        head_in = len(lines) * HEAD_PT * 1.35 / 72 + 0.15
        chart_in = 0.3 * max(self.n_pairs, 1) + 1.05  # bars, its title, tick labels and axis label
        height = head_in + rows * cell.pitch_y / cell.ppi + chart_in
        fig.set_size_inches(width, height)
        self.head.set_text("\n".join(lines))
        self.head.set_y(1 - 0.08 / height)
        x0 = (width - cols * cell.pitch_x / cell.ppi) / 2  # the grid centred
        if self.grid is not None:
            self._draw_grid(cell, cols, rows)
            box = [x0, head_in + rows * cell.pitch_y / cell.ppi, *cell.inches(cols, rows)]
            self.grid.set_position(_fraction(box, width, height))
        for i, text in enumerate(self.titles):
            x, top = cell.title_at(*divmod(i, cols)[::-1])
            text.set_position(((x0 + x) / width, 1 - (head_in + top - 2 / 72) / height))
        box = [self.left, height - 0.65, width - self.left - 0.25, chart_in - 1.0]
        self.chart.set_position(_fraction(box, width, height))

    def _draw_grid(self, cell: _Cells, cols: int, rows: int) -> None:
        """The tiles as one picture of ``rows`` × ``cols`` cells, white between them."""
        canvas = np.full((rows * cell.pitch_y, cols * cell.pitch_x, 4), 255, np.uint8)
        for i, tile in enumerate(self.tiles):
            r, col = divmod(i, cols)
            y, x = r * cell.pitch_y + cell.band, col * cell.pitch_x + cell.gap // 2
            canvas[y : y + cell.side, x : x + cell.side] = tile
        picture = self.grid.images[0]
        picture.set_data(canvas)
        h, w = canvas.shape[:2]
        picture.set_extent((-0.5, w - 0.5, h - 0.5, -0.5))
        self.grid.set_xlim(-0.5, w - 0.5)
        self.grid.set_ylim(h - 0.5, -0.5)


@dataclass(frozen=True)
class _Cells:
    """A grid cell in the picture's pixels: a tile ``side`` pixels wide filling a cell ``cell_in`` inches
    wide less the gap (``ppi`` pixels an inch), a title band above it, the gap below and beside it."""

    side: int
    cell_in: float
    title_in: float

    @property
    def ppi(self) -> float:
        return self.side / (self.cell_in - GAP_IN)

    @property
    def gap(self) -> int:
        return round(GAP_IN * self.ppi)

    @property
    def band(self) -> int:
        return round(self.title_in * self.ppi)

    @property
    def pitch_x(self) -> int:
        return self.side + self.gap

    @property
    def pitch_y(self) -> int:
        return self.band + self.side + self.gap

    def inches(self, cols: int, rows: int) -> tuple[float, float]:
        """The picture's width and height in inches."""
        return cols * self.pitch_x / self.ppi, rows * self.pitch_y / self.ppi

    def title_at(self, col: int, row: int) -> tuple[float, float]:
        """Where the title of a cell goes, in inches from the grid's top left: its centre and the top of
        its image."""
        x = (col * self.pitch_x + self.gap // 2 + self.side / 2) / self.ppi
        return x, (row * self.pitch_y + self.band) / self.ppi


def _headline(title: str, shown: list[Mistake], images: bool) -> str:
    """The gallery's headline: what it shows (and the run and split of ``title``)."""
    if images:
        file = "file, " if any(m.file for m in shown) else ""
        head = f"most confidently wrong ({file}true → predicted, probability of the prediction)"
    else:
        head = "most confused pairs (true → predicted)"
    return f"{title}: {head}" if title else head


def mistake_title(m: Mistake, class_names: list[str]) -> str:
    """An image's title: its file's name when known (cut in the middle to :data:`TITLE_CHARS`, keeping
    the extension), ``true → predicted`` on one line when it fits (else each name on lines of its own,
    broken at underscores, spaces or hyphens, or cut in the middle: :func:`fit_name`), then
    ``p=<probability of the prediction>``."""
    true, pred = class_names[m.true], class_names[m.pred]
    pair = f"{true} → {pred}"
    names = (
        [pair]
        if len(pair) <= TITLE_CHARS
        else [fit_name(true, TITLE_CHARS - 2) + " →", fit_name(pred, TITLE_CHARS)]
    )
    file = [cut_middle(PurePath(m.file).name, TITLE_CHARS)] if m.file else []
    return "\n".join([*file, *names, f"p={m.prob:.2f}"])


def _draw_pairs(
    ax, pairs: list[tuple[int, int, int]], labels: list[str], under_gallery: bool
) -> None:
    """The most confused pairs as horizontal bars, the largest on top. ``under_gallery``: counted in
    images and titled; else (feature vectors) in samples, the figure's own title saying what it is."""
    ax.barh(range(len(pairs)), [c for *_, c in pairs], color="C3")
    ax.set_yticks(range(len(pairs)), labels, fontsize=TEXT_PT)
    ax.tick_params(axis="x", labelsize=TEXT_PT)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # counts of samples
    ax.invert_yaxis()  # the largest pair on top
    what = "images" if under_gallery else "samples"
    ax.set_xlabel(f"{what} (true → predicted)", fontsize=TEXT_PT)
    if not pairs:
        ax.set_title("no wrong predictions", fontsize=9)
    elif under_gallery:
        ax.set_title("most confused pairs", fontsize=9)


def _chars(width_in: float, points: float) -> int:
    """How many characters of ``points``-sized text fit in ``width_in`` inches (0.6 em a character:
    wider than DejaVu Sans's average, so a wrapped line fits)."""
    return max(int(width_in * 72 / (0.6 * points)), 10)


def _widest_in(texts: list[str], points: float) -> float:
    """The width in inches of the widest line of ``texts`` at ``points`` (as DejaVu Sans draws it)."""
    prop = FontProperties(size=points)
    widths = [
        text_to_path.get_text_width_height_descent(line, prop, ismath=False)[0]
        for t in texts
        for line in t.splitlines()
    ]
    return max(widths, default=0.0) / 72


def _label_width(labels: list[str]) -> float:
    """Inches left of the pairs chart for its tick labels (the longest one, and a margin)."""
    return 0.4 + max((len(s) for s in labels), default=0) * 0.6 * TEXT_PT / 72


def _fraction(box: list[float], width: float, height: float) -> list[float]:
    """[left, top-down bottom, w, h] in inches as matplotlib's [left, bottom, w, h] figure fractions."""
    left, bottom, w, h = box
    return [left / width, 1 - bottom / height, w / width, h / height]


def plot_mistakes(
    images: np.ndarray | None,
    mistakes: list[Mistake],
    pairs: list[tuple[int, int, int]],
    class_names: list[str],
    path: Path,
    title: str = "",
) -> Path | None:
    """:func:`mistakes_figure` as a PNG; None, and no figure drawn, when nothing was misclassified (no
    mistakes, no confused pairs: an empty gallery and chart would show nothing)."""
    if not mistakes and not pairs:
        return None
    return save_figure(mistakes_figure(images, mistakes, pairs, class_names, title), path)
