"""The user attributes a sweep keeps in its Optuna study (``study.user_attrs``) and in each trial
(``trial.user_attrs``): their keys, and how each is read. Every module that reads or writes one goes
through here, so that a writer and its readers agree on the key and on what a value means."""

from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial, TrialState

# the study's: the metric that scores its trials, its search space (YAML-able), its base config, how the
# sweep was last made (sweep.json's ``spec`` and ``overrides``: a folder written from the study alone
# says it too), and a narrowed stage's space and the trials it was narrowed from
METRIC = "metric"
SPACE = "space"
BASE = "base"
MADE = "made"
NARROWED_SPACE = "narrowed_space"
NARROWED_FROM = "narrowed_from"

# a trial's: why it failed (trials.csv's error column), its run folder, the run folder of the interrupted
# trial it resumes, the worker that runs it (host, pid), whether it was one too many (never run), and the
# trial whose values it drew again (not trained again: :func:`repeats`)
ERROR = "error"
RUN_DIR = "run_dir"
RESUME_FROM = "resume_from"
HOST = "host"
PID = "pid"
SURPLUS = "surplus"
SAME_AS = "same_as"

# the start of the error of a trial stopped by a signal or by its study database failing (failed for
# Optuna; its parameters queued again, its run resumed): such a trial counts as interrupted, not failed.
# Studies written by earlier vislab versions record their interrupted trials the same way.
INTERRUPTED = "interrupted"
SIGNALLED = f"{INTERRUPTED}; its parameters were queued again"
DATABASE_FAILED = (
    f"{INTERRUPTED}: the study database failed during the trial; its parameters were queued again"
)


def study_metric(study: optuna.Study, default: str = "value") -> str:
    """The metric that scores the study's trials, as the study records it; ``default`` where it records
    none (a study not made by a vislab sweep)."""
    return study.user_attrs.get(METRIC, default)


def study_made(study: optuna.Study) -> dict | None:
    """How the study's sweep was last made, as its sweep.json records it (``spec``, ``overrides``); None
    where the study records it not (made by an older vislab, or not by a vislab sweep)."""
    made = study.user_attrs.get(MADE)
    return dict(made) if isinstance(made, dict) else None


def record_made(study: optuna.Study, made: dict) -> None:
    """Record ``made`` (:func:`study_made`) in the study, where it records something else (a write to its
    database only then)."""
    if study.user_attrs.get(MADE) != made:
        study.set_user_attr(MADE, made)


def is_surplus(trial: FrozenTrial) -> bool:
    """Whether the trial was one too many for its study (workers racing for the last trials): never run,
    and left out of every count and table."""
    return bool(trial.user_attrs.get(SURPLUS))


def repeats(trial: FrozenTrial) -> int | None:
    """The number of the trial whose values this one drew again (it was not trained, and is failed for
    Optuna, so that no sampler, pruner or importance counts it), or None: the trial trained its own
    values."""
    same = trial.user_attrs.get(SAME_AS)
    return int(same) if same is not None else None


def is_interrupted(trial: FrozenTrial) -> bool:
    """Whether a failed trial was interrupted (its error starts with :data:`INTERRUPTED`: a signal, or its
    study database failing) rather than failed by its run."""
    error = str(trial.user_attrs.get(ERROR, ""))
    return trial.state is TrialState.FAIL and error.startswith(INTERRUPTED)


def trial_error(trial: FrozenTrial) -> str:
    """Why the trial failed, as its error attribute says ("" where it says nothing)."""
    return trial.user_attrs.get(ERROR) or ""
