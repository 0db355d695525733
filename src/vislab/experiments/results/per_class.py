"""The per-class table: each run's test accuracy on each class (a course's "per-class accuracy per
model"), read from its summary.json (``test_per_class``), under results.md's table and as one of the
paper's tables. A row per run, or per row of seeds (mean ± std over them, as the results table); a column
per class, named as the runs name them. The runs of one table share their classes: a run whose classes
differ from the first run's is left out, and the note under the table names it; a table of more than
:data:`MAX_CLASSES` classes is not drawn (the note says where the figures are)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from vislab.experiments.results.cells import bold_cells, bold_note, bold_rule, pipe_table
from vislab.experiments.results.data_used import mixes_data
from vislab.experiments.results.spread import spread_of
from vislab.training.summary import PerClass, RunSummary
from vislab.words import and_list

MAX_CLASSES = 20  # more columns than a page (or a reader) can take
TITLE = "Per-class test accuracy"
WHAT = "each run's accuracy on the test images of each class, its summary.json's test_per_class"


@dataclass(frozen=True)
class PerClassTable:
    """The table: its columns (key, header: the class), rows (``run`` and a figure per class key), the
    rows that are ``seeded`` (mean ± std), the cells in bold ((row, key), ``cells.bold_cells``) and the
    note on the runs left out ('' when none)."""

    cols: list[tuple[str, str]]
    rows: list[dict]
    bold: set[tuple[int, str]]
    seeded: bool = False
    note: str = ""
    mixed: bool = False  # rows of several datasets: bold ranks within each

    def caption(self) -> str:
        """The paper's caption: what the table is, what bold means, the rows left out."""
        bold = f"; {bold_rule(self.seeded, self.mixed)}" if self.bold else ""
        return f"{TITLE}: {self._what()}{bold}.{f' {self.note}' if self.note else ''}"

    def _what(self) -> str:
        return WHAT + ("; each cell the mean ± std over the row's seeds" if self.seeded else "")

    def markdown(self) -> str:
        """results.md's section: its title, the pipe table, what bold means and the rows left out ('' for
        no per-class figures)."""
        if not self.rows:
            return f"\n## {TITLE}\n\n{self.note}\n" if self.note else ""
        lines = pipe_table(self.cols, self.rows, self.bold)
        under = [bold_note(self.seeded, self.mixed) if self.bold else "", self.note]
        return (
            f"\n## {TITLE}\n\n{self._what()[0].upper()}{self._what()[1:]}.\n\n"
            + "".join(f"{line}\n" for line in lines)
            + "".join(f"\n{line}\n" for line in under if line)
        )


def class_key(i: int) -> str:
    """The column key of the ``i``-th class: an accuracy's (``cells.fmt`` prints it to 4 decimals,
    ``cells.ranks`` bolds its best)."""
    return f"test_class{i}_acc"


def per_class_table(
    summaries: Mapping[str, RunSummary],
    rows: Mapping[str, list[str]] | None = None,
    datasets: Mapping[str, str] | None = None,
) -> PerClassTable | None:
    """The per-class table of ``summaries`` (``rows``: row → its seeds, each cell their mean ± std;
    ``datasets``: each row's dataset, bold ranked within one); None when no run has per-class figures."""
    groups = dict(rows) if rows is not None else {n: [n] for n in summaries}
    runs = {r: [summaries[n] for n in ns if n in summaries] for r, ns in groups.items()}
    by_row = {r: [s.test_per_class for s in ss if s.test_per_class] for r, ss in runs.items()}
    by_row = {r: pcs for r, pcs in by_row.items() if pcs}
    if not by_row:
        return None
    classes = list(next(iter(by_row.values()))[0])
    kept = {r: pcs for r, pcs in by_row.items() if all(list(pc) == classes for pc in pcs)}
    other = [r for r in by_row if r not in kept]
    note = _left_out(other, classes)
    if len(classes) > MAX_CLASSES:
        return PerClassTable([], [], set(), note=_too_many(len(classes)))
    cols = [("run", "run"), *((class_key(i), c) for i, c in enumerate(classes))]
    table = [
        {
            "run": r,
            **{class_key(i): spread_of([pc[c] for pc in pcs]) for i, c in enumerate(classes)},
        }
        for r, pcs in kept.items()
    ]
    if rows is None:  # a run's own figure, not a mean of one
        table = [
            {k: (float(v) if k != "run" and v is not None else v) for k, v in r.items()}
            for r in table
        ]
    data = [datasets.get(r["run"], "") for r in table] if datasets else None
    # a row that always guesses one class has no best: its 1.0 there is the guess, not a skill
    guess = _guessers(runs, kept)
    ranked = [i for i, r in enumerate(table) if r["run"] not in guess]
    picked = bold_cells(
        [table[i] for i in ranked], cols, [data[i] for i in ranked] if data else None
    )
    bold = {(ranked[j], k) for j, k in picked}
    if guess and len(table) > 1:  # said even where no other row is bold: why it is not
        note = f"{_guess_note(guess)} {note}".strip()
    return PerClassTable(cols, table, bold, rows is not None, note, mixes_data(data))


def _guessers(
    runs: Mapping[str, list[RunSummary]], kept: Mapping[str, list[PerClass]]
) -> dict[str, bool]:
    """The rows of ``kept`` that always guess one class, each with whether it is the majority baseline:
    its runs' model, or every run's per-class recall 1 in one class and 0 in all the others."""
    majority = {
        r: bool(runs[r]) and all(s.get("model") == "majority" for s in runs[r]) for r in kept
    }
    return {r: m for r, m in majority.items() if m or all(_one_class(pc) for pc in kept[r])}


def _one_class(per_class: PerClass) -> bool:
    """Whether a run's per-class recall is 1 in one class and 0 in the others (those it has samples
    of): it predicted that class for every image."""
    seen = [v for v in per_class.values() if v is not None and math.isfinite(v)]
    return len(seen) > 1 and sorted(seen) == [0.0] * (len(seen) - 1) + [1.0]


def _guess_note(guess: Mapping[str, bool]) -> str:
    """The note naming the rows not ranked in bold (``guess``: row → whether the majority baseline)."""
    baselines = sorted(r for r, majority in guess.items() if majority)
    others = sorted(r for r, majority in guess.items() if not majority)
    plural = "s" if len(baselines) > 1 else ""
    which = [f"{and_list(baselines)}, the majority baseline{plural}"] if baselines else []
    which += [and_list(others)] if others else []
    return (
        f"Not ranked in bold: {', and '.join(which)} (one class always guessed: recall 1 there, "
        f"0 elsewhere)."
    )


def _left_out(other: list[str], classes: list[str]) -> str:
    """The note naming the rows left out: their classes are not the table's ('' when none)."""
    if not other:
        return ""
    return (
        f"Not in this table: {and_list(other)}, whose classes differ from the table's "
        f"({and_list(classes)}); see each run's summary.json (test_per_class)."
    )


def _too_many(n: int) -> str:
    """The note in place of a table of ``n`` classes, more than :data:`MAX_CLASSES`."""
    return (
        f"{n} classes, more than the {MAX_CLASSES} a table shows: each run's per-class test accuracy "
        f"is in its summary.json (test_per_class)."
    )
