"""`vislab paper` run again into a paper folder whose main.tex the user wrote their report in: their main.tex
is kept byte for byte and vislab's own files (tables, figures) are rewritten, the terminal saying which
file was kept and why; a file of vislab's they edited by hand (tables.tex) is refused by name as before;
the record of what vislab wrote stays true (a re-run after more runs was refused as a whole, naming the
edited main.tex)."""

import hashlib
import json
import shutil
from pathlib import Path

import pytest

import vislab
from conftest import cli, one_line
from figures_skipped import skip_report_figures

RUNS = ("base-run", "added-run")  # the run the paper was made of, and one trained after it
KEPT = (
    "main.tex is yours (edited since vislab wrote it): kept; tables.tex, figures.tex, tables.md and "
    "1 figure rewritten"
)
INPUTS = (
    " — your main.tex \\input's them, and texts.tex: the data, seeds, verdicts and notes it shows are "
    "this build's"
)
MINE = "\\section{Introduction}\nMy own words.\n"


@pytest.fixture(scope="module")
def papered(trained, tmp_path_factory) -> Path:
    """ROOT/base-run (conftest's tiny run), ROOT/added-run (a copy of it: a run trained since) and
    ROOT/paper, the paper `vislab.paper` wrote of base-run, its curves its one figure."""
    root = tmp_path_factory.mktemp("refresh")
    for name in RUNS:
        shutil.copytree(trained, root / name)
    with pytest.MonkeyPatch.context() as mp:
        skip_report_figures(mp, keep=("curves",))
        vislab.paper(root / RUNS[0], out=root / "paper", log=lambda line: None)
    return root


@pytest.fixture
def root(papered, tmp_path, monkeypatch) -> Path:
    """A copy of ``papered`` for a test to write into; a paper drawn meanwhile draws its curves alone."""
    skip_report_figures(monkeypatch, keep=("curves",))
    return Path(shutil.copytree(papered, tmp_path / "root"))


def _edit_main(paper: Path, old: str = "\\maketitle\n", new: str = "\\maketitle\n" + MINE) -> bytes:
    """The user's edit of main.tex (``old`` → ``new``); returns the edited main.tex."""
    main_tex = paper / "main.tex"
    text = main_tex.read_text()
    assert old in text
    main_tex.write_text(text.replace(old, new))
    return main_tex.read_bytes()


def _again(capsys, root: Path) -> tuple[int, str]:
    """`vislab paper base-run added-run --out paper`, after the new run: (exit code, output on one line)."""
    code, text = cli(capsys, "paper", *(root / r for r in RUNS), "--out", root / "paper")
    return code, one_line(text)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_rerun_keeps_the_main_tex_you_edited_and_rewrites_the_tables(root, capsys):
    paper = root / "paper"
    mine = _edit_main(paper)
    assert RUNS[1] not in (paper / "tables.tex").read_text()
    code, said = _again(capsys, root)
    assert code == 0, said
    assert (paper / "main.tex").read_bytes() == mine  # theirs, byte for byte
    assert RUNS[1] in (paper / "tables.tex").read_text()  # the run trained since: in the tables
    assert RUNS[1] in (paper / "tables.md").read_text()
    assert "figures/curves.pdf" in (paper / "figures.tex").read_text()
    assert KEPT + INPUTS in said


def test_the_record_keeps_main_tex_yours_and_lists_the_rewritten_files(root):
    """Through the Python API (what the CLI calls), twice: main.tex stays listed as vislab wrote it (so
    it stays the user's, edited), each rewritten file with its new hash."""
    paper = root / "paper"
    as_written = _sha(paper / "main.tex")
    _edit_main(paper)
    said: list[str] = []
    for _ in range(2):
        vislab.paper([root / r for r in RUNS], out=paper, log=said.append)
        record = json.loads((paper / ".vislab-written.json").read_text())["files"]
        assert record["main.tex"] == as_written != _sha(paper / "main.tex")
        files = {p.relative_to(paper).as_posix() for p in paper.rglob("*") if p.is_file()}
        assert set(record) == files - {".vislab-written.json"}
        for name in files - {"main.tex", ".vislab-written.json"}:
            assert record[name] == _sha(paper / name), name
    assert RUNS[1] in (paper / "tables.tex").read_text()
    assert said == [KEPT + INPUTS] * 2


def test_a_tables_tex_you_edited_is_still_refused_by_name(root, capsys):
    paper = root / "paper"
    _edit_main(paper)
    (paper / "tables.tex").write_text((paper / "tables.tex").read_text() + "% fixed by hand\n")
    before = {p: p.read_bytes() for p in paper.rglob("*") if p.is_file()}
    code, said = _again(capsys, root)
    assert code == 2
    assert f"'{paper}' holds files vislab did not write (tables.tex)" in said  # main.tex: not in it
    assert "tables.tex changed since vislab wrote it: it counts as yours" in said
    assert "nothing was written" in said and f"Move them out of '{paper}'" in said
    assert "or choose another folder (--out" in said
    assert {p: p.read_bytes() for p in paper.rglob("*") if p.is_file()} == before


def test_a_main_tex_that_no_longer_inputs_the_tables_gets_a_note(root, capsys):
    """The user pasted the tables into main.tex by hand (\\input commented out); figures.tex is input
    as ./figures.tex, which counts."""
    paper = root / "paper"
    _edit_main(paper, "\\input{tables}\n", "% \\input{tables} pasted below instead\n")
    _edit_main(paper, "\\input{figures}\n", "\\input{./figures.tex}\n")
    code, said = _again(capsys, root)
    assert code == 0, said
    assert KEPT in said and INPUTS not in said
    assert (
        "note: your main.tex no longer \\input's tables.tex, so the refreshed tables do not show in "
        "it: put \\input{tables} back where they go."
    ) in said
    assert "figures.tex, so" not in said
