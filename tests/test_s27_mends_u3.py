"""A paper of a few runs on fewer pages: a run's column-wide figures two to a row at their drawn size
(texts >= 8 pt in print), one left alone paired with the next one left alone, and floats that LaTeX packs
onto float pages ([tbp], a \\clearpage only where its queue of floats would overflow)."""

import re
import shutil
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from conftest import pdflatex_log
from vislab.paper_folder.figures import PageFigure
from vislab.paper_folder.latex import figure_environments, main_document

needs_pdflatex = pytest.mark.skipif(shutil.which("pdflatex") is None, reason="needs pdflatex")


def _run_figures(run: str) -> list[PageFigure]:
    """A run's figures as `vislab paper` draws them of mnist (the sizes of a paper of 4 runs)."""
    return [
        PageFigure(f"confusion_{run}", f"{run}: test confusion matrix", 3.3, 3.3, run),
        PageFigure(f"per_class_{run}", f"{run}: test accuracy per class", 3.3, 2.123, run),
        PageFigure(f"roc_{run}", f"{run}: ROC curves, one vs rest (test)", 3.3, 3.267, run),
        PageFigure(f"mistakes_{run}", f"{run}: the most confidently wrong images", 6.9, 5.459, run),
    ]


def _paper_figures(runs: list[str]) -> list[PageFigure]:
    return [
        PageFigure("curves", f"loss and accuracy of {len(runs)} runs", 6.9, 2.2),
        PageFigure("samples_1", "mnist: training samples", 3.3, 3.009),
        *[f for run in runs for f in _run_figures(run)],
        PageFigure(f"gradcam_{runs[0]}", f"{runs[0]}: Grad-CAM", 6.9, 2.478, runs[0]),
    ]


def _environment_of(text: str, stem: str) -> str:
    """The figure environment of figures.tex ``text`` that shows ``stem``."""
    found = [m[0] for m in re.finditer(r"\\begin\{(figure\*?)\}.*?\\end\{\1\}", text, re.S)]
    (env,) = [e for e in found if f"figures/{stem}.pdf" in e]
    return env


def test_a_runs_column_figures_share_rows_of_two_each_with_its_caption():
    text = figure_environments(_paper_figures(["cnn", "mlp"]))
    row = _environment_of(text, "confusion_cnn")
    assert row.startswith("\\begin{figure*}[tbp]")
    assert row.count("\\begin{minipage}[t]{\\vislabpair}") == 2
    for stem in ("confusion_cnn", "per_class_cnn"):
        assert f"\\label{{fig:{stem}}}" in row
    assert row.count("\\caption{") == 2 and "roc_cnn" not in row and "mistakes_cnn" not in row
    roc = _environment_of(text, "roc_cnn")  # left alone: it pairs with the next one left alone
    assert (
        roc.count("\\begin{minipage}[t]{\\vislabpair}") == 2
        and "ROC curves, one vs rest (test).}" in roc
    )


def test_a_figure_left_alone_shares_a_row_with_the_next_one_left_alone():
    figures = [
        f for run in ("a", "b", "c") for f in _run_figures(run) if f.stem[:3] in ("roc", "mis")
    ]
    text = figure_environments(figures)
    pair = _environment_of(text, "roc_a")
    assert "figures/roc_b.pdf" in pair and pair.count("\\begin{minipage}[t]{\\vislabpair}") == 2
    assert text.index("roc_b.pdf") < text.index("mistakes_a.pdf")  # moved up to roc_a
    assert _environment_of(text, "roc_c").startswith("\\begin{figure}[tbp]")  # none left to pair
    assert "\\label{fig:roc_b}" in pair and "\\label{fig:roc_c}" in text


def test_floats_may_go_on_float_pages_and_a_clearpage_comes_only_after_16():
    figures = [PageFigure(f"wide{i}", "Wide", 6.9, 2.2) for i in range(40)]
    text = figure_environments(figures)
    assert "[htbp]" not in text and text.count("[tbp]") == 40
    assert text.count("\\clearpage") == 2
    assert "\\clearpage" not in figure_environments(_paper_figures(["a", "b", "c", "d"]))


def _compile(folder: Path, figures: list[PageFigure], preamble: str = "") -> str:
    """main.tex as `vislab paper` writes it (``preamble`` added), of ``figures`` drawn blank at their
    sizes: its pdflatex log."""
    (folder / "figures").mkdir()
    drawn: dict[tuple[float, float], bytes] = {}
    for f in figures:
        if (f.width_in, f.height_in) not in drawn:
            fig = Figure(figsize=(f.width_in, f.height_in))
            fig.add_subplot().plot([0, 1])
            fig.savefig(folder / "blank.pdf")
            drawn[f.width_in, f.height_in] = (folder / "blank.pdf").read_bytes()
        (folder / f.pdf).write_bytes(drawn[f.width_in, f.height_in])
    (folder / "figures.tex").write_text(figure_environments(figures))
    (folder / "tables.tex").write_text("")
    main = main_document("A paper", [], "", [])
    (folder / "main.tex").write_text(
        main.replace("\\begin{document}", f"{preamble}\\begin{{document}}")
    )
    return pdflatex_log(folder)


def _pages(log: str) -> int:
    return int(re.search(r"Output written on main\.pdf \((\d+) pages?", log)[1])


def test_a_rows_figures_share_a_row_across_its_page_wide_one():
    """A row of seeds: its per-class accuracy (mean ± std) is drawn page-wide, between its confusion
    matrix and ROC curves, which were each left alone."""
    figures = [
        PageFigure("confusion_mlp", "mlp: confusion", 3.3, 3.3, "mlp"),
        PageFigure("per_class_mlp", "mlp: per class", 6.9, 2.793, "mlp"),
        PageFigure("roc_mlp", "mlp: ROC", 3.3, 4.3, "mlp"),
        PageFigure("mistakes_mlp-s0", "mlp, seed 0: mistakes", 6.9, 5.448, "mlp-s0"),
    ]
    text = figure_environments(figures)
    assert "figures/roc_mlp.pdf" in _environment_of(text, "confusion_mlp")
    assert text.index("roc_mlp.pdf") < text.index("per_class_mlp.pdf") < text.index("mistakes_mlp")


@needs_pdflatex
def test_a_paper_of_four_runs_prints_its_figures_on_fewer_pages(tmp_path):
    """19 figures of 4 runs took 1 + 10 pages, most half empty (each run's ROC alone after its pair, each
    float 'here' between no text); now the ROCs pair and the floats fill float pages."""
    log = _compile(tmp_path, _paper_figures(["cnn", "majority", "mlp", "mlp_lr"]))
    assert _pages(log) <= 1 + 9  # the title's page, then the figures'
    assert "Float too large" not in log and "Overfull \\hbox" not in log


@needs_pdflatex
def test_a_paper_of_forty_runs_compiles_at_most_two_pages_a_run(tmp_path):
    """163 floats: without a \\clearpage now and then, LaTeX stops at 'Too many unprocessed floats'."""
    log = _compile(tmp_path, _paper_figures([f"run{i}" for i in range(40)]))
    assert "Too many unprocessed floats" not in log and _pages(log) <= 3 + 2 * 40


@needs_pdflatex
def test_a_pair_prints_at_its_drawn_size_one_under_the_other_in_a_narrower_text(tmp_path):
    """In a 4.8 in text two 3.3 in figures do not fit side by side: the second goes under the first, each
    at its drawn size (its texts print at >= 8 pt)."""
    sizes = (
        "\\geometry{margin=1.85in}\\let\\ig\\includegraphics\\renewcommand{\\includegraphics}[2][]"
        "{\\setbox0\\hbox{\\ig[#1]{#2}}\\typeout{IG #2=\\the\\wd0}\\box0}\n"
    )
    log = _compile(tmp_path, _run_figures("cnn")[:2], sizes)
    widths = [float(w) for w in re.findall(r"^IG figures/\w+\.pdf=([\d.]+)pt", log, re.M)]
    assert "Float too large" not in log and len(widths) == 2
    assert widths == pytest.approx([3.3 * 72.27] * 2, abs=1)
