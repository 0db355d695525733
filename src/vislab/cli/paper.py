"""``vislab paper``: a folder of figures and tables to put straight into a written report.

The command imports the layers it drives when it runs (as every command: `vislab --help` stays fast).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from vislab.cli.options import TrustRunsOpt
from vislab.cli.stopped import kept_on_ctrl_c

console = Console(stderr=True, highlight=False, emoji=False)


NoFiguresOpt = typer.Option(
    False,
    "--no-figures",
    help="Tables and texts only, in seconds: nothing drawn; figures.tex lists the figures figures/ holds "
    "of the paper's runs.",
)
OnlyOpt = typer.Option(
    None,
    "--only",
    metavar="NAME",
    help="Only this run of the folder, or row of seeds (all its seeds); repeat for several. Its groups, "
    "verdicts and reported figures are kept to them.",
)


def paper(
    targets: list[Path] = typer.Argument(
        ...,
        help="A suite folder, a sweep folder (its trials, those run elsewhere too, from the study "
        "database), a run folder, any folder of runs (its runs at any depth), or several of them (a "
        "folder among them stands for its runs, named <folder>/<run>).",
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Paper folder (default DIR/paper for one folder; required for several folders).",
    ),
    title: str | None = typer.Option(None, "--title", help="The document's title."),
    pdf: bool = typer.Option(
        False,
        "--pdf",
        help="Then compile main.pdf (latexmk, else pdflatex; needs a TeX installation).",
    ),
    trust_code: bool = TrustRunsOpt,
    no_figures: bool = NoFiguresOpt,
    only: list[str] | None = OnlyOpt,
) -> None:
    """Write a paper folder: the report's figures (with seeds, a model's own figures of each row's first
    seed only) as PDF and 300-dpi PNG sized for a page (3.3 or
    6.9 in wide, text ≥ 8 pt), tables.tex (booktabs) and tables.md, figures.tex (captions as in the
    report), texts.tex (the data, seeds, verdicts and notes in brief), notes.md (every note in full),
    main.tex, which compiles with pdflatex, and
    tables/<run>_epochs.tex (a run's metrics per epoch, to \\input where you want it). Run again after more
    runs, it rewrites its own files and keeps a main.tex you edited (which inputs texts.tex, tables.tex
    and figures.tex)."""
    # on use: torch & co. take seconds to load (module docstring)
    from vislab.api import paper as make_paper

    say = lambda line: console.print(line, markup=False, soft_wrap=True)  # noqa: E731
    # api.paper's default (several folders without --out are refused)
    where = out if out is not None else targets[0] / "paper" if len(targets) == 1 else None
    with kept_on_ctrl_c("paper", [where] if where else [], where / "main.tex" if where else None):
        folder = make_paper(
            targets, out=out, title=title, pdf=pdf, trust_code=trust_code, log=say,
            figures=not no_figures, only=only,
        )  # fmt: skip
    _say_written(folder, no_figures, pdf)


def _say_written(folder: Path, no_figures: bool, pdf: bool) -> None:
    """The line naming what the paper folder holds (and main.pdf, when compiled)."""
    from vislab.paper_folder.notes import NOTES  # on use (module docstring)

    try:  # the figures the paper shows: those figures.tex names (figures/ may hold other runs')
        figures = (folder / "figures.tex").read_text(errors="replace").count("\\includegraphics")
    except OSError:
        figures = 0
    epochs = len(list((folder / "tables").glob("*_epochs.tex")))
    drawn = "kept, in figures.tex" if no_figures else "as PDF and PNG"
    console.print(
        f"paper: {folder} (main.tex, texts.tex, tables.tex, tables.md, figures.tex, {NOTES}; {figures} figures "
        f"{drawn}; {epochs} per-epoch table{'s' * (epochs != 1)} in tables/)",
        markup=False,
        soft_wrap=True,
    )
    if pdf:
        console.print(f"pdf: {folder / 'main.pdf'}", markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Mount ``vislab paper`` on the main app."""
    app.command("paper")(paper)
