"""The paper's tables: which cell is bold (the best beyond the spread of the seeds, never a tie) and how
Greek letters and symbols reach tables.tex (LaTeX that pdflatex compiles, not "?")."""

import shutil

import pytest

from vislab.errors import Note
from vislab.experiments.results.cells import best_row
from vislab.experiments.results.spread import Spread
from vislab.paper_folder.latex import compile_pdf, escape, main_document
from vislab.paper_folder.tables import latex_tables, markdown_tables, parts

COLS = [("run", "run"), ("test_acc", "test ACC"), ("test_time_s", "test time (s)")]


def _seeded(test_acc: dict[str, list[float]]) -> list[dict]:
    return [
        {"run": run, "seeds": len(v), "test_acc": Spread(v), "test_time_s": Spread([0.001, 0.002])}
        for run, v in test_acc.items()
    ]


def test_greek_letters_and_symbols_become_latex_not_question_marks():
    assert escape("mixup, α = 1") == r"mixup, $\alpha$ = 1"
    assert escape("β λ ± × →") == r"$\beta$ $\lambda$ $\pm$ $\times$ $\rightarrow$"
    assert escape("Δ μ ≤ ≥ … — – °") == (
        r"$\Delta$ $\mu$ $\leq$ $\geq$ \dots{} --- -- \textdegree{}"
    )
    with pytest.warns(Note):  # no mapping: its code point for pdflatex, itself for a Unicode engine
        assert escape("漢") == "\\ifdefined\\Umathcode 漢\\else[U+6F22]\\fi{}"


@pytest.mark.skipif(not shutil.which("pdflatex"), reason="no pdflatex installed")
def test_escaped_greek_compiles_with_main_tex_preamble(tmp_path):
    (tmp_path / "tables.tex").write_text("")
    (tmp_path / "figures.tex").write_text("")
    text = "α β γ λ μ σ Ω ± × → ≤ ≥ … — – ° µ"
    (tmp_path / "main.tex").write_text(main_document("Greek α", [text], "", []))
    assert compile_pdf(tmp_path).read_bytes().startswith(b"%PDF")


def test_seeded_best_within_the_spread_is_not_bold():
    # mlp's 0.8889 ± 0.0393 against 0.8861 ± 0.0354: p = 0.95, within the spread
    rows = _seeded({"mlp": [0.8611, 0.9167], "mlp-wide": [0.8611, 0.9111]})
    assert best_row(rows, "test_acc") is None
    tables = parts(rows, COLS, seeded=True)
    assert "\\textbf" not in latex_tables(tables, {}, "")
    md = markdown_tables(tables, {}, "", {})
    assert "| **" not in md and "beyond the spread of the seeds" in md


def test_seeded_best_beyond_the_spread_is_bold():
    rows = _seeded({"majority": [0.10, 0.11, 0.10], "mlp": [0.88, 0.89, 0.885]})
    assert best_row(rows, "test_acc") == 1
    assert best_row(rows, "test_time_s") is None  # every row 0.00 s: a tie
    tex = latex_tables(parts(rows, COLS, seeded=True), {}, "")
    assert tex.count("\\textbf") == 1  # mlp's mean (never its std)


def test_unseeded_best_is_bold_but_never_a_tie():
    rows = [
        {"run": "a", "test_acc": 0.91, "test_loss": 0.30, "test_time_s": 0.001},
        {"run": "b", "test_acc": 0.85, "test_loss": 0.300004, "test_time_s": 0.002},
        {"run": "c", "test_acc": 0.80, "test_loss": 0.50, "test_time_s": 0.004},
    ]
    assert best_row(rows, "test_acc") == 0
    assert best_row(rows, "test_loss") is None  # 0.3000 twice
    assert best_row(rows, "test_time_s") is None  # all print as 0.00
    md = markdown_tables(parts(rows, COLS, seeded=False), {}, "", {})
    assert md.count("| **") == 1 and "| **0.9100** |" in md


def test_a_fitted_baseline_wins_no_bold_time_and_no_std_is_bold():
    """The DLVC group's tables.tex: majority (fitted, no training) had every time in bold, and the
    best test ACC its ± std in bold too. Bold marks the mean of a figure of merit only."""
    cols = COLS + [("train_time_s", "train time (s)")]
    rows = [
        {"run": "majority", "seeds": 3, "test_acc": Spread([0.10, 0.11, 0.10]),
         "train_time_s": Spread([0.001, 0.002, 0.001]), "test_time_s": Spread([0.001, 0.002, 0.001])},
        {"run": "mlp", "seeds": 3, "test_acc": Spread([0.88, 0.89, 0.885]),
         "train_time_s": Spread([5.0, 5.2, 5.1]), "test_time_s": Spread([0.3, 0.31, 0.32])},
    ]  # fmt: skip
    assert best_row(rows, "train_time_s") is None and best_row(rows, "test_time_s") is None
    tables = parts(rows, cols, seeded=True)
    tex = latex_tables(tables, {}, "")
    assert tex.count("\\textbf") == 1
    assert "\\textbf{0.8850}\\,{\\footnotesize$\\pm$\\,0.0050}" in tex
    md = markdown_tables(tables, {}, "", {})
    assert md.count("| **") == 1 and "| **0.8850** ± 0.0050 |" in md
    cost = next(t for t in tables if t.label == "cost")
    assert not cost.bold and "bold" not in cost.caption  # no claim of a best where none is marked
