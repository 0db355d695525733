"""Running an Optuna sweep: its spec, its folder and its study."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import yaml
from pydantic import PlainValidator

from vislab.api.experiments import (
    Log,
    check_counts,
    every_run_sets,
    lines_to,
    report_hook,
    report_kept_on_ctrl_c,
)
from vislab.api.folders import check_new, start_over, sweep_worker
from vislab.arguments import Folder, checked
from vislab.config.overrides import as_yaml
from vislab.errors import UserError
from vislab.training.progress import in_notebook
from vislab.training.writable import check_writable

# The sweep runner and reports are imported by the functions that use them ("on use" below): they load
# matplotlib, optuna and SQLAlchemy, which `import vislab.api` should not wait for (see its __init__).
if TYPE_CHECKING:
    import optuna

    from vislab.config import Config
    from vislab.experiments.sweeps.preview import SweepPlan
    from vislab.experiments.sweeps.spec import Sweep


_IN_FILES = "a sweep or a suite writes each run's config to a file"
_REGISTER_MODEL = (
    "register the model (@vislab.register_model('small') on its class or builder) and give "
    "model__name='small', or keep it in a file: model__name='net.py:Net'"
)


def _data_name(value: Any) -> str | None:
    """``data`` of a sweep or suite: a data.name (a string), or None; arrays or a Dataset are refused with
    the way to name them (vislab.register_arrays)."""
    if value is None or isinstance(value, str):
        return value
    raise UserError(
        f"data got a {type(value).__name__}, but {_IN_FILES}, which names its data: data must be a "
        f"data.name (a string). Register arrays or a Dataset first, name = vislab.register_arrays(x, y), "
        f"then give data=name."
    )


DataName = Annotated[str | None, PlainValidator(_data_name)]


def check_file_settings(caller: str, settings: Mapping[str, Any], overrides: object = ()) -> None:
    """UserError for a setting (or an ``overrides`` mapping's) a run's config file cannot hold: ``model=``
    (a class, a module) or a value YAML cannot write (a class as ``model__name``), with the way to name it
    (vislab.register_model)."""
    if "model" in settings:
        raise UserError(
            f"{caller} got model={_shown(settings['model'])}, which is no argument of it: {_IN_FILES}, "
            f"which names its model. To sweep your own model, {_REGISTER_MODEL}."
        )
    given = {**settings, **(overrides if isinstance(overrides, Mapping) else {})}
    for key, value in given.items():
        try:
            as_yaml(value)
        except yaml.YAMLError:
            fix = (
                _REGISTER_MODEL
                if key.replace("__", ".").startswith("model.")
                else "give a number, a string or a list"
            )
            raise UserError(
                f"{caller} got {key}={_shown(value)}: {_IN_FILES}, which cannot hold a "
                f"{'class' if isinstance(value, type) else type(value).__name__}. {fix[0].upper()}{fix[1:]}."
            ) from None


def _shown(value: Any) -> str:
    """``value`` as a message names it: a class or function by its name, else its repr, cut short."""
    name = getattr(value, "__qualname__", None)
    return name if isinstance(name, str) else repr(value)[:60]


def resolve_sweep(
    spec_or_file: str | Path | Mapping[str, Any],
    out: str | Path | None = None,
    overwrite: bool = False,
    storage: str | None = None,
    overrides: Sequence[str] = (),
) -> tuple[Sweep, Path]:
    """The loaded sweep and its folder (``out``, default ``runs/sweep-<name>``). A mapping is a sweep spec
    as in a sweep YAML; it is written to ``<folder>/spec.yaml`` and read from there. Its space is checked
    against its base with ``overrides`` (``--set`` assignments) before ``overwrite`` deletes an earlier
    sweep in the folder (:func:`start_over`, refused with a shared ``storage``); the sweep file stays,
    should it lie there. A mapping of another sweep than the one in the folder is refused before it is
    written there (unless ``overwrite``)."""
    spec, folder = _load_sweep(spec_or_file, out, tuple(overrides), overwrite, storage)
    if overwrite:
        start_over(folder, "sweep", keep=spec.path, storage=storage)
    check_new(folder, "sweep", keep=spec.path)
    return spec, folder


def _load_sweep(
    spec_or_file: str | Path | Mapping[str, Any],
    out: str | Path | None,
    overrides: tuple[str, ...],
    overwrite: bool,
    storage: str | None,
) -> tuple[Sweep, Path]:
    """The sweep and its folder. A mapping is checked (its mistakes name it, not a file), then goes to the
    folder's spec.yaml, unless the folder holds another sweep (:func:`refuse_another_sweep`; with
    ``overwrite`` it is about to be deleted); a SQLite ``storage`` in a folder that is not there is
    refused. Either is checked on its data first (:func:`check_on_data`:
    a base whose model cannot take its data is refused before any folder or study is made)."""
    from vislab.experiments.sweeps.data_checks import check_on_data  # on use (see the imports)
    from vislab.experiments.sweeps.results import refuse_another_sweep, stage_storage
    from vislab.experiments.sweeps.spec import load_sweep, sweep_of
    from vislab.experiments.sweeps.study import absolute_storage, check_storage_folder

    if storage:  # a SQLite file in a folder that is not there: refused, not made
        check_storage_folder(absolute_storage(storage))
    if not isinstance(spec_or_file, Mapping):
        spec = load_sweep(spec_or_file, overrides)
        spec = check_on_data(spec, overrides, str(spec.path))
        return spec, _sweep_folder(out, spec.name)
    tree = dict(spec_or_file)
    name = str(tree.setdefault("name", "sweep"))
    folder = _sweep_folder(out, name)
    if not overwrite:
        refuse_another_sweep(folder, name, stage_storage(folder, storage))
    path = folder / "spec.yaml"
    source = "the sweep given to vislab.sweep"
    notes = check_on_data(sweep_of(tree, path, overrides, source=source), overrides, source).notes
    try:
        text = yaml.safe_dump(tree, sort_keys=False)
    except yaml.YAMLError as e:
        raise UserError(f"the sweep spec holds a value YAML cannot write: {e}") from None
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return replace(load_sweep(path, overrides), notes=notes), folder


def _sweep_folder(out: str | Path | None, name: str) -> Path:
    """``out`` (default ``runs/sweep-<name>``), once it is, or can be made, a writable folder: UserError
    otherwise, before the spec is written there or anything trains."""
    folder = Path(out) if out is not None else Path("runs") / f"sweep-{name}"
    check_writable(folder, "the sweep's trials", undone="no trial was run")
    return folder


def _said_if_cut_short(hook: Callable[..., None]) -> Callable[..., None]:
    """A sweep stage's report ``hook``, a Ctrl-C in it said: what was kept, and that `vislab report` or
    the same sweep again writes it (:func:`~vislab.api.experiments.report_kept_on_ctrl_c`)."""
    again = (
        "re-run the same `vislab sweep` command (Python: the same vislab.sweep call), which trains only "
        "the trials still missing, then writes it"
    )
    return report_kept_on_ctrl_c(hook, "trials", again)


def _dry_run(
    spec_or_file: str | Path | Mapping[str, Any],
    out: str | Path | None,
    overwrite: bool,
    storage: str | None,
    sets: list[str],
    **counts: int | None,
) -> SweepPlan:
    """The plan of :func:`sweep` (``counts``: its ``trials`` and ``narrow``), checked as the sweep is
    before its first trial, its folder as a new sweep's (:func:`check_new`): nothing trained or written."""
    from vislab.experiments.sweeps.preview import no_dry_run_with, preview_sweep  # on use

    no_dry_run_with(overwrite)
    plan = preview_sweep(spec_or_file, out, storage, sets, _start_notes, **counts)
    check_writable(plan.folder, "the sweep's trials", undone="no trial was run")
    check_new(plan.folder, "sweep", keep=_spec_file(spec_or_file, plan.folder))
    return plan


def _start_notes(cfg: Config) -> list[str]:
    """The notes a trial of the base config ``cfg`` gives as it starts and that need no data, as a suite's
    dry run says them (``foreseen_notes``)."""
    # on use (see the imports)
    from vislab.experiments.suites.foresee import Foreseen, foreseen_notes
    from vislab.experiments.suites.plan import declared_trained_by

    how = declared_trained_by(cfg.model.name, cfg.model.kwargs())
    trial = Foreseen("each trial", "start", "", config=cfg, settings={}, trained_by=how)
    return [note.removeprefix("note (each trial): ") for note in foreseen_notes([trial])]


def _spec_file(spec_or_file: str | Path | Mapping[str, Any], folder: Path) -> Path:
    """The sweep's file, which may lie in its ``folder`` (a mapping's: ``folder/spec.yaml``)."""
    from vislab.config import find_yaml  # on use (see the imports)
    from vislab.experiments.sweeps.spec import SWEEP_DIR

    if isinstance(spec_or_file, Mapping):
        return folder / "spec.yaml"
    return find_yaml(spec_or_file, SWEEP_DIR)


@checked
def sweep(
    spec_or_file: str | Path | Mapping[str, Any],
    *,
    out: Folder | None = None,
    trials: int | None = None,
    timeout: float | None = None,
    storage: str | None = None,
    data: DataName = None,
    epochs: int | None = None,
    overrides: str | Sequence[str] | Mapping[str, Any] = (),
    narrow: int | None = None,
    narrow_trials: int | None = None,
    quiet: bool | None = None,
    report: bool = False,
    log: Log | None = None,
    curves: int | None = None,
    overwrite: bool = False,
    dry_run: bool = False,
    **settings: Any,
) -> optuna.Study | SweepPlan:
    """Run (or join) an Optuna sweep — a built-in name (``vislab sweep list``), a sweep YAML (vislab's, or
    a W&B sweep file as it is) or the same mapping — each trial into ``out/trials/<n>``; return the study.
    ``trials`` is the study's total: the same call again trains nothing (a :class:`~vislab.errors.Note`
    says so), ``trials=N+k`` k more. ``report``: write the report (curves of the best ``curves`` trials;
    the command writes it unless ``--no-report``), which draws the trials it shows: the trials then draw
    no figures of their own unless ``train.figures`` is set (without it, each its own). ``overwrite``:
    delete an earlier sweep in ``out`` (another sweep's folder: UserError without it); a study of
    another space or base: UserError. ``data``, ``epochs``, ``overrides`` (``{"data.limit": 300}``)
    and ``settings`` (``data__limit=300``) set every trial's config as ``--set`` does (a key given
    twice: UserError). ``quiet``: None prints the sweep's
    lines in a notebook only, False also each trial's progress, True nothing; ``log`` receives them
    instead. ``dry_run``: checked as before the first trial, nothing trained or written; returns its plan
    (:class:`~vislab.SweepPlan`; an existing study read only).
    >>> study = vislab.sweep({"base": {"data": {"name": "digits"}, "model": {"name": "mlp"}},
    ...                       "space": {"optim.lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}}},
    ...                      trials=4, epochs=2)  # study.best_params: the best trial's values
    """
    counts = {"trials": trials, "narrow": narrow, "narrow_trials": narrow_trials, "epochs": epochs}
    check_counts("sweep", **counts, timeout=timeout)  # seconds: at least 1, as --timeout, timeout:
    check_file_settings("sweep", settings, overrides)
    sets = every_run_sets("sweep", data, epochs, overrides, settings)
    if dry_run:
        return _dry_run(spec_or_file, out, overwrite, storage, sets, trials=trials, narrow=narrow)
    spec, folder = resolve_sweep(spec_or_file, out, overwrite, storage, sets)
    log = lines_to(log, not in_notebook() if quiet is None else quiet)
    return _run(spec, folder, sets, log, report, trials=trials, timeout=timeout, storage=storage,
                narrow=narrow, narrow_trials=narrow_trials, quiet=quiet is not False, curves=curves)  # fmt: skip


def _run(
    spec: Sweep, folder: Path, sets: list[str], log: Log, report: bool, **options: Any
) -> optuna.Study:
    """:func:`sweep`'s run once its arguments are checked: ``options`` as :func:`run_sweep` takes them;
    ``report``: each stage's report written (the first stage's last: it links to the second's)."""
    from vislab.experiments.sweeps.runner import run_sweep  # on use (see the imports)
    from vislab.report.build import build_report

    hook = _said_if_cut_short(report_hook(log)) if report else None
    with sweep_worker(folder):  # --overwrite by another process refuses while this one works on it
        study = run_sweep(spec, folder, overrides=sets, log=log, on_results=hook, **options)
    if options["narrow"] and report:  # the first stage's report links to the second's
        _said_if_cut_short(lambda out, st: build_report(out, study=st))(folder, study)
    return study
