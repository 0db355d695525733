"""A paper (and a report) rebuilt in a folder: a build cut short (Ctrl-C while drawing) leaves the last
complete build as it was — every figure its figures.tex names still there — and the next build clears the
scratch a killed one left; `--no-figures` never keeps a figures.tex naming figures that are gone; and a
second process on the same folder is refused naming the first (pid), a dead one's lock taken over."""

import hashlib
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

import vislab
from conftest import cli, one_line
from figures_skipped import skip_report_figures
from vislab.paper_folder.figures import PageFigures
from vislab.report.figure_set import FigureSet

KEEP = ("curves", "per_class", "roc")  # the figures a paper here draws: 3 of the report's, fast


def _quiet(line: str) -> None:
    pass


@pytest.fixture(scope="module")
def built(trained, tmp_path_factory) -> Path:
    """ROOT/run (conftest's tiny run) and ROOT/paper, its complete paper of 3 figures."""
    root = tmp_path_factory.mktemp("robust")
    shutil.copytree(trained, root / "run")
    with pytest.MonkeyPatch.context() as mp:
        skip_report_figures(mp, keep=KEEP)
        vislab.paper(root / "run", out=root / "paper", log=_quiet)
    return root


@pytest.fixture
def root(built, tmp_path, monkeypatch) -> Path:
    """A copy of ``built`` for one test; papers drawn meanwhile draw the same 3 figures."""
    skip_report_figures(monkeypatch, keep=KEEP)
    return Path(shutil.copytree(built, tmp_path / "root"))


def _contents(folder: Path) -> dict[str, str]:
    """Each file under ``folder`` (relative path) → its SHA-256."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _named(figures_tex: Path) -> list[str]:
    return re.findall(r"\\includegraphics(?:\[[^]]*\])?\{([^}]*)\}", figures_tex.read_text())


def _interrupt_after(mp: pytest.MonkeyPatch, cls: type, figures: int) -> None:
    """``cls.make`` (as patched so far) raises KeyboardInterrupt (Ctrl-C) once ``figures`` are drawn."""
    real, done = cls.make, []

    def make(self, name, *args, **kw):
        if len(done) == figures:
            raise KeyboardInterrupt
        done.append(name)
        return real(self, name, *args, **kw)

    mp.setattr(cls, "make", make)


def test_a_paper_build_cut_short_leaves_the_last_one_whole(root, monkeypatch, capsys):
    paper = root / "paper"
    before = _contents(paper)
    assert len(_named(paper / "figures.tex")) == 3
    _interrupt_after(monkeypatch, PageFigures, 1)
    with pytest.raises(KeyboardInterrupt):
        vislab.paper(root / "run", out=paper, log=_quiet)
    # every file as the complete build left it: figures, figures.tex, tables; no scratch left over
    assert _contents(paper) == before
    assert not list((paper / "figures").glob(".tmp-*"))
    assert all((paper / f).is_file() for f in _named(paper / "figures.tex"))
    code, text = cli(capsys, "paper", root / "run", "--out", paper, "--no-figures")
    assert code == 0 and "3 figures kept" in one_line(text), text
    assert all((paper / f).is_file() for f in _named(paper / "figures.tex"))


def test_a_killed_builds_scratch_is_cleared_and_earlier_figures_go_once_replaced(root, capsys):
    paper = root / "paper"
    scratch = (
        paper / "figures" / ".tmp-999999-1"
    )  # what a build killed (SIGKILL) while drawing leaves
    scratch.mkdir()
    (scratch / "curves.pdf").write_bytes(b"half a figure")
    (paper / "figures" / "roc_run.pdf").unlink()  # a figure this build draws again
    code, text = cli(capsys, "paper", root / "run", "--out", paper)
    assert code == 0, text
    assert not scratch.exists()
    assert sorted(p.name for p in (paper / "figures").iterdir()) == sorted(
        f"{stem}.{ext}" for stem in ("curves", "per_class_run", "roc_run") for ext in ("pdf", "png")
    )


def test_no_figures_drops_the_figures_that_are_gone_from_figures_tex(root, capsys):
    paper = root / "paper"
    for ext in ("pdf", "png"):  # deleted since (by hand, or by an earlier vislab cut short)
        (paper / "figures" / f"roc_run.{ext}").unlink()
    code, text = cli(capsys, "paper", root / "run", "--out", paper, "--no-figures")
    text = one_line(text)
    assert code == 0 and "figures.tex named 1 figure no longer in figures/" in text, text
    assert "figures/roc_run.pdf" in text and "without --no-figures" in text, text
    assert _named(paper / "figures.tex") == ["figures/curves.pdf", "figures/per_class_run.pdf"]
    assert "\\end{figure}" in (paper / "figures.tex").read_text()
    # the paper's record takes the rewritten figures.tex as vislab's: the next build replaces it
    code, text = cli(capsys, "paper", root / "run", "--out", paper)
    assert code == 0 and len(_named(paper / "figures.tex")) == 3, text


def test_a_second_process_on_the_folder_is_refused_by_pid_a_dead_ones_lock_taken(root, capsys):
    paper = root / "paper"
    before = _contents(paper)
    other = subprocess.Popen(["sleep", "30"])  # a live process holding the folder
    try:
        (paper / ".lock").write_text(f"{other.pid} {socket.gethostname()}")
        code, text = cli(capsys, "paper", root / "run", "--out", paper)
        text = one_line(text)
        assert code == 2 and f"in use by another vislab process (pid {other.pid})" in text, text
        assert "did not write" not in text, text
        assert _contents(paper) == {**before, ".lock": _contents(paper)[".lock"]}
    finally:
        other.kill()
        other.wait()
    # its process gone, its lock is stale: taken over, and released at the end
    code, text = cli(capsys, "paper", root / "run", "--out", paper, "--no-figures")
    assert code == 0, text
    assert not (paper / ".lock").exists()
    # a paper refused before it writes (no finished run there) leaves no folder made for its lock
    code, text = cli(capsys, "paper", root / "nothing-here", "--out", root / "new" / "paper")
    assert code == 2 and not (root / "new").exists(), text


def test_a_report_rebuild_cut_short_keeps_the_earlier_figures(trained, tmp_path, monkeypatch):
    folder = tmp_path / "runs"
    shutil.copytree(trained, folder / "run")
    skip_report_figures(monkeypatch, keep=KEEP)
    vislab.write_report(folder, log=_quiet)
    before = _contents(folder)
    _interrupt_after(monkeypatch, FigureSet, 1)
    with pytest.raises(KeyboardInterrupt):
        vislab.write_report(folder, log=_quiet)
    assert _contents(folder) == before


def test_a_report_cut_short_while_its_page_is_made_keeps_the_earlier_page_and_figures(
    trained, tmp_path, monkeypatch
):
    """The page is made before the new figures move into figures/: a Ctrl-C while it is rendered leaves
    the earlier page and the figures it shows, not new figures beside an old page."""
    folder = tmp_path / "runs"
    shutil.copytree(trained, folder / "run")
    skip_report_figures(monkeypatch, keep=KEEP)
    vislab.write_report(folder, log=_quiet)
    (folder / "figures" / "curves.png").write_bytes(b"an earlier build's figure")
    before = _contents(folder)

    def ctrl_c(context: dict) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr("vislab.report.build.render", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        vislab.write_report(folder, log=_quiet)
    assert _contents(folder) == before
