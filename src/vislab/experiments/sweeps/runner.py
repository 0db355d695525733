"""Sweeps: an Optuna study whose trials are vislab runs in ``DIR/trials/<number>``.

Any number of workers (processes, machines) run ``vislab sweep FILE --storage URL`` against one study
(Optuna's shared RDB storage: SQLite for one machine, PostgreSQL for several). ``trials`` is the number of
trials the study should hold — finished (complete or pruned), running or failed, as Optuna's ``n_trials``
counts them: no more are ever started — so a re-run after an interruption only runs what is missing. A
trial that draws the values of a trial drawn before is not trained again, nor counted (``objective``). A
trial left RUNNING by a killed worker is failed and re-queued with the same parameters (its retry goes on in
its place): at once when its process is known dead on this host, else when its heartbeat stops. With
``--narrow``, a worker waits for the first stage's running trials before it narrows to the best of them.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import optuna
from optuna.trial import TrialState

from vislab.config import build_config, set_dotted
from vislab.config.build import setting
from vislab.errors import TrainingInterrupted, UserError, each_note_once, show_note
from vislab.experiments.sweeps import attrs
from vislab.experiments.sweeps.joining import check_same_base, join_study
from vislab.experiments.sweeps.narrowing import narrowed_sweep
from vislab.experiments.sweeps.objective import Objective, Repeated, Surplus, TrialFailed, taken
from vislab.experiments.sweeps.results import (
    ResultsHook,
    finish,
    made_from,
    refuse_another_sweep,
    stage_storage,
    write_sweep_info,
)
from vislab.experiments.sweeps.space import combinations, grid_hint, grid_size, repeat_note
from vislab.experiments.sweeps.spec import Sweep, base_tree, with_overrides
from vislab.experiments.sweeps.study import (
    STORAGE_ERRORS,
    default_storage,
    fail_dead_trials,
    open_storage,
    requeue,
    storage_errors,
    storage_failure,
)
from vislab.experiments.sweeps.trials import trained

MAX_FAILURES_IN_A_ROW = 3
MAX_REPEATS_IN_A_ROW = 10  # values drawn before, in a row: the worker stops, saying why


class TooManyFailures(UserError):
    """MAX_FAILURES_IN_A_ROW trials in a row failed: the worker stops (its stage's results written first)."""

    def __init__(self, message: str, study: optuna.Study):
        super().__init__(message)
        self.study = study


POLL_S = 2.0  # how often a worker waiting for other workers' trials asks the study again


# ------------------------------------------------------------------------------------------ driver
def count_busy(study: optuna.Study) -> int:
    """Trials finished (complete or pruned), running or failed (not tried again); queued (WAITING) retries
    of interrupted trials still need a worker."""
    busy = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
    return len(taken(study, busy))


def run_stage(
    sweep: Sweep,
    out: Path,
    storage_url: str,
    n_target: int,
    overrides: list[str] | tuple = (),
    deadline: float | None = None,
    quiet: bool = True,
    log: Callable[[str], None] = print,
    option: str = "--trials",
    made: dict | None = None,
    settle: bool = False,
    report: bool = False,
) -> optuna.Study:
    """Work on study ``sweep.name`` (over ``sweep.distributions``: the narrowed stage has its own) until it
    holds ``n_target`` finished, running or failed trials (or the deadline passes) — with ``settle``, finished:
    the running trials of other workers too; ``option``: the one that asked for ``n_target``, named in
    the :class:`~vislab.errors.Note` when the study holds that many already; ``made``: how the sweep was
    made, as sweep.json records it (default :func:`made_from` its file and ``overrides``). Nothing is
    made in ``out`` before the storage has taken the study. ``report``: the sweep's report draws the
    trials it shows, which then draw no figures of their own (:class:`Objective`)."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    out = Path(out)
    study = join_study(sweep, open_storage(storage_url))
    base = base_tree(sweep.base, overrides, f"sweep '{sweep.name}' base")
    check_same_base(study, base, shared=storage_url != default_storage(out))
    (out / "trials").mkdir(parents=True, exist_ok=True)
    made = made if made is not None else made_from(sweep, overrides)
    write_sweep_info(out, replace(sweep, base=base), study, storage_url, made)  # as its trials run
    fail_dead_trials(study, log)
    busy = count_busy(study)
    if busy >= n_target:
        size = combinations(sweep.distributions)
        full = size is not None and busy >= size
        # a Note, not a log line: a script's quiet call hears it too
        show_note(_nothing_to_train(study, n_target, option, busy, full))
        if not settle:
            return study
    objective = Objective(sweep, base, out / "trials", n_target, quiet, log, report)
    _work(study, objective, n_target, deadline, log, settle)
    return study


def _nothing_to_train(
    study: optuna.Study, n_target: int, option: str, busy: int, full: bool
) -> str:
    """The note when a study already holds the ``n_target`` trials asked for (``busy``: its
    :func:`count_busy`): how to add some (``full``: none can be added, every combination of its space is
    taken)."""
    held = trained(study, (TrialState.COMPLETE, TrialState.PRUNED))
    running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
    failed = busy - len(held) - running
    what = f"{len(held)} finished trial{'s' if len(held) != 1 else ''}" + (
        f" and {running} running on other workers" if running else ""
    )
    what += f" (and {failed} failed trial{'s' if failed != 1 else ''})" if failed else ""
    if failed and not held and not running:  # more trials would not mend what failed them all
        more = "each of its trials failed: fix the cause, then start it over"
    elif full:  # more trials would draw values drawn before: the space is what to change
        more = f"every combination of its space is taken, whatever {option} asks: widen the space"
    else:
        n = busy + 1
        more = f"give {option} {n} or more (Python: {_in_python(option)}={n}) to add trials"
    # starting over would delete the trials other workers are running: not offered while they run
    over = "" if running else ", or --overwrite (Python: overwrite=True) to start the sweep over"
    counted = f" ({option} {n_target} counts all of the study's trials)"
    return (
        f"study '{study.study_name}' already holds {what}{'' if full else counted}: nothing to train; "
        f"{more}{over}."
    )


def _in_python(option: str) -> str:
    """The argument of :func:`vislab.sweep` that is command-line ``option``: --narrow-trials → narrow_trials."""
    return option.lstrip("-").replace("-", "_")


def _work(
    study: optuna.Study,
    objective: Objective,
    n_target: int,
    deadline: float | None,
    log: Callable[[str], None],
    settle: bool = False,
) -> None:
    """Run trials one at a time until the study is full (``settle``: and no trial runs), the deadline
    passes, too many fail, or the sampler keeps drawing values drawn before (:func:`_drawn_again`)."""
    failures, waiting, repeats = 0, 0, 0
    while True:
        fail_dead_trials(study, log)
        busy = count_busy(study)
        running = running_trials(study) if settle and busy >= n_target else 0
        if busy >= n_target and not running:
            return
        if deadline is not None and time.time() >= deadline:
            log(
                f"timeout reached (--timeout; Python: timeout=); {busy} of {n_target} trials "
                f"finished, running or failed"
            )
            return
        if running:  # (one that fails queues its retry: then busy < n_target, this worker runs it)
            waiting = _wait_for_others(running, waiting, log)
            continue
        try:
            study.optimize(objective, n_trials=1, catch=(TrialFailed, Surplus, Repeated))
        except BaseException as e:
            if isinstance(e, (TrainingInterrupted, KeyboardInterrupt)) or storage_failure(e):
                _requeue_current(study, objective)
            raise
        if objective.surplus and not settle:
            return
        objective.surplus = False
        repeats = repeats + 1 if objective.repeated else 0
        if _drawn_again(study, objective, repeats, n_target, log):
            return
        if objective.repeated:
            continue
        failures = 0 if objective.last_error is None else failures + 1
        if failures >= MAX_FAILURES_IN_A_ROW:
            raise TooManyFailures(
                f"{failures} trials in a row failed; stopping this worker. "
                f"Last error: {objective.last_error}",
                study,
            )


def _drawn_again(
    study: optuna.Study,
    objective: Objective,
    repeats: int,
    n_target: int,
    log: Callable[[str], None],
) -> bool:
    """Whether the worker stops (said in ``log``): every combination of its finite space is drawn
    (:attr:`Objective.exhausted`), or its sampler drew values drawn before ``repeats`` times in a row
    (:data:`MAX_REPEATS_IN_A_ROW`; in a finite space each repeat queues values not drawn yet)."""
    if not objective.exhausted and repeats < MAX_REPEATS_IN_A_ROW:
        return False
    stopping = f"stopping with {count_busy(study)} of the {n_target} trials asked for"
    if objective.exhausted:
        log(f"note: every combination of the space is drawn; {stopping}")
    else:
        hint = grid_hint(objective.sweep.distributions, "tries each combination once")
        log(
            f"note: the sampler drew values drawn before {repeats} times in a row; {stopping}{hint}"
        )
    return True


def running_trials(study: optuna.Study) -> int:
    """How many of the study's trials run now (on other workers, when this one waits)."""
    return len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))


def _wait_for_others(running: int, said: int, log: Callable[[str], None]) -> int:
    """Wait one poll for the ``running`` trials of other workers (said when it changes from ``said``, the
    count said before); returns the count said."""
    if running != said:
        log(
            f"waiting for {running} running trial{'s' if running != 1 else ''} of other workers to "
            f"finish: the narrowed stage starts from every trial of this one"
        )
    _pause()
    return running


def _pause() -> None:
    """Sleep one poll (POLL_S) between two looks at the study."""
    time.sleep(POLL_S)


def _requeue_current(study: optuna.Study, objective: Objective) -> None:
    """Queue the interrupted trial's parameters again, however often it was stopped: each time its run
    goes on from its last checkpoint. A trial the study database failed in is queued where it was marked
    failed (else it stays RUNNING, and the next run queues it again as its worker's)."""
    if objective.current is None:
        return
    with contextlib.suppress(*STORAGE_ERRORS):
        current = study._storage.get_trial(objective.current._trial_id)
        if current.state == TrialState.FAIL:
            requeue(study, current, max_retry=None)


def run_sweep(
    sweep: Sweep,
    out: Path,
    trials: int | None = None,
    timeout: float | None = None,
    storage: str | None = None,
    overrides: list[str] | tuple = (),
    narrow: int | None = None,
    narrow_trials: int | None = None,
    quiet: bool = True,
    log: Callable[[str], None] = print,
    on_results: ResultsHook | None = None,
    curves: int | None = None,
) -> optuna.Study:
    """The whole sweep: stage 1, then (``narrow``) a second study over the best trials' ranges; the results
    of each stage (``on_results`` after each; their reports draw the curves of the best ``curves`` trials).
    Its storage: ``storage``, else the one ``out`` records, else ``out/study.db``. A folder that holds
    another study's trials is refused before anything trains; a first stage whose every trial failed is a
    UserError once its results are written. A note the trials give is said once (each trial's
    summary.json keeps it). Returns the first stage's study."""
    out = Path(out)
    for note in sweep.notes:
        log(f"note: {note}")
    sweep = replace(sweep, curves=curves or sweep.curves)
    storage_url = stage_storage(out, storage)
    refuse_another_sweep(out, sweep.name, storage_url)
    if narrow:
        refuse_another_sweep(out / "narrow", f"{sweep.name}-narrow", storage_url)
    n = trial_count(sweep, trials or sweep.trials, log)
    sweep = selecting(_ran(sweep, n), overrides, log)
    timeout = timeout if timeout is not None else sweep.timeout
    deadline = time.time() + timeout if timeout else None
    # read before a stage rewrites the sweep.json it may come from (run from DIR/sweep.yaml)
    made, report = made_from(sweep, overrides), on_results is not None
    with storage_errors(storage_url), each_note_once():  # a note every trial gives: said once
        study = _finished(out, log, on_results, lambda: run_stage(
            sweep, out, storage_url, n, overrides, deadline, quiet, log, made=made, settle=bool(narrow),
            report=report,
        ))  # fmt: skip
        _refuse_all_failed(study, out)
        if narrow and _first_stage_done(study, log):
            second = narrowed_sweep(sweep, study, storage_url, narrow, log)
            n2 = trial_count(second, narrow_trials or n, log)
            second = _ran(second, n2)
            _finished(out / "narrow", log, on_results, lambda: run_stage(
                second, out / "narrow", storage_url, n2, overrides, deadline, quiet, log,
                option="--narrow-trials", made=made, report=report,
            ))  # fmt: skip
    return study


def _finished(
    out: Path,
    log: Callable[[str], None],
    on_results: ResultsHook | None,
    stage: Callable[[], optuna.Study],
) -> optuna.Study:
    """Run ``stage`` and write its results in ``out`` (:func:`finish`): also when its worker stops after
    too many failed trials in a row, whose errors trials.csv then shows."""
    try:
        study = stage()
    except TooManyFailures as e:
        finish(out, e.study, log, on_results)
        raise
    finish(out, study, log, on_results)
    return study


def _refuse_all_failed(study: optuna.Study, out: Path) -> None:
    """UserError (after its trials.csv and results are written) when every trial of the study failed and
    none runs or waits: the sweep has no result. Its failed trials count as trials asked for, so the way on
    is to start it over once the cause is fixed."""
    trials = study.get_trials(deepcopy=False)
    trials = [t for t in trials if not attrs.is_surplus(t) and attrs.repeats(t) is None]
    if not trials or any(t.state != TrialState.FAIL for t in trials):
        return
    failed = [t for t in trials if not attrs.is_interrupted(t)]
    if not failed:
        return
    n, last = len(failed), attrs.trial_error(failed[-1]).rstrip(".")
    raise UserError(
        f"{'the' if n == 1 else f'all {n}'} trial{'s' if n != 1 else ''} of study '{study.study_name}' "
        f"failed (each error: {out / 'trials.csv'}); the last: {last}. Fix "
        f"that, then start the sweep over with --overwrite (Python: overwrite=True; a study in a --storage "
        f"of yours: a new name: in its file): its failed trials count as trials asked for."
    )


def _first_stage_done(study: optuna.Study, log: Callable[[str], None]) -> bool:
    """Whether no trial of the first stage runs any more (one may, when the timeout stopped the wait):
    the narrowed stage starts from all of them."""
    running = running_trials(study)
    if running:
        log(
            f"the narrowed stage is not started: {running} trial{'s' if running != 1 else ''} of "
            f"study '{study.study_name}' still run{'s' if running == 1 else ''} on other workers; run "
            f"the same command again once they finish"
        )
    return not running


def selecting(sweep: Sweep, overrides: list[str] | tuple, log: Callable[[str], None]) -> Sweep:
    """``sweep`` whose trials keep best.pt, their summary and score at the best epoch by the sweep's metric:
    its base's ``train.select_metric`` set to it, unless the base or the command line set that — then a
    note, once, when it differs."""
    tree = with_overrides(sweep.base, overrides)
    chosen = setting(tree, "train.select_metric")
    if chosen is not None:
        if chosen != sweep.metric:
            log(
                f"note: the base sets train.select_metric: {chosen}, so each trial is scored by its "
                f"{sweep.metric} at its best epoch by {chosen}, not its best {sweep.metric} (drop "
                f"train.select_metric from the base to select each trial's epoch by {sweep.metric})"
            )
        return sweep
    if build_config(tree, source="sweep base").train.select_metric == sweep.metric:
        return sweep
    base = copy.deepcopy(sweep.base)
    set_dotted(base, "train.select_metric", sweep.metric)
    return replace(sweep, base=base)


def trial_count(sweep: Sweep, asked: int | None, log: Callable[[str], None]) -> int:
    """The trials a stage runs: as asked (default 20; a grid's: all of it), at most the combinations of a
    space without a continuous range (a note: :func:`repeat_note`; values drawn again are not trained
    again, so no more can be trained)."""
    if not sweep.is_grid:
        if note := repeat_note(sweep.distributions, asked or 20):
            log(f"note: {note}")
            return combinations(sweep.distributions) or 0
        return asked or 20
    size = grid_size(sweep.distributions)
    if asked and asked > size:
        log(f"the grid has {size} point{'s' * (size != 1)}; running that many trials, not {asked}")
    return min(asked or size, size)


def _ran(sweep: Sweep, n: int) -> Sweep:
    """``sweep`` as a stage runs it, ``n`` trials, which its sweep.yaml records (not the file's count):
    `vislab sweep DIR/sweep.yaml --out DIR` (``DIR/narrow``'s likewise) goes on with that stage."""
    recorded = sweep.recorded + (() if "trials" in sweep.recorded else ("trials",))
    return replace(sweep, trials=n, recorded=recorded)
