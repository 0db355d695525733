"""How wide the paper's tables print, and the per-class table laid out to print at its size (\\small, 9 pt
in main.tex's 10 pt article, never scaled below it): more classes than runs turn it (a row per class, a
column per run), and a table still wider than the text is split by columns, each part repeating the
first column. A table wider than a column of a two-column template spans both (``table*``)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from vislab.experiments.results.cells import fmt
from vislab.plotting.style import COLUMN_IN, PAGE_IN

if TYPE_CHECKING:
    from vislab.paper_folder.tables import Part

CHAR_PT = 4.6  # a character of \small's figures and letters, about
PAD_PT = 8.0  # \tabcolsep (4 pt) each side of a cell
PT_PER_IN = 72.27  # TeX points
TEXT_PT = PAGE_IN * PT_PER_IN  # main.tex's text width, the figures' page width
COLUMN_PT = COLUMN_IN * PT_PER_IN  # a column of a two-column template, the figures' column width
CLASS = "class"


def column_pt(part: Part, key: str, head: str) -> float:
    """About how wide column ``key`` of ``part`` prints: its header or its widest cell."""
    cells = [
        len(str(r.get(key, ""))) if key in part.text else len(fmt(key, r.get(key)))
        for r in part.rows
    ]
    return max([len(head), *cells]) * CHAR_PT + PAD_PT


def width_pt(part: Part) -> float:
    """About how wide ``part`` prints, in points."""
    return sum(column_pt(part, k, h) for k, h in part.cols)


def spans_columns(part: Part) -> bool:
    """Whether ``part`` is wider than a column of a two-column template: set as ``table*``."""
    return width_pt(part) > COLUMN_PT


def printable(part: Part) -> list[Part]:
    """The per-class table ``part`` (a row per run, a column per class) as it prints: turned when it
    has more classes than runs, then split by columns into parts no wider than the text."""
    if len(part.cols) - 1 > len(part.rows):
        part = _by_class(part)
    return _split(part)


def _by_class(part: Part) -> Part:
    """``part`` turned: a row per class (its first column the class), a column per run."""
    runs = [(f"run{j}_acc", str(r["run"])) for j, r in enumerate(part.rows)]
    rows = [
        {CLASS: head, **{key: part.rows[j].get(k) for j, (key, _) in enumerate(runs)}}
        for k, head in part.cols[1:]
    ]
    at = {k: i for i, (k, _) in enumerate(part.cols[1:])}
    bold = {(at[k], runs[j][0]) for j, k in part.bold}
    caption = part.caption.replace(": ", ", a row per class and a column per run: ", 1)
    return replace(
        part, cols=[(CLASS, CLASS), *runs], rows=rows, bold=bold, caption=caption, text=(CLASS,)
    )


def _split(part: Part) -> list[Part]:
    """``part`` split by columns into parts no wider than the text, each with the first column; one
    part (``part`` itself) when it fits."""
    first, rest = part.cols[0], part.cols[1:]
    room = TEXT_PT - column_pt(part, *first)
    groups: list[list[tuple[str, str]]] = [[]]
    for col in rest:
        used = sum(column_pt(part, *c) for c in groups[-1])
        if groups[-1] and used + column_pt(part, *col) > room:
            groups.append([])
        groups[-1].append(col)
    if len(groups) == 1:
        return [part]
    n = len(groups)
    return [
        replace(
            part,
            label=part.label if i == 1 else f"{part.label}-{i}",
            caption=f"{part.caption.rstrip('.')} (part {i} of {n}).",
            cols=[first, *cols],
            bold={(r, k) for r, k in part.bold if k in dict(cols)},
        )
        for i, cols in enumerate(groups, 1)
    ]
