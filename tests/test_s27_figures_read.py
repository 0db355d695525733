"""Session 27, fix K: figures as a reader sees them. A ROC's legend clear of its x axis at the paper's sizes
and at eval's, no class line dressed as an average (black: the averages'), and a near-flat learning curve
drawn flat on an axis without an offset, its panels' labels apart."""

import io

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex

from vislab.plotting.roc import roc_figure
from vislab.plotting.runs import curves_figure
from vislab.plotting.spans import min_span
from vislab.plotting.style import COLUMN_IN, PAGE_IN, fit_to_page, page_style

CLASSES = [str(k) for k in range(10)]


def _roc(classes: int = 10) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    return {
        k: (np.sort(np.r_[0, rng.random(20), 1]), np.sort(np.r_[0, rng.random(20), 1]) ** 0.2)
        for k in range(classes)
    }


def _drawn(fig):
    """The figure drawn as savefig draws it; its renderer."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    return renderer


MICRO = (np.linspace(0, 1, 20), np.linspace(0, 1, 20) ** 0.1, 0.98)


@pytest.mark.parametrize("width", [COLUMN_IN, PAGE_IN, None])  # a paper's column, its text, eval's
def test_the_roc_legend_never_covers_the_x_axis(width):
    """paper2's roc_mine.png: its legend, moved under the panel, lay over the x tick labels and
    "false positive rate"."""
    with page_style():
        fig = roc_figure(_roc(), CLASSES, "mine: ROC (test)", micro=MICRO)
        if width:
            fit_to_page(fig, width)
        renderer = _drawn(fig)
    ax = fig.axes[0]
    [legend] = fig.legends or [ax.get_legend()]
    box = legend.get_window_extent(renderer)
    for text in [ax.xaxis.label, *ax.xaxis.get_ticklabels()]:
        if text.get_text():
            assert not box.overlaps(text.get_window_extent(renderer)), text.get_text()
    assert not box.overlaps(ax.get_window_extent(renderer))


def test_no_class_line_of_a_roc_looks_like_an_average():
    """The page's palette ends in black, the macro line's colour: class 7 was drawn as the average."""
    with page_style():
        fig = roc_figure(_roc(), CLASSES, micro=MICRO)
    lines = {line.get_label(): line for line in fig.axes[0].lines}
    macro = next(line for label, line in lines.items() if label.startswith("macro AUC"))
    micro = next(line for label, line in lines.items() if label.startswith("micro AUC"))
    classes = [line for label, line in lines.items() if "(AUC" in label]
    assert len(classes) == 10

    def look(line):
        return to_hex(line.get_color()), line.get_linestyle()

    assert look(macro) != look(micro)
    for line in classes:
        assert to_hex(line.get_color()) != to_hex(macro.get_color()), line.get_label()
        assert look(line) not in {look(macro), look(micro)}, line.get_label()
        assert line.get_linewidth() < min(macro.get_linewidth(), micro.get_linewidth())


def _flat_rows(noise: float) -> list[dict]:
    rng = np.random.default_rng(1)
    loss = 2.302585 + noise * rng.random((5, 2))
    return [
        dict(epoch=e + 1, train_loss=a, val_loss=b, train_acc=0.1, val_acc=0.1, val_pacc=0.1)
        for e, (a, b) in enumerate(loss)
    ]


@pytest.mark.parametrize("noise", [0.0, 1e-4])  # constant, and a majority baseline's round-off
def test_a_flat_loss_is_drawn_flat_without_an_offset(noise):
    """m.plot("curves") of a majority baseline: "+2.302" above ticks 0.00046–0.00054."""
    fig = curves_figure({"majority": _flat_rows(noise)})
    fig.savefig(io.BytesIO(), format="png")
    for ax in fig.axes:
        assert ax.yaxis.get_offset_text().get_text() == "", ax.get_ylabel()
        lo, hi = ax.get_ylim()
        assert hi - lo >= min_span((lo + hi) / 2) - 1e-12, ax.get_ylabel()
    lo, hi = fig.axes[0].get_ylim()
    assert hi - lo >= 0.1 and lo <= 2.302585 <= hi
    assert [t.get_text() for t in fig.axes[0].get_yticklabels() if t.get_text()][0][:3] == "2.2"


def test_a_flat_accuracy_axis_stays_at_or_above_zero():
    """An accuracy of 0 every epoch: the axis starts at 0, not at an accuracy below it."""
    rows = [dict(r, train_acc=0.0, val_acc=0.0) for r in _flat_rows(0.0)]
    fig = curves_figure({"majority": rows})
    fig.savefig(io.BytesIO(), format="png")
    lo, hi = fig.axes[1].get_ylim()
    assert lo == 0 and hi >= min_span(0.0)


def test_the_curves_panels_labels_do_not_overlap():
    """The loss panel's tick labels ran into the accuracy panel's y label."""
    fig = curves_figure({"majority": _flat_rows(1e-4)})
    renderer = _drawn(fig)
    boxes = [ax.get_tightbbox(renderer) for ax in fig.axes]
    for left, right in zip(boxes, boxes[1:]):
        assert left.x1 <= right.x0
