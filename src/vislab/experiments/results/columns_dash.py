"""What a ``-`` cell of a table for people means, said under the table that has one: in a column of what the
runs were (``settings.Settings``), a setting a row's run has no value of — its model or its other settings
never read it (optim.lr of the majority baseline, trained by no optimizer), or its run did not record it
— and in a column of figures, one the run's summary.json does not hold. The ``code`` column's own ``-``
is ``columns_code.code_note``'s."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vislab.experiments.results.columns_code import CODE
from vislab.experiments.results.table import FIGURES

# the columns of what each row was that every row has (the run, its model and seed): no dash to explain
_NAMED = ("run", "model", "seed", CODE)


def _dashes(rows: Sequence[Mapping[str, Any]], cols: Sequence[tuple[str, str]]) -> str:
    """ "row: column, column; row: column" for each row of ``rows`` with no value of some of ``cols``
    (key, header), each named by its header."""
    said = []
    for row in rows:
        missing = [h for k, h in cols if k not in _NAMED and row.get(k) is None]
        if missing:
            said.append(f"{row.get('run')}: {', '.join(missing)}")
    return "; ".join(said)


def settings_dash_note(values: Mapping[str, Mapping[str, Any]], shown: Sequence[str]) -> str:
    """The sentence under a table whose setting columns (``shown``; ``values``: row → its settings)
    have a ``-`` cell, naming the rows and settings; "" where none has."""
    said = _dashes([{"run": row, **v} for row, v in values.items()], [(k, k) for k in shown])
    if not said:
        return ""
    return (
        "-: the run has no value of the setting, as its model or its other settings never read it "
        f"(a baseline fitted once reads no optim.lr) or its run did not record it ({said})."
    )


def figures_dash_note(rows: Sequence[Mapping[str, Any]], cols: Sequence[tuple[str, str]]) -> str:
    """The sentence under a table whose columns of vislab's figures (of ``cols``: key, header; a
    source's reported figures aside, blank where it gives none) have a ``-`` cell (a row without the
    figure), naming the rows and figures; "" where none has."""
    said = _dashes(rows, [(k, h) for k, h in cols if k in FIGURES])
    return f"-: not in the run's summary.json ({said})." if said else ""
