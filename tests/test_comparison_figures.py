"""Comparison curves that stay legible with many runs: a colour per run, train solid and val dashed in
that colour, the legend beside the panels instead of over the curves."""

import contextlib

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from PIL import Image

from vislab.plotting.legend import run_style
from vislab.plotting.roc import roc_figure
from vislab.plotting.runs import curves_figure, plot_curves_overlay
from vislab.plotting.style import page_style
from vislab.report.figure_set import FigureSet
from vislab.report.sections import curve_figures


def _histories(n_runs: int, epochs: int = 4) -> dict[str, list[dict]]:
    return {
        f"run-{i}": [
            dict(
                epoch=e,
                train_loss=2.0 / e + 0.01 * i,
                val_loss=2.2 / e + 0.01 * i,
                train_acc=1 - 0.5 / e - 0.01 * i,
                val_acc=1 - 0.6 / e - 0.01 * i,
            )
            for e in range(1, epochs + 1)
        ]
        for i in range(n_runs)
    }


def test_nine_runs_have_nine_colours_train_solid_val_dashed():
    fig = curves_figure(_histories(9))
    for ax in fig.axes:
        by_run: dict[str, dict[str, str]] = {}
        for line in ax.lines:
            name, word = line.get_label().rsplit(" ", 1)
            by_run.setdefault(name, {})[line.get_linestyle()] = to_hex(line.get_color())
        assert len(by_run) == 9
        for styles in by_run.values():
            assert set(styles) == {"-", "--"}  # train solid, val dashed
            assert styles["-"] == styles["--"]  # in the run's one colour
        assert len({s["-"] for s in by_run.values()}) == 9  # nine distinct colours


def test_the_legend_lies_outside_every_axes_and_names_each_run_once():
    fig = curves_figure(_histories(9))
    fig.canvas.draw()
    [legend] = [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts == [f"run-{i}" for i in range(9)] + ["train", "val"]
    box = legend.get_window_extent()
    for ax in fig.axes:
        assert not box.overlaps(ax.get_window_extent()), "legend drawn over a panel"


def test_beyond_ten_runs_markers_tell_runs_of_one_colour_apart():
    styles = [run_style(i) for i in range(25)]
    assert len(set(styles)) == 25
    assert styles[0][0] == styles[10][0] and styles[0][1] != styles[10][1]


def test_saved_png_keeps_the_outside_legend(tmp_path):
    """Laid out constrained (session 27), the figure holds its legend right of the panels: no save
    crops it away."""
    path = plot_curves_overlay(_histories(9), tmp_path / "curves.png")
    fig = curves_figure(_histories(9))
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    legend = fig.axes[-1].get_legend().get_window_extent(renderer)
    assert max(ax.get_window_extent(renderer).x1 for ax in fig.axes) < legend.x0
    assert legend.x1 <= fig.bbox.x1
    with Image.open(path) as img:  # saved at 110 dpi, cropped to what is drawn
        assert img.size[0] >= (legend.x1 - fig.axes[0].get_tightbbox(renderer).x0) * 110 / fig.dpi


def _report_curves(tmp_path, histories, groups):
    figs = FigureSet(tmp_path / "figures", [])
    return curve_figures(figs, histories, groups)


def test_the_curves_caption_names_the_test_set_only_when_a_run_tracked_it(tmp_path):
    untracked = _histories(2)
    [fig] = _report_curves(tmp_path, untracked, {})
    assert "test" not in fig["caption"] and "dotted" not in fig["caption"]
    tracked = _histories(2)
    for r in tracked["run-1"]:
        r.update(test_loss=r["val_loss"], test_acc=r["val_acc"])
    [fig] = _report_curves(tmp_path, tracked, {})
    assert "dotted: the test set" in fig["caption"]


def test_a_group_of_every_run_repeats_no_figure(tmp_path):
    histories = _histories(3)
    everyone = {"all": ["run-0", "run-1", "run-2"]}
    assert [f["name"] for f in _report_curves(tmp_path, histories, everyone)] == ["curves.png"]
    two = {"pair": ["run-0", "run-1"]}
    made = _report_curves(tmp_path, histories, two)
    assert [f["name"] for f in made] == ["curves.png", "curves_pair.png"]
    assert "dotted" not in made[1]["caption"]


CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _roc(n_classes: int) -> dict:
    fpr = np.linspace(0, 1, 50)
    return {k: (fpr, fpr ** (0.2 + 0.05 * k)) for k in range(n_classes)}


@pytest.mark.parametrize("style", ["report", "page"])
def test_a_cifar10_roc_gives_each_class_its_own_look_and_keeps_the_legend_off_the_curves(style):
    """roc_<run>.png of CIFAR-10 drew airplane and ship in one blue, automobile and truck in one orange
    (a palette of eight, as the paper's), the legend over the upper-left half of the curves."""
    with page_style() if style == "page" else contextlib.nullcontext():
        fig = roc_figure(_roc(10), CIFAR10)
        fig.canvas.draw()
    ax = fig.axes[0]
    *curves, macro = [line for line in ax.lines if not line.get_label().startswith("_")]
    assert [c.get_label().split(" (")[0] for c in curves] == CIFAR10
    assert macro.get_label().startswith("macro AUC ")  # the classes' average
    # ten looks: the palette's colours, past them (a page's eight Okabe–Ito) dashed
    assert len({(to_hex(c.get_color()), c.get_linestyle()) for c in curves}) == 10
    legend = ax.get_legend()
    assert not legend.get_window_extent().overlaps(ax.get_window_extent()), "legend over the curves"
    assert legend.get_window_extent().x0 >= ax.get_window_extent().x1  # beside the axes


def test_past_ten_classes_a_roc_tells_curves_of_one_colour_apart_by_marker():
    """The comparison curves' rule (run_style: the palette's colours, then markers) for a ROC's classes."""
    fig = roc_figure(_roc(14), [f"class {k}" for k in range(14)])
    *curves, macro = [line for line in fig.axes[0].lines if not line.get_label().startswith("_")]
    assert macro.get_label().startswith("macro AUC ")  # the classes' average
    styles = [(to_hex(c.get_color()), c.get_marker()) for c in curves]
    assert len(set(styles)) == 14 and styles == [run_style(k)[:2] for k in range(14)]
    assert styles[0][0] == styles[10][0] and styles[0][1] != styles[10][1]
