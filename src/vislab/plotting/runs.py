"""A run's figures: learning curves, confusion matrix, per-class accuracy (one-vs-rest ROC curves:
:mod:`vislab.plotting.roc`).

Each figure has a builder that returns a matplotlib ``Figure`` (``*_figure``: for notebooks and the Python
API; a :class:`~vislab.plotting.canvas.NotebookFigure`, outside pyplot) and a ``plot_*``
function that saves the builder's figure as a PNG and returns its path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from vislab.plotting.canvas import NotebookFigure, literal, save_figure
from vislab.plotting.confusion_cells import draw_cells, empty_rows, row_shares
from vislab.plotting.curves_same import run_labels
from vislab.plotting.legend import legend_outside, run_style
from vislab.plotting.spans import keep_span
from vislab.plotting.steps import draw_step_losses
from vislab.plotting.style import ReflowLayout, name_ticks

if TYPE_CHECKING:
    from matplotlib.axes import Axes

CELL_IN = 0.5  # a confusion-matrix cell, inches: room for "1000" or "0.93" at CELL_PT
CELL_PT = 8.0  # its numbers and class names: the smallest text a printed page holds
# the room of a class name on an axis of many (plotting.style.name_ticks), in its font sizes: a line's
# height across the axis, more for one slanted at 45°; fewer names are labelled where all would crowd
LEVEL_PITCH, SLANTED_PITCH = 1.3, 1.8
# the per-class bars' height, inches: 0.3 of the figure's width, within these (a column's 3.3 in: the
# least, room for the y label); the figure is as tall as its texts need around them
BARS_IN = (1.4, 2.4)
MARGIN_PAD_IN = 0.06  # room left around the texts, so none touches the figure's edge

# (metrics-row key, panel, line style, legend word): test rows exist with train.track_test only
CURVES = (
    ("train_loss", 0, "-", "train"),
    ("val_loss", 0, "--", "val"),
    ("test_loss", 0, ":", "test (tracked)"),
    ("train_acc", 1, "-", "train"),
    ("val_acc", 1, "--", "val"),
    ("test_acc", 1, ":", "test (tracked)"),
)
# the third panel, beside accuracy: per-class accuracy (pacc: the mean of the classes' recalls, the balanced
# accuracy that train.select_metric's default picks best.pt by); a run's rows without it have no such panel
PACC_CURVES = (
    ("val_pacc", 2, "--", "val"),
    ("test_pacc", 2, ":", "test (tracked)"),
)
PANELS = ("loss", "accuracy", "per-class accuracy (pacc)")  # their y labels
# best.pt's epoch, a vertical line across the panels in the run's colour
BEST_LINE = dict(linestyle="-.", lw=1.0, alpha=0.8)
# a curve of one point (one epoch, a fitted model) has no line to show its style: its kind's marker does
POINT_MARKERS = {"-": "o", "--": "s", ":": "^"}
# what a confusion matrix's shade is, whatever its numbers: the cell's share of its row (the true class)
SHADE_WORDS = "share of the true class"
# the per-class bars' mark for a class the scored split holds no image of (its recall undefined: NaN)
NO_SAMPLES = "no images"
# a seed mean's epochs (or a class's bar) that fewer of its seeds count in: drawn at this opacity
FEWER_ALPHA = 0.35
FEWER_WORDS = "fewer seeds (faded)"


def mean_history(seeds: list[list[dict]], ran: Sequence[int | None] | None = None) -> list[dict]:
    """The metrics rows of several runs of one configuration (one list per seed) as one history: per epoch
    each curve's mean over the runs that have a row for it, and ``<key>_std`` (ddof=1) where two or more
    do; ``seeds``: how many runs have the epoch's row, ``of``: how many there are, ``reached``: how many
    trained that far — fewer only past the epoch where some run stopped (early stopping;
    :func:`curves_figure` fades those epochs), not where a run's file lost a row. ``ran``: per run, the
    epochs it trained (summary.json's ``epochs_run``: a row lost at the end of its file is no stop);
    None, or a run's None: the epoch of its last row."""
    by_epoch: dict[int, dict[str, list[float]]] = {}
    have: dict[int, int] = {}
    for rows in seeds:
        for epoch in {r["epoch"] for r in rows}:
            have[epoch] = have.get(epoch, 0) + 1
        for r in rows:
            into = by_epoch.setdefault(r["epoch"], {})
            for key, *_ in CURVES + PACC_CURVES:
                if r.get(key) is not None:
                    into.setdefault(key, []).append(float(r[key]))
    lasts = [max((r["epoch"] for r in rows), default=0) for rows in seeds]
    stops = [
        last if n is None else max(n, last) for n, last in zip(ran or [None] * len(seeds), lasts)
    ]
    out = []
    for epoch, values in sorted(by_epoch.items()):
        reached = sum(stop >= epoch for stop in stops)
        row: dict = {"epoch": epoch, "seeds": have[epoch], "of": len(seeds), "reached": reached}
        for key, v in values.items():
            row[key] = float(np.mean(v))
            if len(v) > 1:
                row[f"{key}_std"] = float(np.std(v, ddof=1))
        out.append(row)
    return out


def drawn_runs(histories: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """The runs of ``histories`` (name → metrics rows) that have curves to draw: a row with a train_loss
    (a model fitted once, svm: its one row, drawn as a point); not a run with no row yet, nor an early
    vislab's fitted model, whose row held none."""
    return {name: rows for name, rows in histories.items() if any("train_loss" in r for r in rows)}


def curves_figure(
    histories: dict[str, list[dict]],
    steps: dict[str, list[dict]] | None = None,
    first_colour: int = 0,
    best: dict[str, int | None] | None = None,
    title: str | None = None,
) -> Figure:
    """Loss, accuracy and per-class accuracy (pacc, :data:`PACC_CURVES`: where rows have it) per epoch of
    one or more runs (name → metrics rows), under ``title`` (None: one run's name, as its other figures
    have; "": none); solid = train, dashed = val, dotted = test-set tracking
    (``train.track_test``: scored for the curves only, never for selection). ``best``: name → the epoch of
    the run's best.pt, marked by a vertical line (:data:`BEST_LINE`) that the legend names.
    Rows with ``<key>_std`` (:func:`mean_history` of seeds) get a band of ± 1 std around the mean (a bar
    at a curve of one epoch); the epochs past where some of a row's seeds stopped (early stopping, not a
    row lost from a file: :func:`fewer_seeds`) are faded, a legend entry says so.
    ``steps``: name → steps.jsonl rows (``train.log_every``), drawn faintly under the loss curves.
    A curve of one point is drawn as its kind's marker (:data:`POINT_MARKERS`: train ●, val ■).
    ``first_colour``: the first run's place in the palette (:func:`run_style`), the next runs' after it
    (a run drawn alone takes the colour it has among others: its row's in a report's curves.png)."""
    pacc = any(
        r.get(k) is not None for rows in histories.values() for r in rows for k, *_ in PACC_CURVES
    )
    curves = CURVES + PACC_CURVES if pacc else CURVES
    fig = NotebookFigure(figsize=(15, 4) if pacc else (11, 4), layout="constrained")
    axes = fig.subplots(1, 3 if pacc else 2)
    points = False  # some curve is a single point
    best = {n: e for n, e in (best or {}).items() if n in histories and e is not None}
    for i, (name, rows) in enumerate(histories.items()):
        color, marker, _ = run_style(first_colour + i)  # the line style says the split
        for key, panel, style, word in curves:
            label = f"{literal(name)} {word}" if len(histories) > 1 else word
            line = dict(ls=style, color=color, marker=marker, label=label)
            points |= _draw_curve(axes[panel], rows, key, line) == 1
        if steps and steps.get(name):
            label = "" if len(histories) == 1 else f"{literal(name)} steps"
            draw_step_losses(axes[0], steps[name], color, label)
        for ax in axes if name in best else ():
            ax.axvline(best[name], color=color, **BEST_LINE)
    label_epoch_axes(axes, {r["epoch"] for rows in histories.values() for r in rows})
    _curves_legend(axes, histories, steps, points, best)
    title = next(iter(histories)) if title is None and len(histories) == 1 else title
    if title:
        fig.suptitle(literal(title))
    return fig


def _curves_legend(
    axes, histories: dict[str, list[dict]], steps: dict | None, points: bool, best: dict[str, int]
) -> None:
    """:func:`curves_figure`'s legend, right of its last panel (under the panels where a page's width
    leaves it no room: ``style.fit_to_page``): one entry per run (several) and per kind of line drawn
    (``points``: some curve is one point, drawn as its kind's marker), a run whose curves another's
    line hides saying so (:func:`~vislab.plotting.curves_same.run_labels`)."""
    drawn = {s for ax in axes for s in (line.get_linestyle() for line in ax.lines)}
    styles = [
        dict(linestyle=s, label=w, marker=POINT_MARKERS[s] if points else "")
        for _, p, s, w in CURVES
        if p == 0 and s in drawn
    ]
    if steps and any(steps.values()):
        styles.append(dict(linestyle="-", lw=0.7, alpha=0.35, label="train (steps)"))
    if any(k.endswith("_std") for rows in histories.values() for r in rows for k in r):
        styles.append(dict(linestyle="-", lw=5, alpha=0.25, label="± 1 std (seeds)"))
    if any(fewer_seeds(r) for rows in histories.values() for r in rows):
        styles.append(dict(linestyle="-", alpha=FEWER_ALPHA, label=FEWER_WORDS))
    if best:  # one run: its epoch; several: each run's line in its colour
        said = (
            f"best.pt (epoch {next(iter(best.values()))})"
            if len(histories) == 1
            else "best.pt's epoch"
        )
        styles.append(dict(BEST_LINE, label=said))
    # one legend entry per run and per kind of line, beside the panels rather than over the curves
    if styles:
        keys = [key for key, *_ in CURVES + PACC_CURVES]
        legend_outside(axes[-1], run_labels(histories, keys) if len(histories) > 1 else [], styles)


def label_epoch_axes(axes: Iterable[Axes], epochs: set[int]) -> None:
    """The loss and accuracy panels' axes (a run's, a sweep's trials'; a run's per-class accuracy too,
    :data:`PANELS`), called once their curves are drawn: whole epochs (``epochs``, those drawn), labels,
    a grid, a near-flat curve drawn flat (:func:`~vislab.plotting.spans.keep_span`)."""
    for ax, label in zip(axes, PANELS):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        if len(epochs) == 1:  # one epoch: its tick alone (the locator would invent fractions)
            ax.set_xticks(sorted(epochs))
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        keep_span(ax)


def _draw_curve(ax, rows: list[dict], key: str, line: dict) -> int:
    """One curve of ``rows`` on ``ax`` (``line``: its plot options), and its ± std band when rows have one;
    the number of points drawn (one: drawn as its kind's marker, :data:`POINT_MARKERS`, its band a bar of
    ± 1 std). A seed mean's
    epochs that fewer of its seeds reached (:func:`fewer_seeds`) are drawn faded (:data:`FEWER_ALPHA`)."""
    pts = [
        (r["epoch"], r[key], r.get(f"{key}_std"), fewer_seeds(r))
        for r in rows
        if r.get(key) is not None
    ]
    if not pts:
        return 0
    if len(pts) == 1:
        line.update(marker=POINT_MARKERS[line["ls"]], markersize=7)
    epochs, mean, std, fewer = zip(*pts)
    style, color = line.pop("ls"), line["color"]
    mean = np.array(mean, dtype=float)
    spread = np.array([np.nan if s is None else s for s in std], dtype=float)  # NaN: no band there
    if len(pts) == 1 and np.isfinite(spread).all():  # a band of one epoch has no width: a bar
        alpha = 0.5 * (FEWER_ALPHA if fewer[0] else 1)
        ax.vlines(epochs, mean - spread, mean + spread, color=color, alpha=alpha, lw=5)
        spread = np.full(1, np.nan)
    if any(fewer):  # the whole curve faded, then the epochs every seed reached drawn over it
        ax.plot(epochs, mean, style, **dict(line, label=f"_{line['label']}", alpha=FEWER_ALPHA))
        ax.fill_between(
            epochs, mean - spread, mean + spread, color=color, alpha=0.2 * FEWER_ALPHA, lw=0
        )
        mean = np.where(fewer, np.nan, mean)
    ax.plot(epochs, mean, style, **line)
    if np.isfinite(mean - spread).any():
        ax.fill_between(epochs, mean - spread, mean + spread, color=color, alpha=0.2, lw=0)
    return len(pts)


def fewer_seeds(row: dict) -> bool:
    """Whether a :func:`mean_history` row is past the epoch where some of its seeds stopped: the mean of
    fewer seeds than its curve's others (``reached``; a row without it: ``seeds``, those with its row)."""
    return row.get("reached", row.get("seeds", 0)) < row.get("of", 0)


def plot_curves(
    history: list[dict],
    path: Path,
    title: str = "",
    steps: list[dict] | None = None,
    colour: int = 0,
    best_epoch: int | None = None,
) -> Path:
    """Train vs val (and tracked test) loss, accuracy and per-class accuracy per epoch (one run), the step
    losses under them, ``best_epoch`` (best.pt's) marked, titled ``title`` (the run's name; "": no title);
    ``colour``: the run's place in the palette (:func:`curves_figure`'s ``first_colour``)."""
    name = title or "run"
    figure = curves_figure({name: history}, {name: steps or []}, colour, {name: best_epoch}, title)
    return save_figure(figure, path)


def plot_curves_overlay(histories: dict[str, list[dict]], path: Path) -> Path:
    """Loss and accuracy (and per-class accuracy, where recorded) curves of runs (:func:`curves_figure`,
    untitled: a caption names them); solid = train, dashed = val, dotted = tracked test."""
    return save_figure(curves_figure(histories, title=""), path)


def confusion_figure(
    confusion: np.ndarray, class_names: list[str], title: str = "", normalize: bool = False
) -> Figure:
    """Confusion matrix (rows = true, columns = predicted) with each cell's count, or with ``normalize``
    each row's share (rows sum to 1; a class with no sample: a blank row, as the title says). The shade
    is the row's share either way, so classes of different sizes compare (the diagonal's: each class's
    recall), as the title says; each cell gets :data:`CELL_IN` inches, room for its number at
    :data:`CELL_PT` points (up to 20 classes; more draw no numbers) and for rotated class names that do
    not overlap (drawn smaller, for a page, every n-th name: :func:`~vislab.plotting.style.name_ticks`)."""
    k = len(class_names)
    cm = np.asarray(confusion, dtype=float)
    label = (
        max((len(n) for n in class_names), default=1) * 0.6 * CELL_PT / 72
    )  # the longest name, inches
    side = max(3.0, CELL_IN * k)
    fig = NotebookFigure(figsize=(side + 0.7 * label + 1.0, side + 0.7 * label + 1.0))
    ax = fig.subplots()
    ax.imshow(row_shares(cm), cmap="Blues", vmin=0, vmax=1)  # a row with no sample: blank
    names = [literal(n) for n in class_names]
    name_ticks(ax.xaxis, names, SLANTED_PITCH * CELL_PT)
    name_ticks(ax.yaxis, names, LEVEL_PITCH * CELL_PT)
    ax.tick_params(labelsize=CELL_PT)
    ax.tick_params(axis="x", labelrotation=45, labelrotation_mode="xtick")  # ends at its tick
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= 20:
        draw_cells(ax, cm, normalize, CELL_PT)
    shares = f"share of each true class{empty_rows(cm, class_names)}"
    what = shares if normalize else f"counts; shade: {SHADE_WORDS}"
    # wrapped at the figure's width: the words on the shade outgrow a matrix of two or three classes
    ax.set_title(f"{literal(title or 'confusion matrix')} ({what})", wrap=True)
    fig.tight_layout()
    return fig


def plot_confusion(
    confusion: np.ndarray,
    class_names: list[str],
    path: Path,
    title: str = "",
    normalize: bool = False,
) -> Path:
    """:func:`confusion_figure` as a PNG: counts, or with ``normalize`` each true class's shares."""
    return save_figure(confusion_figure(confusion, class_names, title, normalize), path)


def per_class_figure(
    per_class: list[float | None],
    class_names: list[str],
    title: str = "",
    std: list[float] | None = None,
    seeds: list[int] | None = None,
    of: int = 0,
) -> Figure:
    """Accuracy (recall) of each class as bars; ``std`` (e.g. over seeds, when ``per_class`` is their
    mean): an error bar of ± 1 std on each bar, cut at 0 and 1 (NaN: none), the x label saying so. A
    class the split holds no image of (its value None or NaN) gets no bar but the words
    :data:`NO_SAMPLES` upright at its place, not an empty slot. Past the names that fit, every n-th is
    named (:func:`~vislab.plotting.style.name_ticks`).
    ``seeds``: how many of the ``of`` seeds (default: the most) hold each class in their test split; a
    bar of fewer is faded (:data:`FEWER_ALPHA`) and says upright how many ("1 of 2 seeds").
    Laid out by :func:`_place_bars`, at its own width and again at a page's (``fit_to_page``)."""
    fig = NotebookFigure()
    ax = fig.add_axes((0.1, 0.1, 0.8, 0.8))
    values = np.array([np.nan if v is None else v for v in per_class], dtype=float)
    errors = None
    if std is not None:  # ± 1 std, cut at 0 and 1: an accuracy lies between
        spread, mean = np.nan_to_num(np.asarray(std, dtype=float)), np.nan_to_num(values)
        errors = np.stack([np.minimum(spread, mean), np.minimum(spread, 1 - mean)])
    bars = ax.bar(range(len(values)), np.nan_to_num(values), yerr=errors, capsize=3, color="C0")
    for i in np.flatnonzero(np.isnan(values)):
        ax.text(i, 0.02, NO_SAMPLES, rotation=90, ha="center", va="bottom", fontsize=8, color="0.4")
    of = of or max(seeds or [0])
    for i, n in enumerate(seeds or []):
        if 0 < n < of and not np.isnan(values[i]):
            bars[i].set_alpha(FEWER_ALPHA)
            words = f"{n} of {of} seeds"
            ax.text(i, 0.02, words, rotation=90, ha="center", va="bottom", fontsize=8, color="0.2")
    names = [literal(n) for n in class_names]
    name_ticks(ax.xaxis, names, SLANTED_PITCH * 8)
    ax.tick_params(axis="x", labelsize=8, labelrotation=45, labelrotation_mode="xtick")
    ax.set_ylim(0, 1)
    ax.set_xlabel("class" if std is None else "class (whiskers: ± 1 std, within 0–1)")
    ax.set_ylabel("class accuracy (recall)")
    ax.set_title(literal(title or "per-class accuracy"))
    fig.set_layout_engine(ReflowLayout(_place_bars))
    _place_bars(fig, max(5, 0.5 * len(class_names) + 2))
    return fig


def _place_bars(fig: Figure, width: float) -> None:
    """Size the per-class figure ``width`` inches wide and as tall as its texts need around bars
    :data:`BARS_IN` high (slanted class names, however long, below them), and place its axes: the
    texts' reach is measured, the axes placed for it, and again (fewer names fit a narrower axis)."""
    ax = fig.axes[0]
    height = float(np.clip(0.3 * width, *BARS_IN))
    reach = (0.8, 1.0, 0.2, 0.4)  # left, bottom, right, top: a first guess
    for _ in range(3):
        left, bottom, right, top = (r + MARGIN_PAD_IN for r in reach)
        tall = bottom + height + top
        fig.set_size_inches(width, tall)
        wide = max(width - left - right, 0.5)
        ax.set_position((left / width, bottom / tall, wide / width, height / tall))
        reach = _reach(fig, ax)


def _reach(fig: Figure, ax) -> tuple[float, float, float, float]:
    """How far, in inches, the texts of ``ax`` reach past it: left and right its axes' ticks and labels
    (a title wider than the axes is centred over it, not a reason to narrow it), below and above all
    of them (title, notes); 0 where none does."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.transforms import Bbox

    own = fig.canvas
    try:
        renderer = FigureCanvasAgg(fig).get_renderer()
        box, drawn = ax.get_window_extent(renderer), ax.get_tightbbox(renderer)
        side = Bbox.union([box, *(a.get_tightbbox(renderer) for a in (ax.xaxis, ax.yaxis))])
    finally:
        fig.set_canvas(own)
    gaps = (box.x0 - side.x0, box.y0 - drawn.y0, side.x1 - box.x1, drawn.y1 - box.y1)
    return tuple(max(float(g), 0.0) / fig.dpi for g in gaps)  # type: ignore[return-value]


def plot_per_class(
    per_class: list[float | None],
    class_names: list[str],
    path: Path,
    title: str = "",
    std: list[float] | None = None,
    seeds: list[int] | None = None,
    of: int = 0,
) -> Path:
    """Accuracy (recall) of each class as bars, as a PNG (``std``: ± 1 std error bars; ``seeds``: how many
    of the ``of`` seeds hold each class, :func:`per_class_figure`)."""
    return save_figure(per_class_figure(per_class, class_names, title, std, seeds, of), path)
