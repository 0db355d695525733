"""`vislab paper` as a course-report writer uses it (explorer xp): a diagram of their own in the paper's
figures/ is kept and the paper written again (refused, by name, only where vislab draws a figure of that
very name); `--only` one seed of a row without figures leaves out the row's figures pooled over its seeds;
a run whose checkpoint is gone is warned about on the terminal, and noted in words fit for the paper;
a failed `--pdf` shows LaTeX's own error each time, not latexmk's "Nothing to do"."""

import json
import shutil
from pathlib import Path

import pytest

from conftest import cli, one_line
from figures_skipped import skip_report_figures
from vislab.errors import RunFailed
from vislab.paper_folder.figures import PageFigure
from vislab.paper_folder.figures_tex import figures_tex, keep_figures
from vislab.paper_folder.latex import compile_pdf, latex_errors

MINE = b"\x89PNG my own diagram"


@pytest.fixture
def run(trained, tmp_path, monkeypatch) -> Path:
    """A copy of conftest's tiny run; papers drawn here draw their curves alone."""
    skip_report_figures(monkeypatch, keep=("curves",))
    return Path(shutil.copytree(trained, tmp_path / "run"))


def _paper(capsys, run: Path, paper: Path, *args: str) -> tuple[int, str]:
    code, text = cli(capsys, "paper", run, "--out", paper, *args)
    return code, one_line(text)


def test_your_own_figure_in_figures_is_kept_and_the_paper_written_again(run, tmp_path, capsys):
    paper = tmp_path / "pp"
    assert _paper(capsys, run, paper)[0] == 0
    mine = paper / "figures" / "my_architecture.png"
    mine.write_bytes(MINE)  # the LaTeX habit: one's own diagram beside the figures
    for args in ((), ("--no-figures",)):
        code, text = _paper(capsys, run, paper, *args)
        assert code == 0 and "did not write" not in text, text
        assert mine.read_bytes() == MINE
    assert (paper / "figures" / "curves.pdf").is_file()
    assert "my_architecture" not in (paper / "figures.tex").read_text()
    record = json.loads((paper / ".vislab-written.json").read_text())["files"]
    assert "figures/my_architecture.png" not in record and "figures/curves.pdf" in record


def test_a_file_of_yours_named_as_a_figure_vislab_draws_is_refused_by_that_name(
    run, tmp_path, capsys
):
    paper = tmp_path / "pp"
    assert _paper(capsys, run, paper, "--no-figures")[0] == 0  # no figure drawn yet
    texts = (paper / "texts.tex").read_text()
    theirs = paper / "figures" / "curves.pdf"
    theirs.write_bytes(MINE)
    code, text = _paper(capsys, run, paper)
    assert code == 2 and "vislab did not write (figures/curves.pdf)" in text, text
    assert "would replace them" in text and "nothing was written" in text, text
    assert theirs.read_bytes() == MINE and (paper / "texts.tex").read_text() == texts
    assert not (paper / "figures" / "curves.png").exists()
    theirs.rename(paper / "figures" / "my_curves.pdf")  # the message's fix: rename it
    code, text = _paper(capsys, run, paper)
    assert code == 0, text
    assert (paper / "figures" / "my_curves.pdf").read_bytes() == MINE
    assert (paper / "figures" / "curves.pdf").read_bytes() != MINE


def test_only_one_seed_without_figures_leaves_out_its_rows_figures_pooled_over_both(tmp_path):
    paper = tmp_path / "paper"
    (paper / "figures").mkdir(parents=True)
    drawn = [
        PageFigure("curves", "loss", 6.9, 2.5),
        PageFigure("confusion_cnn", "cnn: summed over 2 seeds", 3.3, 3.3, of="cnn"),
        PageFigure("gradcam_cnn-s0", "cnn, seed 0 (cnn-s0): Grad-CAM", 6.9, 2.0, of="cnn-s0"),
    ]
    for fig in drawn:
        (paper / fig.pdf).write_bytes(b"%PDF")
    seeds = ["cnn-s0", "cnn-s1"]
    (paper / "figures.tex").write_text(figures_tex(drawn, seeds))
    said: list[str] = []
    assert keep_figures(paper / "figures.tex", ["cnn-s0"], {"cnn": seeds}, said.append)
    text = (paper / "figures.tex").read_text()
    assert "figures/gradcam_cnn-s0.pdf" in text
    assert "confusion_cnn.pdf" not in text and "figures/curves.pdf" not in text
    assert "leaves out 2 figures of several runs (curves, confusion_cnn)" in " ".join(said)
    assert "cnn-s1" in " ".join(said)
    said.clear()  # the whole row (--only cnn): its pooled figures again
    assert keep_figures(paper / "figures.tex", seeds, {"cnn": seeds}, said.append)
    assert (paper / "figures.tex").read_text().count("\\includegraphics") == 3
    assert said == []


def test_a_run_without_its_checkpoint_is_warned_of_and_noted_for_a_reader(run, tmp_path, capsys):
    shutil.rmtree(run / "checkpoints")
    paper = tmp_path / "p_nock"
    code, text = _paper(capsys, run, paper)
    said = "run: its model figures (Grad-CAM, attention maps) are left out: "
    assert code == 0 and f"warning: {said}" in text and "checkpoints/best.pt" in text, text
    notes = (paper / "texts.tex").read_text()
    assert "its model figures (Grad-CAM, attention maps) are left out" in notes
    assert "model or data not loaded" not in notes
    code, text = cli(capsys, "report", run)
    assert code == 0 and f"warning: {said}" in one_line(text), text


LOG = r"""This is pdfTeX, Version 3.141592653
(./main.tex
! Undefined control sequence.
l.20 \undefinedcmd
                  {}
Here is how much of TeX's memory you used:
!  ==> Fatal error occurred, no output PDF file produced!
"""


def test_latex_errors_are_the_logs_bang_lines_with_where_they_stopped():
    where = "l.20 \\undefinedcmd\n                  {}"  # TeX's line, and the rest of it below
    assert latex_errors(LOG) == f"! Undefined control sequence.\n{where}"
    assert latex_errors("This is pdfTeX\nOutput written on main.pdf\n") == ""


@pytest.mark.skipif(
    not (shutil.which("latexmk") or shutil.which("pdflatex")), reason="needs latexmk or pdflatex"
)
def test_a_failed_pdf_shows_the_latex_error_each_time(tmp_path):
    (tmp_path / "main.tex").write_text(
        "\\documentclass{article}\n\\begin{document}\n\\undefinedcmd{}\n\\end{document}\n"
    )
    for _ in range(2):  # the second: latexmk finds nothing changed since the failed one
        with pytest.raises(RunFailed) as failed:
            compile_pdf(tmp_path)
        assert "! Undefined control sequence." in str(failed.value)
        assert "\\undefinedcmd" in str(failed.value)
