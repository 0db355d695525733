"""Runs whose learning curves coincide (:func:`same_curves`): drawn over each other, only the last shows,
so the overlay's legend names the run whose line stands for them (:func:`run_labels`: four
implementations of one model that compute the same numbers, "default (same curves as impl-optim)")."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from vislab.plotting.canvas import literal


def run_labels(histories: dict[str, list[dict]], keys: Iterable[str]) -> list[str]:
    """The legend entry of each run of ``histories`` (name → metrics rows, in drawing order): its name,
    and where a later run's line hides its curves of ``keys`` (:func:`same_curves`), which run's."""
    over = same_curves(histories, keys)
    return [
        literal(n) + (f" (same curves as {literal(over[n])})" if n in over else "")
        for n in histories
    ]


def same_curves(histories: dict[str, list[dict]], keys: Iterable[str]) -> dict[str, str]:
    """Run → the last-drawn run of ``histories`` (name → metrics rows, in drawing order) whose curves of
    ``keys`` are its own (the same epochs, values ``np.allclose``): the line drawn over it. A run that no
    later run hides is left out."""
    points = {name: _points(rows, keys) for name, rows in histories.items()}
    names = list(points)
    hidden = {}
    for i, name in enumerate(names):
        over = [n for n in names[i + 1 :] if _equal(points[name], points[n])]
        if over:
            hidden[name] = over[-1]
    return hidden


def _points(rows: list[dict], keys: Iterable[str]) -> dict[str, np.ndarray]:
    """Each curve of ``rows`` (key → its (epoch, value) points), those with a point."""
    curves = {
        key: np.array([(r["epoch"], r[key]) for r in rows if r.get(key) is not None], dtype=float)
        for key in keys
    }
    return {key: pts for key, pts in curves.items() if len(pts)}


def _equal(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    """Whether two runs' curves (:func:`_points`) are the same: the same curves, of the same points."""
    return a.keys() == b.keys() and all(
        a[k].shape == b[k].shape and np.allclose(a[k], b[k]) for k in a
    )
