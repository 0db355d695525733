"""What `vislab paper` and the figures print is what was typed: commands in the PDF paste as they were
written (-- two hyphens, quotes straight), names pdflatex cannot typeset are told apart and noted, and a
class name holding $…$ is drawn as written, not as mathtext."""

import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

from conftest import cli, one_line, table_run
from vislab.errors import Note
from vislab.paper_folder.latex import escape
from vislab.plotting.runs import confusion_figure, per_class_figure

TEX = shutil.which("latexmk") or shutil.which("pdflatex")
needs_tex = pytest.mark.skipif(
    not (TEX and shutil.which("pdftotext")), reason="needs pdflatex and pdftotext"
)
COMMAND = "vislab train --resume suite2/long (Python: vislab.train(out='suite2/long')) `x` ,, a---b"


def _pdf_text(folder: Path) -> str:
    done = subprocess.run(["pdftotext", "-nopgbrk", str(folder / "main.pdf"), "-"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    return one_line(done.stdout)


def test_escape_keeps_hyphens_and_quotes_apart_from_ligatures():
    tex = escape(COMMAND)
    for joined in ("--", ",,", "'", "`"):  # T1 would print –, „, ’ and ‘ for them
        assert joined not in tex, (joined, tex)


def test_escape_tells_untypeset_names_apart_and_notes_them():
    with pytest.warns(Note) as noted:
        cat, dog = escape("猫"), escape("狗")
    assert cat != dog
    assert "[U+732B]" in cat and "[U+72D7]" in dog  # what pdflatex prints
    assert "猫" in cat  # kept for lualatex/xelatex
    said = " ".join(str(w.message) for w in noted)
    assert "'猫'" in said and "'狗'" in said and "lualatex" in said
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        escape("café naïve α")  # typeset by pdflatex: no note


@needs_tex
def test_paper_pdf_prints_commands_and_names_as_typed(tmp_path, capsys):
    runs = [table_run(tmp_path, name) for name in ("cnn--bn", "猫", "狗")]
    out = tmp_path / "paper"
    with warnings.catch_warnings():
        warnings.simplefilter("always", Note)
        code, said = cli(
            capsys, "paper", *runs, "--out", out, "--no-figures", "--title", COMMAND, "--pdf"
        )
    assert code == 0, said
    text = _pdf_text(out)
    assert COMMAND in text
    assert "cnn--bn" in text and "cnn–bn" not in text
    assert "[U+732B]" in text and "[U+72D7]" in text  # the two runs told apart
    assert "'猫'" in one_line(said) and "'狗'" in one_line(said)


def _shown(text) -> tuple[str, bool]:
    """What matplotlib draws of a Text: (its string, whether as mathtext)."""
    return text._preprocess_math(text.get_text())


def test_figures_draw_dollar_class_names_as_written():
    names = ["a$x^2$b", "plain"]
    conf = confusion_figure(np.array([[2, 1], [0, 3]]), names, title="run $1$")
    per_class = per_class_figure([0.5, 1.0], names, title="run $1$")
    for fig in (conf, per_class):
        ax = fig.axes[0]
        assert [_shown(t) for t in ax.get_xticklabels()] == [(n, False) for n in names]
        assert _shown(ax.title)[0].startswith("run $1$")
    assert [_shown(t)[0] for t in conf.axes[0].get_yticklabels()] == names
