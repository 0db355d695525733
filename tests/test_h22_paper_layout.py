"""The paper's layout: a curves figure of many runs keeps its legend and labels on the page, figures.tex
fits any template's text width, tables leave room under their captions, tables.md prints run names as
typed."""

import shutil

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from conftest import pdflatex_log
from vislab.paper_folder.figures import PageFigure
from vislab.paper_folder.latex import figure_environments
from vislab.paper_folder.tables import Part, latex_tables, markdown_tables
from vislab.plotting.runs import curves_figure
from vislab.plotting.style import (
    COLUMN_IN,
    DPI,
    MIN_HEIGHT_IN,
    PAGE_IN,
    cut_texts,
    fit_to_page,
    page_style,
)

LADDER = [  # the cnn-ladder suite's 15 runs
    *("baseline", "lr-0.01", "batch-32", "standardise", "zca", "crop-flip", "jitter-rotation"),
    *("affine", "exp-decay", "step-decay", "cosine", "momentum", "adam", "dropout", "batchnorm"),
]


def _rows(i: int) -> list[dict]:
    """Two epochs of a run that tracked the test set and per-class accuracy."""
    return [
        {
            "epoch": e,
            "train_loss": 2.3 - 0.1 * e - 0.01 * i,
            "train_acc": 0.1 + 0.1 * e,
            "val_loss": 2.3 - 0.05 * e,
            "val_acc": 0.1 + 0.05 * e,
            "val_pacc": 0.1 + 0.05 * e,
            "test_loss": 2.3 - 0.04 * e,
            "test_acc": 0.1 + 0.04 * e,
            "test_pacc": 0.1 + 0.04 * e,
        }
        for e in range(2)
    ]


def _inside(fig: Figure, artist, renderer) -> bool:
    box, extent = fig.bbox.padded(1), artist.get_window_extent(renderer)
    return box.contains(*extent.p0) and box.contains(*extent.p1)


def test_fifteen_runs_curves_at_the_papers_size_keep_every_legend_entry_and_label(tmp_path):
    histories = {name: _rows(i) for i, name in enumerate(LADDER)}
    with page_style():
        fig = curves_figure(histories, best=dict.fromkeys(LADDER, 1))
        fit_to_page(fig, PAGE_IN)  # as the paper sizes it (figures.PageFigures._save)
        fig.savefig(tmp_path / "curves.png", dpi=DPI)
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)  # as savefig drew it, at the figure's own resolution
    legends = fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    texts = [t.get_text() for leg in legends for t in leg.get_texts()]
    assert set(LADDER) | {"train", "val", "test (tracked)", "best.pt's epoch"} <= set(texts)
    assert all(_inside(fig, t, renderer) for leg in legends for t in leg.get_texts())
    assert cut_texts(fig) == []  # the y label "per-class accuracy (pacc)" too
    w, h = fig.get_size_inches()
    assert w == pytest.approx(PAGE_IN) and MIN_HEIGHT_IN < h < 1.25 * w
    png_w, png_h = Image.open(tmp_path / "curves.png").size  # the file is the figure at that size
    assert abs(png_w - w * DPI) <= 1 and abs(png_h - h * DPI) <= 1


def test_a_legend_moved_under_the_panels_stays_clear_of_them_when_the_figure_is_fitted_again():
    """The paper fits a figure to a column, then to the text width when its texts do not fit."""
    with page_style():
        fig = curves_figure({name: _rows(i) for i, name in enumerate(LADDER)})
        fig.set_size_inches(7, 4)
        fit_to_page(fig, COLUMN_IN)
        fit_to_page(fig, PAGE_IN)
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    (legend,) = fig.legends
    top = legend.get_window_extent(renderer).y1
    assert all(ax.get_tightbbox(renderer).y0 >= top - 1 for ax in fig.axes)  # no panel over it
    assert cut_texts(fig) == []


def test_one_run_curves_keep_their_legend_beside_the_panels():
    with page_style():
        fig = curves_figure({"run": _rows(0)})
        fit_to_page(fig, PAGE_IN)
    assert not fig.legends and fig.axes[-1].get_legend() is not None
    assert fig.get_size_inches()[1] == pytest.approx(MIN_HEIGHT_IN)


def test_figures_tex_fits_each_figure_to_the_text_width():
    text = figure_environments([PageFigure("curves", "Curves", 6.9, 2.9)])
    assert "\\includegraphics[width=\\vislabwidth{6.9in}]{figures/curves.pdf}" in text
    assert "\\providecommand{\\vislabwidth}" in text


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="needs pdflatex")
def test_a_plain_article_prints_a_wide_figure_at_its_text_width_and_a_narrow_one_as_drawn(tmp_path):
    (tmp_path / "figures").mkdir()
    for stem, width in (("wide", 6.9), ("narrow", 3.3)):
        fig = Figure(figsize=(width, 2.2))
        fig.add_subplot().plot([0, 1])
        fig.savefig(tmp_path / "figures" / f"{stem}.pdf")
    figures = [PageFigure("wide", "Wide", 6.9, 2.2), PageFigure("narrow", "Narrow", 3.3, 2.2)]
    (tmp_path / "figures.tex").write_text(figure_environments(figures))
    sizes = "".join(
        f"\\setbox0\\hbox{{\\includegraphics[width=\\vislabwidth{{{f.width_in}in}}]{{{f.pdf}}}}}"
        f"\\typeout{{{f.stem}=\\the\\wd0}}"
        for f in figures
    )
    (tmp_path / "main.tex").write_text(
        "\\documentclass{article}\n\\usepackage{graphicx}\n\\begin{document}\n\\input{figures}\n"
        f"{sizes}\\typeout{{text=\\the\\linewidth}}\n\\end{{document}}\n"
    )
    log = pdflatex_log(tmp_path)
    assert "Overfull \\hbox" not in log
    said = dict(
        line.split("=", 1)
        for line in log.splitlines()
        if line.split("=")[0] in {"wide", "narrow", "text"}
    )
    # article's text width (345 pt, 4.8 in): the wide figure shrunk to it, the narrow one as drawn
    assert said["wide"] == said["text"] == "345.0pt"
    assert float(said["narrow"].removesuffix("pt")) == pytest.approx(3.3 * 72.27, abs=0.01)


def _parts(*runs: str) -> list[Part]:
    cols = [("run", "run"), ("val_acc", "val acc")]
    return [Part("accuracy", "Accuracy", cols, [{"run": r, "val_acc": 0.5} for r in runs], set())]


def test_every_table_leaves_room_under_its_caption():
    tex = latex_tables(_parts("a", "b"), {}, "", {"a": ["lr=0.1"], "b": ["lr=0.2"]})
    tables = tex.split("\\begin{table}")[1:]
    assert len(tables) == 2 and "tab:settings" in tables[1]
    for table in tables:
        head = table.split("\\caption")[0]
        assert "\\setlength{\\belowcaptionskip}{6pt}" in head


def test_tables_md_prints_run_names_with_emphasis_marks_as_typed():
    md = markdown_tables(
        _parts("__init__", "cnn*v2*", "lr_0.01"), {}, "", {}, {"__init__": ["x=1"]}
    )
    assert "| \\_\\_init\\_\\_ | 0.5000 |" in md
    assert "| cnn\\*v2\\* | 0.5000 |" in md
    assert "| lr_0.01 | 0.5000 |" in md  # an underscore within a word makes no emphasis: kept
    assert "- **\\_\\_init\\_\\_**: x=1" in md
