"""A sweep's study in tables and figures: trials, best trials, parameter importances, parallel coordinates."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState


def _higher_better(study: optuna.Study) -> bool:
    return study.direction == optuna.study.StudyDirection.MAXIMIZE


def trial_rows(study: optuna.Study) -> tuple[list[str], list[dict]]:
    """(parameter names, one row per trial: number, state, value, params, duration_s, epochs, error)."""
    trials = [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get("surplus")]
    names = sorted({k for t in trials for k in t.params})
    rows = []
    for t in trials:
        ended = t.datetime_complete and t.datetime_start
        duration = (t.datetime_complete - t.datetime_start).total_seconds() if ended else None
        rows.append(
            dict(
                number=t.number,
                state=t.state.name.lower(),
                value=t.value,
                params=dict(t.params),
                duration_s=duration,
                epochs=max(t.intermediate_values, default=None),
                error=t.user_attrs.get("error") or "",
                run_dir=t.user_attrs.get("run_dir", ""),
            )
        )
    return names, rows


def trials_csv(study: optuna.Study) -> str:
    names, rows = trial_rows(study)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        ["number", "state", study.user_attrs.get("metric", "value"), *names, "duration_s", "error"]
    )
    for r in rows:
        w.writerow(
            [
                r["number"],
                r["state"],
                r["value"],
                *(r["params"].get(n) for n in names),
                r["duration_s"],
                r["error"],
            ]
        )
    return buf.getvalue()


def best(study: optuna.Study, top: int) -> list[FrozenTrial]:
    done = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.value is not None
    ]
    return sorted(done, key=lambda t: t.value, reverse=_higher_better(study))[:top]


def print_best(study: optuna.Study, top: int = 10) -> None:
    """A rich table of the best ``top`` trials and a count of trials per state."""
    from rich.console import Console
    from rich.table import Table

    metric = study.user_attrs.get("metric", "value")
    counts: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        if not t.user_attrs.get("surplus"):
            counts[t.state.name.lower()] = counts.get(t.state.name.lower(), 0) + 1
    names, _ = trial_rows(study)
    table = Table(
        title=f"study {study.study_name}: best {top} by {metric} ({study.direction.name.lower()}); "
        + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    )
    for col in ["trial", metric, *names]:
        table.add_column(col, justify="right")
    for t in best(study, top):
        table.add_row(str(t.number), f"{t.value:.4f}", *(_short(t.params.get(n)) for n in names))
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    console.print(table)


def _short(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "-" if v is None else str(v)


def importances(study: optuna.Study) -> dict[str, float]:
    """optuna.importance.get_param_importances, or {} when there are too few complete trials to say."""
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(done) < 2:
        return {}
    try:
        return dict(optuna.importance.get_param_importances(study))
    except (RuntimeError, ValueError, ZeroDivisionError):
        return {}


def axes_of(study: optuna.Study) -> dict[str, dict]:
    """Axis description per parameter for the parallel-coordinates plot (log scale / categorical choices)."""
    axes: dict[str, dict] = {}
    for t in study.get_trials(deepcopy=False):
        for k, d in t.distributions.items():
            if isinstance(d, optuna.distributions.CategoricalDistribution):
                axes[k] = {"choices": list(d.choices)}
            else:
                axes.setdefault(k, {"log": bool(getattr(d, "log", False))})
    return dict(sorted(axes.items()))


def sweep_figures(study: optuna.Study, fig_dir: Path) -> dict[str, Path]:
    """history / importances / parallel-coordinates PNGs (each only when there is something to show)."""
    from vislab.report.figures import plot_bars, plot_history, plot_parallel_coordinates

    metric = study.user_attrs.get("metric", "value")
    done = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.value is not None and math.isfinite(t.value)
    ]
    out: dict[str, Path] = {}
    if not done:
        return out
    out["history"] = plot_history(
        [t.number for t in done],
        [t.value for t in done],
        fig_dir / "sweep_history.png",
        metric,
        _higher_better(study),
    )
    imp = importances(study)
    if imp:
        out["importances"] = plot_bars(
            imp,
            fig_dir / "sweep_importances.png",
            title="parameter importances",
            xlabel=f"importance for {metric}",
        )
    axes = axes_of(study)
    if axes and len(done) >= 2:
        out["parallel"] = plot_parallel_coordinates(
            [t.params for t in done],
            [t.value for t in done],
            axes,
            fig_dir / "sweep_parallel.png",
            metric,
            _higher_better(study),
        )
    return out
