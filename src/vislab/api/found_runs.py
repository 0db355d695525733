"""The runs ``vislab compare`` compares: of run folders and of folders of runs (a suite's, a sweep's, any
folder with runs at any depth below it, found and named as ``vislab report`` and ``vislab paper`` find and
name them: ``results.folders.runs_of``), the finished ones, their rows (of seeds) and the others left out,
each with why (:class:`Found`)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vislab.api.folders import folder_kind
from vislab.errors import UserError, show_note
from vislab.experiments.records import SuiteInfo
from vislab.not_a_run import run_of_file
from vislab.training.rundir import RunDir
from vislab.training.summary import RunSummary

if TYPE_CHECKING:
    import optuna

# The report's finder and the results table are imported by the functions that use them ("on use"
# below): they load optuna, matplotlib and pandas, which `import vislab.api` should not wait for.

# What is compared: run folders, or folders of runs; a mapping names each by its key (a folder of runs
# given so: its runs as ``key/run``; of several given otherwise, as ``<its folder's name>/run``).
Targets = str | Path | Sequence[str | Path] | Mapping[str, str | Path]


@dataclass(frozen=True)
class Found:
    """The runs to compare, in the order given: every run found (``folders``, by name), the finished
    ones' summaries (of a sweep folder given alone to compare, its complete trials whose run folders
    are not here too, from its study database: no folder), and the others (``left_out``: run → why it is not in the
    table)."""

    folders: dict[str, Path]
    summaries: dict[str, RunSummary]
    left_out: dict[str, str]
    holder: Path  # the folder holding them all: its suite.json (if any) says how they were made
    suite: SuiteInfo  # suite.json of the one suite folder given (empty otherwise): title, reported
    # row → its runs where a suite folder given has rows of seeds (None: every run its own row), and
    # the groups its verdicts pair rows in: the one suite folder's (None: each row against the best)
    rows: dict[str, list[str]] | None = None
    groups: dict[str, list[str] | None] | None = None
    # run → its swept values where one sweep folder is given (its study's, as its results.md has them),
    # its table's setting columns; None otherwise (its study not loaded: the settings that differ)
    params: dict[str, dict[str, Any]] | None = None
    # run → why its row's seeds are not averaged (``given_rows``: its folder's one decision, which
    # split ``rows``, said its note and words its verdicts)
    unlike: dict[str, str] = field(default_factory=dict)


def find_runs(targets: Targets, verb: str = "compare") -> Found:
    """The runs of ``targets`` (run folders, or folders of runs; a mapping's keys name them) and their
    summaries, named by ``results.folders`` (:func:`_runs_of`: with several targets, a folder's runs as
    ``<folder>/run``; names two runs share lengthened by the folders above them); a run given twice (a
    suite and one of its runs) is compared once; a run whose summary.json cannot be read is left out
    (``left_out``: the file and the fix); a :class:`~vislab.errors.Note` names the metrics.jsonl of a
    finished run that is missing or empty (``RunDir.rows_lost``). A sweep folder given alone: its
    trials where its results.md finds them (:func:`_stage_runs`) and, to compare, its study
    database's rows of the others (:func:`_sweep_table`). UserError for a path that is missing, a
    file, a folder holding no run, or no finished run (nor a row from a study database). Each suite
    folder with seeds, and each plain folder of runs named ``<row>-s<i>``, gives its rows of seeds
    (``rows``: ``given_rows``), but not the seeds of a row whose configs differ in more than their
    seed (``unlike``: why). ``verb``: what the caller does with them, as its errors say it."""
    from vislab.api.given_rows import given_rows  # on use (see the imports)
    from vislab.experiments.results.folders import keyed, unique_names

    given = keyed(_given(targets))
    paths = [p for _, p in given]
    if not paths:
        raise UserError(
            f"give a run folder, or a folder of runs (a suite's, a sweep's), to {verb}."
        )
    stages, unloaded = _sweep_stages(*given[0]) if len(given) == 1 else ([], None)
    found = [
        _stage_runs(stages) if stages else _runs_of(p, key, verb, unloaded) for key, p in given
    ]
    folders = unique_names(found)
    suites = [SuiteInfo.read(p) for p in paths]
    otherwise = _trained_otherwise(suites, found)
    summaries, left_out = _finished(folders, otherwise, sweep=bool(stages))
    done = {folders[n].resolve() for n in summaries}
    # a sweep folder given alone to compare: its results.md's rows (from its study database too), values
    table, params = (summaries, None)
    if stages and verb == "compare":
        table, params = _sweep_table(stages, summaries, folders)
    if not table:
        raise UserError(_none_finished(paths, left_out, verb, unloaded))
    # a run's own folder holds no suite.json: the folder above it may (a suite's run given alone)
    held = [p.resolve().parent if folder_kind(p) == "run" else p.resolve() for p in paths]
    holder = Path(os.path.commonpath([str(h) for h in held]))
    suite = suites[0] if len(paths) == 1 else SuiteInfo()
    told = given_rows(suites, found, folders, given, done)
    groups = told.groups(suite) if len(paths) == 1 else None
    return Found(folders, table, left_out, holder, suite, told.rows, groups, params, told.unlike)


def _none_finished(
    paths: list[Path], left_out: dict[str, str], verb: str, unloaded: str | None
) -> str:
    """Why nothing can be compared: the runs found, none finished (each and why), or none at all
    (``unloaded``: as :func:`_no_runs` takes it)."""
    if not left_out:  # a sweep folder whose trials have no run folder yet, nor a row in its study
        return _no_runs(paths[0], verb, unloaded)
    listed = "; ".join(f"{n} is {why}" for n, why in left_out.items()).rstrip(".")
    return (
        f"no finished run to {verb} in {', '.join(map(str, paths))}: {listed}. Finish a run "
        f"first (resume it, or train it again), then {verb}."
    )


@dataclass(frozen=True)
class _Stage:
    """A stage of a sweep folder given alone: its folder, the prefix of its rows' names (``narrow/``
    for its --narrow stage) and its study (None where it cannot be loaded: its trials read from its
    folder's trials/)."""

    folder: Path
    prefix: str
    study: optuna.Study | None


def _sweep_stages(key: str | None, path: Path) -> tuple[list[_Stage], str]:
    """The stages of ``path`` when it is a sweep folder whose study loads: itself and its --narrow
    stage (``DIR/narrow``) where it has one; [] otherwise (its runs read as any folder's:
    :func:`_runs_of`). Also why its study was not loaded ("" when it was, or it is no sweep folder:
    ``sweeps.recorded_study.study_or_why``)."""
    if not path.is_dir() or folder_kind(path) != "sweep":
        return [], ""
    # on use, a sweep's only: optuna takes seconds to import
    from vislab.experiments.sweeps.recorded_study import study_or_why

    study, why = study_or_why(path)
    if study is None:
        return [], why
    prefix = f"{key}/" if key else ""
    stages = [_Stage(path, prefix, study)]
    narrow = path / "narrow"
    if narrow.is_dir() and folder_kind(narrow) == "sweep":
        stages.append(_Stage(narrow, f"{prefix}narrow/", study_or_why(narrow)[0]))
    return stages, ""


def _stage_runs(stages: list[_Stage]) -> dict[str, Path]:
    """The run folders of a sweep's ``stages`` by their rows' names, where its results.md finds them
    (``sweeps.results.trial_dirs``: ``<stage>/trials/<n>`` where it is here, else the one each trial
    recorded); a stage whose study cannot be loaded, its folder's trials/."""
    # on use, a sweep's only: optuna takes seconds to import
    from vislab.experiments.results.folders import discover
    from vislab.experiments.sweeps.results import trial_dirs

    runs: dict[str, Path] = {}
    for stage in stages:
        own = (
            trial_dirs(stage.study, stage.folder)
            if stage.study is not None
            else discover(stage.folder)[1]
        )
        runs |= {f"{stage.prefix}{name}": folder for name, folder in own.items()}
    return runs


def _sweep_table(
    stages: list[_Stage],
    summaries: dict[str, RunSummary],
    folders: dict[str, Path],
) -> tuple[dict[str, RunSummary], dict[str, dict[str, Any]]]:
    """The rows and setting columns of a sweep folder given alone as its results.md has them
    (:func:`_stage_table`: each of its ``stages`` whose study loads, its --narrow stage's rows as
    ``narrow/...``): the finished trials and the complete ones whose run folders are not here, from
    the study database, with their swept values and run folders."""
    rows: dict[str, RunSummary] = {}
    params: dict[str, dict[str, Any]] = {}
    for stage in stages:
        if stage.study is not None:
            more = _stage_table(stage, stage.study, stages[0].folder, summaries, folders)
            rows, params = rows | more[0], params | more[1]
    return rows | summaries, params  # in the studies' order; a stage's not loaded kept, last


def _stage_table(
    stage: _Stage,
    study: optuna.Study,
    top: Path,
    summaries: dict[str, RunSummary],
    folders: dict[str, Path],
) -> tuple[dict[str, RunSummary], dict[str, dict[str, Any]]]:
    """The rows (named by the stage's prefix and their run names) and setting columns of the sweep
    stage ``stage`` (its ``study``), as its results.md has them (``trials.table_summaries``,
    ``trials.table_params``; each run folder relative to the sweep folder given, ``top``, where it
    lies in it); its notes shown: on the rows from the study database, naming them so
    (``trials.database_note``), and its trials' states where one is not complete."""
    # on use, a sweep's only: optuna takes seconds to import
    from vislab.experiments.sweeps import trials
    from vislab.experiments.sweeps.results import trial_counts, trial_params

    prefix = stage.prefix
    mine = {
        n[len(prefix) :]: n for n in folders if n.startswith(prefix) and "/" not in n[len(prefix) :]
    }
    local = {n: summaries[full] for n, full in mine.items() if full in summaries}
    rows, elsewhere = trials.table_summaries(study, local, mine)
    dirs = {n: folders[full] for n, full in mine.items()}
    params = trials.table_params(trial_params(study), rows, dirs, top)
    if note := trials.database_note(study, elsewhere, stage.folder, prefix):
        show_note(note)
    if set(trials.state_counts(study)) - {"complete"}:  # repeated, pruned, failed...: as results.md
        counts = trial_counts(study, rows)
        show_note(f"{prefix.rstrip('/')}: {counts}" if prefix else counts)
    return (
        {f"{prefix}{n}": s for n, s in rows.items()},
        {f"{prefix}{n}": v for n, v in params.items()},
    )


def _finished(
    folders: dict[str, Path], otherwise: dict[Path, str], sweep: bool = False
) -> tuple[dict[str, RunSummary], dict[str, str]]:
    """The summaries of the runs of ``folders`` with their scores (finished, or stopped as their figures
    were drawn: ``RunSummary.holds_scores``, the rule of the report's and the paper's tables too; noted;
    a ``sweep``'s trials complete only, as its results.md: one cut short is trained again), and why each
    other run is left out (trained with other settings than its suite's: ``otherwise``; unfinished; a
    summary.json that cannot be read)."""

    summaries: dict[str, RunSummary] = {}
    left_out: dict[str, str] = {}
    for name, folder in folders.items():
        if folder.resolve() in otherwise:
            left_out[name] = otherwise[folder.resolve()]
            continue
        try:
            summary = RunDir(folder).load_summary()
        except UserError as e:  # a damaged summary.json: named with its fix, the others compared
            left_out[name] = f"unreadable: {e}"
            continue
        if summary is not None and summary.in_tables(sweep):
            summaries[name] = summary
            if lost := RunDir(folder).rows_lost(summary):  # its row stands: summary.json holds it
                show_note(lost)
            if summary.figures_cut_short:
                show_note(f"{name}: in the table, but {_unfinished(summary, folder)}.")
        else:
            left_out[name] = _unfinished(summary, folder)
    return summaries, left_out


def _trained_otherwise(suites: list[SuiteInfo], found: list[dict[str, Path]]) -> dict[Path, str]:
    """The runs each suite folder records as trained with other settings than its suite's now (by
    resolved folder): why, and the command that trains them (``results.folders.why_unfinished``)."""
    from vislab.experiments.results.folders import why_unfinished  # on use (see the imports)

    return {
        runs[n].resolve(): why_unfinished((suite.runs or {})[n].to_json(), runs[n])
        for suite, runs in zip(suites, found)
        for n in suite.trained_otherwise()
        if n in runs
    }


def _given(targets: Targets) -> list[tuple[str | None, Path]]:
    """Each target with the name a mapping gives it (None: named by its folder); a single path is a list
    of one (a string is no list of its characters)."""
    if isinstance(targets, (str, Path)):
        return [(None, Path(targets))]
    if isinstance(targets, Mapping):
        return [(str(key), Path(t)) for key, t in targets.items()]
    return [(None, Path(t)) for t in targets]


def _runs_of(target: Path, key: str | None, verb: str, unloaded: str | None) -> dict[str, Path]:
    """The run folders of ``target`` by name (``results.folders.runs_of``): itself when it is a run, else
    what the report finds in it (a suite's runs, a sweep's trials, the runs at any depth below any other
    folder). ``key``: the name a mapping gave ``target`` (or, of several, its folder's), the run's own or
    the prefix of its runs' (``key/run``). ``verb``: as :func:`find_runs`'; ``unloaded``: as
    :func:`_no_runs` takes it."""
    from vislab.experiments.results.folders import runs_of  # on use (see the imports)

    if not target.exists():
        raise UserError(
            f"'{target}' does not exist: give a run folder, or a folder of runs (a suite's, a sweep's)."
        )
    if not target.is_dir():
        raise UserError(_file_given(target))
    runs = runs_of(target, key)  # UserError for a folder holding no run
    if not runs:
        raise UserError(_no_runs(target, verb, unloaded))
    return runs


def _no_runs(target: Path, verb: str, unloaded: str | None) -> str:
    """Why a suite or sweep folder ``target`` cannot be compared (``verb``): it holds no run folder yet (a
    sweep folder whose study, with the rows of the trials trained elsewhere, cannot be loaded: why,
    ``unloaded``, where :func:`find_runs` loaded it; None: loaded here, ``study_or_why``)."""
    kind = folder_kind(target)
    said = f"'{target}' is a {kind} folder that holds no run folder here"
    if kind == "sweep" and unloaded is None:
        from vislab.experiments.sweeps.recorded_study import study_or_why  # on use (see above)

        unloaded = study_or_why(target)[1]
    if kind == "sweep" and unloaded:
        return (
            f"{said}, and its study, which holds the rows of the trials trained elsewhere, was not "
            f"loaded: {unloaded}"
        )
    if kind == "sweep":
        said += " yet (trials trained on another machine keep their run folders there: `vislab compare` lists"
        return f"{said} them from the study database): {verb} it once one has trained here."
    return f"{said} yet: {verb} it once one has trained here."


def _file_given(path: Path) -> str:
    """Why file ``path`` cannot be compared, naming its run as ``vislab.load_run`` does (not_a_run): a
    checkpoint's run is the folder above checkpoints/, any other file's the folder it is in."""
    run = run_of_file(path)
    if run is not None:
        what = "a checkpoint file" if path.parent.name == "checkpoints" else "a file"
        return f"'{path}' is {what} of run '{run.as_posix()}': give the run's folder, '{run.as_posix()}'."
    return (
        f"'{path}' is a file: give a run folder (the folder a run was trained into), or a folder of "
        f"runs (a suite's, a sweep's)."
    )


def _unfinished(summary: RunSummary | None, folder: Path) -> str:
    """Why a run is not in the table and the fix, as every table says it (``results.folders.why_unfinished``:
    its summary.json's message, else its status, then the resume that goes on from its last checkpoint or
    draws the figures cut short; no summary.json yet: why), its status first where a message says why."""
    from vislab.experiments.results.folders import why_unfinished  # on use (see the imports)

    why = " ".join(why_unfinished(None if summary is None else summary.to_json(), folder).split())
    told = summary is not None and summary.status and summary.message
    return f"not finished ({f'status {summary.status}: {why}' if told else why})"
