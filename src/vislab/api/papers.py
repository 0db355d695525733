"""What a write-up starts from: a folder's report.html, and a paper folder (the report's figures and tables
sized for a page, and main.tex)."""

from __future__ import annotations

import fnmatch
import glob
import os
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from vislab.api.written import PAPER_FILES, recorded, recording, unchanged
from vislab.arguments import Folder, FolderList, checked
from vislab.errors import UserError

#: a paper folder's figures: those its record lists are an earlier build's, which the next replaces or
#: deletes; any other file there is the user's (their own diagram), kept (``_replaced``)
_FIGURES = ("figures/*.pdf", "figures/*.png")

# The report's and the paper folder's modules are imported by the function that uses them ("on use"
# below): they load matplotlib, optuna and SQLAlchemy, which `import vislab.api` should not wait for.


@checked
def write_report(
    folder: FolderList,
    *,
    title: str | None = None,
    trust_code: bool = False,
    log: Callable[[str], None] | None = print,
) -> Path:
    """Write ``folder/report.html`` (and its ``figures/``) for a run, suite or sweep folder, or any folder
    of runs, as ``vislab report`` does: the comparison table, curves, confusion / per-class / ROC figures
    and data previews. ``trust_code``: import a run's own model file for its figures even if it changed
    since training. ``log`` is told each run file that could not be read (the page's notes list them
    too; None: printed, as by default). A suite's run finished since the suite recorded it (resumed by
    ``vislab.train(out=..., resume=True)``): its suite.json and results.csv/.md are updated first,
    ``log`` told. Returns the page's path. UserError where a run's folder or a folder of runs holds no
    finished run and none is training on this host, naming each run's state and the fix (a suite's or
    sweep's page, which lists its failures, is written). (Not ``vislab.report``: that is the package of
    its parts.)

    >>> vislab.write_report("runs/suite-quickstart")
    """
    from vislab.report.build import build_report  # on use (see the imports)

    return build_report(_one(folder), title=title, trust_code=trust_code, log=log or print)


def _one(folder: Path | list[Path]) -> Path:
    """The one folder a report is of; UserError for several, saying how to show them together."""
    if not isinstance(folder, list):
        return folder
    if len(folder) == 1:
        return folder[0]
    if not folder:
        raise UserError("vislab.write_report got no folder: give a run's, a suite's or a sweep's.")
    given = [str(f) for f in folder]
    try:  # as given (relative where they are); a mix of absolute and relative paths: resolved
        holder = os.path.commonpath(given) or "."
    except ValueError:
        holder = os.path.commonpath([str(f.resolve()) for f in folder])
    report = f"vislab.write_report({holder!r})"
    raise UserError(
        f"vislab.write_report takes one folder, not {len(given)}: a report is of a run, a suite, a "
        f"sweep or a folder holding runs. Give the folder that holds them all, {report} (every run "
        f"under it; train the runs into a folder of their own, out='runs/study/<name>', to report "
        f"those alone), or compare them where they are: vislab.compare({given}) for their table, "
        f"vislab.plot_curves({given}) for their curves on one figure."
    )


@checked
def paper(
    targets: FolderList,
    *,
    out: Folder | None = None,
    title: str | None = None,
    pdf: bool = False,
    trust_code: bool = False,
    log: Callable[[str], None] | None = print,
    figures: bool = True,
    only: str | Sequence[str] | None = None,
) -> Path:
    """Write a paper folder for ``targets`` — a suite folder, a run folder, any folder of runs (at any
    depth, as :func:`~vislab.compare` finds them), or several (a folder of runs: ``<folder>/<run>``); a
    :class:`~vislab.run.Run` or a ``run_suite`` result stands for its folder — into ``out`` (default
    ``<folder>/paper`` for one folder; required for several): the report's figures (with seeds, a model's
    own figures of each row's first seed only, so captioned) as vector PDF and 300-dpi PNG sized for a page
    (3.3 or 6.9 in wide, text ≥ 8 pt), tables.tex (booktabs) and tables.md, figures.tex, main.tex, notes.md, each
    run's metrics per epoch (tables/<run>_epochs.tex, runs with own figures); with ``pdf``, main.pdf
    compiled by latexmk or pdflatex (without: an earlier ``pdf=True``'s main.pdf, of that build's runs,
    deleted, ``log`` told; the user's kept). ``trust_code``: import a run's own model file even if changed
    since training. ``log``: told each run file not read (main.tex's notes list them too). ``figures``
    False: the tables and texts only, nothing drawn; figures.tex lists the figures of the paper's runs an
    earlier build left (those of several runs drawn with runs the paper leaves out, not named, ``log``
    told). ``only``: runs or rows of seeds of the folder, the paper's groups, verdicts and reported figures
    kept to them (an unknown name: UserError naming the names there are). Returns the folder.

    Run again, it rewrites its own files; a main.tex edited since is yours: kept (``log`` told so, and
    whether it still inputs tables.tex and figures.tex). Any other file of its edited since (tables.tex,
    a figure) is refused by name (UserError), nothing written, as is a file of yours that a figure it
    draws would replace; your other files (your own diagram in figures/) are kept. A build cut short
    (Ctrl-C) leaves the last complete build; while another vislab process writes the folder, a second
    is refused naming its pid (UserError).

    >>> vislab.paper("runs/suite-quickstart", out="paper", pdf=True)
    >>> vislab.paper("runs/dlvc", out="paper", only=["cnn-deep", "vit-deep"], figures=False)"""
    from vislab.paper_folder.build import write_paper  # on use (see the imports)
    from vislab.paper_folder.latex import compile_pdf

    many = [targets] if isinstance(targets, Path) else list(targets)  # a Run: its folder (Folder)
    chosen, folder = [only] if isinstance(only, str) else list(only or ()), _paper_folder(many, out)
    replaced = _replaced(recorded(folder) if folder is not None else None)
    with recording(folder, replaced, "vislab paper", keeps=("main.tex",)) as kept:
        ours = _ours(folder)  # read again, under the folder's lock
        folder = write_paper(
            many, out, title, trust_code, log or print, "main.tex" in kept,  # an edited main.tex: kept
            figures=figures, only=chosen, compiled_ours=None if pdf else ours, ours=ours,
        ).parent  # fmt: skip
        if pdf:
            compile_pdf(folder)
    return folder


def _paper_folder(targets: list[Path], out: Path | None) -> Path | None:
    """Where the paper of ``targets`` goes: ``out``, else its one folder's ``paper/`` (None: no target,
    which the build refuses); UserError for several targets without ``out``."""
    if out is None and len(targets) > 1:
        raise UserError(
            "with several folders, give --out (Python: out=): the folder the paper goes to."
        )
    return Path(out) if out is not None else targets[0] / "paper" if targets else None


def _replaced(record: dict[str, str] | None) -> list[str]:
    """What ``vislab paper`` replaces or deletes in a folder of ``record`` (its record of what vislab
    wrote): PAPER_FILES and notes.md, but in figures/ only the figures the record lists (an earlier
    build's). A file of the user's there is kept; a build that draws a figure of its very name refuses it by name
    (paper_folder/figures.py: ``PageFigures.publish``)."""
    from vislab.paper_folder.notes import NOTES  # on use (see the imports): paper() builds next

    drawn = [
        glob.escape(rel)
        for rel in record or {}
        if any(fnmatch.fnmatchcase(rel, pattern) for pattern in _FIGURES)
    ]
    return [*(p for p in PAPER_FILES if p not in _FIGURES), NOTES, *drawn]


def _ours(folder: Path | None) -> Callable[[str], bool] | None:
    """Which files of ``folder`` (relative paths) vislab's record says it wrote, unchanged: those a build
    may replace or delete (an earlier ``pdf=True``'s main.pdf, which shows that build's runs; an earlier
    build's figures). None: no record (a new or empty folder)."""
    record = recorded(folder) if folder is not None else None
    return partial(unchanged, folder, record=record) if record is not None else None
