"""Names in tables.md printed as typed: the ``*`` and ``_`` of a run's name (``__init__``, ``cnn*v2*``)
escaped where Markdown would read them as emphasis, as a cell's ``|`` is (``cells.markdown_cell``)."""

from __future__ import annotations

import re
from collections.abc import Collection

# every '*' (it emphasises within a word too), and a '_' not between two letters or digits (within a word
# it never emphasises: lr_0.01 stays as typed)
_EMPHASIS = re.compile(r"\*|(?<![^\W_])_|_(?![^\W_])")


def md_text(text: str) -> str:
    """``text`` with its emphasis marks backslash-escaped: Markdown prints it as typed."""
    return _EMPHASIS.sub(lambda m: "\\" + m.group(0), text)


def md_rows(rows: list[dict], text: Collection[str]) -> list[dict]:
    """``rows`` with the text cells of the columns ``text`` (a run's name, its model) escaped."""
    return [
        {k: md_text(v) if k in text and isinstance(v, str) else v for k, v in r.items()}
        for r in rows
    ]
