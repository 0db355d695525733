"""The report's interactive curves: loss and accuracy per epoch drawn by uPlot (vendored in ``static/``,
MIT), whose script and stylesheet are embedded in the page so report.html stays one file that opens
offline. Hovering shows each curve's value at the epoch; a button per run hides or shows all its curves.
Runs keep the colours of the PNG figures (:func:`vislab.plotting.legend.run_style`)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from vislab.plotting.legend import run_style

STATIC = Path(__file__).parent / "static"

# (panel title, [(metrics-row key, legend word, dashed)]): solid train, dashed validation, as in the PNGs
PANELS = (
    ("loss", [("train_loss", "train", False), ("val_loss", "val", True)]),
    ("accuracy", [("train_acc", "train", False), ("val_acc", "val", True)]),
)


def curve_data(histories: dict[str, list[dict]]) -> dict | None:
    """What the page's script draws: the runs with their colours and, per panel, uPlot's aligned data
    (``[epochs, series...]``, null where a run has no value) and the series (run, word, colour, dashed);
    None when no run has a curve."""
    epochs = sorted({r["epoch"] for rows in histories.values() for r in rows if "epoch" in r})
    if not epochs:
        return None
    runs = [dict(name=n, color=run_style(i)[0]) for i, n in enumerate(histories)]
    panels = []
    for title, keys in PANELS:
        data, series = [epochs], []
        for run, rows in zip(runs, histories.values()):
            by_epoch = {r["epoch"]: r for r in rows if "epoch" in r}
            for key, word, dashed in keys:
                ys = [_finite(by_epoch.get(e, {}).get(key)) for e in epochs]
                if any(y is not None for y in ys):
                    data.append(ys)
                    series.append(
                        dict(
                            run=run["name"],
                            label=f"{run['name']} {word}",
                            color=run["color"],
                            dashed=dashed,
                        )
                    )
        if series:
            panels.append(dict(title=title, data=data, series=series))
    return dict(runs=runs, panels=panels) if panels else None


def _finite(value: object) -> float | None:
    """A plottable number, or None (a gap): missing, NaN and infinite values (a diverged run) alike."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def interactive_context(histories: dict[str, list[dict]]) -> dict | None:
    """The template's ``interactive``: the data as JSON safe inside a ``<script>`` element, uPlot's script
    and stylesheet; None without curves."""
    data = curve_data(histories)
    if data is None:
        return None
    # "<" escaped so that no run name can close the script element the JSON sits in
    text = json.dumps(data, allow_nan=False).replace("<", "\\u003c")
    return dict(
        data=text,
        js=(STATIC / "uPlot.iife.min.js").read_text(encoding="utf-8"),
        css=(STATIC / "uPlot.min.css").read_text(encoding="utf-8"),
    )
