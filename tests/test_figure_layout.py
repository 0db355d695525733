"""Figures that read at a glance: measured through matplotlib's renderer at the size they are drawn, no two
texts of the mistakes gallery or the confusion matrix overlap, none leaves the figure, and the confusion
matrix's numbers are at least 8 pt."""

import itertools

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text

from vislab.data.sources.idx import FASHION_MNIST
from vislab.plotting.mistake_picks import Mistake
from vislab.plotting.mistakes import mistakes_figure
from vislab.plotting.runs import confusion_figure

FASHION = list(FASHION_MNIST.class_names)  # the long names the real dataset gives


def text_boxes(fig) -> list[tuple[str, object]]:
    """(text, its box in display pixels) of every shown, non-empty Text of the drawn figure."""
    canvas = FigureCanvasAgg(fig)  # the PNG's renderer (a vislab figure is made outside pyplot)
    canvas.draw()
    renderer = canvas.get_renderer()
    hidden = unshown_tick_labels(fig)
    return [
        (t.get_text(), t.get_window_extent(renderer))
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and t not in hidden
    ]


def unshown_tick_labels(fig) -> set[Text]:
    """Tick labels of ticks outside their axis's view limits: kept by matplotlib, never drawn."""
    out = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not (lo - 1e-9 <= tick.get_loc() <= hi + 1e-9) or not ax.axison:
                    out |= {tick.label1, tick.label2}
    return out


def overlapping(boxes) -> list[tuple[str, str]]:
    return [(a, b) for (a, ba), (b, bb) in itertools.combinations(boxes, 2) if ba.overlaps(bb)]


def outside(fig, boxes) -> list[str]:
    whole = fig.bbox
    return [
        s
        for s, b in boxes
        if b.x0 < whole.x0 - 1 or b.y0 < whole.y0 - 1 or b.x1 > whole.x1 + 1 or b.y1 > whole.y1 + 1
    ]


def gallery(n: int, title: str = "cnn, test"):
    """The gallery of ``n`` Fashion-MNIST mistakes, each class taken for one of the two longest names
    ('Ankle boot', or 'T-shirt/top' for an ankle boot): long titles side by side."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)
    wrong = [Mistake(i, i % 10, 0 if i % 10 == 9 else 9, 0.99 - i / 100) for i in range(n)]
    pairs = [(0, 5, 40), (7, 9, 31), (6, 0, 30), (2, 4, 22), (9, 7, 9)]
    return mistakes_figure(images, wrong, pairs, FASHION, title=title)


@pytest.mark.parametrize("n", [1, 2, 7, 32])
def test_the_mistakes_gallery_has_no_overlapping_text(n):
    fig = gallery(n)
    boxes = text_boxes(fig)
    titles = [s for s, _ in boxes if s.endswith(f"p={0.99 - (n - 1) / 100:.2f}")]
    assert len(titles) == 1  # the last image's title is drawn: the gallery shows every mistake
    assert sum("→" in s and "p=" in s for s, _ in boxes) == n
    assert overlapping(boxes) == []
    assert outside(fig, boxes) == []


def test_the_overall_title_keeps_clear_of_two_small_images():
    # the quickstart's cnn: two mistakes on 8×8 digits, the overall title over the images' titles
    images = np.zeros((2, 8, 8, 1), np.uint8)
    wrong = [Mistake(0, 0, 5, 0.9), Mistake(1, 1, 6, 0.8)]
    fig = mistakes_figure(images, wrong, [(0, 5, 4), (1, 6, 1)], [str(d) for d in range(10)], "cnn")
    boxes = text_boxes(fig)
    assert overlapping(boxes) == []
    assert outside(fig, boxes) == []


def test_the_gallery_wraps_long_names_and_a_long_title():
    names = ["a rather long class name indeed", "another very long class name here"]
    images = np.zeros((2, 8, 8, 3), np.uint8)
    wrong = [Mistake(0, 0, 1, 0.9), Mistake(1, 1, 0, 0.8)]
    fig = mistakes_figure(images, wrong, [(0, 1, 1)], names, title="a run with a long name, test")
    boxes = text_boxes(fig)
    assert overlapping(boxes) == []
    assert outside(fig, boxes) == []
    image_titles = [s for s, _ in boxes if "p=" in s]
    assert all(len(line) <= 13 for s in image_titles for line in s.splitlines())


def test_the_gallery_of_feature_data_shows_the_pairs_alone():
    fig = mistakes_figure(None, [Mistake(0, 0, 1, 0.9)], [(0, 1, 1)], FASHION)
    boxes = text_boxes(fig)
    assert not any("p=" in s for s, _ in boxes)
    assert overlapping(boxes) == [] and outside(fig, boxes) == []


def confusion_10(normalize: bool):
    rng = np.random.default_rng(1)
    cm = rng.integers(0, 40, (10, 10)) + np.diag(rng.integers(800, 1000, 10))
    return cm, confusion_figure(cm, FASHION, title="cnn: test", normalize=normalize)


@pytest.mark.parametrize("normalize", [False, True])
def test_a_ten_class_confusion_matrix_is_legible(normalize):
    cm, fig = confusion_10(normalize)
    boxes = text_boxes(fig)
    assert overlapping(boxes) == []  # cell numbers, class names, labels and title
    assert outside(fig, boxes) == []
    [ax] = fig.axes
    cells = list(ax.texts)
    assert len(cells) == 100
    # the figure is saved at its own size: a point is a point
    assert min(t.get_fontsize() for t in cells) >= 8
    assert min(t.get_fontsize() for t in ax.get_xticklabels() + ax.get_yticklabels()) >= 8
    numbers = np.array([float(t.get_text()) for t in cells]).reshape(10, 10)
    if normalize:
        np.testing.assert_allclose(numbers.sum(1), 1, atol=0.06)  # two decimals a cell
        np.testing.assert_allclose(numbers, cm / cm.sum(1, keepdims=True), atol=0.005)
    else:
        assert (numbers == cm).all()
