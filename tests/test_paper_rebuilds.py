"""`vislab paper` written again into a paper folder: what the paper says of its runs (the data paragraph, the
notes on runs left out, the verdicts) is in texts.tex, rewritten on every build, so a main.tex the user
edited (kept) still says what the tables say; one from before texts.tex gets a note naming the line to
add. And `--only RUN --no-figures` keeps no figure of an earlier build that shows other runs."""

import re
import shutil
from pathlib import Path

import pytest

import vislab
from conftest import cli, one_line
from figures_skipped import skip_report_figures

RUNS = ("base-run", "added-run")
BROKEN = '{"status": "complete", "test_acc": \n'  # a summary.json cut short


@pytest.fixture
def root(trained, tmp_path, monkeypatch) -> Path:
    """ROOT/base-run and ROOT/added-run (copies of conftest's tiny run); papers drawn here draw their
    curves alone."""
    skip_report_figures(monkeypatch, keep=("curves",))
    for name in RUNS:
        shutil.copytree(trained, tmp_path / name)
    return tmp_path


def _paper(capsys, root: Path, *args: str) -> str:
    """`vislab paper base-run added-run --out paper ARGS`, which must succeed: its output on one line."""
    code, text = cli(capsys, "paper", *(root / r for r in RUNS), "--out", root / "paper", *args)
    assert code == 0, text
    return one_line(text)


def _shown(paper: Path, name: str = "main.tex") -> str:
    """What the compiled paper shows of ``name``: its LaTeX with each file it \\input's (that is there)
    in place, comments dropped, on one line."""
    text = re.sub(r"(?<!\\)%.*", "", (paper / name).read_text())

    def inlined(m: re.Match) -> str:
        file = paper / (m.group(1).removesuffix(".tex") + ".tex")
        return _shown(paper, file.name) if file.is_file() else ""

    return one_line(re.sub(r"\\input\{([^}]*)\}", inlined, text))


def _edit_main(paper: Path) -> str:
    """The user's words added to main.tex after its title; returns them."""
    mine = "\\section{Introduction} My own words."
    main_tex = paper / "main.tex"
    main_tex.write_text(main_tex.read_text().replace("\\maketitle\n", f"\\maketitle\n{mine}\n"))
    return mine


def test_an_edited_main_tex_shows_todays_notes_and_data_after_a_run_is_repaired(root, capsys):
    """added-run's summary.json could not be read at the first build (a note says it is left out);
    repaired, the paper built again says it is in, though main.tex is the user's."""
    good = (root / RUNS[1] / "summary.json").read_text()
    (root / RUNS[1] / "summary.json").write_text(BROKEN)
    _paper(capsys, root)
    paper = root / "paper"
    assert "added-run: left out of the tables and figures" in _shown(paper)
    assert "cannot be read" in (paper / "notes.md").read_text()  # why and the fix: in full there
    mine = _edit_main(paper)
    (root / RUNS[1] / "summary.json").write_text(good)
    said = _paper(capsys, root)
    shown = _shown(paper)
    assert mine in shown  # theirs, kept
    assert "left out of the tables" not in shown and "Not in these tables" not in shown
    assert (
        "Data: digits" in shown and ", all runs." in shown
    )  # the data paragraph: of both runs now
    assert "main.tex is yours" in said and "texts.tex: the data, seeds, verdicts and notes" in said
    assert "does not \\input texts.tex" not in said


def test_a_main_tex_without_the_texts_input_gets_a_note_naming_the_line(root, capsys):
    """A main.tex from before texts.tex (its texts inline, edited since): kept, and the terminal names the
    line that makes it show this build's texts."""
    _paper(capsys, root)
    paper = root / "paper"
    main_tex = paper / "main.tex"
    old_style = re.sub(r"\\input\{texts\}.*\n", "Data: digits, 1 run.\n", main_tex.read_text())
    main_tex.write_text(old_style)
    said = _paper(capsys, root)
    assert main_tex.read_text() == old_style
    assert said.count("does not \\input texts.tex") == 1
    assert "Put \\input{texts} after \\maketitle" in said


def test_verdicts_are_in_texts_tex_rewritten_beside_a_kept_main_tex(root, capsys, monkeypatch):
    """The groups' verdicts (one stands in for a seeded suite's) show in the kept main.tex as this
    build's."""
    _paper(capsys, root)
    _edit_main(root / "paper")
    verdict = type("V", (), {"sentence": lambda self: "added-run beats base-run"})()
    monkeypatch.setattr("vislab.paper_folder.build.plan_verdicts", lambda plan: {"all": [verdict]})
    said = _paper(capsys, root)
    assert "added-run beats base-run" in _shown(root / "paper")
    assert "not rewritten" not in said


def test_only_without_figures_keeps_no_figure_of_other_runs(root, capsys):
    """The curves of both runs, drawn by the first build, are not in the paper of base-run alone (its
    figures not drawn), and the terminal says so; drawn for base-run alone, they are kept after."""
    _paper(capsys, root)
    paper = root / "paper"
    assert "figures/curves.pdf" in _shown(paper)
    said = _paper(capsys, root, "--only", "base-run", "--no-figures")
    assert "added-run" not in (paper / "tables.tex").read_text()
    assert "\\includegraphics" not in _shown(paper)
    assert "leaves out 1 figure of several runs (curves)" in said and "added-run" in said
    _paper(capsys, root, "--only", "base-run")
    assert "figures/curves.pdf" in _shown(paper)
    said = _paper(capsys, root, "--only", "base-run", "--no-figures")
    assert "figures/curves.pdf" in _shown(paper) and "figures.tex named" not in said


def test_more_runs_without_figures_keep_the_figures_drawn_before(root, capsys):
    """--no-figures after a run is added keeps the curves drawn (of fewer runs) as it always did."""
    code, text = cli(capsys, "paper", root / RUNS[0], "--out", root / "paper")
    assert code == 0, text
    said = _paper(capsys, root, "--no-figures")
    assert "figures/curves.pdf" in _shown(root / "paper") and "figures.tex named" not in said
    assert "figures.tex's figures were drawn before added-run (kept as they were" in said


def test_the_python_api_writes_texts_tex_that_main_tex_inputs(root):
    main_tex = Path(vislab.paper(root / RUNS[0], out=root / "paper", log=lambda line: None))
    paper = main_tex if main_tex.is_dir() else main_tex.parent
    assert "\\input{texts}" in (paper / "main.tex").read_text()
    assert "Data: digits" in (paper / "texts.tex").read_text()
    assert "Data: digits" not in (paper / "main.tex").read_text()
