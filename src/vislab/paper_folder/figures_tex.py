"""A paper folder's figures.tex and its record of what figures/ holds: the runs its figures were drawn of and
every figure drawn (stem, caption, size, the run or row it is of), in two comment lines at its top. A build
that draws writes both; one that does not (``--no-figures``) lists from that record the figures of the runs
the paper holds that figures/ still has — "don't draw", never "don't include what is drawn" — and keeps the
record, so a later build of other runs (``--only``, or none) lists theirs."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, fields
from pathlib import Path

from vislab.files import atomic_write_text
from vislab.paper_folder.figures import PageFigure
from vislab.paper_folder.latex import figure_environments, without_missing

RUNS_LINE = "% figures of the runs: "
DRAWN_LINE = "% figures drawn: "
_AGAIN = "the same without --no-figures (Python: figures=True)"


def figures_tex(
    listed: Sequence[PageFigure], runs: Collection[str], drawn: Sequence[PageFigure] | None = None
) -> str:
    """figures.tex naming the ``listed`` figures, with its record: the ``runs`` figures/ was drawn of
    and the figures ``drawn`` then (default: ``listed``)."""
    record = [asdict(f) for f in (listed if drawn is None else drawn)]
    return (
        f"{RUNS_LINE}{json.dumps(sorted(runs))}\n{DRAWN_LINE}{json.dumps(record)}\n"
        + figure_environments(listed)
    )


def figures_runs(text: str) -> set[str] | None:
    """The runs a figures.tex's figures were drawn of; None when it does not say (an older vislab's)."""
    runs = _line(text, RUNS_LINE)
    return {str(r) for r in runs} if isinstance(runs, list) else None


def drawn_figures(text: str) -> list[PageFigure] | None:
    """The figures a figures.tex records as drawn; None without that record (an older vislab's)."""
    found = _line(text, DRAWN_LINE)
    names = {f.name for f in fields(PageFigure)}
    try:
        return [PageFigure(**{k: v for k, v in f.items() if k in names}) for f in found]
    except (TypeError, AttributeError):
        return None


def _line(text: str, prefix: str):
    """The JSON after ``prefix`` on one of the first lines of ``text``; None where none parses."""
    for line in text.splitlines()[:3]:
        if line.startswith(prefix):
            try:
                return json.loads(line.removeprefix(prefix))
            except ValueError:
                return None
    return None


def keep_figures(
    path: Path,
    runs: Collection[str],
    rows: Mapping[str, Collection[str]],
    log: Callable[[str], None],
) -> bool:
    """figures.tex at ``path`` rewritten for a build that draws nothing, from its record: the figures of
    the paper's ``runs`` and ``rows`` (row → its seed runs) that figures/ holds (a figure of several
    runs — curves, samples, a row's pooled test figures — only when it was drawn of no run the paper
    leaves out: ``--only`` one seed of a row leaves out its figures summed over both); ``log`` told of
    those left out and those gone. False (nothing done) for a figures.tex without a record, or none."""
    try:
        text = path.read_text()
    except OSError:  # none, or unreadable: main.tex's \input says so when compiled
        return False
    drawn, drawn_of = drawn_figures(text), figures_runs(text)
    if drawn is None or drawn_of is None:
        return False
    left = drawn_of - set(runs)  # drawn with these runs, which the paper leaves out

    def of_several(f: PageFigure) -> bool:
        return f.of is None or f.of in rows

    def kept(f: PageFigure) -> bool:
        if of_several(f):  # drawn of its row's seeds (None: of every run drawn)
            return not (left & set(rows[f.of] if f.of is not None else drawn_of))
        return f.of in runs

    ours = [f for f in drawn if kept(f)]
    present = [f for f in ours if (path.parent / f.pdf).is_file()]
    atomic_write_text(path, figures_tex(present, drawn_of, drawn))
    if lost := [f.stem for f in drawn if of_several(f) and not kept(f)]:
        _tell(log, lost, f"left out:{_few(sorted(left))}")
    _tell(log, [f.pdf for f in ours if f not in present], "gone")
    newer = sorted(set(runs) - drawn_of)
    if newer and present:
        log(
            f"note: figures.tex's figures were drawn before {_few(newer)} (kept as they were: no "
            f"figures drawn). Draw them with {'it' if len(newer) == 1 else 'them'}: {_AGAIN}."
        )
    return True


def _tell(log: Callable[[str], None], which: list[str], why: str) -> None:
    """The note on figures figures.tex no longer names: ``left out:<runs>`` (drawn with those runs, which
    this paper leaves out) or ``gone`` (deleted from figures/ since)."""
    if not which:
        return
    n = f"{len(which)} figure{'s' * (len(which) != 1)}"
    if why == "gone":
        said = f"figures.tex named {n} no longer in figures/ ({_few(which)}): dropped from it"
    else:
        said = (
            f"figures.tex leaves out {n} of several runs ({_few(which)}), drawn with runs this paper "
            f"leaves out ({why.removeprefix('left out:')}; figures/ keeps their files)"
        )
    log(f"note: {said}. Draw this paper's figures: {_AGAIN}.")


def _few(names: Sequence[str]) -> str:
    return f"{', '.join(names[:4])}{' …' * (len(names) > 4)}"


def keep_older_figures(
    path: Path, runs: set[str], chosen: bool, log: Callable[[str], None]
) -> None:
    """An older vislab's figures.tex (no record of its figures), kept by a build that draws nothing:
    without the figures figures/ no longer holds; emptied when drawn of runs other than the paper's
    ``runs``, or when that is not known and the paper holds ``chosen`` runs (``--only``); ``log`` told."""
    try:
        text = path.read_text()
    except OSError:
        return
    drawn_of = figures_runs(text)
    if (drawn_of - runs) if drawn_of is not None else chosen:
        atomic_write_text(path, figures_tex([], []))
        if n := len(re.findall(r"\\begin\{figure\*?\}", text)):
            log(
                f"note: figures.tex named {n} figure{'s' * (n != 1)} drawn by an earlier build, "
                f"showing runs this paper leaves out: it names none now (figures/ keeps their "
                f"files). Draw this paper's figures: {_AGAIN}."
            )
        return
    kept, gone = without_missing(text, path.parent)
    if gone:
        atomic_write_text(path, kept)
        _tell(log, gone, "gone")
