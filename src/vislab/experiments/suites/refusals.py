"""What a suite refuses before anything trains: runs its folder holds with another config, runs the
suite file no longer lists, runs a live vislab process holds (:func:`in_use`), options that do not go
together (:func:`refuse_together`)."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vislab.config.former_defaults import keep_former
from vislab.config.overrides import as_set
from vislab.errors import UserError
from vislab.experiments.records import SuiteInfo
from vislab.experiments.suites.ending import said_once
from vislab.experiments.suites.lock_owner import jobs_owner
from vislab.experiments.suites.spec import SUITE_DIR
from vislab.training.rundir import RunDir

if TYPE_CHECKING:  # annotations only
    from vislab.experiments.suites.plan import PlannedRun
    from vislab.experiments.suites.spec import Suite


def listed(differences: list[str], most: int = 4) -> str:
    """The first ``most`` differences, '; '-separated, and '…' when there are more."""
    return "; ".join(differences[:most]) + (" …" if len(differences) > most else "")


def refuse_other_runs(suite: Suite, out: Path, plan: list[PlannedRun]) -> None:
    """UserError naming each run whose folder in ``out`` holds it with another config — the suite run
    there before with other options (``--set``, ``--data``) or another suite file, or by an older vislab
    of other defaults (``PlannedRun.former``: the --set that keeps them comes first); another
    train.epochs alone is no conflict (planned ``retrain``) — and the fixes; nothing is trained or
    written."""
    other = {p.name: listed(p.differences) for p in plan if p.differences}
    if not other:
        return
    lines = "\n".join(f"  - {name}: {diff}" for name, diff in said_once(other).items())
    former = {k: v for p in plan for k, v in p.former.items()}
    only_former = bool(former) and all(len(p.former) == len(p.differences) for p in plan)
    then = "to go on with them" if only_former else "to keep that"
    older = f"They were {keep_former(former, then)}. " if former else ""
    rerun = (
        "Or "
        if only_former
        else _builtin_changed(suite, plan, out)
        or f"Re-run it with the suite file and options it was run with{_options_before(out)}, "
    )
    raise UserError(
        f"suite '{suite.name}' was run into '{out}' with a different config: its runs there differ from "
        f"the ones asked for, so nothing was trained or written:\n{lines}\n{older}{rerun}delete those "
        f"runs' folders to train them anew (the others are kept), add --overwrite to start the suite "
        f"over (deletes its runs; Python: overwrite=True), or choose another --out (Python: out=)."
    )


def _builtin_changed(suite: Suite, plan: list[PlannedRun], out: Path) -> str:
    """For a built-in suite, whose file vislab may have changed since its folder was made (there is no
    other file to re-run it with): the ``--set`` that gives every differing setting the folder's value,
    where the runs agree on it ('' otherwise, for a suite file of the user's, or where the options the
    folder's suite.json records set one of those settings: the user's own, named by the caller)."""
    if suite.path is None or suite.path.parent != SUITE_DIR:
        return ""
    given = {s.split("=", 1)[0] for s in SuiteInfo.read(out).overrides or []}
    if any(key in given for p in plan for key in p.was):
        return ""
    was: dict[str, Any] = {}
    for p in plan:
        for key, value in p.was.items():
            if was.setdefault(key, value) != value:
                return ""
    if not was:
        return ""
    sets = " ".join(
        f"--set {shlex.quote(f'{k}={as_set(v)}')}" for k, v in was.items()
    )  # a shell's words
    python = [f"{k}={as_set(v)}" for k, v in was.items()]
    return (
        f"The built-in suite '{suite.name}' may have changed since (docs/upgrading.md): to go on with "
        f"the runs as they are, add {sets} (Python: overrides={python!r}). Or "
    )


def refuse_unlisted_runs(suite: Suite, out: Path) -> None:
    """UserError naming each run ``out``'s suite.json records (the suite run there before from another
    suite file) whose folder is there but which the suite file now does not list — its tables would
    leave it out — and the fixes; nothing is trained or written. A run of a row the suite still has (its
    seeds, or the run a seeded suite moves to its seed 0) is no such run."""
    info = SuiteInfo.read(out)
    listed = suite.run_names()
    row_of = {run: row for row, runs in (info.rows or {}).items() for run in runs}
    unlisted = [
        name
        for name in info.order or []
        if name not in listed and row_of.get(name, name) not in suite.runs and (out / name).is_dir()
    ]
    if not unlisted:
        return
    lines = "\n".join(f"  - {name} ({out / name})" for name in unlisted)
    them = "it" if len(unlisted) == 1 else "them"
    was = f" ({info.source})" if info.source and info.source != str(suite.path) else ""
    raise UserError(
        f"suite '{suite.name}' was run into '{out}' with other runs: {_of_its_runs(len(unlisted))} "
        f"in the suite file asked for ({suite.path}), so {_they(unlisted)} drop out of every table "
        f"(results.md, report.html, vislab compare, vislab paper); nothing was trained or written:\n"
        f"{lines}\nRe-run it with the suite file it was run with{was}, add {them} to this suite file, "
        f"move {them} out of '{out}' (or delete {them}) to leave {them} out, add --overwrite to start the "
        f"suite over (deletes its runs; Python: overwrite=True), or choose another --out (Python: out=)."
    )


def _of_its_runs(n: int) -> str:
    """'1 of its runs there is not' (or 'N of its runs there are not')."""
    return f"{n} of its runs there {'is' if n == 1 else 'are'} not"


def _they(names: list[str]) -> str:
    """'it would' or 'they would', for ``names``."""
    return "it would" if len(names) == 1 else "they would"


def refuse_busy(suite: Suite, out: Path, plan: list[PlannedRun]) -> None:
    """UserError naming each run it would open (start, resume, retrain) whose folder in ``out`` a live
    vislab process holds (:func:`in_use`: another run of this suite into the same folder, say) — the whole
    suite is refused, before anything is trained or written. A shared suite (``--storage``) does not ask:
    there such a run is another worker's claim."""
    busy = [(p, why) for p in plan if p.action in OPENS and (why := in_use(p.run_dir))]
    if not busy:
        return
    lines = "\n".join(f"  - {p.name}: {why}" for p, why in busy)
    runs = "the folder of a run" if len(busy) == 1 else f"the folders of {len(busy)} runs"
    owners = {o[0] if (o := _owner(p.run_dir)) else None for p, _ in busy}
    owner = owners.pop() if len(owners) == 1 else None
    wait = (
        "Wait for that process to end"
        if owner is None
        else f"Wait for vislab process {owner} to end, or stop it (Ctrl-C where it runs, or kill -INT "
        f"{owner}: its runs are saved, and this command then resumes them)"
    )
    raise UserError(
        f"suite '{suite.name}' is already running into '{out}': another vislab process holds {runs} it "
        f"would train, so the whole suite is refused and nothing was trained or written:\n{lines}\n"
        f"{wait}, or give another --out (Python: out=...)."
    )


def _owner(run_dir: Path) -> tuple[int, str, int] | None:
    """(pid, command, --jobs process's pid) of the process the user started that holds ``run_dir``
    through one of its --jobs processes (a suite's: :func:`.lock_owner.jobs_owner`), or None."""
    job = RunDir(run_dir).live_holder()
    owner = jobs_owner(job) if job is not None else None
    return (*owner, job) if owner is not None else None


def _options_before(out: Path) -> str:
    """' (suite.json: --set …; Python: overrides=[…])': the options ``out``'s suite.json says the suite was
    run with, in the command's words and in :func:`vislab.run_suite`'s ('' if none says)."""
    sets = SuiteInfo.read(out).overrides
    if not isinstance(sets, list):
        return ""
    if not sets:
        return " (suite.json: no --set, --data or --epochs; Python: no overrides, data or epochs)"
    return f" (suite.json: {' '.join(f'--set {s}' for s in sets)}; Python: overrides={sets!r})"


# the actions whose run opens its folder (retrain: moves it aside first)
OPENS = ("start", "resume", "retrain")


def in_use(run_dir: Path) -> str:
    """Why a run cannot open ``run_dir``: a live vislab process holds its lock (the error names that
    process, as ``.lock`` records it — or, for a suite's --jobs process, the suite's own process, the one
    to wait for or stop), or '' when none does; the lock is only read, never taken."""
    try:
        RunDir(run_dir).check_free()
    except UserError as e:
        owner = _owner(run_dir)
        if owner is None:
            return str(e)
        pid, command, job = owner
        return (
            f"run directory '{run_dir}' is in use by vislab process {pid}"
            + (f" ({command})" if command else "")
            + f", through its --jobs process {job}"
        )
    return ""


def refuse_together(
    dry_run: bool,
    overwrite: bool,
    storage: str | None,
    trust_code: bool,
    only: Sequence[str] | None,
) -> None:
    """UserError for options that do not go together: in a ``dry_run``, starting the folder over, which
    it cannot foresee from the folder alone; ``trust_code`` with ``storage`` (a shared suite's runner
    resumes its runs without it); ``only`` with ``overwrite``, which deletes the runs ``only`` leaves out too."""
    if dry_run and overwrite:
        raise UserError(
            "a dry run says what each run would do with the folder as it is, and starting the suite over "
            "deletes its runs (every run would start): for the plan of the folder as it is, leave out "
            "--overwrite (Python: leave out overwrite=True); to start the suite over, leave out "
            "--dry-run (Python: leave out dry_run=True)."
        )
    if overwrite and only:
        runs = ", ".join(only)
        raise UserError(
            f"--overwrite starts the whole suite over: it deletes every run of its folder, those --only "
            f"{runs} leaves out too. To train {runs} afresh alone, delete its folder (DIR/<run>) and run "
            f"with --only {runs} (Python: only=[...]); to start the whole suite over, leave out --only "
            f"(Python: leave out only=)."
        )
    if trust_code and storage is not None:
        raise UserError(
            "--trust-code (Python: trust_code=True) is taken by a suite run on this machine alone, not "
            "by one shared through --storage (Python: storage=): leave out --trust-code (Python: leave "
            "out trust_code=True), and resume the run whose model file you edited on its own: vislab "
            "train --resume DIR/<run> --trust-code (Python: vislab.train(out='DIR/<run>', resume=True, "
            "trust_code=True))."
        )
