"""``vislab report DIR``: one self-contained report.html (plus the same figures as PNGs in DIR/figures/)
for a run, a suite, a sweep, or any folder of runs."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import yaml

from vislab import __version__
from vislab.errors import UserError
from vislab.experiments.table import COLUMNS, table_rows
from vislab.train.checkpoint import atomic_write_text
from vislab.train.rundir import RunDir

MAX_DETAILED_TRIALS = 3  # sweeps: per-run figures for the best few trials only
MAX_CURVES = (
    12  # sweeps: training curves of the best trials (report 003 fig. 3 compares the best ones)
)
MAX_PREVIEWS = 6


def discover(folder: Path) -> tuple[str, dict[str, Path], dict]:
    """(kind, {run name: run dir}, info): kind is run | suite | sweep | folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"'{folder}' is not a folder: give a run, suite or sweep directory.")
    if (folder / "summary.json").is_file() or (folder / "checkpoints").is_dir():
        return "run", {folder.name: folder}, {}
    if (folder / "sweep.json").is_file():
        trials = folder / "trials"
        dirs = (
            sorted(
                (p for p in trials.iterdir() if p.is_dir() and p.name.isdigit()),
                key=lambda p: int(p.name),
            )
            if trials.is_dir()
            else []
        )
        return (
            "sweep",
            {f"trial-{p.name}": p for p in dirs},
            json.loads((folder / "sweep.json").read_text()),
        )
    if (folder / "suite.json").is_file():
        from vislab.experiments.runner import SuiteState

        state = SuiteState.read(folder)
        return (
            "suite",
            {n: folder / n for n in state.get("order", []) if (folder / n).is_dir()},
            state,
        )
    runs = {
        p.name: p for p in sorted(folder.iterdir()) if p.is_dir() and (p / "summary.json").is_file()
    }
    if not runs:
        raise UserError(
            f"'{folder}' holds no runs (no summary.json in it or its sub-folders). "
            f"Give a run, suite or sweep directory."
        )
    return "folder", runs, {}


class _Figures:
    """Draws figures into a private folder (several workers may build one report at once), then moves
    them into place; a figure that cannot be drawn becomes a note instead of an error."""

    def __init__(self, fig_dir: Path, notes: list[str]):
        self.fig_dir, self.notes = fig_dir, notes
        self.tmp = fig_dir / f".tmp-{os.getpid()}-{time.time_ns()}"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.made: list[str] = []

    def make(self, name: str, caption: str, fn: Callable, *args, **kw) -> dict | None:
        try:
            fn(*args, path=self.tmp / name, **kw)
        except Exception as e:  # one broken figure must not cost the whole report
            self.notes.append(f"{caption}: not drawn ({type(e).__name__}: {e})")
            return None
        self.made.append(name)
        return {"name": name, "caption": caption}

    def publish(self, clean: bool) -> None:
        """Move the new figures in; with ``clean``, drop PNGs of earlier builds that this one did not draw."""
        for name in self.made:
            if (self.tmp / name).is_file():
                os.replace(self.tmp / name, self.fig_dir / name)
        shutil.rmtree(self.tmp, ignore_errors=True)
        if clean:
            for old in self.fig_dir.glob("*.png"):
                if old.name not in self.made:
                    old.unlink(missing_ok=True)


def _guard(notes: list[str], label: str, fn: Callable, *args, default=None):
    """``fn(*args)``, or ``default`` plus a note when it fails (a report shows what it can)."""
    try:
        return fn(*args)
    except Exception as e:
        notes.append(f"{label}: skipped ({type(e).__name__}: {e})")
        return default


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _load_config(run_dir: Path):
    from vislab.config import build_config

    p = run_dir / "config.yaml"
    return build_config(yaml.safe_load(p.read_text()) or {}, source=str(p)) if p.is_file() else None


def _run_figures(figs: _Figures, name: str, run_dir: Path, summary: dict) -> list[dict]:
    """Test confusion matrix, per-class accuracy bars and ROC curves from predictions_test.npz."""
    import torch

    from vislab.report.figures import plot_confusion, plot_per_class, plot_roc
    from vislab.train.metrics import compute_metrics

    npz = run_dir / "predictions_test.npz"
    if not npz.is_file():
        return []
    with np.load(npz) as f:
        probs, labels = f["probs"], f["labels"]
    names = list(summary.get("test_per_class") or {}) or [str(i) for i in range(probs.shape[1])]
    m = compute_metrics(
        torch.log(torch.from_numpy(probs).float().clamp_min(1e-12)),
        torch.from_numpy(labels),
        probs.shape[1],
        with_roc=True,
    )
    s = _safe(name)
    out = [
        figs.make(
            f"confusion_{s}.png",
            f"{name}: test confusion matrix",
            plot_confusion,
            m.confusion,
            names,
            title=f"{name}: test",
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
        ),
    ]
    return [f for f in out if f]


def _data_figures(figs: _Figures, configs: dict[str, object]) -> list[dict]:
    """A sample grid per dataset and an augmentation preview per distinct augmentation (first runs first)."""
    from vislab.config import AugmentConfig
    from vislab.data import load_splits
    from vislab.report.figures import plot_feature_scatter, plot_image_mosaic
    from vislab.report.previews import augmentation_rows

    out: list[dict] = []
    splits_cache: dict[str, object] = {}
    previews: dict[str, list[str]] = {}
    for name, cfg in configs.items():
        dkey = json.dumps(
            [
                cfg.data.model_dump(
                    mode="json", exclude={"device", "download", "root", "normalize", "zca_epsilon"}
                ),
                cfg.train.seed,
            ],
            sort_keys=True,
        )
        if dkey not in splits_cache:
            try:
                splits_cache[dkey] = splits = load_splits(cfg.data, cfg.train.seed)
            except Exception as e:
                figs.notes.append(
                    f"data of run {name} ({cfg.data.name}): not loaded for the preview ({e})"
                )
                splits_cache[dkey] = None
                continue
            i = len(splits_cache)
            if splits.train.is_image:
                rows, _ = augmentation_rows(splits.train, AugmentConfig(), n=12, copies=0)
                fig = figs.make(
                    f"samples_{i}.png",
                    f"{cfg.data.name}: training samples (one per class first; "
                    f"classes {', '.join(splits.class_names[:12])})",
                    plot_image_mosaic,
                    rows,
                    row_titles=[cfg.data.name],
                )
            else:
                fig = figs.make(
                    f"samples_{i}.png",
                    f"{cfg.data.name}: training samples",
                    plot_feature_scatter,
                    splits.train.x,
                    splits.train.y,
                    splits.class_names,
                    title=cfg.data.name,
                )
            out += [fig] if fig else []
        splits = splits_cache[dkey]
        if splits is None or not splits.train.is_image or not _augments(cfg.augment):
            continue
        akey = dkey + cfg.augment.model_dump_json()
        previews.setdefault(akey, []).append(name)
        if len(previews[akey]) > 1 or len(previews) > MAX_PREVIEWS:
            continue
        rows, titles = augmentation_rows(splits.train, cfg.augment, n=10, copies=3, seed=0)
        fig = figs.make(
            f"augment_{len(previews)}.png", "", plot_image_mosaic, rows, row_titles=titles
        )
        if fig:
            fig["runs"] = previews[akey]
            out.append(fig)
    for fig in out:
        if "runs" in fig:
            fig["caption"] = (
                f"augmentation of run(s) {', '.join(fig.pop('runs'))}: originals, then augmented copies"
            )
    return out


def _augments(aug) -> bool:
    ops = [v for k, v in aug.model_dump().items() if isinstance(v, dict)]
    return aug.p > 0 and any(op.get("p", 0) > 0 for op in ops)


def _curves(
    figs: _Figures, histories: dict[str, list[dict]], groups: dict[str, list[str]]
) -> list[dict]:
    from vislab.report.figures import plot_curves_overlay

    out = []
    trained = {k: h for k, h in histories.items() if any("train_loss" in r for r in h)}
    if trained:
        out.append(
            figs.make(
                "curves.png",
                f"loss and accuracy of {len(trained)} runs",
                plot_curves_overlay,
                trained,
            )
        )
    for group, members in (groups or {}).items():
        sub = {m: trained[m] for m in members if m in trained}
        if len(sub) > 1:
            out.append(
                figs.make(
                    f"curves_{_safe(group)}.png",
                    f"group '{group}': {', '.join(sub)}",
                    plot_curves_overlay,
                    sub,
                )
            )
    return [f for f in out if f]


def _load_study(folder: Path, notes: list[str]):
    from vislab.experiments.sweep import _load_from_info

    try:
        study = _load_from_info(folder)
    except UserError as e:
        notes.append(f"sweep study not loaded: {e}")
        return None
    if study is None:
        notes.append(
            "sweep study not loaded: its storage URL needs a password; "
            "use `vislab sweep show DIR --storage URL`"
        )
    return study


def _sweep_context(figs: _Figures, folder: Path, info: dict, study) -> dict | None:
    from vislab.report.sweep import best, importances, sweep_figures, trial_rows

    if study is None:
        return None
    params, rows = trial_rows(study)
    for r in rows:
        r["shown"] = {
            k: (f"{v:.4g}" if isinstance(v, float) else str(v)) for k, v in r["params"].items()
        }
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    captions = {
        "history": "objective per trial and best so far",
        "importances": "parameter importances (optuna.importance.get_param_importances)",
        "parallel": "parallel coordinates of complete trials",
    }
    made = []
    for key, path in sweep_figures(study, figs.tmp).items():
        figs.made.append(path.name)
        made.append({"name": path.name, "caption": captions[key]})
    top = best(study, 1)
    narrow = folder / "narrow"
    return dict(
        study=study.study_name,
        metric=study.user_attrs.get("metric", info.get("metric", "value")),
        direction=study.direction.name.lower(),
        counts=", ".join(f"{v} {k}" for k, v in sorted(counts.items())),
        best=top[0] if top else None,
        params=params,
        trials=rows,
        importances=importances(study),
        figures=made,
        narrow_link="narrow/report.html" if (narrow / "sweep.json").is_file() else None,
    )


def build_report(folder: str | Path, study=None, title: str | None = None) -> Path:
    """Write ``folder/report.html`` and ``folder/figures/*.png``; return the HTML path."""
    from vislab.report.html import data_uri, render
    from vislab.report.model_figures import model_figures

    folder = Path(folder)
    kind, runs, info = discover(folder)
    notes: list[str] = []
    if kind == "sweep":
        from vislab.experiments.sweep import trial_dirs

        study = study or _load_study(folder, notes)
        runs = trial_dirs(study, folder) if study is not None else runs
    summaries = {n: RunDir(p).read_summary() or {} for n, p in runs.items()}
    complete = {n: s for n, s in summaries.items() if s.get("status") == "complete"}
    if kind == "suite":
        failures = {
            n: r.get("message", r.get("status"))
            for n, r in info.get("runs", {}).items()
            if r.get("status") != "complete"
        }
    elif kind == "sweep":
        failures = {}
    else:
        failures = {
            n: s.get("message") or f"status {s.get('status', 'unknown')}"
            for n, s in summaries.items()
            if s.get("status") != "complete"
        }
    metric = info.get("metric", "val_pacc")
    detailed, shown = dict(complete), list(complete)
    if kind == "sweep":  # curves of the best MAX_CURVES trials, per-run figures of the best few
        ranked = sorted(
            complete,
            key=lambda n: complete[n].get(metric) or 0,
            reverse=info.get("direction") != "minimize",
        )
        detailed = {n: complete[n] for n in ranked[:MAX_DETAILED_TRIALS]}
        shown = ranked[:MAX_CURVES]
    figs = _Figures(folder / "figures", notes)
    try:
        sweep = (
            _guard(notes, "sweep section", _sweep_context, figs, folder, info, study)
            if kind == "sweep"
            else None
        )
        histories = {n: RunDir(runs[n]).read_metrics() for n in shown}
        curves = _curves(figs, histories, info.get("groups", {}) if kind == "suite" else {})
        configs = {}
        for n in detailed:
            try:
                cfg = _load_config(runs[n])
            except UserError as e:
                notes.append(f"{n}: config not readable ({e})")
                continue
            if cfg is not None:
                configs[n] = cfg
        data_figs = _guard(notes, "data previews", _data_figures, figs, configs, default=[])
        run_ctx = []
        for n, s in detailed.items():
            headline = (
                f"{s.get('model', '?')}, test ACC {s.get('test_acc', 0):.4f}, "
                f"PACC {s.get('test_pacc', 0):.4f}, "
                f"{s.get('params', 0):,} parameters"
            )
            run_ctx.append(
                dict(
                    name=n,
                    headline=headline,
                    figures=_guard(
                        notes, f"{n}: test figures", _run_figures, figs, n, runs[n], s, default=[]
                    ),
                )
            )
        model_figs = [
            dict(name=n, figures=f)
            for n in detailed
            if (
                f := _guard(
                    notes,
                    f"{n}: model figures",
                    model_figures,
                    figs,
                    n,
                    runs[n],
                    configs.get(n),
                    default=[],
                )
            )
        ]
    finally:
        figs.publish(clean=kind != "run")  # a run's own folder also holds the trainer's figures

    def embed(items: list[dict]) -> list[dict]:
        return [
            dict(f, src=data_uri(folder / "figures" / f["name"]))
            for f in items
            if (folder / "figures" / f["name"]).is_file()
        ]

    if sweep:
        sweep["figures"] = embed(sweep["figures"])
    for r in run_ctx:
        r["figures"] = embed(r["figures"])
    for v in model_figs:
        v["figures"] = embed(v["figures"])
    heading = {
        "suite": f"Suite {info.get('name', folder.name)}",
        "sweep": f"Sweep {info.get('study', folder.name)}",
        "run": f"Run {folder.name}",
        "folder": f"Runs in {folder.name}",
    }[kind]
    subtitle = info.get("description") or f"{len(complete)} finished run(s) of {len(runs)}"
    html = render(
        dict(
            title=title or heading,
            subtitle=subtitle,
            generated=time.strftime("%Y-%m-%d %H:%M"),
            version=__version__,
            folder=str(folder),
            columns=COLUMNS,
            rows=table_rows(complete),
            run_anchors=[r["name"] for r in run_ctx],
            failures=failures,
            sweep=sweep,
            curves=embed(curves),
            data_figs=embed(data_figs),
            runs=run_ctx,
            model_figs=model_figs,
            notes=notes,
        )
    )
    path = folder / "report.html"
    atomic_write_text(path, html)
    os.chmod(path, 0o644)  # a page to share
    return path
