"""Running a suite: its runs one after another or in N spawned processes (pool.py), finished runs skipped,
interrupted ones resumed, failures recorded (the suite goes on) — but a run whose data cannot be read
stops it (no further run starts: each would fail the same way); then results.csv/.md (and a hook, the
CLI's report)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from pathlib import Path

from vislab.experiments.records import OTHER_SETTINGS, RunOutcome, SuiteInfo
from vislab.experiments.results.chosen import NOT_TRAINED
from vislab.experiments.results.folders import why_unfinished
from vislab.experiments.results.reported import as_block
from vislab.experiments.results.spread import pairing_of
from vislab.experiments.results.texts import results_texts, write_tables
from vislab.experiments.suites.ending import raise_unfinished, tables_cut_short
from vislab.experiments.suites.folders import make_room, seed_zero_of_before, start_anew
from vislab.experiments.suites.jobs import halts, settled_outcome, with_other_settings
from vislab.experiments.suites.plan import PlannedRun, check_plan, started_from
from vislab.experiments.suites.pool import ListSource, run_all
from vislab.experiments.suites.refusals import refuse_busy
from vislab.experiments.suites.spec import Suite
from vislab.experiments.suites.tables import missing_figures_note, tables_due
from vislab.interrupts import term_as_ctrl_c
from vislab.training.rundir import RunDir
from vislab.training.writable import check_writable


class SuiteState:
    """DIR/suite.json (:attr:`info`): what the suite is, and each run's last outcome."""

    def __init__(self, out: Path, suite: Suite, overrides: list[str]):
        self.out = Path(out)
        old = SuiteInfo.read(out).runs or {}
        names = suite.run_names()
        seeded = suite.seeds > 1  # the table's rows: each the mean ± std of its seeds' runs
        self.info = SuiteInfo(
            name=suite.name,
            source=str(suite.path),
            description=suite.description,
            overrides=list(overrides),
            groups=suite.groups,
            compare=suite.compare,
            reported=as_block(suite.reported),  # the reports' figures, beside the table's
            order=list(names),
            runs={k: v for k, v in old.items() if k in names},
            seeds=suite.seeds if seeded else None,
            rows=suite.rows() if seeded else None,
        )

    def note_other_settings(self, plan: list[PlannedRun]) -> None:
        """Record each run whose folder holds it trained with other settings than ``plan``'s (planned
        ``retrain``, as the dry run says it), whether ``only`` picked it or not: the tables leave it out
        and say how to train it, until its own training moves it aside (:meth:`forget`). Such a record of
        a run whose folder now holds it as planned goes; then save."""
        runs = self.info.runs
        for p in plan:
            if p.action == "retrain":
                runs[p.name] = with_other_settings(p)
            elif p.name in runs and runs[p.name].status == OTHER_SETTINGS:
                del runs[p.name]
        self.save()

    def forget(self, name: str) -> None:
        """Drop the record of run ``name`` (its folder was just moved aside: nothing is trained there yet,
        which the tables say of a run without one); then save."""
        self.info.runs.pop(name, None)
        self.save()

    def record(self, name: str, outcome: RunOutcome) -> None:
        self.info.runs[name] = outcome
        self.save()

    def save(self) -> None:
        """Write suite.json (:class:`SuiteInfo`, its one layout)."""
        self.info.write(self.out)


def run_suite(
    suite: Suite,
    out: Path,
    overrides: list[str] | tuple = (),
    jobs: int = 1,
    quiet: bool = False,
    log: Callable[[str], None] = print,
    on_results: Callable[[Path], None] | None = None,
    only: Collection[str] | None = None,
    trust_code: bool = False,
) -> dict[str, RunOutcome]:
    """Run every run of ``suite`` (``only``: those runs; suite.json records them all) into ``out/<run>``
    (``trust_code``: as vislab.train's); return {run: outcome}. SuiteFailed at the end if a run failed,
    TrainingInterrupted if stopped by a signal (a re-run continues); UserError before anything is written
    if a live vislab process holds a run's folder. A run whose data cannot be read (DataError) stops the
    suite: no further run starts, and that DataError is raised once, naming the runs left untrained.
    results.csv/.md are written however it ends, then ``on_results(out)`` unless interrupted
    (:func:`_tables_at_end`)."""
    out = Path(out)
    full, plan = _planned(suite, out, overrides, only, log)
    state = SuiteState(out, suite, list(overrides))
    state.note_other_settings(full)
    outcomes, todo = _settled(plan, state, log)

    def settle(p: PlannedRun) -> None:
        outcomes[p.name] = settled_outcome(p, log)
        state.record(p.name, outcomes[p.name])

    source = RoomMaking(todo, settle, state.forget, log)
    interrupted: dict[str, str] = {}  # run → how it was stopped
    untrained: list[str] = []

    def take(name: str, outcome: RunOutcome) -> None:
        source.ended(name)
        outcomes[name] = outcome
        state.record(name, outcome)
        if halts(outcome):
            interrupted[name] = outcome.message
        if outcome.data_error:  # each run on that data would fail alike: start no more
            untrained.extend(p.name for p in source.todo)
            source.todo.clear()

    stopped = False
    try:
        stopped = run_to_end(source, jobs, quiet, log, take, trust_code)
    finally:
        if tables_due(outcomes):
            _tables_at_end(out, state.info, interruption(interrupted, stopped), log, on_results)
    raise_unfinished(suite, out, outcomes, interruption(interrupted, stopped), untrained)
    return outcomes


def _tables_at_end(
    out: Path,
    info: SuiteInfo,
    stop: str | None,
    log: Callable[[str], None],
    on_results: Callable[[Path], None] | None,
) -> None:
    """The suite's results.csv/.md as it ends (``stop``: what stopped it, None: its runs ended), then
    ``on_results(out)`` if none did; a Ctrl-C as the tables are written: TrainingInterrupted saying how
    to write them (:func:`~vislab.experiments.suites.ending.tables_cut_short`)."""
    with tables_cut_short(out, stop):
        write_results(out, info, log=log)
    if stop is None and on_results is not None:
        on_results(out)


def _planned(
    suite: Suite,
    out: Path,
    overrides: list[str] | tuple,
    only: Collection[str] | None,
    log: Callable[[str], None],
) -> tuple[list[PlannedRun], list[PlannedRun]]:
    """(every run's plan, the plan of those ``only`` names), checked (check_plan, refuse_busy, ``out``
    writable; ``out`` made) — a run trained before the suite had seeds moved to its seed 0 first, whether
    ``only`` names it or not (it is moved, not trained: the tables count it either way)."""
    full = check_plan(suite, out, overrides, only=only)
    refuse_busy(suite, out, [p for p in full if only is None or p.name in only])
    check_writable(out, "the suite's runs")
    out.mkdir(parents=True, exist_ok=True)
    full = [seed_zero_of_before(p, suite, log) for p in full]
    return full, [p for p in full if only is None or p.name in only]


def interruption(interrupted: dict[str, str], stopped: bool) -> str | None:
    """What stopped the suite (None: nothing did): the runs it interrupted (run → message), and
    ``stopped``, whether Ctrl-C stopped it (also between runs)."""
    if len(interrupted) == 1:
        [(name, message)] = interrupted.items()
        return f"{name}: {message}"
    if interrupted:
        lines = "".join(f"\n  - {name}: {message}" for name, message in interrupted.items())
        return f"the suite was interrupted, and with it {len(interrupted)} runs:{lines}"
    return "the suite was interrupted" if stopped else None


def _settled(
    plan: list[PlannedRun], state: SuiteState, log: Callable[[str], None]
) -> tuple[dict[str, RunOutcome], list[PlannedRun]]:
    """Outcomes of the runs settled before training (complete already, or a bad config; recorded in
    suite.json), and the runs still to train (one to ``retrain`` still where it was: :class:`RoomMaking`)."""
    outcomes: dict[str, RunOutcome] = {}
    todo: list[PlannedRun] = []
    for p in plan:
        if p.action in ("done", "failed"):
            outcomes[p.name] = settled_outcome(p, log)
            state.record(p.name, outcomes[p.name])
        else:
            todo.append(p)
    return outcomes, todo


class RoomMaking(ListSource):
    """The runs to train, from a list; a run whose folder holds it for another train.epochs (``retrain``)
    moved aside only as it is handed out to train (folders.make_room), so that a suite stopped before
    leaves it where it was (recorded as trained with other settings), and its record dropped then
    (``forget``); a run whose folder holds it diverged with other settings moved aside then too
    (folders.start_anew). One that needs no training after all — brought back finished from where an
    earlier switch of epochs kept it, or that cannot be moved — is settled instead (``settle``). A run
    whose ``train.init_from`` names a sibling's folder waits while that sibling is still to train or
    training (``--jobs``: :meth:`ended` says when it ends)."""

    def __init__(
        self,
        todo: list[PlannedRun],
        settle: Callable[[PlannedRun], None],
        forget: Callable[[str], None],
        log: Callable[[str], None],
    ):
        super().__init__(todo)
        self.settle, self.forget, self.log = settle, forget, log
        self.sources, self.training = started_from(todo), set()

    def ready(self, p: PlannedRun) -> bool:
        source = self.sources.get(p.name)
        return source not in self.training and all(q.name != source for q in self.todo)

    def ended(self, name: str) -> None:
        """Run ``name`` ended (however): a run starting from it may go."""
        self.training.discard(name)

    def next(self) -> PlannedRun | None:
        while (p := super().next()) is not None:
            if p.action == "retrain":
                p = make_room(p, self.log)
                if p.action not in ("done", "failed"):
                    self.forget(p.name)
            elif p.action == "start" and p.message:  # a diverged run of other settings there
                p = start_anew(p, self.log)
            if p.action in ("done", "failed"):
                self.settle(p)
                continue
            self.training.add(p.name)
            return p
        return None


def run_to_end(
    source,
    jobs: int,
    quiet: bool,
    log: Callable[[str], None],
    take: Callable[[str, RunOutcome], None],
    trust_code: bool = False,
) -> bool:
    """Train what ``source`` hands out (run_all, given ``trust_code``), passing each (run, outcome) to
    ``take`` as it ends; True if Ctrl-C (or SIGTERM, taken as one) stopped it — then the runs in flight
    are passed on too, each ended "interrupted"."""
    runs = run_all(source, jobs, quiet, log, trust_code)
    with term_as_ctrl_c():
        try:
            for name, outcome in runs:
                take(name, outcome)
        except KeyboardInterrupt:
            for name, outcome in _still_in_flight(runs):
                take(name, outcome)
            return True
    return False


def _still_in_flight(
    runs: Iterator[tuple[str, RunOutcome]],
) -> Iterator[tuple[str, RunOutcome]]:
    """After a Ctrl-C that landed outside ``runs`` (a run_all generator, paused where it yielded): the
    outcomes of its runs in flight. One that landed inside has ended it (its runs in flight yielded)."""
    try:
        got = runs.throw(KeyboardInterrupt())
        while True:
            yield got
            got = next(runs)
    except (KeyboardInterrupt, StopIteration):
        return


def write_results(
    out: Path,
    info: SuiteInfo,
    log: Callable[[str], None] = print,
    on_results: Callable[[Path], None] | None = None,
) -> None:
    """results.csv, results.md (:func:`results_of`); then ``on_results(out)``."""
    write_tables(out, results_of(out, info))
    log(f"results: {out / 'results.md'}")
    if on_results is not None:
        on_results(out)


def results_of(out: Path, info: SuiteInfo) -> tuple[str, str]:
    """results.csv's and results.md's texts from the run folders ``info`` (the suite's suite.json)
    names: a row for each run with its scores (:attr:`~vislab.training.summary.RunSummary.holds_scores`; one
    whose figures a signal cut short too, named under the table). Under the table, the runs that failed
    or did not finish (why, and the fix), those the suite has not trained yet (``only``, or a suite
    stopped before them), and those whose folder holds them trained with other settings, not reached or
    left out by ``only`` (:meth:`SuiteState.note_other_settings`: in no table)."""
    order, runs, other = info.order or [], info.runs or {}, info.trained_otherwise()
    summaries = {}
    for name in order:
        s = RunDir(Path(out) / name).read_summary()
        if s is not None and s.holds_scores and name not in other:
            summaries[name] = s
    failures = {
        k: why_unfinished(v.to_json(), Path(out) / k)
        for k, v in runs.items()
        if v.status != "complete" and k not in summaries
    }
    failures.update({n: NOT_TRAINED for n in order if n not in summaries and n not in runs})
    return results_texts(
        out,
        summaries,
        failures,
        title=f"suite {info.name}",
        reported=info.reported,
        rows=info.rows,
        groups=info.groups,
        compare=pairing_of(info.compare, suite=True),
        note=missing_figures_note(summaries),
    )
