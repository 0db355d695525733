"""`vislab explain` and ``Run.explain`` draw maps as the report does: attention heads on one colour scale,
the image's least to its largest weight, with a colour bar in attention weights (a weak head looks weak); Grad-CAM and
saliency scaled per image, their bar saying so. A 100-class per-class figure keeps its texts on the
figure at its own size and a page's."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

import vislab
from conftest import cli, tiny_config
from vislab.plotting.canvas import captured_figures, plt
from vislab.plotting.explain import PER_MAP
from vislab.plotting.runs import per_class_figure
from vislab.plotting.style import COLUMN_IN, PAGE_IN, cut_texts, fit_to_page, page_style
from vislab.training.trainer import train


@pytest.fixture(scope="module")
def vit_run(tmp_path_factory):
    sets = ("model.name=vit", "model.embed_dim=8", "model.depth=2", "model.num_heads=2")
    folder = tmp_path_factory.mktemp("vit")
    config = tiny_config(*sets, "model.patch_size=2", "train.epochs=1", "train.figures=false")
    train(config, folder / "run", quiet=True)
    return vislab.load_run(folder / "run")


def _bars(fig) -> list:
    """The colour bars' axes of a figure or one row of one."""
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


def _maps(fig) -> list:
    """The map images over the input of each map panel (the input panel and the bars left out)."""
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"][1:]
    return [ax.images[1] for ax in panels]


def _assert_one_attention_scale(fig, rows: list[list]) -> None:
    """Each image's heads (a row of ``rows``) share one scale, the least to the largest weight drawn,
    and a bar says its units."""
    for images in rows:
        limits = {(im.norm.vmin, im.norm.vmax) for im in images}
        assert len(limits) == 1, limits
        (lo, hi), drawn = limits.pop(), [im.get_array() for im in images]
        assert lo == pytest.approx(min(float(m.min()) for m in drawn))
        assert hi == pytest.approx(max(float(m.max()) for m in drawn)) and hi < 1  # weights
    bars = _bars(fig)
    assert bars and all(b.get_ylabel() == "attention weight\n(all heads, min–max)" for b in bars)
    assert cut_texts(fig) == []  # the bar's label within the figure
    _assert_bar_text_no_larger_than_titles(fig)


def _assert_bar_text_no_larger_than_titles(fig) -> None:
    """The colour bars' labels and ticks are set no larger than the panels' titles."""
    titles = [ax.title.get_fontsize() for ax in fig.axes if ax.get_title()]
    for bar in _bars(fig):
        sizes = [bar.yaxis.label.get_fontsize(), *(t.get_fontsize() for t in bar.get_yticklabels())]
        assert titles and max(sizes) <= min(titles), (sizes, titles)


def test_explain_command_draws_attention_heads_on_one_scale_with_a_colour_bar(
    vit_run, digit_png, tmp_path, capsys
):
    with captured_figures() as drawn:
        code, out = cli(
            capsys, "explain", vit_run.path, digit_png, "--method", "attention", "--out", tmp_path
        )
    assert code == 0, out
    (fig,) = drawn
    maps = _maps(fig)
    assert len(maps) == 2  # two heads
    _assert_one_attention_scale(fig, [maps])
    assert [ax.get_title() for ax in fig.axes[1:3]] == ["head 1", "head 2"]
    plt.close(fig)


def test_run_explain_draws_each_row_of_heads_on_one_scale(vit_run, digit_png):
    fig = vit_run.explain([digit_png, np.zeros((24, 24, 1), np.uint8)], method="attention")
    assert isinstance(fig, Figure)
    assert [len(_maps(row)) for row in fig.subfigs] == [2, 2]  # two rows of two heads
    _assert_one_attention_scale(fig, [_maps(row) for row in fig.subfigs])
    assert all(len(_bars(row)) == 1 for row in fig.subfigs)


def test_run_explain_rollout_is_in_attention_weights(vit_run, digit_png):
    fig = vit_run.explain(digit_png)  # rollout, a ViT's default
    (bar,) = _bars(fig)
    assert bar.get_ylabel() == "attention weight\n(image's min–max)"
    (image,) = _maps(fig)
    assert image.norm.vmin == pytest.approx(image.get_array().min())
    assert image.norm.vmax == pytest.approx(image.get_array().max())


def test_explain_saliency_is_scaled_per_image_and_its_bar_says_so(
    vit_run, digit_png, tmp_path, capsys
):
    fig = vit_run.explain(digit_png, method="saliency")
    with captured_figures() as drawn:
        code, out = cli(
            capsys, "explain", vit_run.path, digit_png, "--method", "saliency", "--out", tmp_path
        )
    assert code == 0, out
    for figure in (fig, *drawn):
        (bar,) = _bars(figure)
        assert bar.get_ylabel() == PER_MAP
        assert [t.get_text() for t in bar.get_yticklabels()] == ["min", "max"]
        _assert_bar_text_no_larger_than_titles(figure)
        (image,) = _maps(figure)
        assert (image.norm.vmin, image.norm.vmax) == (0, 1)
    plt.close(*drawn)


# ------------------------------------------------------------------------------ per-class figure
LONG = [f"a_rather_long_class_name_{i}" for i in range(100)]
SHORT = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@pytest.mark.parametrize("names", [SHORT, LONG, LONG[:10]], ids=["10", "100-long", "10-long"])
@pytest.mark.parametrize("width", [None, COLUMN_IN, PAGE_IN], ids=["own", "column", "page"])
def test_per_class_figure_keeps_every_text_on_the_figure(names, width):
    values = [None if i % 7 == 3 else (i * 37 % 100) / 100 for i in range(len(names))]
    with page_style():
        fig = per_class_figure(values, names, "cnn: test", std=[0.05] * len(names))
        if width is not None:
            fit_to_page(fig, width)
        assert cut_texts(fig) == []
    plt.close(fig)
