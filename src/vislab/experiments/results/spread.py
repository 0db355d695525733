"""The spread over seeds: a row's figure as mean ± std of its runs, and whether two rows differ by more
than that spread (Welch's t-test) — the sentence the HTML report and the paper print for a group.

    vit-deep vs vit-shallow: −0.8 ± 0.5 pt test ACC over 5 seeds (p = 0.16): within the spread.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

ALPHA = 0.05  # a difference exceeds the spread when Welch's p-value is below this
RULE = (
    "Difference = mean of the first row minus mean of the second, ± its standard error "
    "√(s₁²/n₁ + s₂²/n₂) (s: standard deviation over a row's seeds, n: its seeds). It exceeds the "
    f"spread when Welch's t-test (scipy.stats.ttest_ind, equal_var=False) gives p < {ALPHA}, "
    "else it is within the spread; when every seed of each row gave the same value (two seeds or more "
    "each), rows of different values differ beyond the spread (there is none), rows of one value have "
    "no spread to test against."
)
SPREAD_WORDS = (
    "each cell the mean ± std over the run's seeds (N: how many; std: sample standard deviation)"
)
# between a row's dataset and its test set in ``data_used.row_datasets`` (bold and verdicts rank
# the rows of one of each)
TEST_SET = "\x00test set "
_SEED_SUFFIX = re.compile(r"^(?P<row>.+)-s(?P<index>\d+)$")


class Spread(float):
    """A row's figure: the mean of its runs' values (the float itself, so it sorts and compares as one),
    with ``std`` (sample standard deviation, ddof=1; None for a single run), ``n`` and the ``values``."""

    std: float | None
    values: tuple[float, ...]

    def __new__(cls, values: Sequence[float]) -> Spread:
        vals = np.asarray([float(v) for v in values], dtype=float)
        self = super().__new__(cls, float(vals.mean()))
        self.std = float(vals.std(ddof=1)) if len(vals) > 1 else None
        self.values = tuple(float(v) for v in vals)
        return self

    @property
    def n(self) -> int:
        """The number of runs."""
        return len(self.values)


def spread_of(values: Sequence[float | None]) -> Spread | None:
    """Mean ± std of the values given (None and non-numbers left out); None when none is given."""
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return Spread(numbers) if numbers else None


def rows_by_seed_suffix(names: Sequence[str]) -> dict[str, list[str]] | None:
    """Runs named ``<row>-s<i>`` (as ``vislab suite --seeds`` names them) grouped by row, other runs a
    row each; None when no row has two seeds (then the runs are the rows)."""
    rows: dict[str, list[str]] = {}
    for name in names:
        m = _SEED_SUFFIX.match(name)
        rows.setdefault(m["row"] if m else name, []).append(name)
    return rows if any(len(v) > 1 for v in rows.values()) else None


# ------------------------------------------------------------------------------------------ verdicts
@dataclass(frozen=True)
class Verdict:
    """``first`` vs ``second`` on one figure: the difference of the means and whether it exceeds the
    spread (``p`` None: nothing to test — a row has fewer than two runs, neither row varies and both
    gave one value, or a row's values are ``doubted``; ``p`` 0 and ``err_pt`` 0: neither varies, their
    values differ)."""

    first: str
    second: str
    label: str  # the figure, as the tables head it, e.g. "test ACC"
    diff_pt: float  # mean(first) − mean(second), in percentage points
    err_pt: float | None  # its standard error, in points
    n: tuple[int, int]
    p: float | None
    missing: tuple[str, ...] = ()  # the two rows' seed runs that have no finished result
    doubted: tuple[str, ...] = ()  # the rows whose figure disagrees with their runs' records
    unlike: tuple[str, ...] = ()  # why a row's seeds are not averaged, and how to average them
    alone: tuple[str, ...] = ()  # the rows of one seed that no other cause explains
    split: bool = False  # a row's seeds are not averaged (``unlike`` says why): no mean to weigh

    @property
    def exceeds(self) -> bool | None:
        """Whether the difference exceeds the spread (None: not testable, or not weighed)."""
        return None if self.p is None else self.p < ALPHA

    def sentence(self) -> str:
        """e.g. 'deep vs shallow: −0.8 ± 0.5 pt test ACC over 5 seeds (p = 0.16): within the spread.'"""
        if self.doubted:
            rows, one = " and ".join(self.doubted), len(self.doubted) == 1
            return (
                f"{self.first} vs {self.second}: not weighed, as the {self.label} of {rows} "
                f"{'disagrees' if one else 'disagree'} with {'its' if one else 'their'} runs' own "
                f"records (the data line names them)."
            )
        if self.split:
            return f"{self.first} vs {self.second}: no spread to compare with{self._fix()}."
        a, b = self.n
        seeds = f"{a} and {b} seeds" if a != b else f"{a} seed{'s' if a > 1 else ''}"
        head = f"{self.first} vs {self.second}: {_signed(self.diff_pt)}"
        if self.p is None and min(a, b) < 2:
            return f"{head} pt {self.label} over {seeds}: no spread to compare with{self._fix()}."
        if self.p is None:
            return (
                f"{head} pt {self.label} over {seeds}: no spread to test (every seed gave the same "
                f"value)."
            )
        if self.err_pt == 0:  # each row's seeds all gave one value, the rows' values differ
            return (
                f"{head} pt {self.label} over {seeds}: exceeds the spread (every seed of each row "
                f"gave the same value: no spread at all)."
            )
        verdict = "exceeds the spread" if self.exceeds else "within the spread"
        return f"{head} ± {self.err_pt:.1f} pt {self.label} over {seeds} (p = {self.p:.2g}): {verdict}."

    def _fix(self) -> str:
        """How to get a spread, each row's cause said: seeds not averaged (``unlike``, with their fix),
        the missing seed runs back, seeds to train in the first place (``alone``, or both rows)."""
        said = list(self.unlike)
        if self.missing:
            runs, one = ", ".join(self.missing), len(self.missing) == 1
            said.append(
                f"{runs} {'has' if one else 'have'} no result (failed, stopped or its folder "
                f"removed); re-run the same vislab suite command, without --only if it had one "
                f"(Python: only=), to train {'it' if one else 'them'}"
            )
        if not said:
            return " (train with --seeds 2 or more)"
        if self.alone:
            rows, one = " and ".join(self.alone), len(self.alone) == 1
            said.append(
                f"{rows} {'has' if one else 'have'} one seed (train with --seeds 2 or more)"
            )
        return ": " + "; ".join(said)


def _signed(x: float) -> str:
    """``x`` to one decimal with a true minus sign (−0.8) or a plus (+0.8)."""
    text = f"{abs(x):.1f}"
    return text if text == "0.0" else ("−" if x < 0 else "+") + text


def verdict(
    first: str,
    a: Sequence[float],
    second: str,
    b: Sequence[float],
    label: str = "test ACC",
    missing: Sequence[str] = (),
    doubted: Sequence[str] = (),
    unlike: Sequence[str] = (),
    alone: Sequence[str] = (),
) -> Verdict:
    """Compare the values ``a`` of row ``first`` with ``b`` of row ``second`` (fractions: accuracies);
    ``missing``: the rows' seed runs without a result, ``unlike``: why a row's seeds are not averaged
    and how to average them, ``alone``: the rows of one seed neither explains, each said where the
    verdict lacks a spread; ``doubted``: those of the two rows whose values disagree with their runs'
    records (not weighed)."""
    # scipy (through scikit-learn) is loaded here only: the tables without verdicts do not need it (~0.3 s)
    from scipy.stats import ttest_ind

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = 100 * (a.mean() - b.mean())
    if doubted:
        return Verdict(first, second, label, diff, None, (len(a), len(b)), None, (), tuple(doubted))
    if len(a) < 2 or len(b) < 2:
        why = (tuple(missing), (), tuple(unlike), tuple(alone))
        return Verdict(first, second, label, diff, None, (len(a), len(b)), None, *why)
    if np.ptp(a) == 0 and np.ptp(b) == 0:  # both rows constant: t = ±inf (p = 0) or 0/0 (none)
        p = 0.0 if a[0] != b[0] else None
        return Verdict(first, second, label, diff, 0.0, (len(a), len(b)), p)
    err = 100 * math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    with (
        warnings.catch_warnings()
    ):  # rows of nearly constant values: scipy warns, the p-value stands
        warnings.simplefilter("ignore", RuntimeWarning)
        p = float(ttest_ind(a, b, equal_var=False).pvalue)
    return Verdict(first, second, label, diff, err, (len(a), len(b)), p)


COMPARE = {  # how a group's members are paired, as a suite's ``compare:`` names it
    "previous": "Each run against the one before it in its group",  # a ladder, a sweep in order
    "baseline": "Each run against the first of its group (the baseline)",  # a baseline and variants
    # any other table (a folder of runs, several folders): no order to follow but the best
    "best": "Each run against the run of the best mean on the same data",
}


def pairing_of(compare: str | None, suite: bool = False) -> str:
    """How verdicts pair a table's rows, decided here only: a suite's ``compare:``; a ``suite`` whose
    suite.json names none (written before it recorded one) each against the one before it, the
    default of a suite file; a table of no suite each against the best of its dataset."""
    return compare or ("previous" if suite else "best")


def group_verdicts(
    groups: dict[str, list[str] | None],
    values: dict[str, list[float]],
    label: str = "test ACC",
    compare: str = "previous",
    missing: dict[str, list[str]] | None = None,
    data: dict[str, str] | None = None,
    doubted: Collection[str] = (),
    unlike: Mapping[str, str] | None = None,
    split: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, list[Verdict]]:
    """Group → a verdict for each member (with values) against the one before it (``previous``), the
    group's first (``baseline``) or its best mean (``best``: the highest, the lowest for a loss), among
    the members of one dataset and test set only (``data``: member → its, ``data_used.row_datasets``);
    groups with no such pair are left out. ``missing``: member → its seed runs without a result (named
    by a verdict that lacks a spread). ``doubted``: members whose values disagree with their runs'
    records: never the best, and each of their verdicts says it is not weighed. ``unlike``: member (a
    run of a row of seeds not averaged: ``seed_rows.SeedSplit.unlike``) → why, and how to average
    them, said by a verdict that lacks a spread (as is a member of one seed that has no other cause).
    ``split``: a group's member whose seeds are not averaged → its runs (each a row of its own): it
    keeps its place among the members of its dataset, each of its verdicts saying why (``unlike``)."""
    out, split = {}, split or {}
    for group, members in groups.items():
        parts: dict[str, list[str]] = {}
        for m in members or []:
            for key in _parts_of(m, values, data or {}, split):
                parts.setdefault(key, []).append(m)
        pairs = [
            pair
            for part in parts.values()
            if any(values.get(m) for m in part)
            for pair in _pairs(part, values, compare, label.endswith("loss"), doubted)
        ]
        found = [
            _weigh(x, y, values, label, missing or {}, doubted, unlike or {}, split)
            for x, y in dict.fromkeys(pairs)
        ]
        if found:
            out[group] = found
    return out


def _parts_of(
    member: str,
    values: dict[str, list[float]],
    data: dict[str, str],
    split: Mapping[str, Sequence[str]],
) -> list[str]:
    """The data a group's ``member`` is weighed within (``data``: row → its dataset and test set):
    its own where it has values; a member whose seeds are not averaged (``split``), those of its
    runs' datasets (any test set), where rows of them are; none otherwise."""
    if values.get(member):
        return [data.get(member, "")]
    datasets = {data.get(run, "").split(TEST_SET)[0] for run in split.get(member, ())}
    return [key for key in dict.fromkeys(data.values()) if key.split(TEST_SET)[0] in datasets]


def _weigh(
    x: str,
    y: str,
    values: dict[str, list[float]],
    label: str,
    missing: dict[str, list[str]],
    doubted: Collection[str],
    unlike: Mapping[str, str],
    split: Mapping[str, Sequence[str]],
) -> Verdict:
    """The verdict of group members ``x`` vs ``y`` (:func:`verdict`); where either's seeds are not
    averaged (``split``), none weighed: why, and how to average them (``unlike``)."""
    told = {m: unlike[n] for m in (x, y) for n in split.get(m, [m])[:1] if n in unlike}
    lost = [*missing.get(x, []), *missing.get(y, [])]
    alone = [
        m
        for m in (x, y)
        if m not in split and len(values[m]) < 2 and not (missing.get(m) or m in told)
    ]
    causes = list(dict.fromkeys(told.values()))
    if x in split or y in split:
        n = (len(values.get(x, [])), len(values.get(y, [])))
        return Verdict(
            x, y, label, math.nan, None, n, None, tuple(lost), (), tuple(causes), tuple(alone), True
        )
    return verdict(
        x, values[x], y, values[y], label, lost, [m for m in (x, y) if m in doubted], causes, alone
    )


def _pairs(
    members: list[str],
    values: dict[str, list[float]],
    compare: str,
    lowest: bool,
    doubted: Collection[str] = (),
) -> list[tuple[str, str]]:
    """(first, second) of each verdict among ``members`` (one dataset's), paired as ``compare`` says;
    ``best``: the best mean first (``lowest``: of a loss; among the members with values not
    ``doubted``, if any), against each other in order."""
    if compare == "best" and members:
        mean = {m: float(np.mean(values[m])) for m in members if values.get(m)}
        trusted = [m for m in mean if m not in doubted] or list(mean)
        best = (min if lowest else max)(trusted, key=mean.__getitem__)  # a tie: the first
        return [(best, m) for m in members if m != best]
    others = members[:-1] if compare == "previous" else members[:1] * (len(members) - 1)
    return list(zip(members[1:], others))
