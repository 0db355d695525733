"""Lists and counts in words, as messages and notes write them: "a, b and c", a long list cut after its
first few names, "a, b, c and 4 more", and "1 image" / "3 images"."""

from __future__ import annotations

from collections.abc import Sequence


def and_list(texts: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return texts[0] if len(texts) == 1 else f"{', '.join(texts[:-1])} and {texts[-1]}"


def first_few(names: Sequence[str], most: int) -> str:
    """The first ``most`` of ``names`` and how many more: 'a, b, c and 4 more' ('a, b' where there are
    no more)."""
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more


def counted(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural but for 1: '1 image', '3 images' (a noun whose plural adds an s)."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
