"""One suite, several machines: ``vislab suite NAME --storage postgresql://...`` on each.

Each worker registers the suite in the shared database (or checks that its runs are the ones registered
there), then claims runs one at a time (shared/claims.py) and trains them as a suite on one machine
does (suites/runner.py): a run whose folder is complete is recorded without training, one with a
``last.pt`` resumes — so with ``--out`` on a shared file system, a run taken over from a dead worker goes
on from that worker's last checkpoint. A worker stays until every run is settled, taking over the runs of
workers whose heartbeat lapsed — but not a run whose folder a live process of its host still holds (a
stopped worker, or a killed worker's job saving its checkpoint): that one waits until the process lets
go. The first to find all settled writes results.csv/.md and the report. A machine without the others'
run folders gets each finished run's config, metrics and summary from the database (its checkpoints stay
where it was trained). A worker checks that it can write ``--out`` before it claims anything.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from vislab.errors import SuiteFailed, TrainingInterrupted, UserError
from vislab.experiments.databases import public_url
from vislab.experiments.records import RunOutcome
from vislab.experiments.shared.claims import Claim, SuiteClaims
from vislab.experiments.shared.postgres import SharedStorage
from vislab.experiments.suites.ending import tables_cut_short
from vislab.experiments.suites.folders import make_room, seed_zero_of_before
from vislab.experiments.suites.jobs import halts, settled_outcome
from vislab.experiments.suites.plan import PlannedRun, check_plan, plan_run
from vislab.experiments.suites.runner import SuiteState, interruption, run_to_end, write_results
from vislab.experiments.suites.spec import Suite, run_config
from vislab.training.rundir import RunDir
from vislab.training.summary import RunSummary
from vislab.training.writable import check_writable

Log = Callable[[str], None]
POLL_S = 2.0  # the longest a waiting worker sleeps before asking for runs again


class ClaimSource:
    """run_all's source of runs: claimed one at a time from the shared database."""

    def __init__(
        self, claims: SuiteClaims, suite: Suite, out: Path, overrides: list[str], log: Log
    ):
        self.claims, self.suite, self.out, self.overrides, self.log = (
            claims, suite, Path(out), list(overrides), log
        )  # fmt: skip
        # how often to ask again while other workers hold the runs left: soon after they settle them
        self.poll_s = min(claims.storage.heartbeat_s, POLL_S)
        self._waiting: list[str] = []
        # run → the live process of this host that holds its folder (said once per run)
        self._held: dict[str, int] = {}

    def next(self) -> PlannedRun | None:
        """A claimed run to train, or None; claimed runs that need no training are settled on the way."""
        while (claim := self.claims.claim(self.out, skip=self._held_here())) is not None:
            p = self._plan(claim)
            if p.action in ("start", "resume"):
                return p
            self.settle(p.name, settled_outcome(p, self.log))
        return None

    def _plan(self, claim: Claim) -> PlannedRun:
        run_dir = self.out / claim.run
        if claim.previous_host is not None:
            self.log(f"{claim.run}: {taken_from(claim)}")
        if claim.previous_host is not None and not claim.handed_back:
            # that worker is gone: its lock in a shared run folder is stale (on this host RunDir knows)
            RunDir(run_dir).break_lock(claim.previous_host)
        p = plan_run(claim.run, run_dir, lambda: run_config(self.suite, claim.run, self.overrides))
        p = seed_zero_of_before(p, self.suite, self.log)  # --seeds added to a suite run without
        return make_room(p, self.log) if p.action == "retrain" else p

    def _held_here(self) -> list[str]:
        """The runs to take over whose folder a live process of this host still holds (its ``.lock``): a
        silent worker that is stopped (SIGSTOP) but alive, or a dead worker's job still saving its
        checkpoint. Not claimed until it lets go (that worker may yet finish the run); each said once."""
        held = {}
        for run in self.claims.takeable():
            pid = RunDir(self.out / run).live_holder()
            if pid is None:
                continue
            held[run] = pid
            if self._held.get(run) != pid:
                self.log(
                    f"{run}: its folder {self.out / run} is in use by vislab process {pid} on this "
                    f"host, so it is not taken over while that process lives (its worker went silent "
                    f"— stopped, say — or died while it saves the run); going on with the other runs"
                )
        self._held = held
        return list(held)

    def finished(self) -> bool:
        """Whether every run is settled; else say (once per change) which runs other workers hold."""
        if self.claims.settled():
            return True
        held = self.claims.waiting_on()
        names = [f"{run} ({host}, pid {pid})" for run, host, pid in held]
        if names and names != self._waiting:
            self.log(f"waiting for the runs other workers hold: {', '.join(names)}")
        self._waiting = names
        return False

    def settle(self, name: str, outcome: RunOutcome) -> None:
        """Record a run's outcome in the database: complete (with its files), failed, or handed back."""
        status = {"complete": "complete", "interrupted": "pending"}.get(outcome.status, "failed")
        files = _run_files(self.out / name) if status == "complete" else None
        self.claims.release(name, status, outcome.message, files, self.out / name)


def taken_from(claim: Claim) -> str:
    """Whose run ``claim`` was (it has a ``previous_host``): a worker's that was interrupted and handed it
    back, or one's that went silent or died."""
    who = f"its worker on {claim.previous_host} (pid {claim.previous_pid})"
    if claim.handed_back:
        return f"interrupted by {who}, which handed it back; going on with it"
    silent = f", silent for {claim.silent_s:.0f} s" if claim.silent_s is not None else ""
    return f"taking it over from the worker on {claim.previous_host} (pid {claim.previous_pid}{silent})"


def run_shared_suite(
    suite: Suite,
    out: Path,
    storage: SharedStorage,
    overrides: list[str] | tuple = (),
    jobs: int = 1,
    quiet: bool = False,
    log: Log = print,
    on_results: Callable[[Path], None] | None = None,
) -> dict[str, RunOutcome]:
    """Work on ``suite`` with the other workers of ``storage`` until every run is settled; return
    {run: outcome} of all runs. Raises SuiteFailed if a run failed, TrainingInterrupted if stopped."""
    out = Path(out)
    plan = check_plan(suite, out, overrides)
    # a worker that cannot save runs must not claim (and fail) the others' runs
    check_writable(out, "the suite's runs")
    claims = SuiteClaims(storage, suite.name, log)
    try:
        joined_settled = claims.join(
            {p.name: p.config.to_dict() if p.config is not None else None for p in plan}
        )
        out.mkdir(parents=True, exist_ok=True)
        log(
            f"suite {suite.name}: sharing its runs through {public_url(storage.url)} as worker "
            f"{claims.worker}"
        )
        _work(ClaimSource(claims, suite, out, overrides, log), jobs, quiet, log)
        records = claims.records()
        _gather(out, records, log)
        outcomes = {n: _outcome(r) for n, r in records.items()}
        state = SuiteState(out, suite, list(overrides))
        state.info.storage = public_url(storage.url)
        state.info.runs = dict(outcomes)
        state.save()
        if claims.take_report() or joined_settled:
            with tables_cut_short(out, None, shared=True):  # a Ctrl-C here: said, with the way on
                write_results(out, state.info, log=log)
            if on_results is not None:
                on_results(out)
        else:
            log(_written_elsewhere(claims.reported_by()))
    finally:
        claims.close()
    failed = {n: o for n, o in outcomes.items() if o.status != "complete"}
    if failed:
        lines = "\n".join(f"  - {n}: {o.message or o.status}" for n, o in failed.items())
        raise SuiteFailed(
            f"{len(failed)} of {len(outcomes)} runs of suite '{suite.name}' failed:\n{lines}"
        )
    return outcomes


def _written_elsewhere(by: str | None) -> str:
    """Where the results are, written by another worker (``by``; None: not yet, by one that knows runs
    this one does not)."""
    if by:
        return f"results: written by worker {by} into its --out (it settled the last run)"
    return (
        "results: written by a worker that knows every run (one that added more seeds since this "
        "worker joined), into its --out, once they are settled"
    )


def _work(source: ClaimSource, jobs: int, quiet: bool, log: Log) -> None:
    """Train what the claims hand out until every run is settled (TrainingInterrupted if stopped: the runs
    in flight go back to the database, each resumable from its checkpoint)."""
    interrupted: dict[str, str] = {}

    def take(name: str, outcome: RunOutcome) -> None:
        source.settle(name, outcome)
        if halts(outcome):
            interrupted[name] = outcome.message

    stopped = run_to_end(source, jobs, quiet, log, take)
    if stopped or interrupted:
        raise TrainingInterrupted(
            f"{interruption(interrupted, stopped)}\nThis worker's runs went back to the shared database: "
            f"another worker may go on with them, or re-run the same `vislab suite` command."
        )


def _run_files(run_dir: Path) -> dict:
    """A finished run's summary (summary.json's object), metrics.jsonl and config.yaml, as stored in the
    database."""
    summary = RunDir(run_dir).read_summary()
    read = lambda name: (run_dir / name).read_text() if (run_dir / name).is_file() else None  # noqa: E731
    return dict(
        summary=summary.to_json() if summary is not None else None,
        metrics=read("metrics.jsonl"),
        config=read("config.yaml"),
    )


def _gather(out: Path, records: dict[str, dict], log: Log) -> None:
    """Runs finished on machines whose folders this one cannot see: write their config, metrics and
    summary from the database into ``out/<run>`` (no checkpoints), for the table and the report."""
    gathered = []
    for name, r in records.items():
        run_dir = Path(out) / name
        if r["status"] != "complete" or not r.get("summary") or run_dir.exists():
            continue
        try:
            with RunDir(run_dir) as rd:
                rd.write_config(r.get("config") or "")
                rows = [json.loads(line) for line in (r.get("metrics") or "").splitlines() if line]
                rd.write_metrics(rows)
                rd.write_summary(RunSummary.from_json(r["summary"]))
        except (UserError, ValueError) as e:  # another worker writes it; a mistyped summary
            log(f"{name}: not gathered from the database ({e})")
            continue
        gathered.append(f"{name} (trained on {r.get('host')})")
    if gathered:
        log(
            f"gathered from the database (config, metrics and summary; the checkpoints stay on the "
            f"machine that trained each): {', '.join(gathered)}"
        )


def _outcome(record: dict) -> RunOutcome:
    """A run's outcome (its line in suite.json), from its database row (:meth:`SuiteClaims.records`)."""
    try:
        summary = RunSummary.from_json(record.get("summary") or {})
    except ValueError:  # a summary of an older vislab holding a mistyped value: its time unknown
        summary = RunSummary()
    return RunOutcome(
        status=record["status"],
        message=record.get("message") or "",
        host=record.get("host") or None,
        attempts=record.get("attempts"),
        run_dir=record.get("run_dir") or None,
        seconds=summary.train_time_s if summary.complete else None,
    )
