"""One sweep trial: the objective Optuna calls — train the trial's config into ``DIR/trials/<number>`` and
return its validation metric, reporting it each epoch to the pruner.

A trial re-queued after an interruption (``study.requeue``: Ctrl-C, SIGTERM, a dead worker) names the
interrupted trial's folder in its user attribute ``resume_from``. When that folder holds a ``last.pt`` that no
live process writes, the new trial moves it to its own ``trials/<number>`` and resumes it (exactly: the run's
own resume), reporting the epochs trained before to its pruner first; each folder stays its trial's, and the
interrupted trial keeps no folder. Otherwise (killed before its first checkpoint, a folder on another
machine's disk) the trial trains anew."""

from __future__ import annotations

import contextlib
import copy
import itertools
import math
import os
import random
import socket
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import optuna
from optuna.trial import FrozenTrial, TrialState

from vislab.config import build_config, set_dotted
from vislab.config.build import setting
from vislab.errors import TrainingInterrupted, UserError, VislabError
from vislab.experiments.sweeps import attrs
from vislab.experiments.sweeps.space import apply_values, finite_values, suggest
from vislab.experiments.sweeps.spec import Sweep
from vislab.experiments.sweeps.study import STORAGE_ERRORS
from vislab.training.history import EpochRow, from_rows
from vislab.training.rundir import RunDir
from vislab.training.state import Callback
from vislab.training.summary import RunSummary
from vislab.training.trainer import train

ACTIVE = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
# the state of a trial whose values another drew again, as the repeat's line says it
_DRAWN = {
    TrialState.COMPLETE: "complete",
    TrialState.PRUNED: "pruned",
    TrialState.FAIL: "failed",
    TrialState.RUNNING: "running on another worker",
}


def taken(study: optuna.Study, states: tuple[TrialState, ...]) -> list[FrozenTrial]:
    """The study's trials in ``states`` and its failed ones: failed trials whose parameters were not queued
    again (an interrupted trial's retry goes on in its place) — each counts as one of the trials asked for,
    as Optuna's ``n_trials`` counts it, so that ``--trials N`` never starts more than N (a grid's sampler
    counts such a point as visited, and never draws it again). A trial that drew the values of a trial
    drawn before (:func:`attrs.repeats`) is not one of them: it trained nothing."""
    trials = study.get_trials(deepcopy=False)
    retried = _retried(trials)

    def counts(t: FrozenTrial) -> bool:
        failed_point = t.state == TrialState.FAIL and t.number not in retried
        if attrs.repeats(t) is not None:
            return False
        return t.state in states or (failed_point and not attrs.is_surplus(t))

    return [t for t in trials if counts(t)]


def _retried(trials: list[FrozenTrial]) -> set[int]:
    """The numbers of the failed trials whose parameters were queued again (a retry goes on in their
    place)."""
    return {n for t in trials for n in t.system_attrs.get("retry_history", ())}


def drawn_before(trial: optuna.Trial) -> FrozenTrial | None:
    """The trial of the study (as its storage holds it now: other workers' too) that drew the values
    ``trial`` drew, or None: a complete or pruned one, one failed by its run (not interrupted nor queued
    again: a retry trains those values), or one that runs on another worker and was asked for first or
    passed this check first (of two workers that draw the same values at once, one trains them)."""
    trials = trial.study.get_trials(deepcopy=False)
    retried = _retried(trials)

    def drew(t: FrozenTrial) -> bool:
        if t.params != trial.params or attrs.repeats(t) is not None or attrs.is_surplus(t):
            return False
        if t.state == TrialState.RUNNING:  # or it passed this check (:meth:`Objective._take`)
            return t.number < trial.number or attrs.RUN_DIR in t.user_attrs
        return t.state in (TrialState.COMPLETE, TrialState.PRUNED) or (
            t.state == TrialState.FAIL and not attrs.is_interrupted(t) and t.number not in retried
        )

    return next((t for t in trials if drew(t)), None)


# a finite space of up to this many combinations is listed whole to find one no trial drew; a larger one
# is drawn from (a sweep's trials are then a small part of it)
LISTED = 100_000


def untried_values(
    study: optuna.Study, values: dict[str, Sequence], seed: str | None
) -> dict[str, Any] | None:
    """A combination of the finite space ``values`` (:func:`finite_values`) that no trial of the study
    drew nor waits with (a queued trial's), drawn at random by ``seed``; None where every one is drawn."""
    keys, rng = list(values), random.Random(seed)
    drawn = {
        _point(t.params or t.system_attrs.get("fixed_params") or {}, keys)
        for t in study.get_trials(deepcopy=False)
        if attrs.repeats(t) is None and not attrs.is_surplus(t)
    }
    if math.prod(len(v) for v in values.values()) <= LISTED:
        every = (dict(zip(keys, c)) for c in itertools.product(*values.values()))
        free = [c for c in every if _point(c, keys) not in drawn]
        return rng.choice(free) if free else None
    for _ in range(1000):
        combination = {key: rng.choice(v) for key, v in values.items()}
        if _point(combination, keys) not in drawn:
            return combination
    return None


def _point(params: dict[str, Any], keys: list[str]) -> tuple:
    """The values of ``keys`` in ``params``, a float rounded (one drawn on a step's grid, or listed)."""
    return tuple(round(v, 12) if isinstance(v, float) else v for v in map(params.get, keys))


def _space_hint(message: str, values: dict) -> str:
    """A trial's error, with the fix in the sweep's terms when it names a value the trial drew (e.g.
    ``train.batch_size=256`` larger than the train split: a value checked against the data, at trial time)."""
    for key, value in values.items():
        if f"{key}={value}" in message:
            return (
                f"{message} (this trial drew {key}={value} from the sweep's space: drop that value from "
                f"the space entry '{key}', or change the base so that it fits)"
            )
    return message


class TrialFailed(Exception):
    """A trial's run failed (its message is in the trial's user attribute 'error'); the sweep goes on."""


class PrunerFailed(VislabError):
    """The sweep's pruner raised at a trial's epoch: the sweep's ``pruner:`` is at fault, not the run."""


class Surplus(Exception):
    """Workers racing for the last trials asked one too many: this one is not run."""


class Repeated(Exception):
    """The trial drew the values of a trial drawn before: it is not trained (failed for Optuna)."""


class _PruneReport(Callback):
    """Trainer callback: report the validation metric each epoch; raise TrialPruned when the pruner says so
    — never at the run's last row (epoch ``epochs``, the row after which ``train.early_stop`` ends the
    run, a fitted model's one row: ``EpochRow.ends_run``): a trial that got there is complete, whatever
    the pruner says."""

    def __init__(self, trial: optuna.Trial, metric: str, epochs: int, resumed: Path | None = None):
        self.trial, self.metric, self.epochs = trial, metric, epochs
        # a resumed run's folder: its earlier epochs are reported first, once
        self.resumed = resumed

    def on_epoch_end(self, row: dict) -> None:
        epoch_row = EpochRow.from_json(row)
        self.report_earlier(before=epoch_row.epoch)
        last = epoch_row.ends_run(self.epochs)
        if self._report(epoch_row) and not last and self._should_prune(epoch_row.epoch):
            value = epoch_row.metric(self.metric)
            raise optuna.TrialPruned(
                f"pruned after epoch {epoch_row.epoch} ({self.metric} {value:.4f})"
            )

    def _should_prune(self, epoch: int) -> bool:
        """The pruner's verdict after ``epoch``; :class:`PrunerFailed` where the pruner raises (the sweep's
        ``pruner:``, not the caller's callbacks — vislab gave this one)."""
        try:
            return self.trial.should_prune()
        except STORAGE_ERRORS:
            raise
        except Exception as e:
            pruner = type(self.trial.study.pruner).__name__
            raise PrunerFailed(
                f"the sweep's pruner (Optuna's {pruner}) failed after epoch {epoch}: "
                f"{type(e).__name__}: {e}. Fix the options of the sweep's 'pruner:' (Optuna's "
                f"documentation of {pruner} says their values), or leave it out (pruner: none)."
            ) from e

    def report_earlier(self, before: float = math.inf) -> None:
        """Report the rows a resumed run trained before this process (its metrics.jsonl: the history it
        resumed, rewritten before its first new row) — once, so that no epoch is reported twice. Not
        judged by the pruner: the interrupted trial's pruner let them pass."""
        if self.resumed is None:
            return
        rows, self.resumed = from_rows(RunDir(self.resumed).read_metrics()), None
        for row in rows:
            if row.epoch < before:
                self._report(row)

    def _report(self, row: EpochRow) -> bool:
        """Report the row's metric at its epoch; False where it says nothing (epoch 0: untrained; no finite
        value)."""
        value = row.metric(self.metric)
        if row.epoch < 1 or value is None or not math.isfinite(value):
            return False
        self.trial.report(float(value), step=int(row.epoch))
        return True


class Objective:
    """Trains trial N's config (base ← suggested values) into ``trials/<N>`` and returns its validation
    metric; ``report``: the sweep's report draws the trials it shows, so a trial draws no figures of its
    own unless the base config sets train.figures. A trial that draws the values of a trial drawn before
    is not trained (:meth:`_repeat`)."""

    def __init__(
        self,
        sweep: Sweep,
        base_tree: dict,
        trial_root: Path,
        n_target: int,
        quiet: bool,
        log: Callable[[str], None],
        report: bool = False,
    ):
        self.sweep, self.base_tree, self.report = sweep, base_tree, report
        self.trial_root, self.n_target, self.quiet, self.log = trial_root, n_target, quiet, log
        self.last_error: str | None = None
        self.current: optuna.Trial | None = None
        self.values: dict = {}  # the current trial's values
        self.surplus = False
        self.repeated = False  # the current trial drew the values of a trial drawn before
        self.exhausted = False  # ... and no trial can draw other values (a finite space, all drawn)

    def __call__(self, trial: optuna.Trial) -> float:
        """The trial's metric; TrialPruned, TrialFailed, Surplus or Repeated where it has none."""
        self.last_error, self.current, self.repeated, self.exhausted = None, trial, False, False
        self._check_surplus(trial)
        values = suggest(trial, self.sweep.distributions)
        earlier = None if trial.user_attrs.get(attrs.RESUME_FROM) else drawn_before(trial)
        if earlier is not None:
            self._repeat(trial, earlier)
        run_dir, resumed = self._take(trial)
        tree = copy.deepcopy(self.base_tree)
        if self.report and setting(tree, "train.figures") is None:
            set_dotted(tree, "train.figures", False)
        apply_values(tree, values)
        self.log(f"trial {trial.number}: {', '.join(f'{k}={v}' for k, v in values.items())}")
        self.values = values
        summary = self._train(trial, tree, run_dir, resumed)
        metric = self.sweep.metric
        value = summary.get(metric)  # a metric column, by name
        if value is None or not math.isfinite(value):
            self._failed(trial, f"the run finished without a finite {metric}")
        self.log(f"trial {trial.number}: {metric} {value:.4f}")
        return float(value)

    def _check_surplus(self, trial: optuna.Trial) -> None:
        """Surplus (the trial marked so) if the study has its trials already."""
        active = sorted(t.number for t in taken(trial.study, ACTIVE))
        if trial.number not in active[: self.n_target]:
            trial.set_user_attr(attrs.SURPLUS, True)
            self.surplus = True
            raise Surplus(f"trial {trial.number} is beyond the {self.n_target} trials asked for")

    def _repeat(self, trial: optuna.Trial, earlier: FrozenTrial) -> NoReturn:
        """A trial that drew the values of ``earlier``: not trained again, the trial it repeats recorded in
        it; it fails (:class:`Repeated`), so that no sampler, pruner, importance or best trial counts it,
        and it is not one of the trials asked for (:func:`taken`). In a finite space, values no trial drew
        are queued (:func:`untried_values`, by the sweep's seed): the next trial trains them, where a
        sampler that learns nothing from a failed trial (TPE) would draw trained values again."""
        trial.set_user_attr(attrs.SAME_AS, earlier.number)
        self.repeated = True
        finite = finite_values(self.sweep.distributions)
        seed = None if self.sweep.seed is None else f"{self.sweep.seed}:{trial.number}"
        untried = None if finite is None else untried_values(trial.study, finite, seed)
        self.exhausted = finite is not None and untried is None
        if untried is not None:
            trial.study.enqueue_trial(untried)
        how = _DRAWN[earlier.state]
        self.log(
            f"trial {trial.number}: same values as trial {earlier.number} ({how}), not trained again; it "
            f"is not one of the trials asked for"
            + ("; the next trial takes values no trial drew" if untried is not None else "")
        )
        raise Repeated(f"trial {trial.number} repeats trial {earlier.number}")

    def _take(self, trial: optuna.Trial) -> tuple[Path, bool]:
        """Record the run folder (first: it marks the trial as one that trains its values,
        :func:`drawn_before`) and this worker in the trial; (the folder, ``trials/<number>``, whether it
        holds the interrupted run this trial resumes: :meth:`_folder`)."""
        run_dir = self.trial_root / str(trial.number)
        for key, value in (
            (attrs.RUN_DIR, str(run_dir.resolve())),
            (attrs.HOST, socket.gethostname()),
            (attrs.PID, os.getpid()),
        ):
            trial.set_user_attr(key, value)
        # a retry inherits the failed trial's attributes: this one has not failed
        if trial.user_attrs.get(attrs.ERROR):
            trial.set_user_attr(attrs.ERROR, None)
        return run_dir, self._folder(trial, run_dir)

    def _folder(self, trial: optuna.Trial, run_dir: Path) -> bool:
        """Whether ``run_dir`` now holds the run of the interrupted trial this one re-runs (moved there
        from ``resume_from``, when that holds a last.pt no live process writes)."""
        # left by an earlier study of the same name (its study.db deleted): keep it aside, never mix
        if run_dir.exists():
            aside = run_dir.with_name(f"{run_dir.name}.stale-{int(time.time())}")
            run_dir.rename(aside)
            self.log(
                f"trial {trial.number}: {run_dir} held another study's run; kept as {aside.name}"
            )
        recorded = trial.user_attrs.get(attrs.RESUME_FROM)
        earlier = Path(recorded) if recorded else None
        # none, or killed before its first checkpoint: nothing to go on from
        if earlier is None or not (earlier / "checkpoints" / "last.pt").is_file():
            return False
        try:
            RunDir(earlier).check_free()
            earlier.rename(run_dir)
        except (UserError, OSError) as e:  # a live process writes it; another file system
            self.log(f"trial {trial.number}: cannot resume {earlier} ({e}); training it anew")
            return False
        self.log(
            f"trial {trial.number}: resumes the interrupted run {earlier} (moved to {run_dir})"
        )
        return True

    def _train(self, trial: optuna.Trial, tree: dict, run_dir: Path, resumed: bool) -> RunSummary:
        """The trial's run (``resumed``: go on from the last.pt in ``run_dir``, by its saved config with
        this trial's settings of where and how it runs — this machine's data.root, train.device ...:
        ``resumed_config``): its summary; TrialPruned, TrialFailed or TrainingInterrupted otherwise."""
        try:
            cfg = build_config(tree, source=f"trial {trial.number}")
            prune = _PruneReport(
                trial, self.sweep.metric, cfg.train.epochs, run_dir if resumed else None
            )
            summary = train(cfg, run_dir, resume=resumed, quiet=self.quiet, callbacks=[prune])
            prune.report_earlier()  # a resumed run with no epoch left to train
            return summary
        except optuna.TrialPruned as e:
            pruned = RunSummary(status="pruned", run=run_dir.name, message=str(e))
            RunDir(run_dir).write_summary(pruned)
            self.log(f"trial {trial.number}: {e}")
            raise
        except PrunerFailed as e:  # the sweep's, not a callback of the caller's: said in its words
            RunDir(run_dir).write_summary(
                RunSummary(status="failed", run=run_dir.name, message=str(e))
            )
            self._failed(trial, str(e))
        # the study database failed: not the trial's fault; the worker stops, the driver queues it again
        except STORAGE_ERRORS:
            with contextlib.suppress(*STORAGE_ERRORS):
                trial.set_user_attr(attrs.ERROR, attrs.DATABASE_FAILED)
            raise
        # the worker stops; the driver queues these parameters again
        except TrainingInterrupted as e:
            trial.set_user_attr(attrs.ERROR, attrs.SIGNALLED)
            raise TrainingInterrupted(
                f"sweep interrupted during trial {trial.number} ({str(e).split(';')[0]}); its "
                f"parameters are queued again. Run the same `vislab sweep` command to go "
                f"on: that trial resumes the run from its last checkpoint."
            ) from None
        except VislabError as e:
            self._failed(trial, _space_hint(str(e), self.values))
        # a bug in this configuration's path: keep it visible, keep the sweep going
        except Exception as e:
            self._failed(trial, f"{type(e).__name__}: {e}", traceback.format_exc())

    def _failed(self, trial: optuna.Trial, message: str, tb: str = "") -> NoReturn:
        trial.set_user_attr(attrs.ERROR, message[:2000])
        self.last_error = message
        self.log(f"trial {trial.number}: FAILED — {message}" + (f"\n{tb.rstrip()}" if tb else ""))
        raise TrialFailed(message)
