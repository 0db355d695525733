"""A sweep folder: what it records (sweep.json: the study and where it is stored; sweep.yaml: the sweep as
run; its study loaded: recorded_study.py), its results (results.csv/.md of the complete trials,
trials.csv) and ``vislab sweep show``."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from pathlib import Path

import optuna
import yaml
from optuna.trial import TrialState

from vislab.errors import ConfigError, UserError
from vislab.experiments.databases import public_url
from vislab.experiments.records import SweepInfo
from vislab.experiments.results.texts import results_texts, write_tables
from vislab.experiments.sweeps import attrs
from vislab.experiments.sweeps.recorded_study import (
    check_recorded_database,
    found_storage,
    load_study_of,
    recorded_storage,
    same_storage,
)
from vislab.experiments.sweeps.spec import Sweep, to_distribution, with_overrides
from vislab.experiments.sweeps.sqlite_file import damage_named
from vislab.experiments.sweeps.study import (
    absolute_storage,
    default_storage,
    load_existing_study,
    open_existing_storage,
)
from vislab.experiments.sweeps.trials import (
    STATE_WORDS,
    base_file,
    database_note,
    elsewhere_trials,
    repeats_line,
    state_counts,
    table_params,
    table_summaries,
    trial_name,
    trials_csv,
)
from vislab.files import atomic_write_text
from vislab.training.rundir import RunDir
from vislab.training.summary import RunSummary

ResultsHook = Callable[[Path, optuna.Study], None]
"""Called with (stage folder, its study) once a stage's results.csv/.md and trials.csv are written (the
CLI passes one that builds the stage's report.html)."""


def write_sweep_info(
    out: Path, sweep: Sweep, study: optuna.Study, storage_url: str, made: dict | None = None
) -> None:
    """``out/sweep.json`` (:func:`sweep_record`) and ``out/sweep.yaml`` (the sweep as this stage runs it,
    its base with those changes applied: :meth:`Sweep.as_file`); ``made`` recorded in the study too
    (``attrs.record_made``: a folder that ``sweep show --storage --study`` writes from it says it)."""
    sweep_record(out, sweep, study, storage_url, made).write(out)
    if made is not None:
        attrs.record_made(study, made)
    atomic_write_text(Path(out) / "sweep.yaml", yaml.safe_dump(sweep.as_file(), sort_keys=False))


def sweep_record(
    out: Path, sweep: Sweep, study: optuna.Study, storage_url: str, made: dict | None = None
) -> SweepInfo:
    """What ``out/sweep.json`` records: the study, its storage without password, metric, curves and
    ``made`` (the sweep file and the command line's changes to its base, :func:`made_from`; no
    ``overrides`` key: unknown)."""
    info = dict(
        kind="sweep",
        study=study.study_name,
        storage=public_url(storage_url),
        default_storage=storage_url == default_storage(out),
        metric=sweep.metric,
        direction=sweep.direction,
        spec=str(sweep.path) if sweep.path is not None else "",
        curves=sweep.curves,
    )
    info.update(made or {})
    return SweepInfo.from_json(info)


def made_from(sweep: Sweep, overrides: Sequence[str]) -> dict:
    """What sweep.json records of how a sweep was made: ``spec``, its file, and ``overrides``, the command
    line's changes to its base. Run from a sweep folder's sweep.yaml (the sweep as run there, its changes
    applied) that still holds the changes that folder's sweep.json records: that file and those changes,
    then ``overrides``."""
    spec = str(sweep.path) if sweep.path is not None else ""
    before = SweepInfo()
    if sweep.path is not None and Path(sweep.path).name == "sweep.yaml":
        before = SweepInfo.read(Path(sweep.path).parent)
    earlier = before.overrides
    if not before.spec or earlier is None or not _holds(sweep.base, earlier):
        return dict(spec=spec, overrides=list(overrides))
    return dict(spec=before.spec, overrides=[*earlier, *overrides])


def _holds(base: dict, overrides: list[str]) -> bool:
    """Whether ``overrides`` (a list of ``key=value``) change nothing in ``base``: it was made with them."""
    try:
        return with_overrides(base, overrides) == base
    except ConfigError:
        return False


def trial_dirs(study: optuna.Study, out: Path) -> dict[str, Path]:
    """Run folder per trial: ``out/trials/<n>`` where it is here (a copied sweep folder reads its own), else
    the one the trial recorded when this machine can see it (another worker's --out)."""
    dirs = {}
    for t in study.get_trials(deepcopy=False):
        recorded = Path(t.user_attrs.get(attrs.RUN_DIR, ""))
        local = Path(out) / "trials" / str(t.number)
        path = recorded if not local.is_dir() and t.user_attrs.get(attrs.RUN_DIR) else local
        if path.is_dir():
            dirs[trial_name(t)] = path
    return dirs


def trial_params(study: optuna.Study) -> dict[str, dict]:
    """Each trial's swept values by its run name (:func:`trial_name`)."""
    return {trial_name(t): t.params for t in study.get_trials(deepcopy=False)}


def finish(
    out: Path,
    study: optuna.Study,
    log: Callable[[str], None],
    on_results: ResultsHook | None = None,
) -> tuple[dict[str, RunSummary], dict[str, RunSummary]]:
    """results.csv / results.md (complete trials, with their parameters: those whose run folders are not
    here from the study database, ``trials.table_summaries``; the count of the others; the trials
    other workers still run: :func:`still_running`, said too) and trials.csv; then
    ``on_results(out, study)``. Returns what ``table_summaries`` read (a report's plan reuses it)."""
    local, dirs = {}, trial_dirs(study, out)
    for name, path in dirs.items():
        s = RunDir(path).read_summary()
        if s is not None and s.in_tables(sweep=True):
            local[name] = s
    keep_base(out, study, dirs)
    summaries, elsewhere = table_summaries(study, local, dirs)
    running = still_running(study, out, summaries)
    counts = f"{trial_counts(study, summaries)} {running}".strip()
    under = (counts, database_note(study, elsewhere, out))
    write_tables(
        out,
        results_texts(
            out,
            summaries,
            title=f"sweep {study.study_name}",
            params=table_params(trial_params(study), summaries, dirs, out),
            note="\n\n".join(line for line in under if line),
            run_dirs=dirs,
        ),
    )
    atomic_write_text(Path(out) / "trials.csv", trials_csv(study))
    log(f"results: {Path(out) / 'results.md'}")
    if running:
        log(running)
    if on_results is not None:
        on_results(out, study)
    return summaries, elsewhere


def keep_base(out: Path, study: optuna.Study, dirs: dict[str, Path] | None = None) -> None:
    """Where a trial's run folder is not here (not in ``dirs``: :func:`trial_dirs`), the study's base
    config written to ``out/base.yaml`` (``trials.base_file``): the command that trains such a trial
    again starts from it."""
    dirs = trial_dirs(study, out) if dirs is None else dirs
    base = study.user_attrs.get(attrs.BASE)
    if base and elsewhere_trials(study, dirs):
        atomic_write_text(base_file(out), yaml.safe_dump(base, sort_keys=False))


def trial_counts(study: optuna.Study, table: Collection[str]) -> str:
    """results.md's line under the table (of the trials named ``table``): how many trials it shows, and how
    many were pruned, failed, are running or queued (listed in trials.csv). A running trial whose run has
    finished (in the table: its worker tells the study a moment later) counts as complete."""
    counts, in_table = state_counts(study), len(table)
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    ending = sum(trial_name(t) in table for t in running)
    counts["running"], counts["complete"] = counts["running"] - ending, counts["complete"] + ending
    shown = f"{in_table} complete trial{'s' if in_table != 1 else ''} in this table"
    others = ", ".join(f"{counts[w]} {w}" for w in STATE_WORDS[1:] if counts[w])
    again = repeats_line(study)
    return (
        f"Trials: {shown}; {others or 'none pruned or failed'}. trials.csv lists every trial with its "
        f"state, parameters and error." + (f" {again}" if again else "")
    )


def still_running(study: optuna.Study, out: Path, shown: Collection[str]) -> str:
    """Which trials of the study still run (on other workers, once this one ends) and are not ``shown`` in
    its table (by :func:`trial_name`), and the command that writes the full table once they end; "" when
    none."""
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    numbers = [t.number for t in running if trial_name(t) not in shown]
    if not numbers:
        return ""
    one = len(numbers) == 1
    return (
        f"Trial{'' if one else 's'} {', '.join(map(str, numbers))} still run{'s' if one else ''} on "
        f"another worker, so {'it is' if one else 'they are'} not in this table yet: once "
        f"{'it ends' if one else 'they end'}, `vislab sweep show {out}` (or the same "
        f"sweep again: it trains nothing more) writes the full table; the worker that ends last writes its "
        f"own."
    )


def stage_storage(out: Path, storage: str | None) -> str:
    """The storage of the sweep stage in ``out``: ``storage`` when given, else the one ``out/sweep.json``
    records (a narrowed stage's study lies in its first stage's study.db), else ``out/study.db``; a
    relative SQLite path made absolute (:func:`absolute_storage`), so the stage names it from anywhere."""
    recorded = recorded_storage(out, SweepInfo.read(out))
    if storage or not recorded or "***" in recorded:
        return absolute_storage(storage) if storage else default_storage(out)
    return found_storage(out, recorded)


def refuse_another_sweep(out: Path, study: str, storage_url: str) -> None:
    """UserError, before anything is trained or written, if ``out/sweep.json`` records another study than
    ``study``, or it in another storage than ``storage_url``: its trials and results would mix with theirs
    in one folder; or in a SQLite file that is gone or damaged (:func:`check_recorded_database`: a
    ``storage_url`` that holds the study is where it moved)."""
    info = SweepInfo.read(out)
    held, url = info.study, recorded_storage(out, info)
    if held is None or not url:
        return
    moved = held == study and check_recorded_database(out, held, url, storage_url)
    if held != study:
        what = f"the trials of sweep '{held}', not '{study}'"
        same = f"run the sweep file it holds ({Path(out) / 'sweep.yaml'} records it)"
    elif not same_storage(url, storage_url) and not moved:
        what = f"the trials of study '{held}' stored in {public_url(url)}, not in {public_url(storage_url)}"
        same = "give that storage (--storage; Python: storage=)"
    else:
        return
    raise UserError(
        f"'{out}' holds {what}, so nothing was trained or written: the two studies' trials and results "
        f"would mix in one folder. To go on with it, {same}; to start it over, --overwrite (Python: "
        f"overwrite=True; deletes its trials); else choose another folder (--out; Python: out=)."
    )


# ------------------------------------------------------------------------------ vislab sweep show
def show_sweep(
    folder: Path | None,
    storage: str | None,
    study_name: str | None,
    log: Callable[[str], None] = print,
    on_results: ResultsHook | None = None,
    curves: int | None = None,
    on_study: Callable[[optuna.Study, Path], None] | None = None,
) -> tuple[optuna.Study, Path]:
    """Load a sweep's study (from DIR/sweep.json or --storage/--study); for each stage (the sweep, its
    --narrow stage DIR/narrow), ``on_study(study, stage folder)`` (the CLI shows the best trials), then
    rewrite its results (``on_results`` after each; ``curves``: from now on its reports draw the curves of
    the best ``curves`` trials). Returns (study, sweep folder)."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    url, name = _study_location(folder, storage, study_name)
    with damage_named(url):  # a damaged study.db: named, with what still works
        study = load_existing_study(url, name)
        out = Path(folder) if folder is not None else Path("runs") / f"sweep-{name}"
        out.mkdir(parents=True, exist_ok=True)
        if SweepInfo.read(out) == SweepInfo():  # none, or a damaged one: written from the study
            made = attrs.study_made(study)  # how it was made, where the study records it
            if (out / "sweep.yaml").is_file():  # the sweep as it ran: kept
                sweep_record(out, _sweep_of(study), study, url, made).write(out)
            else:
                write_sweep_info(out, _sweep_of(study), study, url, made)
        for stage in (out, out / "narrow"):
            if (stage / "sweep.json").is_file() or stage == out:
                st = study if stage == out else load_study_of(stage)
                if curves is not None:
                    _set_curves(stage, curves)
                if st is not None:
                    keep_base(stage, st)  # before the CLI's best trials: their command may name it
                    if on_study is not None:
                        on_study(st, stage)
                    finish(stage, st, log, on_results)
    return study, out


def _study_location(
    folder: Path | None, storage: str | None, study_name: str | None
) -> tuple[str, str]:
    """(storage URL, study name): --storage and --study, else what ``folder/sweep.json`` records."""
    if folder is not None and Path(folder).is_file():
        raise UserError(_a_file(Path(folder)))
    info = None
    if folder is not None and not (
        storage and study_name
    ):  # both given: its sweep.json is not needed
        info = SweepInfo.strict(folder)  # a damaged one: UserError naming it and its fix
        if info is None and storage is None:
            raise UserError(
                f"'{folder}' holds no sweep.json: give a sweep folder, or --storage URL --study NAME."
            )
    info = info or SweepInfo()
    recorded = recorded_storage(folder, info) if folder is not None else None
    url = absolute_storage(storage) if storage else recorded and found_storage(folder, recorded)
    name = study_name or info.study
    if url and not name:
        names = optuna.get_all_study_names(open_existing_storage(url))
        raise UserError(
            f"give --study NAME: {public_url(url)} holds {', '.join(names) or 'no study'}."
        )
    if not url or not name:
        raise UserError("give a sweep folder, or both --storage URL and --study NAME.")
    if "***" in url:
        raise UserError(
            f"the sweep folder records the storage without its password ({url}); pass --storage URL."
        )
    return url, name


def _a_file(path: Path) -> str:
    """Why ``path``, a file, is no sweep folder for ``sweep show``: a sweep file is named as such, with
    the folder its sweep writes by default; a file of a sweep folder, with that folder."""
    if (path.parent / "sweep.json").is_file():
        return (
            f"'{path}' is a file of the sweep folder '{path.parent}', and sweep show takes the folder: "
            f"vislab sweep show {path.parent}."
        )
    try:
        tree = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        tree = None
    if not isinstance(tree, dict) or not ({"space", "parameters"} & set(tree)):
        return (
            f"'{path}' is a file, but sweep show takes a sweep's folder (the --out of `vislab sweep`, "
            f"which holds sweep.json): vislab sweep show DIR."
        )
    name = tree.get("name") or path.stem
    return (
        f"'{path}' is a sweep file, but sweep show takes the sweep's folder (its --out; by default "
        f"runs/sweep-{name}): vislab sweep show runs/sweep-{name}, or the --out it ran with."
    )


def _sweep_of(study: optuna.Study) -> Sweep:
    """A study opened without its sweep file, as the Sweep its folder records: no file; the base config its
    trials were built from, as the study stored it."""
    return Sweep(
        name=study.study_name,
        path=None,
        base=study.user_attrs.get(attrs.BASE, {}),
        distributions={
            k: to_distribution(k, v) for k, v in study.user_attrs.get(attrs.SPACE, {}).items()
        },
        metric=attrs.study_metric(study),
        direction=study.direction.name.lower(),
        recorded=("name", "metric", "direction", "base", "space"),
    )


def _set_curves(stage: Path, curves: int) -> None:
    """Record in ``stage/sweep.json`` how many trials' curves its report draws."""
    info = SweepInfo.strict(stage) or SweepInfo()
    info.curves = curves
    info.write(stage)
