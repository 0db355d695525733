"""Figures a reviewer can read with long class names (long_class_name_0..9, as a folder dataset's): the
wrong-image gallery, the sample and augmentation mosaics, the attention and Grad-CAM panels keep what
tells the classes apart; explanation maps in a colour-blind-safe map that their colour bar matches; many
lines told apart in Okabe–Ito; a boundary's shading keyed; a run's curves titled. Each test reads the
Figure its function builds (texts, artists), not pixels."""

from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from vislab.plotting.boundary import SHADE_KEY, decision_boundary_figure
from vislab.plotting.canvas import captured_figures, fit_name
from vislab.plotting.explain import draw_explanation_row, map_scale
from vislab.plotting.images import plot_image_grid, plot_image_mosaic
from vislab.plotting.mistake_picks import Mistake
from vislab.plotting.mistakes import mistakes_figure
from vislab.plotting.roc import roc_figure
from vislab.plotting.runs import curves_figure, plot_curves
from vislab.plotting.style import OKABE_ITO, page_style
from vislab.plotting.vit import plot_attention, wrap_title

NAMES = [f"long_class_name_{k}" for k in range(10)]
IMAGES = np.random.default_rng(0).integers(0, 256, (20, 16, 16, 1)).astype(np.uint8)


def _drawn(draw) -> Figure:
    """The figure ``draw`` (a function of a path) would save, drawn."""
    with captured_figures() as figs:
        draw(Path("unused.png"))
    fig = figs[-1]
    FigureCanvasAgg(fig).draw()
    return fig


def _texts(fig: Figure) -> list:
    """Every non-empty text of ``fig``, the axes' included."""
    return [t for t in fig.findobj(lambda a: hasattr(a, "get_text")) if t.get_text().strip()]


def _one_line(text: str) -> str:
    return text.replace("\n", "")


def test_the_wrong_image_gallery_keeps_each_class_name_whole():
    mistakes = [Mistake(i, i % 10, (i + 3) % 10, 0.9) for i in range(10)]
    fig = mistakes_figure(IMAGES, mistakes, [(1, 2, 3)], NAMES, "m1 test")
    titles = [t.get_text() for t in fig.texts if "p=0.90" in t.get_text()]
    assert len(titles) == 10
    for m, title in zip(mistakes, titles):
        assert f"{NAMES[m.true]} →" in _one_line(title)  # broken at an underscore, not cut
        assert _one_line(title).endswith(f"{NAMES[m.pred]}p=0.90")


def test_a_name_too_long_for_two_lines_keeps_its_end():
    assert fit_name("long_class_name_0", 11) == "long_class_\nname_0"
    cut = fit_name("averyveryverylongclassname_7", 12, lines=1)
    assert len(cut) == 12 and "…" in cut and cut.endswith("name_7")


def test_augmentation_mosaic_puts_row_titles_above_the_rows_and_fits_the_labels():
    """The report's augment_N.png: row titles were left of the rows (~75 % of the width), the class
    labels overprinted each other; now laid out as `vislab data preview` draws them."""
    rows = [IMAGES[:10]] * 4
    titles = ["originals"] + [
        f"augmented #{i}, ops per image: none, none, crop, none, none, none, none, crop, crop, crop"
        for i in (1, 2, 3)
    ]
    fig = _drawn(lambda p: plot_image_mosaic(rows, p, row_titles=titles, labels=NAMES))
    renderer = fig.canvas.get_renderer()
    (ax,) = fig.axes
    image = ax.get_window_extent(renderer)
    texts = _texts(fig)
    heads = [t for t in texts if t.get_text().startswith(("originals", "augmented"))]
    assert len(heads) == 4
    for t in texts:  # nothing sticks out left or right of the images
        box = t.get_window_extent(renderer)
        assert box.x0 >= image.x0 - 1 and box.x1 <= image.x1 + 1, t.get_text()
    _no_overlaps([t for t in texts if t not in heads], renderer)
    assert {_one_line(t.get_text()) for t in texts if t not in heads} == set(NAMES)


def _no_overlaps(texts: list, renderer) -> None:
    boxes = [t.get_window_extent(renderer) for t in texts]
    for i, a in enumerate(boxes):
        for j, b in enumerate(boxes[:i]):
            assert not a.overlaps(b), (texts[i].get_text(), texts[j].get_text())


def test_the_sample_mosaic_and_the_preview_grid_labels_fit_their_columns():
    samples = _drawn(lambda p: plot_image_mosaic([IMAGES[:12]], p, ["folder longds"], labels=NAMES))
    renderer = samples.canvas.get_renderer()
    labels = [t for t in _texts(samples) if "long_" in t.get_text()]
    assert len(labels) == 10
    _no_overlaps(labels, renderer)
    grid = _drawn(lambda p: plot_image_grid([IMAGES[:10]] * 2, p, ["originals", "again"], NAMES))
    labels = [t for t in _texts(grid) if "long_" in t.get_text()]
    assert len(labels) == 20
    _no_overlaps(labels, grid.canvas.get_renderer())


def test_attention_panel_titles_break_at_boundaries_not_mid_word():
    title = "predicted long_class_name_7\ntrue long_class_name_3"
    lines = wrap_title(title).split("\n")
    assert len(lines) <= 5 and all(len(line) <= 14 for line in lines)  # was 6
    assert lines == ["predicted", "long_class_", "name_7", "true long_", "class_name_3"]
    long = wrap_title("predicted averyveryverylongclassname_7").split("\n")
    assert long == ["predicted", "averyv…sname_7"]  # a token past the line: cut in the middle
    fig = _drawn(
        lambda p: plot_attention(
            torch.rand(2, 4, 4), torch.rand(2, 1, 16, 16), path=p, titles=[title, title]
        )
    )
    assert fig.axes[0].get_title() == wrap_title(title)


def test_explanation_maps_are_colour_blind_safe_over_a_grey_image_and_match_their_bar():
    fig = Figure(layout="constrained")
    image = np.random.default_rng(1).integers(0, 256, (16, 16, 3)).astype(np.uint8)
    draw_explanation_row(fig, image, torch.rand(1, 4, 4), ["Grad-CAM"], "x")
    panel, bar = fig.axes[1], fig.axes[-1]
    beneath, over = panel.images
    assert beneath.get_cmap().name == "gray" and beneath.get_array().ndim == 2  # the image in grey
    cmap = over.get_cmap()
    assert cmap.name.startswith("inferno") and over.get_alpha() is None
    alphas = cmap(np.linspace(0, 1, 5))[:, 3]
    assert alphas[0] < alphas[-1]  # low values let the image through
    assert bar._colorbar.cmap.name == cmap.name  # the bar in the colours and opacities drawn
    assert bar.get_facecolor()[:3] == (0.5, 0.5, 0.5)  # on the grey the map is blended with
    _, scale = map_scale(torch.rand(1, 4, 4), (16, 16), None)
    assert "jet" not in scale.get_cmap().name


def test_ten_roc_lines_on_a_page_take_okabe_ito_then_other_line_styles():
    grid = np.linspace(0, 1, 11)
    roc = dict.fromkeys(range(10), (grid, grid**0.5))
    with page_style():
        fig = roc_figure(roc, NAMES)
    lines = [line for line in fig.axes[0].lines if not line.get_label().startswith("_")]
    assert lines.pop().get_label() == "macro AUC 0.661"  # the classes' average, in black
    assert len(lines) == 10
    assert {to_hex(line.get_color()) for line in lines} <= {c.lower() for c in OKABE_ITO}
    styles = {(to_hex(line.get_color()), line.get_linestyle()) for line in lines}
    assert len(styles) == 10  # lines 9 and 10: Okabe–Ito's first colours, dashed


def test_a_boundary_keys_its_shading_and_a_runs_curves_name_it():
    torch.manual_seed(0)
    x = torch.randn(40, 2)
    fig = decision_boundary_figure(torch.nn.Linear(2, 2), x, (x[:, 0] > 0).long(), ["a", "b"])
    assert SHADE_KEY in [ax.get_ylabel() for ax in fig.axes]
    rows = [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.1, "train_acc": 0.5, "val_acc": 0.4}]
    assert curves_figure({"m1": rows})._suptitle.get_text() == "m1"
    assert curves_figure({"m1": rows, "m2": rows})._suptitle is None
    fig = _drawn(lambda p: plot_curves(rows, p, title="m1"))
    assert fig._suptitle.get_text() == "m1"


def test_a_runs_boundary_png_is_titled_with_its_split_and_weights_as_run_plot_is(tmp_path):
    """figures/boundary_test.png said only "circ: decision boundary"; run.plot('boundary') said the split
    and the weights: both now do."""
    from conftest import tiny_config
    from vislab.plotting.canvas import captured_figures, plt
    from vislab.training.trainer import train

    cfg = tiny_config("data.name=circles", "train.figures=true")
    with captured_figures() as drawn:
        train(cfg, tmp_path / "circ", quiet=True)
    titles = [ax.get_title() for fig in drawn for ax in fig.axes]
    assert any(t.startswith("circ: test, best.pt, epoch ") for t in titles), titles
    for fig in drawn:
        plt.close(fig)
