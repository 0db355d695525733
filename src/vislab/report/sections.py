"""The figure sections of a report: training curves, data previews, per-run test figures, the sweep's."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from pathlib import Path

import numpy as np
import torch

from vislab.config import AugmentConfig, Config, DataConfig
from vislab.data.augment_words import describe_augment
from vislab.data.types import ArraySet, Splits
from vislab.plotting.canvas import draw_once
from vislab.plotting.images import plot_feature_scatter, plot_image_mosaic
from vislab.plotting.roc import plot_roc
from vislab.plotting.runs import (
    PACC_CURVES,
    drawn_runs,
    fewer_seeds,
    mean_history,
    plot_confusion,
    plot_curves_overlay,
    plot_per_class,
)
from vislab.report.figure_set import FigureSet, unique_names, wide
from vislab.report.previews import augmentation_preview
from vislab.report.run_files import RunFiles
from vislab.report.tracking import tracking_figures
from vislab.training.metrics import Metrics, compute_metrics
from vislab.training.roc import micro_roc
from vislab.training.rundir import SavedPredictions
from vislab.training.scoring import CONFUSION_PNG
from vislab.training.summary import RunSummary
from vislab.words import and_list

MAX_PREVIEWS = 6  # augmentation previews per report


def saved_predictions(
    files: RunFiles, run_dir: Path, summary: RunSummary
) -> tuple[SavedPredictions, list[str]] | None:
    """A run's saved test probabilities (N×K), labels and class names (predictions_test.npz and its
    summary), or None when it saved none. A damaged file: UserError naming it and its fix (each figure
    it leaves out is said on the terminal too: ``report.build.say_undrawn``). The file is read once per
    build (``files``: the build's)."""
    saved = files.predictions(run_dir)
    if saved is None:
        return None
    names = list(summary.test_per_class or {}) or [str(i) for i in range(saved.probs.shape[1])]
    return saved, names


def scored(probs: np.ndarray, labels: np.ndarray, with_roc: bool = False) -> Metrics:
    """The metrics of saved test probabilities (their logarithms as the logits)."""
    return compute_metrics(
        torch.log(torch.from_numpy(probs).float().clamp_min(1e-12)),
        torch.from_numpy(labels),
        probs.shape[1],
        with_roc=with_roc,
    )


def run_figures(
    figs: FigureSet, name: str, run_dir: Path, summary: RunSummary, cfg: Config | None
) -> list[dict]:
    """The step losses, learning rate and gradient norms when tracked (``report/tracking.py``); the test
    confusion matrix, per-class accuracy bars and ROC curves from predictions_test.npz."""
    tracked = tracking_figures(figs, name, run_dir, cfg, summary)
    saved = saved_predictions(figs.files, run_dir, summary)
    if saved is None:
        return tracked
    predictions, names = saved
    probs, labels = predictions.probs, predictions.labels
    m = scored(probs, labels, with_roc=True)
    s = figs.file_part(name)
    out = [
        wide(  # its numbers are drawn at 8 pt: shown at its own size, on a row of its own
            figs.make(
                f"confusion_{s}.png",
                f"{name}: test confusion matrix (counts; shade: the share of each true class)",
                draw_once,  # the run's own confusion_test.png where it is this picture
                plot_confusion,
                m.confusion,
                names,
                title=f"{name}: test",
                drawn=run_dir / "figures" / CONFUSION_PNG,
            )
        ),
        figs.make(
            f"per_class_{s}.png",
            f"{name}: test accuracy per class",
            plot_per_class,
            m.per_class,
            names,
            title=f"{name}: per-class accuracy (test)",
        ),
        figs.make(
            f"roc_{s}.png",
            f"{name}: ROC curves, one vs rest (test)",
            plot_roc,
            m.roc,
            names,
            title=f"{name}: ROC (test)",
            micro=micro_roc(labels, probs) if len(names) > 1 else None,
        ),
    ]
    return tracked + [f for f in out if f]


def data_figures(figs: FigureSet, configs: dict[str, Config]) -> list[dict]:
    """A sample grid per dataset and an augmentation preview per distinct augmentation (first runs first)."""
    out: list[dict] = []
    splits_cache: dict[str, Splits | None] = {}
    sharing = _runs_by_augmentation(configs)
    previewed: list[str] = []
    for name, cfg in configs.items():
        dkey = _data_key(cfg.data)
        if dkey not in splits_cache:
            splits_cache[dkey] = _load_for_preview(figs, name, cfg)
            if splits_cache[dkey] is None:
                continue
            fig = _sample_figure(figs, _data_said(cfg.data), splits_cache[dkey], len(splits_cache))
            out += [fig] if fig else []
        splits, akey = splits_cache[dkey], _augment_key(cfg)
        if splits is None or not splits.train.is_image or akey not in sharing or akey in previewed:
            continue
        previewed.append(akey)
        if len(previewed) <= MAX_PREVIEWS:
            fig = _augment_figure(figs, len(previewed), sharing[akey], cfg.augment, splits)
            out += [fig] if fig else []
    return out


def _data_said(data: DataConfig) -> str:
    """The data as a figure's title names it: its name, and a folder dataset's folder ("folder longds")."""
    return f"folder {Path(data.root).name}" if data.name == "folder" else data.name


def _augment_key(cfg: Config) -> str | None:
    """What decides a run's augmentation preview (its data and augmentation); None without augmentation."""
    return _data_key(cfg.data) + cfg.augment.model_dump_json() if _augments(cfg.augment) else None


def _runs_by_augmentation(configs: dict[str, Config]) -> dict[str, list[str]]:
    """Augmentation key → the runs that share it (the runs one preview's caption names)."""
    sharing: dict[str, list[str]] = {}
    for name, cfg in configs.items():
        akey = _augment_key(cfg)
        if akey is not None:
            sharing.setdefault(akey, []).append(name)
    return sharing


def _augment_figure(
    figs: FigureSet, i: int, runs: list[str], aug: AugmentConfig, splits: Splits
) -> dict | None:
    """The ``i``-th augmentation preview: training images, then three augmented copies of them."""
    what = describe_augment(aug)
    mixed = " (then mixed with the image to their left: mixup/cutmix)" if "mix" in what else ""
    caption = (
        f"augmentation of run(s) {', '.join(runs)} ({what}): originals, then augmented "
        f"copies{mixed}"
    )
    return figs.make(
        f"augment_{i}.png", caption, _augment_mosaic, splits.train, aug, splits.class_names
    )


def _augment_mosaic(
    train: ArraySet, aug: AugmentConfig, class_names: list[str], path: Path
) -> Path:
    """Ten training images (one per class first) and three augmented copies of them, as one picture,
    each image labelled with its class (a mixed one: both, with their shares)."""
    p = augmentation_preview(train, aug, n=10, copies=3, seed=0, class_names=class_names)
    return plot_image_mosaic(p.rows, row_titles=p.titles, labels=p.labels, path=path)


def _data_key(data: DataConfig) -> str:
    """What decides a run's data (not where it lives, how it is normalised, or the seed that splits it):
    runs that share it share one sample grid (the seeds of a suite's run show one)."""
    return json.dumps(
        data.model_dump(
            mode="json", exclude={"device", "download", "root", "normalize", "zca_epsilon"}
        ),
        sort_keys=True,
    )


def _load_for_preview(figs: FigureSet, name: str, cfg: Config) -> Splits | None:
    """The run's splits, or None (and a note) when its data cannot be loaded here."""
    try:
        return figs.splits(cfg)
    except Exception as e:
        figs.notes.append(f"data of run {name} ({cfg.data.name}): not loaded for the preview ({e})")
        return None


def _sample_figure(figs: FigureSet, data_name: str, splits: Splits, i: int) -> dict | None:
    """Training samples of dataset ``data_name``: images (one per class first), or a scatter of feature data."""
    if splits.train.is_image:
        p = augmentation_preview(
            splits.train, AugmentConfig(), n=12, copies=0, class_names=splits.class_names
        )
        return figs.make(
            f"samples_{i}.png",
            f"{data_name}: training samples, each labelled with its class (one per class first)",
            plot_image_mosaic,
            p.rows,
            row_titles=[data_name],
            labels=p.labels,
        )
    return figs.make(
        f"samples_{i}.png",
        f"{data_name}: training samples",
        plot_feature_scatter,
        splits.train.x,
        splits.train.y,
        splits.class_names,
        title=data_name,
    )


def _augments(aug: AugmentConfig) -> bool:
    return describe_augment(aug) != ""


def _data_note(
    shown: Collection[str], data: Mapping[str, str], rows: Mapping[str, list[str]]
) -> str:
    """``; on different data: a and b on digits, c on circles`` where the curves ``shown`` (runs, or
    ``rows`` of seeds: a row's data is its runs') are of more than one dataset (``data``: run → its
    data); "" otherwise."""
    of = {n: next((data[r] for r in rows.get(n, [n]) if r in data), None) for n in shown}
    by_data: dict[str, list[str]] = {}
    for n, d in of.items():
        if d is not None:
            by_data.setdefault(d, []).append(n)
    if len(by_data) < 2:
        return ""
    return "; on different data: " + ", ".join(
        f"{and_list(names)} on {d}" for d, names in by_data.items()
    )


def curve_figures(
    figs: FigureSet,
    histories: dict[str, list[dict]],
    groups: dict[str, list[str]],
    rows: dict[str, list[str]] | None = None,
    lost: Collection[str] = (),
    name: str = "curves.png",
    data: Mapping[str, str] | None = None,
) -> list[dict]:
    """Loss and accuracy (and per-class accuracy: :func:`_panels`) of every trained run in one figure
    (file ``name``), and one figure per group of runs; ``data`` (run → its data): different data said
    (:func:`_data_note`). ``rows`` (seeds: row → its runs): a curve per row, the mean of its runs with a
    band of ± 1 std, faded where fewer of them have a row for the epoch (the caption says which and why:
    :func:`fewer_note`; ``lost``: the runs whose metrics.jsonl lost a row, cut short)."""
    out = []
    counts = _seed_counts(rows, histories) if rows else ""
    band = f"; each curve the mean over {counts}, band ± 1 std" if counts else ""
    if counts == "1 seed":  # --only one seed of each row: its curve is that run's
        band = "; each curve a row's one seed run"
    if rows:
        cut = {r: [n for n in names if n in lost] for r, names in rows.items()}
        histories = seed_histories(histories, rows, lost)
        band += fewer_note(histories, cut)
    trained = drawn_runs(histories)
    figs.colours.update((name, i) for i, name in enumerate(trained))  # a run's colour everywhere
    tracking = _test_tracking(trained)
    if trained:
        out.append(
            figs.make(
                name,
                f"{_panels(trained)} of {len(trained)} run{'s' if len(trained) != 1 else ''}"
                f"{tracking}{band}{_data_note(trained, data or {}, rows or {})}",
                plot_curves_overlay,
                trained,
            )
        )
    parts = unique_names(groups or {})
    for group, members in (groups or {}).items():
        sub = {m: trained[m] for m in members if m in trained}
        if len(sub) > 1 and sub.keys() != trained.keys():  # a group of every run: curves.png
            out.append(
                figs.make(
                    f"curves_{parts[group]}.png",
                    f"group '{group}': {', '.join(sub)}{_test_tracking(sub)}{band}",
                    plot_curves_overlay,
                    sub,
                )
            )
    return [f for f in out if f]


def _panels(histories: dict[str, list[dict]]) -> str:
    """The caption's words for the panels of the curves' figure: per-class accuracy too where a run's
    rows have it (:data:`~vislab.plotting.runs.PACC_CURVES`)."""
    keys = [k for k, *_ in PACC_CURVES]
    pacc = any(r.get(k) is not None for h in histories.values() for r in h for k in keys)
    return "loss, accuracy and per-class accuracy" if pacc else "loss and accuracy"


def _test_tracking(histories: dict[str, list[dict]]) -> str:
    """The caption's words for dotted test curves: only when a run tracked the test set
    (``train.track_test``: scored every epoch for the curves, never to choose the model)."""
    if not any(r.get("test_acc") is not None for h in histories.values() for r in h):
        return ""
    return "; dotted: the test set (train.track_test: drawn only, never used to choose the model)"


def seed_histories(
    histories: dict[str, list[dict]], rows: dict[str, list[str]], lost: Collection[str] = ()
) -> dict[str, list[dict]]:
    """Row → the mean history of its runs' histories (:func:`~vislab.plotting.runs.mean_history`);
    ``lost``: the runs whose metrics.jsonl lost its last row (cut short): they ran one epoch past their
    last row, so that epoch is not faded as one they stopped before."""
    out = {}
    for row, names in rows.items():
        found = [n for n in names if histories.get(n)]
        ran = [histories[n][-1]["epoch"] + 1 if n in lost else None for n in found]
        if found:
            out[row] = mean_history([histories[n] for n in found], ran)
    return out


def fewer_note(means: dict[str, list[dict]], cut: dict[str, list[str]] | None = None) -> str:
    """The caption's words for the faded epochs of seed means (:func:`~vislab.plotting.runs.mean_history`
    rows): which row's epochs average fewer of its seeds, how many, and why ('' when every seed has every
    epoch), e.g. '; faded: the epochs some seeds did not reach (they stopped early), the mean of those
    that did: cnn 2 of 3 seeds at epochs 4–5'. ``cut``: row → its seeds whose metrics.jsonl lost its last
    row (cut short): their row's words say so, not early stopping."""
    said, lost = [], []  # lost: per row with faded epochs, whether a seed lost its row
    for row, rows in means.items():
        spans: list[list] = []  # [first epoch, last epoch, seeds, of]
        for r in (r for r in rows if fewer_seeds(r)):
            if spans and spans[-1][2:] == [r["seeds"], r["of"]] and spans[-1][1] + 1 == r["epoch"]:
                spans[-1][1] = r["epoch"]
            else:
                spans.append([r["epoch"], r["epoch"], r["seeds"], r["of"]])
        why = (cut or {}).get(row) if spans else None
        lost += [bool(why)] if spans else []
        said += [
            f"{row} {n} of {of} seeds at {_epochs(a, b)}"
            + (f" ({and_list(why)}: its metrics.jsonl cut short, a row lost)" if why else "")
            for a, b, n, of in spans
        ]
    if not said:
        return ""
    if any(lost):
        why = "their metrics.jsonl lost it" if all(lost) else "they stopped early, or lost it"
        return (
            f"; faded: the epochs some seeds have no row for ({why}), the mean of those that have: "
            + ", ".join(said)
        )
    return (
        "; faded: the epochs some seeds did not reach (they stopped early), the mean of those that did: "
        + ", ".join(said)
    )


def _epochs(first: int, last: int) -> str:
    return f"epoch {first}" if first == last else f"epochs {first}–{last}"


def _seed_counts(rows: dict[str, list[str]], histories: dict[str, list[dict]]) -> str:
    """'3 seeds' (the runs with curves of every row), or '2–3 seeds' when rows have different numbers."""
    found = {sum(1 for n in names if histories.get(n)) for names in rows.values()} - {0}
    low, high = min(found, default=0), max(found, default=0)
    return f"{low} seed{'s' if high > 1 else ''}" if low == high else f"{low}–{high} seeds"
