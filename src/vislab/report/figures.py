"""Matplotlib figures written as PNGs: curves, confusion matrix, per-class bars, ROC."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def _save(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_curves(history: list[dict], path: Path, title: str = "") -> Path:
    """Train vs val loss and accuracy per epoch (one run)."""
    return plot_curves_overlay({title or "run": history}, path)


def plot_curves_overlay(histories: dict[str, list[dict]], path: Path) -> Path:
    """Loss and accuracy curves of several runs; solid = train, dashed = val."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for i, (name, rows) in enumerate(histories.items()):
        color = f"C{i % 10}"
        ep = [r["epoch"] for r in rows]
        for key, ax, style in (
            ("train_loss", ax_loss, "-"),
            ("val_loss", ax_loss, "--"),
            ("train_acc", ax_acc, "-"),
            ("val_acc", ax_acc, "--"),
        ):
            pts = [(e, r[key]) for e, r in zip(ep, rows) if r.get(key) is not None]
            if pts:
                ax.plot(
                    *zip(*pts),
                    style,
                    color=color,
                    marker=".",
                    label=f"{name} {key.split('_')[0]}"
                    if len(histories) > 1
                    else key.split("_")[0],
                )
    for ax, label in ((ax_loss, "loss"), (ax_acc, "accuracy")):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _save(fig, path)


def plot_confusion(
    confusion: np.ndarray, class_names: list[str], path: Path, title: str = ""
) -> Path:
    """Row-normalised confusion matrix with counts."""
    k = len(class_names)
    cm = np.asarray(confusion, dtype=float)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    size = max(4.0, 0.5 * k + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), class_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= 20:
        for i in range(k):
            for j in range(k):
                ax.text(
                    j,
                    i,
                    int(cm[i, j]),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black",
                )
    ax.set_title(title or "confusion matrix")
    return _save(fig, path)


def plot_per_class(
    per_class: list[float], class_names: list[str], path: Path, title: str = ""
) -> Path:
    fig, ax = plt.subplots(figsize=(max(5, 0.5 * len(class_names) + 2), 3.5))
    ax.bar(range(len(per_class)), np.nan_to_num(per_class), color="C0")
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("class accuracy (recall)")
    ax.set_title(title or "per-class accuracy")
    return _save(fig, path)


def plot_roc(
    roc: dict[int, tuple[np.ndarray, np.ndarray]],
    class_names: list[str],
    path: Path,
    title: str = "",
) -> Path:
    """One-vs-rest ROC curves, one per class."""
    from sklearn.metrics import auc

    fig, ax = plt.subplots(figsize=(5, 5))
    for k, (fpr, tpr) in sorted(roc.items()):
        ax.plot(fpr, tpr, label=f"{class_names[k]} (AUC {auc(fpr, tpr):.3f})", lw=1)
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(fontsize=6)
    ax.set_title(title or "ROC (one vs rest)")
    return _save(fig, path)


def plot_image_grid(
    rows: list[np.ndarray],
    path: Path,
    row_titles: list[str] | None = None,
    labels: list[str] | None = None,
) -> Path:
    """Grid of uint8 N×H×W×C images, one row per array (e.g. originals vs augmented); ``labels`` (e.g. class
    names) are written under the images of every row."""
    n = max(len(r) for r in rows)
    fig, axes = plt.subplots(
        len(rows), n, figsize=(n * 1.1, len(rows) * (1.45 if labels else 1.2)), squeeze=False
    )
    for i, imgs in enumerate(rows):
        for j in range(n):
            ax = axes[i][j]
            ax.axis("off")
            if j < len(imgs):
                img = imgs[j]
                ax.imshow(
                    img[..., 0] if img.shape[-1] == 1 else img,
                    cmap="gray" if img.shape[-1] == 1 else None,
                    vmin=0,
                    vmax=255,
                )
                if labels and j < len(labels):
                    ax.text(
                        0.5,
                        -0.04,
                        labels[j],
                        transform=ax.transAxes,
                        ha="center",
                        va="top",
                        fontsize=6,
                    )
        if row_titles:
            axes[i][0].set_title(row_titles[i], fontsize=8, loc="left")
    return _save(fig, path)


def plot_feature_scatter(
    x: np.ndarray, y: np.ndarray, class_names: list[str], path: Path, title: str = ""
) -> Path:
    """2-D feature data (e.g. `circles`) coloured by class; higher dimensions show their first two features."""
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for k, name in enumerate(class_names):
        pts = x[y == k]
        ax.scatter(
            pts[:, 0],
            pts[:, 1] if x.shape[1] > 1 else np.zeros(len(pts)),
            s=8,
            label=name,
            alpha=0.7,
        )
    ax.set_xlabel("feature 0")
    ax.set_ylabel("feature 1")
    ax.legend(fontsize=7)
    ax.set_title(title or "samples")
    return _save(fig, path)


def plot_bars(values: dict[str, float], path: Path, title: str = "", xlabel: str = "") -> Path:
    """Horizontal bars, largest on top (e.g. Optuna parameter importances)."""
    items = sorted(values.items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(items) + 1.2))
    ax.barh([k for k, _ in items], [v for _, v in items], color="C0")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


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
    names = list(axes)
    cols = [*names, metric]
    ticks: dict[str, tuple[list[float], list[str]]] = {}

    def scaled(name: str, column: list) -> np.ndarray:
        spec = axes.get(name, {})
        if "choices" in spec:
            choices = [str(c) for c in spec["choices"]]
            pos = np.linspace(0, 1, len(choices)) if len(choices) > 1 else np.array([0.5])
            ticks[name] = (list(pos), choices)
            return np.array(
                [pos[choices.index(str(v))] if str(v) in choices else np.nan for v in column]
            )
        v = np.array([np.nan if c is None else float(c) for c in column])
        t = np.log10(v) if spec.get("log") else v
        lo, hi = np.nanmin(t), np.nanmax(t)
        span = hi - lo if hi > lo else 1.0
        raw = np.linspace(lo, hi, 4) if hi > lo else np.array([lo])
        ticks[name] = (
            list((raw - lo) / span if hi > lo else [0.5]),
            [f"{10**r:.3g}" if spec.get("log") else f"{r:.3g}" for r in raw],
        )
        return (t - lo) / span if hi > lo else np.full(len(t), 0.5)

    data = np.stack(
        [scaled(n, [p.get(n) for p in params]) for n in names] + [scaled(metric, values)], axis=1
    )
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(cols)), 4.5))
    vals = np.asarray(values, dtype=float)
    norm = matplotlib.colors.Normalize(
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
    for j, name in enumerate(cols):
        ax.axvline(j, color="k", lw=0.8)
        for pos, label in zip(*ticks[name]):
            ax.text(j + 0.03, pos, label, fontsize=7, va="center")
    ax.set_xticks(range(len(cols)), cols, rotation=20, ha="right", fontsize=8)
    ax.set_yticks([])
    ax.set_xlim(-0.2, len(cols) - 0.6)
    ax.set_ylim(-0.05, 1.05)
    fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=metric)
    ax.set_title("parallel coordinates (one line per trial)")
    return _save(fig, path)


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
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_image_mosaic(
    rows: list[np.ndarray], path: Path, row_titles: list[str] | None = None, scale: float = 0.45
) -> Path:
    """Like plot_image_grid, drawn as one picture (one axes): fast for the report's sample grids."""
    n = max(len(r) for r in rows)
    h, w, c = rows[0].shape[1:]
    pad = max(1, h // 16)
    canvas = np.full((len(rows) * (h + pad) + pad, n * (w + pad) + pad, c), 255, dtype=np.uint8)
    for i, imgs in enumerate(rows):
        for j, img in enumerate(imgs):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            canvas[y : y + h, x : x + w] = img
    inches = (
        max(4.0, min(12.0, canvas.shape[1] * scale / 10)),
        max(1.0, canvas.shape[0] * scale / 10 + 0.2),
    )
    fig, ax = plt.subplots(figsize=inches)
    ax.imshow(
        canvas[..., 0] if c == 1 else canvas,
        cmap="gray" if c == 1 else None,
        vmin=0,
        vmax=255,
        interpolation="nearest",
    )
    ax.axis("off")
    for i, title in enumerate(row_titles or []):
        ax.text(-pad, pad + i * (h + pad) + h / 2, title, ha="right", va="center", fontsize=8)
    return _save(fig, path)
