"""One sweep trial: the objective Optuna calls — train the trial's config into ``DIR/trials/<number>`` and
return its validation metric, reporting it each epoch to the pruner."""

from __future__ import annotations

import copy
import math
import os
import socket
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import optuna
from optuna.trial import TrialState

from vislab.config import build_config
from vislab.errors import TrainingInterrupted, VislabError
from vislab.experiments.sweeps.space import apply_values, suggest
from vislab.experiments.sweeps.spec import Sweep
from vislab.training.rundir import RunDir
from vislab.training.state import Callback
from vislab.training.trainer import train

ACTIVE = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)


class TrialFailed(Exception):
    """A trial's run failed (its message is in the trial's user attribute 'error'); the sweep goes on."""


class Surplus(Exception):
    """Workers racing for the last trials asked one too many: this one is not run."""


class _PruneReport(Callback):
    """Trainer callback: report the validation metric each epoch; raise TrialPruned when the pruner says so
    — never at the run's last row (epoch ``epochs``, or the row after which ``train.early_stop`` ends the
    run: ``stopped_early``): a trial that got there is complete, whatever the pruner says."""

    def __init__(self, trial: optuna.Trial, metric: str, epochs: int):
        self.trial, self.metric, self.epochs = trial, metric, epochs

    def on_epoch_end(self, row: dict) -> None:
        value = row.get(self.metric)
        # epoch 0 (untrained) says nothing
        if row["epoch"] < 1 or value is None or not math.isfinite(value):
            return
        self.trial.report(float(value), step=int(row["epoch"]))
        last = row["epoch"] >= self.epochs or row.get("stopped_early", False)
        if not last and self.trial.should_prune():
            raise optuna.TrialPruned(
                f"pruned after epoch {row['epoch']} ({self.metric} {value:.4f})"
            )


class Objective:
    """Trains trial N's config (base ← suggested values) into ``trials/<N>`` and returns its validation metric."""

    def __init__(
        self,
        sweep: Sweep,
        base_tree: dict,
        trial_root: Path,
        n_target: int,
        quiet: bool,
        log: Callable[[str], None],
    ):
        self.sweep, self.base_tree = sweep, base_tree
        self.trial_root, self.n_target, self.quiet, self.log = trial_root, n_target, quiet, log
        self.last_error: str | None = None
        self.current: optuna.Trial | None = None
        self.surplus = False

    def __call__(self, trial: optuna.Trial) -> float:
        self.last_error, self.current = None, trial
        run_dir = self._take(trial)
        values = suggest(trial, self.sweep.distributions)
        tree = copy.deepcopy(self.base_tree)
        apply_values(tree, values)
        self.log(f"trial {trial.number}: {', '.join(f'{k}={v}' for k, v in values.items())}")
        summary = self._train(trial, tree, run_dir)
        metric = self.sweep.metric
        value = summary.get(metric)
        if value is None or not math.isfinite(value):
            self._failed(trial, f"the run finished without a finite {metric}")
        self.log(f"trial {trial.number}: {metric} {value:.4f}")
        return float(value)

    def _take(self, trial: optuna.Trial) -> Path:
        """Record this worker and the run folder in the trial (Surplus if the study has its trials)."""
        active = sorted(t.number for t in trial.study.get_trials(deepcopy=False, states=ACTIVE))
        if trial.number not in active[: self.n_target]:
            trial.set_user_attr("surplus", True)
            self.surplus = True
            raise Surplus(f"trial {trial.number} is beyond the {self.n_target} trials asked for")
        run_dir = self.trial_root / str(trial.number)
        # a retry inherits the failed trial's attributes: this one has not failed
        if trial.user_attrs.get("error"):
            trial.set_user_attr("error", None)
        for key, value in (
            ("run_dir", str(run_dir.resolve())),
            ("host", socket.gethostname()),
            ("pid", os.getpid()),
        ):
            trial.set_user_attr(key, value)
        return run_dir

    def _train(self, trial: optuna.Trial, tree: dict, run_dir: Path) -> dict:
        """The trial's run: its summary; TrialPruned, TrialFailed or TrainingInterrupted otherwise."""
        try:
            cfg = build_config(tree, source=f"trial {trial.number}")
            # left by an earlier study of the same name (its study.db deleted): keep it aside, never mix
            if run_dir.exists():
                aside = run_dir.with_name(f"{run_dir.name}.stale-{int(time.time())}")
                run_dir.rename(aside)
                self.log(
                    f"trial {trial.number}: {run_dir} held another study's run; kept as {aside.name}"
                )
            prune = _PruneReport(trial, self.sweep.metric, cfg.train.epochs)
            return train(cfg, run_dir, quiet=self.quiet, callbacks=[prune])
        except optuna.TrialPruned as e:
            RunDir(run_dir).write_summary(dict(status="pruned", run=run_dir.name, message=str(e)))
            self.log(f"trial {trial.number}: {e}")
            raise
        # the worker stops; the driver queues these parameters again
        except TrainingInterrupted as e:
            trial.set_user_attr("error", "interrupted; its parameters were queued again")
            raise TrainingInterrupted(
                f"sweep interrupted during trial {trial.number} ({str(e).split(';')[0]}); its "
                f"parameters are queued again. Run the same `vislab sweep` command to go "
                f"on."
            ) from None
        except VislabError as e:
            self._failed(trial, str(e))
        # a bug in this configuration's path: keep it visible, keep the sweep going
        except Exception as e:
            self._failed(trial, f"{type(e).__name__}: {e}", traceback.format_exc())

    def _failed(self, trial: optuna.Trial, message: str, tb: str = "") -> NoReturn:
        trial.set_user_attr("error", message[:2000])
        self.last_error = message
        self.log(f"trial {trial.number}: FAILED — {message}" + (f"\n{tb.rstrip()}" if tb else ""))
        raise TrialFailed(message)
