"""A sweep's study as tables: one row per trial, trials.csv, the best trials (text cells for the terminal)
and the command that trains the best again, the rows from the study database of the complete trials whose
run folders are not here, importances."""

from __future__ import annotations

import copy
import csv
import io
import json
import shlex
import warnings
from collections import Counter
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from vislab.config import Config, build_config
from vislab.errors import ConfigError
from vislab.experiments.results.cells import param_cell
from vislab.experiments.results.settings import RUN_FOLDER
from vislab.experiments.results.table import TextTable
from vislab.experiments.sweeps.attrs import (
    BASE,
    HOST,
    RUN_DIR,
    is_interrupted,
    is_surplus,
    repeats,
    study_metric,
    trial_error,
)
from vislab.experiments.sweeps.space import apply_values, decode, whole_lists
from vislab.training.summary import RunSummary
from vislab.words import first_few


def higher_better(study: optuna.Study) -> bool:
    """Whether the study maximises its objective."""
    return study.direction == optuna.study.StudyDirection.MAXIMIZE


# a trial's states as results.md and sweep show count them, in this order
STATE_WORDS = ("complete", "repeated", "pruned", "failed", "interrupted", "running", "queued")
_WORDS = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned", TrialState.FAIL: "failed"}
_WORDS |= {TrialState.RUNNING: "running", TrialState.WAITING: "queued"}


def state_word(t: FrozenTrial) -> str:
    """A trial's state as results.md and ``sweep show`` count it: optuna's, but a trial stopped by a signal
    or by its study database failing (failed for optuna; its parameters queued again, its run resumed)
    is "interrupted", not "failed"; one that drew the values of a trial drawn before is "repeated" (not
    trained: :func:`~vislab.experiments.sweeps.attrs.repeats`), not "failed"."""
    if is_interrupted(t):
        return "interrupted"
    if repeats(t) is not None:
        return "repeated"
    return _WORDS[t.state]


def state_counts(study: optuna.Study) -> Counter[str]:
    """How many of the study's trials (its surplus ones left out) are in each :func:`state_word`."""
    trials = study.get_trials(deepcopy=False)
    return Counter(state_word(t) for t in trials if not is_surplus(t))


def trial_rows(study: optuna.Study) -> tuple[list[str], list[dict]]:
    """(parameter names, one row per trial: number, state, value, params, duration_s, epochs, error,
    run_dir, same_as: the trial whose values it repeats, or None)."""
    trials = [t for t in study.get_trials(deepcopy=False) if not is_surplus(t)]
    names = sorted({k for t in trials for k in t.params})
    rows = []
    for t in trials:
        ended = t.datetime_complete and t.datetime_start
        duration = (t.datetime_complete - t.datetime_start).total_seconds() if ended else None
        rows.append(
            dict(
                number=t.number,
                state=state_word(t),
                value=t.value,
                params=dict(t.params),
                duration_s=duration,
                epochs=max(t.intermediate_values, default=None),
                error=trial_error(t),
                run_dir=t.user_attrs.get(RUN_DIR, ""),
                same_as=repeats(t),
            )
        )
    return names, rows


def repeats_line(study: optuna.Study) -> str:
    """The line of results.md and the report on the trials that drew another's values again (not in
    their tables): 'Repeated, not trained again: trial 1 (same as trial 0), ... and 6 more.'; "" where
    none."""
    again = [
        f"trial {t.number} (same as trial {same})"
        for t in study.get_trials(deepcopy=False)
        if (same := repeats(t)) is not None
    ]
    return f"Repeated, not trained again: {first_few(again, 3)}." if again else ""


def trials_csv(study: optuna.Study) -> str:
    """trials.csv: number, state, objective, one column per parameter, duration, same_as (a trial that
    drew another's values again: the number of that trial; else empty), error."""
    names, rows = trial_rows(study)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["number", "state", study_metric(study), *names, "duration_s", "same_as", "error"])
    for r in rows:
        w.writerow(
            [
                r["number"],
                r["state"],
                r["value"],
                *(r["params"].get(n) for n in names),
                r["duration_s"],
                r["same_as"],
                r["error"],
            ]
        )
    return buf.getvalue()


def trained(
    study: optuna.Study, states: tuple[TrialState, ...] = (TrialState.COMPLETE,)
) -> list[FrozenTrial]:
    """The study's trials in ``states`` that trained their own values: not one that drew another's again
    (:func:`~vislab.experiments.sweeps.attrs.repeats`: failed for Optuna; complete, with that trial's
    value, in a study of an earlier vislab)."""
    return [t for t in study.get_trials(deepcopy=False, states=states) if repeats(t) is None]


def best(study: optuna.Study, top: int) -> list[FrozenTrial]:
    """The ``top`` complete trials (:func:`trained`), best first."""
    done = [t for t in trained(study) if t.value is not None]
    return sorted(done, key=lambda t: t.value, reverse=higher_better(study))[:top]


def best_table(study: optuna.Study, top: int = 10) -> TextTable:
    """The best ``top`` trials (number, objective, parameters), titled with a count of trials per state."""
    metric = study_metric(study)
    counts = state_counts(study)
    names, _ = trial_rows(study)
    headers = ["trial", metric, *names]
    rows = [
        [str(t.number), f"{t.value:.4f}", *(param_cell(t.params.get(n)) for n in names)]
        for t in best(study, top)
    ]
    return TextTable(
        headers=headers,
        justify=["right"] * len(headers),
        rows=rows,
        title=f"study {study.study_name}: best {len(rows)} by {metric} ({study.direction.name.lower()}); "
        + ", ".join(f"{counts[w]} {w}" for w in STATE_WORDS if w in counts),
    )


def retrain_line(study: optuna.Study, out: Path | None = None) -> str | None:
    """Where the best complete trial's run is (``out/trials/<n>`` when it is there: the sweep folder given,
    wherever the study recorded it — a moved folder, trials trained on another machine —, else its
    recorded run folder) and the command that trains its config again (None: no complete trial). A run
    folder not here: the command trains ``out``'s base.yaml (:func:`base_file`) with the trial's values."""
    top = best(study, 1)
    if not top:
        return None
    t = top[0]
    recorded = t.user_attrs.get(RUN_DIR)
    local = Path(out or ".") / "trials" / str(t.number)
    run = Path(recorded) if recorded and not (out is not None and local.is_dir()) else local
    if not run.is_dir() and study.user_attrs.get(BASE):
        return _retrain_from_base(t, _shown(base_file(Path(out or "."))), study.user_attrs[BASE])
    config = _shown(run) / "config.yaml"
    return (
        f"best trial: {t.number} ({_shown(run)}); to train its config again: vislab train --config "
        f"{config} --out NEW (Python: vislab.train('{config}', out='NEW'); study.best_trial.user_attrs"
        f"['{RUN_DIR}'] is the folder it trained in)"
    )


def _shown(path: Path) -> Path:
    """``path`` relative to the current folder where it lies under it."""
    if path.is_absolute() and path.is_relative_to(Path.cwd()):
        return path.relative_to(Path.cwd())
    return path


def base_file(out: Path) -> Path:
    """Where a sweep folder keeps the study's base config (base.yaml) once a trial's run folder is not
    there: the command that trains such a trial again starts from it."""
    return Path(out) / "base.yaml"


def _retrain_from_base(t: FrozenTrial, base: Path, tree: dict) -> str:
    """The command that trains trial ``t`` again from the study's ``base`` config file (holding ``tree``)
    and its values (a swept list item as the whole list: :func:`whole_lists`)."""
    values = whole_lists(tree, {k: decode(v) for k, v in t.params.items()})
    sets = " ".join(f"--set {shlex.quote(f'{k}={set_text(v)}')}" for k, v in values.items())
    where = f" (ran on {t.user_attrs[HOST]})" if t.user_attrs.get(HOST) else ""
    return (
        f"best trial: {t.number}{where}, its run folder not here (another machine, or moved); to train "
        f"it again from the study's base config: vislab train --config {base} {sets} --out NEW "
        f"(Python: vislab.train('{base}', out='NEW', **{values!r}))"
    )


def set_text(value: Any) -> str:
    """A trial's value as ``--set KEY=TEXT`` reads it back: a string as it is, else JSON (YAML reads it)."""
    return value if isinstance(value, str) else json.dumps(value)


def trial_name(trial: FrozenTrial) -> str:
    """A trial's run name in the sweep's tables and report: ``trial-<number>``."""
    return f"trial-{trial.number}"


def elsewhere_trials(study: optuna.Study, here: Collection[str]) -> list[FrozenTrial]:
    """The study's trials (neither surplus, queued nor repeating another's values: they have no run)
    whose run folders are not ``here`` (the run names, :func:`trial_name`, of those found here)."""
    return [
        t
        for t in study.get_trials(deepcopy=False)
        if trial_name(t) not in here
        and not is_surplus(t)
        and t.state is not TrialState.WAITING
        and repeats(t) is None
    ]


NOT_HERE = "not here"  # the RUN_FOLDER cell of a trial whose row comes from the study database


def database_summaries(study: optuna.Study, here: Collection[str]) -> dict[str, RunSummary]:
    """The study's complete trials whose run folders are not ``here`` (their run names:
    :func:`trial_name`), each as the record of its run that the study database holds: its objective
    (the study's metric), its epochs, and the model, seed and data of its config where it is found
    (:func:`_trial_config`; else none)."""
    metric = study_metric(study)
    out = {}
    for t in trained(study):
        if trial_name(t) in here or is_surplus(t):
            continue
        cfg = _trial_config(study, t)
        said = {metric: t.value, "epochs_run": max(t.intermediate_values, default=None)}
        if cfg is not None:
            said |= dict(model=cfg.model.name, data=cfg.data.name, seed=cfg.train.seed)
        out[trial_name(t)] = RunSummary.from_json(dict(status="complete", **said))
    return out


def table_summaries(
    study: optuna.Study, local: Mapping[str, RunSummary], here: Collection[str]
) -> tuple[dict[str, RunSummary], dict[str, RunSummary]]:
    """(the rows of a sweep's table in trial order, those of them from the study database): the
    complete trials ``local`` (their summaries read from their run folders, by :func:`trial_name`) and
    those whose run folders are not ``here``, from the study database (:func:`database_summaries`)."""
    elsewhere = database_summaries(study, here)
    found = {**local, **elsewhere}
    names = (trial_name(t) for t in study.get_trials(deepcopy=False))
    return {n: found[n] for n in names if n in found}, elsewhere


def _trial_config(study: optuna.Study, t: FrozenTrial) -> Config | None:
    """The config trial ``t`` trained with: the study's base with its values (None: the study records no
    base, or its config is not valid here)."""
    base = study.user_attrs.get(BASE)
    if not base:
        return None
    tree = copy.deepcopy(base)
    try:
        apply_values(tree, {k: decode(v) for k, v in t.params.items()})
        return build_config(tree, source=f"trial {t.number}")
    except ConfigError:
        return None


def table_params(
    params: Mapping[str, dict], shown: Collection[str], dirs: Mapping[str, Path], out: Path
) -> dict[str, dict[str, Any]]:
    """The setting columns of a sweep's table of the trials ``shown``: each one's swept values
    (``params``, by run name) and, where one's run folder is not here (not in ``dirs``: its row from the
    study database), the :data:`RUN_FOLDER` of each (relative to the sweep folder ``out`` where it lies
    in it)."""
    if all(name in dirs for name in shown):
        return {name: params.get(name, {}) for name in shown}
    where = {name: str(_within(dirs[name], out)) if name in dirs else NOT_HERE for name in shown}
    return {name: {**params.get(name, {}), RUN_FOLDER: where[name]} for name in shown}


def _within(path: Path, out: Path) -> Path:
    """``path`` relative to the folder ``out`` where it lies in it, else as it is."""
    try:
        return Path(path).resolve().relative_to(Path(out).resolve())
    except ValueError:
        return Path(path)


def database_note(
    study: optuna.Study, rows: Mapping[str, RunSummary], out: Path, prefix: str = ""
) -> str:
    """The note under a sweep's table on its rows from the study database (``rows``: run name → its
    :func:`database_summaries` record): where each ran, as the study recorded it, and what their rows
    give (:func:`_given`), each named as its table row is (``prefix`` + its run name: ``narrow/`` for a
    --narrow stage's rows in its first stage's table); where the best trial is one of them, the command
    that trains it again from the study's base config (:func:`retrain_line`). "" when none."""
    trials = [t for t in study.get_trials(deepcopy=False) if trial_name(t) in rows]
    if not trials:
        return ""
    ran = "; ".join(f"{prefix}{trial_name(t)} ({_ran_on(t)})" for t in trials)
    top = best(study, 1)
    line = retrain_line(study, out) if top and trial_name(top[0]) in rows else None
    named = {f"{prefix}{name}": s for name, s in rows.items()}
    return (
        f"Rows whose run folder is {NOT_HERE} (trained on another machine, or moved since) come from the "
        f"study database: {ran}. {_given(study, named)} Their other figures are in their run folders."
        + (f"\n\n{line}" if line else "")
    )


def _given(study: optuna.Study, rows: Mapping[str, RunSummary]) -> str:
    """What the rows from the study database (``rows``) give: the objective and the epochs, and the
    model, seed and data of the config each trained with where it was found (:func:`_trial_config`)."""
    what = f"{study_metric(study)} and the epochs"
    blank = [name for name, s in rows.items() if s.model is None]
    if not blank:
        return f"They give {what}, and the model, seed and data of their config."
    why = (
        "the study recorded no base config"
        if not study.user_attrs.get(BASE)
        else "the study's base config with their values is not valid with this vislab"
    )
    if len(blank) == len(rows):
        return f"They give {what} alone: {why}, so their model, seed and data are not known here."
    one = len(blank) == 1
    return (
        f"They give {what}, and the model, seed and data of their config, but for "
        f"{', '.join(blank)}: {why}, so {'its' if one else 'their'} model, seed and data are not "
        f"known here."
    )


def _ran_on(t: FrozenTrial) -> str:
    """The worker's host and the run folder a trial recorded, as far as it recorded them."""
    said = [str(t.user_attrs[k]) for k in (HOST, RUN_DIR) if t.user_attrs.get(k)]
    return ": ".join(said) or "where not recorded"


# PED-ANOVA's warnings that a sweep's few trials make the importances rough (its quantiles hold the same
# trials; a range changed between runs of the study leaves a regime with one trial): a sweep often has few
# trials, and its report shows the importances beside the trials they come from
FEW_TRIALS_WARNINGS = (
    r"Target and region quantiles select the same set",
    r"Some regimes for parameter .* have less than \d+ trials",
    r"The number of trials is too small to compute importances",
)


# Optuna's importances (PED-ANOVA: how the best 10% of the complete trials spread over each parameter's range,
# against all of them) rest on a single trial below 11, and optuna.importance loads scikit-learn and SciPy
# (seconds): a sweep of fewer complete trials is reported without them, and says why (importance_note).
MIN_IMPORTANCE_TRIALS = 11


def importance_note(study: optuna.Study) -> str | None:
    """Why the study's report shows no parameter importances (too few complete trials), or None."""
    n = len(trained(study))
    if n >= MIN_IMPORTANCE_TRIALS:
        return None
    return (
        f"parameter importances appear from {MIN_IMPORTANCE_TRIALS} complete trials (this sweep has {n}): "
        f"Optuna estimates them from the best 10% of the trials, a single one below {MIN_IMPORTANCE_TRIALS}."
    )


def importances(study: optuna.Study) -> dict[str, float]:
    """optuna.importance.get_param_importances (PED-ANOVA) of the complete trials (:func:`trained`), or {}
    when there are too few to say (:data:`MIN_IMPORTANCE_TRIALS`); Optuna's warnings about too few trials
    (:data:`FEW_TRIALS_WARNINGS`) silenced, any other shown."""
    if importance_note(study) is not None:
        return {}
    done = optuna.create_study(direction=study.direction)
    done.add_trials(trained(study))
    try:
        with warnings.catch_warnings():
            for message in FEW_TRIALS_WARNINGS:
                warnings.filterwarnings("ignore", message=message, category=UserWarning)
            # PED-ANOVA named, not left to Optuna's default (fANOVA before Optuna 5): the same estimate on
            # every install, the one importance_note describes
            evaluator = optuna.importance.PedAnovaImportanceEvaluator()
            return dict(optuna.importance.get_param_importances(done, evaluator=evaluator))
    except (RuntimeError, ValueError, ZeroDivisionError):
        return {}
