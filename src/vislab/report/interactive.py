"""The report's interactive curves: loss and accuracy per epoch drawn by uPlot (vendored in ``static/``,
MIT), whose script and stylesheet are embedded in the page so report.html stays one file that opens
offline. Hovering shows each curve's value at the epoch; a button per run hides or shows all its curves.
Runs keep the colours of the PNG figures (:func:`vislab.plotting.legend.run_style`). With seeds, as in
the PNGs, a run is a row of the table: its mean curves over its seeds, each in a band of ± 1 std."""

from __future__ import annotations

import json
import math
from pathlib import Path

from vislab.plotting.legend import run_style
from vislab.report.sections import seed_histories

STATIC = Path(__file__).parent / "static"

# (panel title, [(metrics-row key, legend word, dashed)]): solid train, dashed validation, as in the PNGs
PANELS = (
    ("loss", [("train_loss", "train", False), ("val_loss", "val", True)]),
    ("accuracy", [("train_acc", "train", False), ("val_acc", "val", True)]),
)
BAND_ALPHA = "33"  # a band's fill: its run's colour at alpha 0.2 (#rrggbbaa), as the PNGs' bands


def curve_data(
    histories: dict[str, list[dict]], rows: dict[str, list[str]] | None = None
) -> dict | None:
    """What the page's script draws: the runs with their colours and, per panel, uPlot's aligned data
    (``[epochs, series...]``, null where a run has no value), the series (run, word, colour, dashed) and,
    with seeds, the bands; None when no run has a curve. ``rows`` (seeds: row → its runs): a run per
    row, its mean history (:func:`~vislab.report.sections.seed_histories`, as the PNGs draw it)."""
    if rows:
        histories = seed_histories(histories, rows)
    epochs = sorted({r["epoch"] for h in histories.values() for r in h if "epoch" in r})
    if not epochs:
        return None
    runs = [dict(name=n, color=run_style(i)[0]) for i, n in enumerate(histories)]
    panels = [p for title, keys in PANELS if (p := _panel(title, keys, runs, histories, epochs))]
    return dict(runs=runs, panels=panels) if panels else None


def _panel(
    title: str, keys: list, runs: list[dict], histories: dict[str, list[dict]], epochs: list[int]
) -> dict | None:
    """One chart's data, series and bands (only when a curve has a std: a row of two or more seeds);
    None when no run has any of its curves. uPlot numbers series as ``data``: 0 is the epochs."""
    data, series, bands = [epochs], [], []
    for run, rows in zip(runs, histories.values()):
        by_epoch = {r["epoch"]: r for r in rows if "epoch" in r}
        for key, word, dashed in keys:
            mean = _column(by_epoch, key, epochs)
            if all(y is None for y in mean):
                continue
            label = f"{run['name']} {word}"
            line = dict(run=run["name"], label=label, color=run["color"], dashed=dashed)
            std = _column(by_epoch, f"{key}_std", epochs)
            if any(s is not None for s in std):  # the band's edges first: the mean is drawn over it
                edges = [len(data), len(data) + 1]  # uPlot's indices of the upper and lower edge
                bands.append(dict(series=edges, fill=run["color"] + BAND_ALPHA))
                for sign, edge in ((1, "+ std"), (-1, "− std")):
                    data.append(_edge(mean, std, sign))
                    series.append(dict(line, label=f"{label} {edge}", edge=True))
                line["std"] = std  # for the hover: mean ± std
            data.append(mean)
            series.append(line)
    if not series:
        return None
    panel = dict(title=title, data=data, series=series)
    if bands:  # seeds only: without them the data stay as they were
        panel["bands"] = bands
    return panel


def _column(by_epoch: dict[int, dict], key: str, epochs: list[int]) -> list[float | None]:
    """``key``'s value at each epoch, None where a run has none (or a value that cannot be drawn)."""
    return [_finite(by_epoch.get(e, {}).get(key)) for e in epochs]


def _edge(mean: list, std: list, sign: int) -> list[float | None]:
    """A band's edge: mean + sign × std where both are known (a single seed's epoch has no band)."""
    return [None if m is None or s is None else m + sign * s for m, s in zip(mean, std)]


def _finite(value: object) -> float | None:
    """A plottable number, or None (a gap): missing, NaN and infinite values (a diverged run) alike."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def interactive_context(
    histories: dict[str, list[dict]], rows: dict[str, list[str]] | None = None
) -> dict | None:
    """The template's ``interactive``: the data (:func:`curve_data`) as JSON safe inside a ``<script>``
    element, uPlot's script and stylesheet, and whether runs are rows of seeds; None without curves."""
    data = curve_data(histories, rows)
    if data is None:
        return None
    # "<" escaped so that no run name can close the script element the JSON sits in
    text = json.dumps(data, allow_nan=False).replace("<", "\\u003c")
    return dict(
        data=text,
        seeded=bool(rows),
        js=(STATIC / "uPlot.iife.min.js").read_text(encoding="utf-8"),
        css=(STATIC / "uPlot.min.css").read_text(encoding="utf-8"),
    )
