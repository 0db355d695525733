"""What a classifier gets wrong: the most confidently wrong images and the most confused class pairs.

The selections work on plain arrays (probabilities, labels, a confusion matrix) so that ``vislab eval``
(fresh logits) and the report (a run's ``predictions_test.npz``) pick the same images the same way."""

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

from vislab.plotting.canvas import NotebookFigure, save_figure
from vislab.plotting.style import ReflowLayout

GALLERY_SIZE = 16  # wrong images shown by default
TOP_PAIRS = 5  # confused (true, predicted) pairs shown
GALLERY_COLS = 8  # images a row
TEXT_PT = 8.0  # titles, tick labels: the smallest text a printed page holds
HEAD_PT = 10.0  # the overall title
TITLE_CHARS = 13  # characters a line of an image's title ("T-shirt/top →")
CELL_IN = 1.3  # an image's cell (inches): the image and the gap to its neighbour
GAP_IN = 0.25  # between neighbouring images
CLEARANCE_IN = 0.12  # between neighbouring titles, at the least


@dataclass(frozen=True)
class Mistake:
    """One wrong prediction: the sample's index in its split, its true and predicted class, the
    probability the model gave the predicted class, and its source file when known (an image folder)."""

    index: int
    true: int
    pred: int
    prob: float
    file: str | None = None


def confident_mistakes(
    probs: np.ndarray,
    labels: np.ndarray,
    n: int | None = GALLERY_SIZE,
    names: np.ndarray | None = None,
) -> list[Mistake]:
    """The ``n`` wrong predictions (argmax ≠ label; None: all) with the highest predicted-class
    probability, most confident first; ties keep the split's order. ``names``: the samples' files."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    pred = probs.argmax(1)
    wrong = np.flatnonzero(pred != labels)
    conf = probs[wrong, pred[wrong]]
    picked = wrong[np.argsort(-conf, kind="stable")[: None if n is None else max(n, 0)]]
    return [
        Mistake(
            int(i),
            int(labels[i]),
            int(pred[i]),
            float(probs[i, pred[i]]),
            None if names is None else str(names[i]),
        )
        for i in picked
    ]


def mistake_rows(mistakes: list[Mistake], class_names: list[str]) -> list[dict]:
    """The mistakes as table rows: file (empty when unknown), index in the split, true and predicted
    class, probability of the prediction."""
    return [
        {
            "file": m.file or "",
            "index": m.index,
            "true": class_names[m.true],
            "predicted": class_names[m.pred],
            "probability": round(m.prob, 6),
        }
        for m in mistakes
    ]


def confused_pairs(confusion: np.ndarray, k: int = TOP_PAIRS) -> list[tuple[int, int, int]]:
    """The ``k`` largest off-diagonal cells of a confusion matrix (rows = true, columns = predicted) as
    (true, predicted, count), largest first; (a, b) and (b, a) are separate pairs, empty cells left out."""
    cm = np.array(confusion, dtype=np.int64)
    np.fill_diagonal(cm, 0)
    flat = np.argsort(-cm, axis=None, kind="stable")[: max(k, 0)]
    rows, cols = np.unravel_index(flat, cm.shape)
    return [(int(i), int(j), int(cm[i, j])) for i, j in zip(rows, cols) if cm[i, j] > 0]


def pair_lines(pairs: list[tuple[int, int, int]], class_names: list[str]) -> list[str]:
    """Confused pairs as text: ``true → predicted: count``."""
    return [f"{class_names[i]} → {class_names[j]}: {c}" for i, j, c in pairs]


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

    Laid out in inches by :class:`_Gallery`, not left to the layout engine, at its own width (at most
    :data:`GALLERY_COLS` cells of :data:`CELL_IN` a row) and again at a page's width
    (``plotting.style.fit_to_page``): fewer images a row there, each cell still wider than its title."""
    shown = mistakes if images is not None else []
    titles = [mistake_title(m, class_names) for m in shown]
    labels = [s.rsplit(":", 1)[0] for s in pair_lines(pairs, class_names)]
    fig = NotebookFigure()
    head = fig.text(0.5, 1, "", ha="center", va="top", fontsize=HEAD_PT)
    tiles = [fig.add_axes((0, 0, 1, 1)) for _ in shown]
    for ax, m, image_title in zip(tiles, shown, titles):
        _draw_mistake(ax, images[m.index], image_title)
    chart = fig.add_axes((0, 0, 1, 1))
    _draw_pairs(chart, pairs, labels, under_gallery=images is not None)
    gallery = _Gallery(
        head=head,
        words=_headline(title, shown, images is not None),
        tiles=tiles,
        title_in=max((t.count("\n") + 1 for t in titles), default=0) * TEXT_PT * 1.25 / 72 + 0.05,
        cell_min=_widest_in(titles, TEXT_PT) + CLEARANCE_IN,
        chart=chart,
        left=_label_width(labels),
        n_pairs=len(pairs),
    )
    fig.set_layout_engine(ReflowLayout(gallery.place))
    gallery.place(fig, gallery.own_width())
    return fig


@dataclass
class _Gallery:
    """The gallery's artists and what their places follow from, laid out for any width by :meth:`place`:
    a cell per image (its title in a band above it), rows of as many cells as the width holds, the
    headline's band above the grid and the pairs chart below it."""

    head: Text  # the headline, wrapped to the width
    words: str  # its text, unwrapped
    tiles: list[Axes]  # an image each
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
        cell, rows = min(CELL_IN, width / cols), -(-len(self.tiles) // cols)
        lines = textwrap.wrap(self.words, _chars(width - 0.2, HEAD_PT))
        head_in = len(lines) * HEAD_PT * 1.35 / 72 + 0.15
        chart_in = 0.3 * max(self.n_pairs, 1) + 1.05  # bars, its title, tick labels and axis label
        height = head_in + rows * (self.title_in + cell) + chart_in
        fig.set_size_inches(width, height)
        self.head.set_text("\n".join(lines))
        self.head.set_y(1 - 0.08 / height)
        x0 = (width - cols * cell) / 2  # the grid centred
        for i, ax in enumerate(self.tiles):
            r, c = divmod(i, cols)
            top = head_in + r * (self.title_in + cell) + self.title_in
            box = [x0 + c * cell + GAP_IN / 2, top + cell - GAP_IN, cell - GAP_IN, cell - GAP_IN]
            ax.set_position(_fraction(box, width, height))
        box = [self.left, height - 0.65, width - self.left - 0.25, chart_in - 1.0]
        self.chart.set_position(_fraction(box, width, height))


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
    the extension), ``true → predicted`` on one line when it fits (else each name on its own line, cut
    to it), then ``p=<probability of the prediction>``."""
    true, pred = class_names[m.true], class_names[m.pred]
    pair = f"{true} → {pred}"
    names = [pair] if len(pair) <= TITLE_CHARS else [_cut(true, TITLE_CHARS - 2) + " →", _cut(pred)]
    file = [_cut_middle(PurePath(m.file).name)] if m.file else []
    return "\n".join([*file, *names, f"p={m.prob:.2f}"])


def _draw_mistake(ax, img: np.ndarray, title: str) -> None:
    """One wrong image under its title."""
    grey = img.shape[-1] == 1
    ax.imshow(img[..., 0] if grey else img, cmap="gray" if grey else None, vmin=0, vmax=255)
    ax.set_title(title, fontsize=TEXT_PT, pad=2, linespacing=1.1)
    ax.axis("off")


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


def _cut(name: str, room: int = TITLE_CHARS) -> str:
    """``name`` cut to ``room`` characters, an ellipsis marking the cut."""
    return name if len(name) <= room else name[: room - 1] + "…"


def _cut_middle(name: str, room: int = TITLE_CHARS) -> str:
    """``name`` cut to ``room`` characters in the middle (an ellipsis there), so that its start and its
    end (a numbered file's number, the extension) stay."""
    if len(name) <= room:
        return name
    tail = (room + 1) // 2  # the end's half the larger: a number and the extension
    return name[: room - 1 - tail] + "…" + name[len(name) - tail :]


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
) -> Path:
    """:func:`mistakes_figure` as a PNG."""
    return save_figure(mistakes_figure(images, mistakes, pairs, class_names, title), path)
