"""The paper's tables and figures in print: a per-class table of many classes turned and split, never
shrunk below its size; page-wide figures and tables spanning both columns of a two-column template; a
sweep's named trials told apart; one naming of the metrics; `vislab sweep --quiet`."""

from __future__ import annotations

import re
import shutil

import matplotlib.colors as mcolors
import numpy as np
import pytest
import yaml
from matplotlib.figure import Figure

from conftest import cli, pdflatex_log, tiny_sweep
from vislab.paper_folder.figures import PageFigure
from vislab.paper_folder.latex import figure_environments, without_missing
from vislab.paper_folder.table_layout import TEXT_PT, width_pt
from vislab.paper_folder.tables import latex_tables, markdown_tables, parts, per_class_part
from vislab.plotting.canvas import captured_figures, plt
from vislab.plotting.sweeps import plot_trial_curves
from vislab.training.summary import RunSummary

CLASSES = [f"long_class_name_{i}" for i in range(10)]


def _summaries(runs: int, classes: list[str]) -> dict[str, RunSummary]:
    return {
        f"run{r}": RunSummary(
            run=f"run{r}",
            model="mlp",
            test_per_class={c: 0.5 + 0.01 * (r + i) for i, c in enumerate(classes)},
        )
        for r in range(runs)
    }


def test_a_per_class_table_of_many_classes_has_a_row_per_class_and_fits_the_text():
    """10 classes of 3 runs printed as 10 columns of a row per run, shrunk by \\resizebox to ~4 pt."""
    summaries = _summaries(3, CLASSES)
    rows = {f"run{r}": [f"run{r}"] for r in range(3)}
    (part,) = per_class_part(summaries, None, {})
    assert part.cols == [("class", "class"), *((f"run{j}_acc", f"run{j}") for j in range(3))]
    assert [r["class"] for r in part.rows] == CLASSES
    assert "a row per class and a column per run" in part.caption
    assert width_pt(part) <= TEXT_PT
    tex = latex_tables([part], {}, "")
    assert "class & run0 & run1 & run2 \\\\" in tex
    assert "long\\_class\\_name\\_9 & 0.5900 & 0.6000 & \\textbf{0.6100} \\\\" in tex
    # the best run of each class in bold: run2, the last column, in every row
    assert tex.count("\\textbf{") == 10 and all(
        line.rstrip(" \\").split(" & ")[-1].startswith("\\textbf")
        for line in tex.splitlines()
        if line.startswith("long\\_class")
    )
    md = markdown_tables([part], {}, "", {})
    assert "| class | run0 | run1 | run2 |" in md
    # seeds: mean ± std cells, still turned
    (seeded,) = per_class_part(summaries, rows, {})
    assert seeded.cols[0] == ("class", "class")


def test_a_per_class_table_wider_than_the_text_is_split_each_part_fitting():
    summaries = _summaries(18, [f"class_{i}" for i in range(20)])
    tables = per_class_part(summaries, None, {})
    assert len(tables) > 1
    assert [t.label for t in tables] == [
        "per-class",
        *(f"per-class-{i}" for i in range(2, len(tables) + 1)),
    ]
    assert all(t.cols[0] == ("class", "class") and width_pt(t) <= TEXT_PT for t in tables)
    assert all(f"(part {i} of {len(tables)})." in t.caption for i, t in enumerate(tables, 1))
    runs = [h for t in tables for _, h in t.cols[1:]]
    assert runs == [f"run{r}" for r in range(18)]  # every run once, in order


def test_few_classes_keep_a_row_per_run_and_narrow_tables_stay_in_a_column():
    (part,) = per_class_part(_summaries(3, ["a", "b"]), None, {})
    assert part.cols[0] == ("run", "run") and len(part.rows) == 3
    tex = latex_tables([part], {}, "")
    assert "\\begin{table}[htbp]" in tex and "table*" not in tex


def test_the_accuracy_table_names_acc_and_pacc_as_its_headers_do():
    rows = [
        {"run": "a", "val_acc": 0.5, "val_pacc": 0.4},
        {"run": "b", "val_acc": 0.6, "val_pacc": 0.5},
    ]
    cols = [("run", "run"), ("val_acc", "val ACC"), ("val_pacc", "val PACC")]
    (acc,) = parts(rows, cols, seeded=False)
    # its columns are the validation split's alone: so says the caption (session 26)
    assert acc.caption.startswith("Validation accuracy (ACC) and per-class accuracy (PACC)")


WIDE, NARROW = PageFigure("wide", "Wide", 6.9, 2.2), PageFigure("narrow", "Narrow", 3.3, 2.2)


def test_page_wide_figures_are_figure_star_and_column_figures_figure(tmp_path):
    text = figure_environments([WIDE, NARROW])
    assert re.search(
        r"\\begin\{figure\*\}\[tbp\]\n.*figures/wide\.pdf.*?\\end\{figure\*\}", text, re.S
    )
    assert re.search(
        r"\\begin\{figure\}\[tbp\]\n.*figures/narrow\.pdf.*?\\end\{figure\}", text, re.S
    )
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "narrow.pdf").write_bytes(b"%PDF")
    kept, gone = without_missing(text, tmp_path)
    assert gone == ["figures/wide.pdf"] and "\\begin{figure*}" not in kept and "narrow.pdf" in kept


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="needs pdflatex")
def test_a_two_column_article_prints_a_wide_figure_across_both_columns(tmp_path):
    """In `\\documentclass[twocolumn]{article}` the 6.9 in figures printed a column wide (text 2-4 pt)."""
    (tmp_path / "figures").mkdir()
    for f in (WIDE, NARROW):
        fig = Figure(figsize=(f.width_in, f.height_in))
        fig.add_subplot().plot([0, 1])
        fig.savefig(tmp_path / "figures" / f"{f.stem}.pdf")
    (tmp_path / "figures.tex").write_text(figure_environments([WIDE, NARROW]))
    (tmp_path / "main.tex").write_text(
        "\\documentclass[10pt,twocolumn]{article}\n\\usepackage[letterpaper,margin=0.8in]{geometry}\n"
        "\\usepackage{graphicx}\n\\let\\ig\\includegraphics\n"
        "\\renewcommand{\\includegraphics}[2][]{\\setbox0\\hbox{\\ig[#1]{#2}}\\typeout{IG #2=\\the\\wd0}"
        "\\box0}\n\\begin{document}\n\\input{figures}\n\\typeout{TEXT=\\the\\textwidth}\n\\end{document}\n"
    )
    log = pdflatex_log(tmp_path)
    said = dict(re.findall(r"^(?:IG figures/)?(\w+)(?:\.pdf)?=([\d.]+)pt", log, re.M))
    assert float(said["wide"]) == pytest.approx(6.9 * 72.27, abs=0.5) == float(said["TEXT"])
    assert float(said["narrow"]) == pytest.approx(3.3 * 72.27, abs=0.5)


def _distance(a, b) -> float:
    return float(np.linalg.norm(np.subtract(mcolors.to_rgb(a), mcolors.to_rgb(b))))


def test_a_sweeps_named_trials_are_each_their_own_colour():
    """12 trials, the best six within 0.01 of each other: six legend names, all the same yellow."""
    values = {f"trial-{i}": 0.94 - 0.002 * i for i in range(6)}
    values |= {f"trial-{i}": 0.4 + 0.04 * (i - 6) for i in range(6, 12)}
    histories = {
        n: [
            {"epoch": e, "train_loss": 1 / e, "val_loss": 1.1 / e, "train_acc": v, "val_acc": v}
            for e in (1, 2)
        ]
        for n, v in values.items()
    }
    with captured_figures() as drawn:
        plot_trial_curves(histories, values, "unused.png", metric="val_pacc")
    (fig,) = drawn
    handles = [h for h in fig.legends[0].legend_handles if h.get_label().startswith("trial-")]
    assert [h.get_label() for h in handles][:2] == ["trial-0 (0.940)", "trial-1 (0.938)"]
    colours = [h.get_color() for h in handles]
    assert len(colours) == 6
    assert min(_distance(a, b) for i, a in enumerate(colours) for b in colours[i + 1 :]) > 0.25
    # each named trial's lines are drawn in its legend colour
    for c in colours:
        assert any(mcolors.same_color(line.get_color(), c) for line in fig.axes[0].lines)
    plt.close(fig)


def test_vislab_sweep_takes_quiet_as_train_and_suite_do(capsys, tmp_path, monkeypatch):
    """`vislab sweep FILE --quiet` failed: "No such option"."""
    import vislab.api
    from vislab.errors import UserError
    from vislab.reporting import display

    seen = []

    def sweep(*args, **kw):
        seen.append(display())
        raise UserError("stopped by the test.")

    monkeypatch.setattr(vislab.api, "sweep", sweep)
    file = tmp_path / "s.yaml"
    file.write_text(yaml.safe_dump(tiny_sweep()))
    code, text = cli(capsys, "sweep", file, "--quiet", "--trials", 1, "--out", tmp_path / "sw")
    assert code == 2 and "stopped by the test" in text and "No such option" not in text
    assert seen[0].bars is False
    code, _ = cli(capsys, "sweep", file, "--trials", 1, "--out", tmp_path / "sw")
    assert seen[1].bars is True


def test_the_curves_caption_says_when_the_runs_are_on_different_data(tmp_path):
    """curves.png of runs on digits and on circles: one set of axes, so the caption names each one's data."""
    from vislab.report.figure_set import FigureSet
    from vislab.report.sections import curve_figures

    history = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1 / e, "val_acc": 0.5} for e in (1, 2)]
    histories = {"cnn": history, "mlp": history, "circ": history}
    data = {"cnn": "digits", "mlp": "digits", "circ": "circles"}
    [fig] = curve_figures(FigureSet(tmp_path / "f", []), histories, {}, data=data)
    assert fig["caption"].endswith("; on different data: cnn and mlp on digits, circ on circles")
    [same] = curve_figures(
        FigureSet(tmp_path / "g", []), histories, {}, data=dict.fromkeys(data, "x")
    )
    assert "different data" not in same["caption"]
