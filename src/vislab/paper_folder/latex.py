"""LaTeX text: escaping vislab's captions and names for pdflatex, the figure environments, the main file,
and compiling it (latexmk, else pdflatex twice) where a TeX installation is present."""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path

from vislab.errors import RunFailed, UserError, show_note
from vislab.paper_folder.figures import PageFigure
from vislab.plotting.style import COLUMN_IN

MARK = "% written by vislab paper"  # the first line of main.tex (which files are vislab's: api/written.py)
_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    # printed as typed, so that a command pasted from the PDF works: straight quotes (no “ ” ‘ ’, and no
    # ¡ ¿ of !` ?`); and -- and ,, are kept apart (_at), not joined into – and „ (textcomp: main_document)
    "'": r"\textquotesingle{}",
    "`": r"\textasciigrave{}",
}
_UNICODE = {  # what vislab's texts hold beyond the letters pdflatex's utf8 and T1 encodings know
    "±": r"$\pm$",
    "≈": r"$\approx$",
    "–": "--",
    "—": "---",
    "−": "$-$",
    "→": r"$\rightarrow$",
    "×": r"$\times$",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
    "√": r"$\surd$",
    "₁": "$_1$",
    "₂": "$_2$",
    "²": r"\textsuperscript{2}",
    "…": r"\dots{}",
    "·": r"\textperiodcentered{}",
    "“": "``",
    "”": "''",
    "‘": "`",
    "’": "'",
    "°": r"\textdegree{}",
    "§": r"\S{}",  # the reports' sections (§2.2)
    "µ": r"$\mu$",  # the micro sign (μ, the Greek letter, is in _GREEK)
}


def _math_letters(letters: str, names: str) -> dict[str, str]:
    """Each of ``letters`` → its LaTeX math command, ``names`` giving them in order: α → $\\alpha$."""
    return {c: f"$\\{name}$" for c, name in zip(letters, names.split(), strict=True)}


_GREEK = {  # math mode needs no package; the capitals drawn as Latin letters (Α, Β, …) are those
    **_math_letters(
        "αβγδεζηθικλμνξπρστυφχψως",
        "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho sigma tau "
        "upsilon phi chi psi omega varsigma",
    ),
    **_math_letters("ΓΔΘΛΞΠΣΥΦΨΩ", "Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega"),
    **dict(zip("οΑΒΕΖΗΙΚΜΝΟΡΤΧ", "oABEZHIKMNOPTX", strict=True)),
}


def escape(text: str) -> str:
    """``text`` as LaTeX source that prints it as typed: special characters escaped, quotes straight,
    ``--`` two hyphens, symbols and Greek letters as math, accented Latin letters kept (utf8 + T1), any
    other character by its closest ASCII form. Characters with none (猫, кот) are kept for a Unicode
    engine (lualatex, xelatex) and printed as their code points by pdflatex ([U+732B]), with a
    :class:`~vislab.errors.Note` for each word of them."""
    text = str(text)
    missing = "".join(c if _char(c) is None else " " for c in text)
    for word in dict.fromkeys(missing.split()):  # Python notes each word once per calling line
        show_note(_untypeset_note(word))
    return "".join(_at(text, i) for i in range(len(text)))


def _at(text: str, i: int) -> str:
    """``text[i]`` as LaTeX: a hyphen or comma that a second one follows, then a kern (pdflatex's T1 fonts
    would join the two into – or „; {} would not keep them apart in lualatex)."""
    c, tex = text[i], _char(text[i])
    if tex is None:  # \Umathcode is XeTeX's and LuaTeX's, not pdfTeX's
        return f"\\ifdefined\\Umathcode {c}\\else[{_code_point(c)}]\\fi{{}}"
    return tex + "\\kern0pt" if c in "-," and text[i + 1 : i + 2] == c else tex


def _code_point(c: str) -> str:
    return f"U+{ord(c):04X}"


def _untypeset_note(word: str) -> str:
    """What the paper does with ``word``, which pdflatex cannot typeset, and how to print it."""
    codes = "".join(f"[{_code_point(c)}]" for c in word)
    return (
        f"'{word}' (in a name or title) cannot be typeset by pdflatex: the paper prints {codes} for it, "
        "and its figures draw empty boxes where matplotlib's font lacks the glyphs. To print it, compile "
        "main.tex with lualatex or xelatex after loading a font that has it (e.g. "
        "\\usepackage{luatexja}; xelatex: \\usepackage{xeCJK}), or rename it with Latin letters."
    )


def _char(c: str) -> str | None:
    """``c`` as LaTeX source, or None when pdflatex cannot typeset it."""
    if c in _SPECIAL:
        return _SPECIAL[c]
    if c in _UNICODE:
        return _UNICODE[c]
    if c in _GREEK:
        return _GREEK[c]
    if c.isascii() or 0xC0 <= ord(c) <= 0x17F:  # Latin-1 and Latin Extended-A letters: T1 has them
        return c
    return unicodedata.normalize("NFKD", c).encode("ascii", "ignore").decode() or None


#: room between a table's caption and its top rule (LaTeX's article class leaves none under a caption)
CAPTION_SKIP = "\\setlength{\\belowcaptionskip}{6pt}"
#: figures.tex's width of a figure: the size it was drawn at, at most the text width (``\\linewidth``) of
#: the template it is set in (main.tex's 6.9 in, or the narrower one of a student's own template)
FIT_WIDTH = "\\providecommand{\\vislabwidth}[1]{\\ifdim #1>\\linewidth \\linewidth\\else #1\\fi}\n"


def figure_environments(figures: Sequence[PageFigure], queue: int = 16) -> str:
    """figures.tex: one ``figure`` per figure a column wide, one ``figure*`` per figure drawn the text's
    width (both columns of a two-column template; in one column the same as ``figure``), at the size it
    was drawn (its texts then print at the sizes they were drawn at) or the text width where that is
    narrower (:data:`FIT_WIDTH`), with the report's caption and a label ``fig:<stem>``. Column-wide
    figures share a ``figure*`` (:func:`_rows`), side by side where the text is wide enough (main.tex's
    6.9 in; :data:`ROW_WIDTHS`), each with its own caption and label, two to a row: a run's third pairs
    with the next figure left alone. Each float is ``[tbp]`` (one set "here" between no text takes more room than on a
    float page), with a ``\\clearpage`` after every ``queue`` of them: LaTeX holds at most 18 unplaced."""
    rows = _rows(figures)
    blocks = [
        _environment(row) + ("\\clearpage\n" if i % queue == 0 and i < len(rows) else "")
        for i, row in enumerate(rows, 1)
    ]
    head = (
        "% The report's figures (graphicx); each drawn at its printed size: 3.3 in wide (figure; two\n"
        "% of them side by side in a figure*) or 6.9 in (figure*: the text width, both columns\n"
        "% of a two-column template), printed at that size or the narrower room it has (\\vislabwidth).\n"
        + FIT_WIDTH
        + ROW_WIDTHS
    )
    return head + "\n".join(blocks)


# the width of a figure in a row of two (\vislabpair) where the text holds two column-wide figures
# (main.tex's 6.9 in: each prints at its drawn size, its texts >= 8 pt); in a narrower text a pair's
# second goes under its first (the whole width)
_NARROW = f"\\ifdim\\linewidth<{2 * COLUMN_IN + 0.2:g}in"
ROW_WIDTHS = (
    f"\\providecommand{{\\vislabpair}}{{{_NARROW} \\linewidth\\else 0.48\\linewidth\\fi}}\n"
)


def _wide(fig: PageFigure) -> bool:
    """Whether ``fig`` was drawn wider than a column: the text's width."""
    return fig.width_in > COLUMN_IN + 0.01


def _rows(figures: Sequence[PageFigure]) -> list[list[PageFigure]]:
    """``figures`` in rows, a text-wide one alone: a run's (or row's) column-wide figures two by two at its
    first one's place, ahead of its text-wide ones drawn between them; one left alone (a run's third), or
    of several runs, shares a row with the next one left alone, moved up to it."""
    rows: list[list[PageFigure]] = []
    of_run: dict[str, list[PageFigure]] = {}  # a run or row → its last row of column-wide figures
    for fig in figures:
        run = None if _wide(fig) or fig.of is None else fig.of
        row = of_run.get(run) if run is not None else None
        if row is not None and len(row) < 2:
            row.append(fig)
            continue
        rows.append([fig])
        if run is not None:
            of_run[run] = rows[-1]
    alone = [r for r in rows if len(r) == 1 and not _wide(r[0])]
    for first, second in zip(alone[::2], alone[1::2], strict=False):
        first.extend(rows.pop(rows.index(second)))
    return rows


def _environment(row: list[PageFigure]) -> str:
    """The figure environment of a row of :func:`_rows`: one figure's, or two side by side."""
    if len(row) == 1:
        fig = row[0]
        env = "figure*" if _wide(fig) else "figure"
        return f"\\begin{{{env}}}[tbp]\n  \\centering\n{_figure(fig, '  ')}\\end{{{env}}}\n"
    pages = "\\hfill\n".join(
        f"  \\begin{{minipage}}[t]{{\\vislabpair}}\n    \\centering\n{_figure(fig, '    ')}"
        "  \\end{minipage}"
        for fig in row
    )
    return f"\\begin{{figure*}}[tbp]\n  \\centering\n{pages}\n\\end{{figure*}}\n"


def _figure(fig: PageFigure, indent: str) -> str:
    """A figure's graphic, caption and label, each line indented by ``indent``."""
    return (
        f"{indent}\\includegraphics[width=\\vislabwidth{{{fig.width_in:g}in}}]{{{fig.pdf}}}\n"
        f"{indent}\\caption{{{escape(_sentence(fig.caption))}}}\n"
        f"{indent}\\label{{fig:{fig.stem}}}\n"
    )


_GRAPHIC = r"\\includegraphics(?:\[[^]]*\])?\{([^}]*)\}"


def without_missing(figures_tex: str, folder: Path) -> tuple[str, list[str]]:
    """``figures_tex`` (an older vislab's figures.tex, a figure to each ``figure`` or ``figure*``
    environment: ``figures_tex.keep_older_figures``; a current one, rows of two among them, is
    written anew from its record by ``keep_figures``) without the environments of the figures whose
    \\includegraphics file is not in ``folder`` (the paper folder); and those files."""
    gone: list[str] = []

    def kept(block: re.Match) -> str:
        missing = [g for g in re.findall(_GRAPHIC, block.group(0)) if not (folder / g).is_file()]
        gone.extend(missing)
        return "" if missing else block.group(0)

    env = r"\\begin\{figure\*?\}.*?\\end\{figure\*?\}\n(?:\\clearpage\n)?\n?"
    return re.sub(env, kept, figures_tex, flags=re.DOTALL), gone


def _sentence(text: str) -> str:
    """The report's caption, ended by a full stop (its first word may be a run's name: kept as it is)."""
    text = text.strip()
    return text.rstrip(".") + "." if text else text


def main_document(title: str, intro: Sequence[str], verdicts: str, notes: Sequence[str]) -> str:
    """main.tex: the title, ``intro`` paragraphs, the group verdicts, tables.tex, figures.tex, notes."""
    paragraphs = "\n\n".join(escape(p) for p in intro if p)
    noted = "".join(f"  \\item {escape(n)}\n" for n in notes)
    notes_part = (
        f"\\section*{{Notes}}\n\\begin{{itemize}}\n{noted}\\end{{itemize}}\n" if notes else ""
    )
    return f"""{MARK}: `vislab paper` again rewrites figures/, tables.tex, figures.tex, tables.md;
% it keeps this file once you edit it.
\\documentclass[10pt]{{article}}
\\usepackage[T1]{{fontenc}}
\\usepackage[utf8]{{inputenc}}
\\usepackage{{textcomp}} % \\textquotesingle: quotes printed straight (LaTeX before 2020 needs it)
\\IfFileExists{{lmodern.sty}}{{\\usepackage{{lmodern}}}}{{}}
\\usepackage[letterpaper,margin=0.8in]{{geometry}} % text width 6.9 in: the width of page-wide figures
\\usepackage{{booktabs}}
\\usepackage{{graphicx}}
\\setcounter{{topnumber}}{{4}}
\\setcounter{{totalnumber}}{{6}}
\\renewcommand{{\\topfraction}}{{0.9}}
\\renewcommand{{\\textfraction}}{{0.05}}
\\renewcommand{{\\floatpagefraction}}{{0.8}}
\\title{{{escape(title)}}}
\\author{{}}
\\begin{{document}}
\\maketitle

{paragraphs}

{verdicts}
\\input{{tables}}
\\clearpage
\\input{{figures}}
% a run's metrics per epoch: \\input{{tables/<run>_epochs}} (one file per run in tables/)
\\clearpage
{notes_part}\\end{{document}}
"""


#: what compiling main.tex (:func:`compile_pdf`: latexmk, else pdflatex) writes beside it
COMPILED = (
    "main.pdf",
    "main.aux",
    "main.log",
    "main.fls",
    "main.fdb_latexmk",
    "main.out",
    "main.toc",
    "main.synctex.gz",
)


def drop_compiled(folder: Path, ours: Callable[[str], bool]) -> str:
    """Delete the files of :data:`COMPILED` in ``folder`` that ``ours`` says vislab wrote, as it wrote
    them (an earlier ``--pdf``'s: api/written.py's record): they show that build's tables and figures.
    Return the note saying so and how to compile this build's; for a main.pdf kept (compiled by hand, or
    changed since: the user's), that it is not this build's; '' when there is none."""
    gone = []
    for name in COMPILED:
        path = folder / name
        if path.is_file() and not path.is_symlink() and ours(name):
            path.unlink(missing_ok=True)
            gone.append(name)
    again = "compile this build's: the same with --pdf (Python: pdf=True)"
    if "main.pdf" in gone:
        files = ", ".join(n for n in gone if n != "main.pdf")
        return (
            f"note: main.pdf, compiled by an earlier build (of its tables and figures), removed"
            f"{f' with its LaTeX files ({files})' if files else ''}: {again}."
        )
    if (folder / "main.pdf").exists():
        return (
            "note: main.pdf is not one vislab compiled (or it changed since): kept, though it shows an "
            f"earlier main.tex, not this build's tables and figures: {again}."
        )
    return ""


def compile_pdf(folder: Path) -> Path:
    """Compile ``folder/main.tex`` into main.pdf with latexmk (else pdflatex, twice for references).
    UserError when neither is installed; RunFailed when it does not compile, with LaTeX's errors from
    main.log (:func:`latex_errors`), else the end of its output. latexmk runs pdflatex every time
    (``-g``): main.log is this compile's, even when main.tex has not changed since a failed one."""
    folder = Path(folder)
    if shutil.which("latexmk"):
        cmds = [["latexmk", "-g", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "main.tex"]]
    elif shutil.which("pdflatex"):
        cmds = [["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "main.tex"]] * 2
    else:
        raise UserError(
            "compiling main.tex needs latexmk or pdflatex, and neither is on PATH: install a TeX "
            "distribution (Debian: apt-get install texlive-latex-base texlive-latex-recommended "
            "latexmk), or compile the folder elsewhere (e.g. upload it to Overleaf)."
        )
    for cmd in cmds:
        done = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            said = latex_errors(_read(folder / "main.log"))
            said = said and f"LaTeX's errors (main.log):\n{said}"
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-25:])
            raise RunFailed(f"{' '.join(cmd)} failed in '{folder}':\n{said or tail}")
    return folder / "main.pdf"


def latex_errors(log: str, most: int = 5) -> str:
    """The first ``most`` errors of a LaTeX log ``log``: each ``!`` line with the lines up to the one
    naming where it stopped (``l.20 \\undefinedcmd``) and the rest of that input line, as TeX prints
    them; '' when it holds none."""
    lines, found = log.splitlines(), []
    for i, line in enumerate(lines):
        if line.startswith("!") and "==> Fatal error occurred" not in line:
            end = next((j for j in range(i + 1, min(i + 8, len(lines))) if _at_line(lines[j])), i)
            found.append("\n".join(lines[i : end + 2 if end > i else i + 1]).rstrip())
    return "\n".join(found[:most])


def _at_line(line: str) -> bool:
    """Whether a LaTeX log's ``line`` names the input line an error stopped at (``l.20 ...``)."""
    return re.match(r"l\.\d+", line) is not None


def _read(path: Path) -> str:
    """The text of ``path`` ('' when it cannot be read: no log written)."""
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
