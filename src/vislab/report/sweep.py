"""A sweep's figures: objective history, parameter importances, parallel coordinates, the training curves of
the best trials (the tables of a study are in ``vislab.experiments.sweeps.trials``)."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial

from vislab.experiments.records import SweepInfo
from vislab.experiments.sweeps.attrs import study_metric
from vislab.experiments.sweeps.results import trial_dirs
from vislab.experiments.sweeps.trials import (
    NOT_HERE,
    best,
    elsewhere_trials,
    higher_better,
    importance_note,
    importances,
    repeats_line,
    trained,
    trial_rows,
)
from vislab.plotting.sweeps import (
    NAMED_TRIALS,
    plot_bars,
    plot_history,
    plot_parallel_coordinates,
    plot_trial_curves,
)
from vislab.report.figure_set import FigureSet
from vislab.report.search import search_facts
from vislab.training.summary import RunSummary
from vislab.words import first_few


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


CAPTIONS = {
    "history": "objective per trial and best so far",
    "importances": "parameter importances (Optuna's PED-ANOVA: optuna.importance.get_param_importances)",
    "parallel": "parallel coordinates of complete trials",
}


def sweep_figures(study: optuna.Study, figs: FigureSet, imp: dict[str, float]) -> list[dict]:
    """The history, importances (``imp``: :func:`~vislab.experiments.sweeps.trials.importances`) and
    parallel-coordinates figures drawn into ``figs`` (the report's or the paper's), each only when there
    is something to show (:func:`trial_figures`): their :meth:`FigureSet.make` results."""
    metric, done, keys = study_metric(study), _done(study), trial_figures(study)
    if not keys:
        return []
    each = dict(metric=metric, higher_better=higher_better(study))
    values = [t.value for t in done]
    drawn = [("history", plot_history, ([t.number for t in done], values), each)]
    if imp:
        named = dict(title="parameter importances", xlabel=f"importance for {metric}")
        drawn.append(("importances", plot_bars, (imp,), named))
    if "parallel" in keys:
        axes = axes_of(study)
        drawn.append(
            ("parallel", plot_parallel_coordinates, ([t.params for t in done], values, axes), each)
        )
    made = [
        figs.make(f"sweep_{key}.png", CAPTIONS[key], draw, *args, **kw)
        for key, draw, args, kw in drawn
    ]
    return [fig for fig in made if fig]


def trial_figures(study: optuna.Study) -> list[str]:
    """The figures :func:`sweep_figures` draws of the trials' objectives (their :data:`CAPTIONS` keys):
    the history where a complete trial has a finite objective, the parallel coordinates where two have
    and a parameter was swept."""
    done = _done(study)
    shown = {"history": bool(done), "parallel": len(done) >= 2 and bool(axes_of(study))}
    return [key for key, drawn in shown.items() if drawn]


def _done(study: optuna.Study) -> list[FrozenTrial]:
    """The study's complete trials with a finite objective: those its figures draw."""
    return [t for t in trained(study) if t.value is not None and math.isfinite(t.value)]


def trial_curves(
    figs: FigureSet,
    histories: dict[str, list[dict]],
    summaries: dict[str, RunSummary],
    info: SweepInfo,
) -> list[dict]:
    """The training curves of the best trials (``histories``: their metrics rows; ``info``: sweep.json):
    the best named, each in its colour, the others grey by the objective (``plot_trial_curves``)."""
    metric = info.metric or "val_pacc"
    values = {n: summaries.get(n, RunSummary()).get(metric) for n in histories}
    shown = {
        n: h
        for n, h in histories.items()
        if isinstance(values[n], (int, float))
        and math.isfinite(values[n])
        and any("train_loss" in r for r in h)
    }
    if not shown:
        return []
    fig = figs.make(
        "curves.png",
        f"training curves of the best {len(shown)} trials by {metric} ({_colours(len(shown), metric)}; "
        "solid: train, dashed: val)",
        plot_trial_curves,
        shown,
        {n: values[n] for n in shown},
        metric=metric,
        higher_better=info.direction != "minimize",
    )
    return [fig] if fig else []


def _colours(n: int, metric: str) -> str:
    """The caption's words for the colours of :func:`plot_trial_curves` of ``n`` trials."""
    if n <= NAMED_TRIALS:
        return "each trial its colour and marker, named in the legend"
    return (
        f"the best {NAMED_TRIALS} each in its colour and marker, named in the legend; the other "
        f"{n - NAMED_TRIALS} grey, darker the better their {metric}"
    )


def sweep_section(
    figs: FigureSet, folder: Path, info: dict, study: optuna.Study | None
) -> dict | None:
    """The sweep's part of the page: what it searched (:func:`search_facts`), trial table (a trial whose
    run folder is not in ``folder``'s reach noted so; those that repeated another's values not in it,
    but named in the page's notes: ``trials.repeats_line``), best trial, importances and figures."""
    if study is None:
        return None
    params, rows = trial_rows(study)
    rows = [r for r in rows if r["same_as"] is None]
    away = {t.number for t in elsewhere_trials(study, trial_dirs(study, folder))}
    for r in rows:
        r["shown"] = {
            k: (f"{v:.4g}" if isinstance(v, float) else str(v)) for k, v in r["params"].items()
        }
        if r["number"] in away:  # its row from the study database alone
            r["error"] = "; ".join(filter(None, (f"run folder {NOT_HERE}", r["error"])))
    imp, note = importances(study), importance_note(study)
    figs.notes.extend(filter(None, (note, repeats_line(study))))
    made = sweep_figures(study, figs, imp)
    top = best(study, 1)
    narrow = folder / "narrow"
    return dict(
        study=study.study_name,
        metric=study_metric(study, info.get("metric", "value")),
        direction=study.direction.name.lower(),
        search=search_facts(folder, study),
        best=top[0] if top else None,
        params=params,
        trials=rows,
        importances=imp,
        figures=made,
        narrow_link="narrow/report.html" if (narrow / "sweep.json").is_file() else None,
    )


# the figures of :func:`trial_figures` as :func:`undrawn_note` names them
STUDY_WORDS = {"history": "objective per trial", "parallel": "parallel coordinates"}


def undrawn_note(study: optuna.Study, names: list[str]) -> str:
    """The note on the complete trials ``names`` whose rows come from the study database (their run
    folders are not here: ``trials.table_summaries``): in no figure drawn from a run folder (training
    curves, a trial's own figures), but in those drawn from the study that are drawn
    (:func:`trial_figures`); "" when none."""
    if not names:
        return ""
    one = len(names) == 1
    folders = "its run folder is" if one else "their run folders are"
    rows = "its row comes" if one else "their rows come"
    said = (
        f"{first_few(names, 8)} {'is' if one else 'are'} in no figure drawn from the trials' run "
        f"folders (training curves, a trial's own figures): {folders} {NOT_HERE}, so {rows} from the "
        f"study database."
    )
    held = [STUDY_WORDS[key] for key in trial_figures(study)]
    if not held:
        return said
    figures = "figure" if len(held) == 1 else "figures"
    hold = "holds" if len(held) == 1 else "hold"
    drawn = f"The {figures} drawn from the study ({', '.join(held)}) {hold}"
    return f"{said} {drawn} {'it' if one else 'them'}."
