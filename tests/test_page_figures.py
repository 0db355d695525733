"""Figures drawn for a page (`vislab paper`): no text runs off a figure once it is sized for the page — a
10-class confusion matrix with Fashion-MNIST's long class names in one column included; a figure too
crowded for a column gets the text width."""

import numpy as np
import pytest

from vislab.paper_folder.figures import PageFigures
from vislab.plotting.runs import confusion_figure, per_class_figure, plot_confusion
from vislab.plotting.style import (
    COLUMN_IN,
    MIN_PT,
    PAGE_IN,
    cut_texts,
    fit_to_page,
    page_style,
    visible_texts,
)

NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
         "Ankle boot"]  # fmt: skip


@pytest.mark.parametrize(
    "draw",
    [
        lambda: confusion_figure(np.arange(100).reshape(10, 10), NAMES, "cnn: test"),
        lambda: per_class_figure(list(np.linspace(0.5, 1, 10)), NAMES, "cnn: test"),
    ],
    ids=["confusion", "per-class"],
)
def test_a_column_wide_figure_keeps_every_text_on_the_figure(draw):
    with page_style():
        fig = fit_to_page(draw(), COLUMN_IN)
    assert fig.get_figwidth() == pytest.approx(COLUMN_IN)
    assert all(t.get_fontsize() >= MIN_PT for t in visible_texts(fig))
    assert cut_texts(fig) == []


def test_a_figure_too_crowded_for_a_column_gets_the_text_width(tmp_path):
    names = [f"a rather long class name {i}" for i in range(12)]
    figs = PageFigures(tmp_path / "figures", [])
    matrix = np.ones((12, 12), dtype=int)
    figs.make("wide.png", "wide", plot_confusion, matrix, names)
    assert figs.saved["wide"].width_in == pytest.approx(PAGE_IN)
