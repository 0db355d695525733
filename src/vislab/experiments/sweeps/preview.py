"""A sweep's dry run (``vislab sweep FILE --dry-run``, ``vislab.sweep(..., dry_run=True)``): the sweep
checked as a real one is before its first trial — its file, the options given, its base config, its
storage URL, its folder, the study it would join — and what it would do, as a :class:`SweepPlan`. Nothing
is trained, downloaded or written, and no study or database file is made: a study that is there is only
read."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import optuna

from vislab.config import Config, build_config, set_dotted
from vislab.data.download import may_download
from vislab.errors import DataError, UserError
from vislab.experiments.databases import public_url
from vislab.experiments.results.recorded import flat_settings
from vislab.experiments.sweeps import attrs
from vislab.experiments.sweeps.data_checks import check_on_data
from vislab.experiments.sweeps.joining import check_same_base, check_same_space
from vislab.experiments.sweeps.results import refuse_another_sweep, stage_storage
from vislab.experiments.sweeps.runner import count_busy, selecting, trial_count
from vislab.experiments.sweeps.samplers import name_and_options
from vislab.experiments.sweeps.space import first_values, space_yaml
from vislab.experiments.sweeps.spec import Sweep, base_tree, load_sweep, sweep_of, with_overrides
from vislab.experiments.sweeps.sqlite_file import damage_named, sqlite_path, study_tables
from vislab.experiments.sweeps.study import (
    absolute_storage,
    check_same_direction,
    check_same_metric,
    check_storage_folder,
    dead_here,
    default_storage,
    open_storage,
)
from vislab.experiments.sweeps.trials import STATE_WORDS, set_text, state_counts


@dataclass(frozen=True)
class SpaceEntry:
    """One search-space entry: its config key, ``kind`` (float, int, categorical), range (``low``,
    ``high``, ``step``) or ``choices``, and whether it is drawn on a log scale."""

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] | None = None

    def said(self) -> str:
        """The entry in one line: ``optim.lr: float from 0.001 to 0.1, log scale``."""
        if self.choices is not None:
            return f"{self.name}: {self.kind}, choices {', '.join(map(set_text, self.choices))}"
        step = f", step {self.step}" if self.step is not None else ""
        return f"{self.name}: {self.kind} from {self.low} to {self.high}{step}" + (
            ", log scale" if self.log else ""
        )


@dataclass(frozen=True)
class SweepPlan:
    """What ``vislab.sweep(..., dry_run=True)`` returns: the sweep ``folder``, its ``study`` and
    ``storage`` (without password), ``metric`` and ``direction``, ``sampler`` and ``pruner`` (each as
    its name and options), ``held``: the study's trials by state (None: its storage or the study is not
    there yet), ``trials``: the study's total asked for and ``to_train``: how many this call would train,
    the ``space``, ``base_sets``: the base config's settings that differ from vislab's defaults as
    ``key=value``, and the ``notes`` its trials would give as they start (those that need no data)."""

    folder: Path
    study: str
    storage: str
    metric: str
    direction: str
    sampler: str
    pruner: str
    held: dict[str, int] | None
    trials: int
    to_train: int
    space: tuple[SpaceEntry, ...]
    base_sets: tuple[str, ...]
    notes: tuple[str, ...]

    def lines(self) -> list[str]:
        """The plan as ``vislab sweep FILE --dry-run`` prints it, line by line."""
        if self.held is None:
            held = "none yet (the study is made by its first worker)"
        else:
            held = ", ".join(f"{n} {w}" for w, n in self.held.items() if n) or "none yet"
        return [
            f"sweep folder: {self.folder}",
            f"study: {self.study} in {self.storage}",
            f"metric: {self.metric} ({self.direction})",
            f"sampler: {self.sampler}; pruner: {self.pruner}",
            f"trials the study holds: {held}",
            f"trials to train: {self.to_train} (the study should hold {self.trials})",
            "search space:",
            *(f"  {entry.said()}" for entry in self.space),
            "base config (its settings that differ from the defaults):",
            *(f"  --set {s}" for s in self.base_sets or ("(none: vislab's defaults)",)),
            *(f"note: {note}" for note in self.notes),
            "dry run: nothing was trained or written",
        ]


def preview_sweep(
    spec_or_file: str | Path | Mapping[str, Any],
    out: str | Path | None,
    storage: str | None,
    overrides: list[str],
    start_notes: Callable[[Config], list[str]],
    trials: int | None = None,
    narrow: int | None = None,
) -> SweepPlan:
    """The plan of a sweep (:class:`SweepPlan`), checked as :func:`vislab.sweep` checks it before its
    first trial (UserError, ConfigError the same), its data read only where it is here already;
    ``start_notes``: the notes a trial gives as it starts (those that need no data), of the base with the
    space's first values (:func:`first_values`)."""
    if storage:
        check_storage_folder(absolute_storage(storage))
    sweep = _loaded(spec_or_file, out, overrides)
    folder = Path(out) if out is not None else Path("runs") / f"sweep-{sweep.name}"
    url = stage_storage(folder, storage)
    refuse_another_sweep(folder, sweep.name, url)
    if narrow:
        refuse_another_sweep(folder / "narrow", f"{sweep.name}-narrow", url)
    notes: list[str] = list(sweep.notes)
    n = trial_count(sweep, trials or sweep.trials, notes.append)
    sweep = selecting(sweep, overrides, notes.append)
    base = base_tree(sweep.base, overrides, f"sweep '{sweep.name}' base")
    held, busy = _held(sweep, url, base, folder)
    cfg = build_config(base, source=f"sweep '{sweep.name}' base")
    # the notes of a config the trials can have: the bare base lacks the swept settings
    drawn = build_config(first_values(base, sweep.distributions), source=f"sweep '{sweep.name}'")
    return SweepPlan(
        folder=folder,
        study=sweep.name,
        storage=public_url(url),
        metric=sweep.metric,
        direction=sweep.direction,
        sampler=_said_choice(sweep.sampler, "tpe", sweep.seed),
        pruner=_said_choice(sweep.pruner, "none"),
        held=held,
        trials=n,
        to_train=max(0, n - busy),
        space=tuple(_entry(k, v) for k, v in space_yaml(sweep.distributions).items()),
        base_sets=base_sets(cfg),
        notes=(*[n.removeprefix("note: ") for n in notes], *start_notes(drawn)),
    )


def _loaded(
    spec_or_file: str | Path | Mapping[str, Any], out: str | Path | None, overrides: list[str]
) -> Sweep:
    """The sweep, checked on its data where the data is here (:func:`_on_data_here`); a mapping is read
    as it is, not written to the folder."""
    if not isinstance(spec_or_file, Mapping):
        sweep = load_sweep(spec_or_file, overrides)
        return _on_data_here(sweep, overrides, str(sweep.path))
    tree = dict(spec_or_file)
    name = str(tree.setdefault("name", "sweep"))
    folder = Path(out) if out is not None else Path("runs") / f"sweep-{name}"
    source = "the sweep given to vislab.sweep"
    return _on_data_here(
        sweep_of(tree, folder / "spec.yaml", overrides, source=source), overrides, source
    )


def _on_data_here(sweep: Sweep, overrides: list[str], source: str) -> Sweep:
    """``sweep`` checked on its base's data as a real sweep is (:func:`check_on_data`), without a
    download: data that is not here yet, which a real sweep would download first, is said in a note
    instead."""
    base = copy.deepcopy(sweep.base)
    set_dotted(base, "data.download", False)
    try:
        return replace(check_on_data(replace(sweep, base=base), overrides, source), base=sweep.base)
    except DataError:
        data = build_config(with_overrides(sweep.base, overrides)).data
        if not may_download(data):
            raise  # a real sweep would not download it either
        return replace(
            sweep,
            notes=(
                *sweep.notes,
                "its base's data is not here yet: a real sweep downloads it, then checks the base's "
                "model on it before its first trial",
            ),
        )


def _held(sweep: Sweep, url: str, base: dict, folder: Path) -> tuple[dict[str, int] | None, int]:
    """The study's trials by state and how many count as taken (:func:`count_busy`, less the running
    trials whose worker on this host is dead, which a real sweep re-queues first: :func:`dead_here`);
    (None, 0) where its storage or the study is not there. A study that is there is checked as a worker
    joining it checks it (its space, base and metric), read only."""
    if sqlite_path(url) is not None and not study_tables(url):
        return None, 0  # no database file is made, nor tables in one
    storage = open_storage(url)
    try:
        with damage_named(url):
            try:
                study = optuna.load_study(study_name=sweep.name, storage=storage)
            except KeyError:
                return None, 0
            _check_joinable(study, sweep, base, folder, url)
            counts = state_counts(study)
            return {w: counts[w] for w in STATE_WORDS}, count_busy(study) - len(dead_here(study))
    finally:
        storage.engine.dispose()


def _check_joinable(study: optuna.Study, sweep: Sweep, base: dict, folder: Path, url: str) -> None:
    """UserError where a worker would refuse to join ``study`` (:func:`open_study`, :func:`join_study`):
    another metric, direction, space or base (each only where the study recorded it: nothing is
    written)."""
    check_same_metric(study, sweep.metric)
    check_same_direction(study, sweep.direction, url)
    if attrs.SPACE in study.user_attrs:
        check_same_space(study.study_name, study.user_attrs[attrs.SPACE], sweep.distributions)
    if attrs.BASE in study.user_attrs:
        check_same_base(study, base, shared=url != default_storage(folder))


def _said_choice(value: Any, default: str, seed: int | None = None) -> str:
    """A ``sampler:``/``pruner:`` value as its name and options: ``random (seed=0)``."""
    name, options = name_and_options(value, default)
    options = {**options, **({"seed": seed} if seed is not None else {})}
    said = ", ".join(f"{k}={set_text(v)}" for k, v in options.items())
    return f"{name} ({said})" if said else name


def _entry(name: str, entry: dict) -> SpaceEntry:
    """A ``space:`` entry as :func:`space_yaml` writes it, as a :class:`SpaceEntry`."""
    choices = entry.get("choices")
    return SpaceEntry(
        name=name,
        kind=entry["type"],
        low=entry.get("low"),
        high=entry.get("high"),
        log=bool(entry.get("log", False)),
        step=entry.get("step"),
        choices=tuple(choices) if choices is not None else None,
    )


def base_sets(cfg: Config) -> tuple[str, ...]:
    """``cfg``'s settings that differ from vislab's defaults, as ``--set`` assignments (``key=value``)."""
    given, defaults = flat_settings(cfg.to_dict()), flat_settings(build_config({}).to_dict())
    return tuple(
        f"{key}={set_text(value)}"
        for key, value in given.items()
        if key not in defaults or defaults[key] != value
    )


def no_dry_run_with(overwrite: bool) -> None:
    """UserError for ``overwrite`` in a dry run: it says what the sweep would do with its folder as it
    is."""
    if overwrite:
        raise UserError(
            "a dry run says what the sweep would do with its folder as it is, and --overwrite deletes its "
            "trials and study first: for the plan of the folder as it is, leave out --overwrite (Python: "
            "leave out overwrite=True); to start the sweep over, leave out --dry-run (Python: leave out "
            "dry_run=True)."
        )
