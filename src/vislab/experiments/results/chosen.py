"""Runs chosen by name (``vislab paper --only``, ``vislab suite --only``): a run's name, or a row's — a
row of seeds stands for all its seeds."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from vislab.errors import UserError
from vislab.words import first_few

# what a suite's tables say of a run the suite has not trained yet (``--only`` chose others)
NOT_TRAINED = "not trained yet (a later run of the suite trains it)"


def chosen_runs(
    names: Sequence[str],
    runs: Sequence[str],
    rows: dict[str, list[str]] | None = None,
    where: str = "",
) -> set[str]:
    """The runs ``names`` stand for: each a run of ``runs`` or a row of ``rows`` (row → its runs).
    UserError naming each unknown name, the closest known one and the names there are; ``where`` ("of
    suite 'x'") says whose runs they are."""
    known = {**{n: [n] for n in runs}, **(rows or {})}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UserError(_unknown(unknown, list(known), where))
    return {run for n in names for run in known[n]}


def _unknown(unknown: list[str], known: list[str], where: str) -> str:
    """The message for names given that are no run or row there."""
    parts = []
    for name in unknown:
        near = difflib.get_close_matches(name, known, n=1)
        parts.append(f"'{name}'" + (f" (did you mean '{near[0]}'?)" if near else ""))
    among = f"among the runs {where}" if where else "among the runs"
    return f"no run or row named {', '.join(parts)} {among}: choose among {first_few(known, 12)}."
