"""A sweep's figures: horizontal bars (parameter importances), objective per trial, parallel coordinates,
the training curves of the best trials."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LinearSegmentedColormap, Normalize
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from vislab.plotting.canvas import literal, plt, save_figure
from vislab.plotting.runs import CURVES, label_epoch_axes
from vislab.plotting.style import OKABE_ITO

# the colours and markers of the best trials of the curves figure, each named in its legend: Okabe & Ito's
# colours but black (told apart with every common colour-vision deficiency); the other trials grey
TRIAL_MARKERS = ("o", "s", "^", "D", "v", "P")
NAMED_COLOURS = OKABE_ITO[: len(TRIAL_MARKERS)]
NAMED_TRIALS = len(TRIAL_MARKERS)
OTHERS = LinearSegmentedColormap.from_list("other trials", ["0.85", "0.35"])  # darker: better
# a marker's fill says its curve's kind (train ●, val ○, tracked test ◒), as a line's style does: a curve
# of one point (a 1-epoch trial) has no line, its marker a named trial's (at NAMED_SIZE) or a smaller dot
POINT_FILLS = {"-": "full", "--": "none", ":": "bottom"}
NAMED_SIZE, OTHER_SIZE = 8, 4.5


def plot_bars(values: dict[str, float], path: Path, title: str = "", xlabel: str = "") -> Path:
    """Horizontal bars, largest on top (e.g. Optuna parameter importances)."""
    items = sorted(values.items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(items) + 1.2))
    ax.barh([k for k, _ in items], [v for _, v in items], color="C0")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return save_figure(fig, path)


Ticks = tuple[list[float], list[str]]  # positions on a 0..1 axis, and their labels


def _scaled_axis(column: list, spec: dict) -> tuple[np.ndarray, Ticks]:
    """A parameter's values placed on a 0..1 axis, and its ticks.

    ``spec``: {"choices": [...]} spreads the choices evenly; else numbers, on a log scale if {"log": True}.
    """
    if "choices" in spec:
        choices = [str(c) for c in spec["choices"]]
        pos = np.linspace(0, 1, len(choices)) if len(choices) > 1 else np.array([0.5])
        placed = np.array(
            [pos[choices.index(str(v))] if str(v) in choices else np.nan for v in column]
        )
        return placed, (list(pos), choices)
    v = np.array([np.nan if c is None else float(c) for c in column])
    t = np.log10(v) if spec.get("log") else v
    lo, hi = np.nanmin(t), np.nanmax(t)
    span = hi - lo if hi > lo else 1.0
    raw = np.linspace(lo, hi, 4) if hi > lo else np.array([lo])
    ticks = (
        list((raw - lo) / span if hi > lo else [0.5]),
        [f"{10**r:.3g}" if spec.get("log") else f"{r:.3g}" for r in raw],
    )
    return ((t - lo) / span if hi > lo else np.full(len(t), 0.5)), ticks


def _draw_axes(ax, cols: list[str], ticks: list[Ticks]) -> None:
    """One labelled vertical axis per column."""
    for j, pos_labels in enumerate(ticks):
        ax.axvline(j, color="k", lw=0.8)
        for pos, label in zip(*pos_labels):
            ax.text(j + 0.03, pos, label, fontsize=7, va="center")
    ax.set_xticks(range(len(cols)), cols, rotation=20, ha="right", fontsize=8)
    ax.set_yticks([])
    ax.set_xlim(-0.2, len(cols) - 0.6)
    ax.set_ylim(-0.05, 1.05)


def plot_parallel_coordinates(
    params: list[dict],
    values: list[float],
    axes: dict[str, dict],
    path: Path,
    metric: str = "value",
    higher_better: bool = True,
) -> Path:
    """One line per trial across one vertical axis per parameter, coloured by the objective.

    ``axes`` maps each parameter to {"log": bool} for numbers or {"choices": [...]} for categoricals.
    """
    cols = [*axes, metric]
    placed = [_scaled_axis([p.get(n) for p in params], spec) for n, spec in axes.items()]
    placed.append(_scaled_axis(values, axes.get(metric, {})))
    data = np.stack([column for column, _ in placed], axis=1)
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(cols)), 4.5))
    vals = np.asarray(values, dtype=float)
    norm = Normalize(
        vmin=np.nanmin(vals),
        vmax=np.nanmax(vals) if np.nanmax(vals) > np.nanmin(vals) else np.nanmin(vals) + 1e-9,
    )
    cmap = plt.get_cmap("viridis" if higher_better else "viridis_r")
    for i in np.argsort(vals if higher_better else -vals):  # best drawn last, on top
        ax.plot(
            range(len(cols)),
            data[i],
            color=cmap(norm(vals[i])),
            alpha=0.8,
            lw=1.2,
            marker="o",
            ms=3,
        )
    _draw_axes(ax, cols, [ticks for _, ticks in placed])
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=metric)
    ax.set_title("parallel coordinates (one line per trial)")
    return save_figure(fig, path)


def plot_history(
    numbers: list[int],
    values: list[float],
    path: Path,
    metric: str = "value",
    higher_better: bool = True,
) -> Path:
    """Each trial's objective in order, with the best so far."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(numbers, values, "o", color="C0", label=metric)
    best = np.maximum.accumulate(values) if higher_better else np.minimum.accumulate(values)
    ax.step(numbers, best, where="post", color="C3", label="best so far")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # trial numbers are whole
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_trial_curves(
    histories: dict[str, list[dict]],
    values: dict[str, float],
    path: Path,
    metric: str = "value",
    higher_better: bool = True,
) -> Path:
    """Loss and accuracy per epoch of many trials (name → metrics rows); solid = train, dashed = val,
    dotted = tracked test. The best :data:`NAMED_TRIALS` trials by their objective ``values[name]`` are
    named in the legend (below the panels) with their objective, each in its own colour (Okabe & Ito's)
    and marker (filled by the curve's kind: :data:`POINT_FILLS`), drawn last, on top; the other trials
    are grey, darker the better their objective (the colour bar beside the panels). A curve of one point
    (a 1-epoch trial, one stopped after its first epoch) is a marker."""
    fig = plt.figure(figsize=(12, 5.2), layout="constrained")
    axes = fig.subplots(1, 2)
    names = list(histories)
    vals = np.array([values[n] for n in names], dtype=float)
    lo, hi = np.nanmin(vals), np.nanmax(vals)
    norm = Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1e-9)
    cmap = OTHERS if higher_better else OTHERS.reversed()
    order = np.argsort(-vals if higher_better else vals, kind="stable")  # best first
    named = {
        names[i]: (NAMED_COLOURS[j], TRIAL_MARKERS[j]) for j, i in enumerate(order[:NAMED_TRIALS])
    }
    for i in order[::-1]:  # best drawn last, on top
        colour, marker = named.get(names[i], (cmap(norm(vals[i])), ""))
        for key, panel, style, _ in CURVES:
            _draw_trial_curve(
                axes[panel], histories[names[i]], key, style, dict(color=colour, marker=marker)
            )
    label_epoch_axes(axes, {r["epoch"] for rows in histories.values() for r in rows})
    others = len(names) - len(named)
    if others:
        fig.colorbar(
            ScalarMappable(norm=norm, cmap=cmap), ax=axes, label=literal(f"{metric} (grey trials)")
        )
    styles = [
        Line2D([], [], color="0.3", ls=style, label=word, **_point_marks(style, "o"))
        for key, panel, style, word in CURVES
        if panel == 0 and any(key in r for h in histories.values() for r in h)
    ]
    trials = [
        Line2D([], [], color=c, marker=m, label=f"{literal(n)} ({values[n]:.3f})")
        for n, (c, m) in named.items()
    ]
    handles = [*styles, *trials]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4))
    more = f" (the best {len(named)} named, the other {others} grey)" if others else ""
    fig.suptitle(literal(f"best {len(names)} trials by {metric}{more}"))
    return save_figure(fig, path)


def _point_marks(style: str, marker: str) -> dict:
    """The options of ``marker`` (none: "") on a curve of ``style``, filled by its kind (:data:`POINT_FILLS`)."""
    return dict(marker=marker, fillstyle=POINT_FILLS[style]) if marker else {}


def _draw_trial_curve(ax, rows: list[dict], key: str, style: str, trial: dict) -> None:
    """One curve (``key``) of a trial's ``rows`` on ``ax`` in its ``trial`` colour and marker (a named
    trial's, else none; a curve of one point gets a dot)."""
    rows = [r for r in rows if r.get(key) is not None]
    if not rows:
        return
    one = len(rows) == 1
    marker = trial["marker"] or ("o" if one else "")
    size = (NAMED_SIZE if trial["marker"] else OTHER_SIZE) if one else None
    ax.plot(
        [r["epoch"] for r in rows],
        [r[key] for r in rows],
        style,
        color=trial["color"],
        lw=1.1,
        alpha=0.85,
        markersize=size,
        **_point_marks(style, marker),
    )
