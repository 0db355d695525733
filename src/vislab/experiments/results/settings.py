"""What each row of a comparison table was: its run's ``model`` and ``seed``, then a column per config
setting (dotted key, ``optim.lr``) whose value differs between the table's runs, read from each run's
config.yaml. ``vislab.compare``, results.csv / results.md of a suite and report.html all show these
(:func:`table_settings`); a sweep's tables show its swept values instead (they are what changed).

Settings that differ without changing what a run computes are left out (:data:`NOT_SHOWN`): where and
how it ran (``config.RESULT_NEUTRAL_KEYS``: data.root, train.device, track.*, ...), what it writes
beside its results (train.figures, train.log_every, ...), model.name / train.seed, which the ``model``
and ``seed`` columns give, what a run's model never read (optim.* but optim.lr for ``mlp-scratch``'s
own step, optim.*, schedule.*, augment.* and train.epochs for a fitted baseline:
``config.unread.UNREAD_SECTIONS``), data.official_val where the data has no official val set (digits), and
what its own settings make inert (``config.reads.READS``, which the run's ``note:`` lines also read: a schedule key
its schedule does not read, optim.momentum with adam, an augmentation with augment.p=0): :func:`silent_keys`.
A run is silent on those keys: it never makes the others' values a difference. Yet a key the run's own
settings make inert is shown for the runs that read it away from vislab's default, where a setting of its
section differs (:func:`changed_keys`): a step schedule's step_size and gamma beside a run without a
schedule say how schedule.name's rows differ. A schedule that never moves
the lr differs from the others as schedule.name=none would (:func:`same_as`), and shows as it is; the
centre crop (augment.crop.size) shows beside a differing augment.crop.p (:data:`INPUT_KEYS`); the
optimizer of mlp-scratch's hand-written levels, which step by plain SGD, shows as optim.name=sgd
(``config.unread.own_step_same_as``), like for like beside its model.impl=optim.
A model option at the value its model uses when it is left unset (``model.dropout=0`` of a cnn whose
preset has none) is compared as unset; where model options differ, a row that leaves one unset shows
the value its model takes then, and a row whose model has no such option shows ``n/a`` in the tables
for people, an empty cell in results.csv and ``vislab.compare`` (model_options.py). A setting left null
for a value vislab picks is compared as that value, as `vislab config show` resolves it (:func:`built_in`:
schedule.gamma of the exponential and step schedules, train.early_stop_metric).
The seeds of one row of a seeded suite are not a difference: its row has no ``seed`` and keeps only the
settings all its seeds share. Where runs of one model name ran different code (a notebook's class redefined
between them), a ``code`` column after the seed says which version each row trained (columns_code.py).

results.csv and ``vislab.compare`` keep a column per setting; a table for people (results.md, report.html,
the paper) keeps them as columns only when at most :data:`MAX_COLUMNS` differ, else lists each row's under
the table, ``key=value`` for each such setting the row has but one left off at vislab's default (no crop,
dropout or schedule): what tells the rows apart, optim.name=adam included beside runs with sgd
(:mod:`vislab.experiments.results.for_people`, which a suite's dry run says too).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from vislab.config import RESULT_NEUTRAL_KEYS, Config, ScheduleConfig, build_config
from vislab.config.reads import SAME_AS, idle_settings
from vislab.config.unread import own_step_same_as, unread_setting
from vislab.errors import UserError
from vislab.experiments.results.columns_code import CODE, code_values
from vislab.experiments.results.model_options import (
    NOT_TAKEN,
    Model,
    at_model_default,
    model_of,
    with_model_defaults,
)
from vislab.experiments.results.recorded import WRITES_ONLY, flat_settings, recorded_settings
from vislab.training.rundir import RunDir
from vislab.training.summary import RunSummary

SHOWN_APART = ("model.name", "train.seed")  # the model and seed columns
NOT_SHOWN = (*RESULT_NEUTRAL_KEYS, *WRITES_ONLY, *SHOWN_APART)
IDENTITY = ("model", "seed")  # summary.json's keys, the first columns after the run
# a sweep table's column where a complete trial's run folder is not here: each row's run folder (relative to
# the sweep folder where it lies in it), "not here" for a row from the study database; a column whatever
# else differs, never one of the settings it counts (``for_people``)
RUN_FOLDER = "run folder"
_SHOWN_AS_IDENTITY = ("model.name", "train.seed")  # the settings whose values those columns are
# column → summary.json's key: what a run was that no config setting says, a column after the identity
# where the rows differ in it (--nproc 2 and one process, the same batch_size: other scores)
RECORDED = {"processes": "world_size"}
# read where its augmentation is off too (config/reads.py): the centre crop, the model's input, which tells
# how a run differs where the crop's settings do (a run with augment.crop.p=0 still crops)
INPUT_KEYS = ("augment.crop.size",)


@dataclass(frozen=True)
class Settings:
    """A table's setting columns: ``keys`` in order (model, seed, then the changed settings, sorted),
    ``values`` (row → {key: value}; a setting a run does not have is missing), ``unread`` (run → the
    error that kept its config.yaml from being read: its settings are not compared), ``swept``: a
    sweep's values, each a trial's choice (listed even at vislab's default), and ``unset``: row → the
    model options it leaves unset, valued as its model has them (``model_options.with_model_defaults``)."""

    keys: list[str]
    values: dict[str, dict[str, Any]]
    unread: dict[str, UserError]
    swept: bool = False
    unset: dict[str, set[str]] = field(default_factory=dict)


def read_settings(run_dir: Path, cfg: Config | None = None) -> dict[str, Any]:
    """The run's config.yaml as :func:`flat_settings`, read as ``Run.config`` reads it (validated, each
    setting as that run did it: ``RunDir.load_config``; ``cfg``: already read, a report's), each setting
    its checkpoint recorded as the checkpoint has it (:func:`recorded_settings`: config.yaml may have
    been edited since). UserError naming the file when it is missing, unreadable or no valid config,
    and what writes it again."""
    run = RunDir(run_dir)
    try:
        cfg = cfg if cfg is not None else run.load_config()
    except UserError as e:  # YAML's message on lines, pointing at the place: on one
        raise UserError(f"{' '.join(str(e).split()).rstrip('.')}. {run.rewrite_fix()}") from None
    if cfg is None:
        raise UserError(run.config_missing())
    return {**flat_settings(cfg.to_dict()), **(recorded_settings(run_dir) or ({}, ""))[0]}


def silent_keys(settings: dict[str, Any], trained_by: str) -> set[str]:
    """The keys of a run's ``settings`` that change nothing for it: those its model never reads
    (``config.unread.unread_setting``: optim.* of a fitted baseline) and those its other settings make do
    nothing (``config.reads.idle_settings``: schedule.gamma with schedule.name=none, optim.momentum with
    adam, an augmentation with augment.p=0, data.official_val where the data has no official val set) —
    but those :func:`same_as` compares as another value."""
    unread = {k for k in settings if unread_setting(k, trained_by)}
    return unread | idle_keys(settings, trained_by)


def idle_keys(settings: dict[str, Any], trained_by: str) -> set[str]:
    """The :func:`silent_keys` of a run that its own settings make do nothing (``config.reads.READS``:
    schedule.step_size with schedule.name=none), not those its model never reads."""
    idle = set(idle_settings(settings.__getitem__)) - set(SAME_AS)
    return {k for k in idle if k in settings and not unread_setting(k, trained_by)}


def same_as(settings: dict[str, Any], trained_by: str) -> dict[str, Any]:
    """The settings of a run that do nothing but still say what it did, as the value they amount to
    (``config.reads.SAME_AS``: a step schedule whose step_size outlasts the run is schedule.name=none)."""
    idle = idle_settings(settings.__getitem__)
    return {k: v for k, v in SAME_AS.items() if k in idle and not unread_setting(k, trained_by)}


def changed_keys(
    settings: Sequence[dict[str, Any]],
    silent: Sequence[set[str]] | None = None,
    idle: Sequence[set[str]] | None = None,
) -> list[str]:
    """The dotted keys whose value differs among the ``settings`` with a say on them, sorted, without
    :data:`NOT_SHOWN`. A key missing from a run counts as None (another model family's setting), unless
    the run is ``silent`` on it (:func:`silent_keys`, one set per run): then the run makes no
    difference. Also each key that tells how a differing one differs (:func:`_tells_how`; ``idle``: the
    silent keys each run's own settings make do nothing, :func:`idle_keys`; and :data:`INPUT_KEYS`)."""
    silent = silent or [set() for _ in settings]
    keys = sorted({k for s in settings for k in s if not k.startswith(NOT_SHOWN)})
    differ = [
        k for k in keys if _differs([s.get(k) for s, m in zip(settings, silent) if k not in m])
    ]
    idle_somewhere = set().union(*(idle or []))
    told = [
        k
        for k in keys
        if (k in idle_somewhere or k in INPUT_KEYS) and _tells_how(k, settings, silent, differ)
    ]
    return sorted({*differ, *told})


def _differs(values: list[Any]) -> bool:
    return any(v != values[0] for v in values[1:])


def _tells_how(
    key: str, settings: Sequence[dict[str, Any]], silent: Sequence[set[str]], differ: list[str]
) -> bool:
    """Whether ``key``, which some runs' own settings make do nothing (a step schedule's step_size beside a
    run without a schedule) or the model's input (augment.crop.size beside augment.crop.p), shows: where
    a run that reads it has it away from vislab's default and a setting of its section
    (schedule.*; augment.rotation.* for augment.rotation.degrees) differs — it says how that section
    differs (step_size=2 of the step schedule that schedule.name shows)."""
    section = f"{key.rpartition('.')[0]}."
    if not any(k.startswith(section) for k in differ):
        return False
    default = _defaults().get(key)
    return any(key in s and s[key] != default for s, m in zip(settings, silent) if key not in m)


def table_settings(
    summaries: Mapping[str, RunSummary],
    run_dirs: dict[str, Path],
    rows: dict[str, list[str]] | None = None,
    configs: dict[str, Config] | None = None,
    keys: Sequence[str] | None = None,
) -> Settings:
    """The setting columns of a table of ``summaries`` (its runs' folders in ``run_dirs``): per run, or
    per row of seeds (``rows``: row → its runs; each row's settings those all its finished seeds share).
    A setting silent for a run (:func:`silent_keys`) is not among its values; one :func:`same_as` another
    differs as that one, and shows as it is. ``configs``: run → its config.yaml already read (a report's);
    a run not in it has its file read here. ``keys``: the settings to show (a larger table's, of which
    these runs are some: ``vislab paper --only``), instead of those that differ between these runs."""
    sides, unread = _read_all(summaries, run_dirs, configs or {})
    if rows:
        groups = {r: [n for n in names if n in summaries] for r, names in rows.items()}
        groups = {r: names for r, names in groups.items() if names}
    else:
        groups = {n: [n] for n in summaries}
    shared = {
        r: _shared([sides[n].found for n in names if n in sides]) for r, names in groups.items()
    }
    read = [[n for n in groups[r] if n in sides] for r, s in shared.items() if s is not None]
    if keys is None:
        keys = _changed_of([[sides[n] for n in names] for names in read])
    keys = [k for k in keys if k not in IDENTITY]
    recorded, keys = _recorded(summaries, groups, keys)
    identity = [k for k in IDENTITY if not (rows and k == "seed")]  # a row's seeds differ
    values, unset = {}, {}
    for row, names in groups.items():
        ids = _shared([{k: summaries[n].get(k) for k in identity} for n in names]) or {}
        ids.update(recorded.get(row, {}))
        own = {k: v for k, v in (shared[row] or {}).items() if k in keys}
        if shared[row] is not None:  # unset model options as its model has them
            model = next(sides[n] for n in names if n in sides).model
            unset[row] = set(filled := with_model_defaults(own, keys, model)) - set(own)
            own = filled
        values[row] = {**ids, **own}
    shown = [k for k in (*RECORDED, CODE) if any(k in v for v in recorded.values())]
    return Settings(identity + shown + keys, values, unread, unset=unset)


def _recorded(
    summaries: Mapping[str, RunSummary], groups: dict[str, list[str]], keys: Sequence[str]
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Row → its values of the :data:`RECORDED` columns that differ between the rows (or that ``keys``
    names, a larger table's), each one its seeds share, and its ``code`` (``columns_code.code_values``);
    and ``keys`` without them (config settings)."""
    found = {
        row: _shared([{k: summaries[n].get(f) for k, f in RECORDED.items()} for n in names]) or {}
        for row, names in groups.items()
    }
    given = [k for k in keys if k in RECORDED]
    known = {k: [v[k] for v in found.values() if v.get(k) is not None] for k in RECORDED}
    shown = given or [k for k in RECORDED if _differs(known[k])]  # a run too old to record it: none
    code = code_values(summaries, groups, CODE in keys)  # runs of one model that ran other code
    values = {
        row: {**{k: v[k] for k in shown if k in v}, **code.get(row, {})} for row, v in found.items()
    }
    return values, [k for k in keys if k not in RECORDED and k != CODE]


@dataclass(frozen=True)
class _Sides:
    """A run's settings as the tables compare them: ``found`` (its settings but its :func:`silent_keys`),
    ``compared`` (the same as compared, :func:`same_as`), ``silent``, ``idle`` (:func:`idle_keys`) and
    ``model`` (its model.name and model.preset: what its unset model options are)."""

    found: dict[str, Any]
    compared: dict[str, Any]
    silent: set[str]
    idle: set[str]
    model: Model = (None, None)


def _read_all(
    summaries: dict[str, RunSummary], run_dirs: dict[str, Path], configs: dict[str, Config]
) -> tuple[dict[str, _Sides], dict[str, UserError]]:
    """(run → its :func:`_sides`, run → why its settings could not be read) for the runs of
    ``summaries``; a run's settings are :func:`read_settings`' (its config.yaml: ``configs``' or read
    here, and what its checkpoint recorded)."""
    sides, unread = {}, {}
    for name in summaries:
        try:
            if name not in run_dirs:
                raise UserError(f"run '{name}' has no folder here: its settings are unknown.")
            read = read_settings(run_dirs[name], configs.get(name))
        except UserError as e:
            unread[name] = e
            continue
        sides[name] = _sides(
            _own_file(read, summaries[name]), summaries[name].trained_by or "optimizer"
        )
    return sides, unread


def _own_file(settings: dict[str, Any], summary: RunSummary) -> dict[str, Any]:
    """A run's ``settings`` with the model in a file it trained (``model.name`` ``own/net.py:Net``,
    written from where it ran) named by the file's path its summary.json records (``model_code``), where
    the tables read its options' defaults from (``model_options.file_option_values``)."""
    name, path = settings.get("model.name"), (summary.model_code or {}).get("path")
    if not isinstance(name, str) or not isinstance(path, str) or not path.endswith(".py"):
        return settings
    return {**settings, "model.name": f"{path}:{name.rpartition(':')[2]}"}


def _sides(settings: dict[str, Any], trained_by: str) -> _Sides:
    """A run's ``settings`` as the tables compare them (:class:`_Sides`): a setting its model never reads
    but that amounts to a value (``config.unread.own_step_same_as``) is that value, not silent."""
    own = {  # optim.name of mlp-scratch's hand-written levels, never read, amounts to sgd
        k: v
        for k, v in own_step_same_as(settings.get("model.name"), trained_by).items()
        if k in settings
    }
    silent = silent_keys(settings, trained_by) - set(own)
    unset = at_model_default(settings)
    used = {**settings, **own, **built_in(settings)}
    found = {k: v for k, v in used.items() if k not in silent and k not in unset}
    compared = {**found, **same_as(settings, trained_by)}
    return _Sides(found, compared, silent, idle_keys(settings, trained_by), model_of(settings))


def built_in(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings a run leaves null for a value vislab picks, as that value: schedule.gamma of the
    exponential (0.95) and step (0.1) schedules (as `vislab config show` resolves it), and
    train.early_stop_metric (train.select_metric's, ``TrainConfig.stop_metric``) — so that a run leaving
    gamma to the step schedule compares as the 0.1 it used, the same as one that sets it."""
    name, found = settings.get("schedule.name"), {}
    if settings.get("schedule.gamma", 0) is None and name in ("exponential", "step"):
        found["schedule.gamma"] = ScheduleConfig(name=name).gamma_read
    if settings.get("train.early_stop_metric", "") is None and "train.select_metric" in settings:
        found["train.early_stop_metric"] = settings["train.select_metric"]
    return found


def differing_settings(runs: Sequence[tuple[dict[str, Any], str]]) -> list[dict[str, Any]]:
    """Per run — its flat settings (:func:`flat_settings`) and how its model trains (summary.json's
    ``trained_by``) — the settings that differ among ``runs``, as the tables find them for runs without
    seeds (:func:`table_settings`): what a suite's dry run says of its runs before they train."""
    sides = [_sides(settings, how) for settings, how in runs]
    keys = _changed_of([[s] for s in sides])
    found = [{k: s.found[k] for k in keys if k in s.found} for s in sides]
    filled = [with_model_defaults(f, keys, s.model) for f, s in zip(found, sides)]
    return [
        told_apart(v, set(v) - set(f)) | f for v, f in zip(filled, found)
    ]  # no n/a, no unset off


def _changed_of(rows: Sequence[Sequence[_Sides]]) -> list[str]:
    """:func:`changed_keys` of ``rows`` (each the runs of one row, compared by the settings they share).
    A model option a row's model does not have counts as unset there: a CNN's widths set to other than
    its default differ from an MLP's (none), and show beside it."""
    compared = [_shared([s.compared for s in row]) or {} for row in rows]
    silent = [set().union(*(s.silent for s in row)) for row in rows]
    return changed_keys(compared, silent, [set().union(*(s.idle for s in row)) for row in rows])


def row_sets(settings: dict[str, Any], sets: dict, trained_by: str) -> dict[str, Any]:
    """Of a suite run's flat ``settings`` (how its model trains: ``trained_by``), those its row's overrides
    ``sets`` name (dotted keys, ``{"optim.lr": 0.001}``) that a table could show — none of :data:`NOT_SHOWN`,
    none silent for it (:func:`silent_keys`) —, valued as its config has them."""
    silent = silent_keys(settings, trained_by)
    named = [k for k in flat_settings(sets) if k in settings and k not in silent]
    return {k: settings[k] for k in named if not k.startswith(NOT_SHOWN)}


def _shared(settings: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The settings every one of ``settings`` has with one value (None when none is given)."""
    if not settings:
        return None
    first, rest = settings[0], settings[1:]
    return {k: v for k, v in first.items() if all(k in s and s[k] == v for s in rest)}


def unread_note(unread: dict[str, UserError]) -> str:
    """The line under a table whose runs' settings could not all be read ("" when all were)."""
    if not unread:
        return ""
    first, why = next(iter(unread.items()))
    return f"Settings not compared for {', '.join(unread)}: their config could not be read. {first}: {why}"


def swept(
    params: dict[str, dict[str, Any]], summaries: Mapping[str, RunSummary] | None = None
) -> Settings:
    """A sweep's setting columns: each trial's model and seed (as its ``summaries`` give them; none
    without), then its swept values (``params``: run → {config key: value}), sorted by key."""
    keys = sorted({k for values in params.values() for k in values} - set(IDENTITY))
    if summaries is None:
        return Settings(keys, params, {}, swept=True)
    keys = [k for k in keys if k not in _SHOWN_AS_IDENTITY]  # a swept model or seed: its column
    values = {}
    for run, own in params.items():  # a trial without a summary (failed): its swept model or seed
        swept_as = {i: own[k] for i, k in zip(IDENTITY, _SHOWN_AS_IDENTITY) if k in own}
        known = {k: summaries[run].get(k) for k in IDENTITY if run in summaries}
        values[run] = {**swept_as, **known, **own}
    return Settings([*IDENTITY, *keys], values, {}, swept=True)


def told_apart(values: dict[str, Any], unset: Collection[str] = ()) -> dict[str, Any]:
    """Of a row's ``values`` of the settings the runs differ in, those that tell it apart: all but those
    left off at vislab's default (:func:`_off`: a run that leaves augment.crop.p at 0 takes no random
    crop, even where another run's crop differs; its centre crop shows as augment.crop.size), a model
    option the row leaves ``unset`` whose value then is off (model.dropout=0 of an mlp) and one its model
    does not have (``NOT_TAKEN``: an mlp's model.widths), so a value at any other default shows
    (optim.name=adam beside runs with sgd, an mlp's model.hidden beside one that sets it). What "Settings
    each run changed" lists under a table (and a suite's dry run, with what each row sets:
    :func:`said_settings`)."""
    defaults = _defaults()
    off = {k for k, v in values.items() if k in defaults and _off(v, defaults[k])}
    off |= {k for k in unset if k in values and _off(values[k], values[k])}
    return {k: v for k, v in values.items() if k not in off and v is not NOT_TAKEN}


def _off(value: Any, default: Any) -> bool:
    """Whether ``value`` is vislab's ``default`` and that turns its feature off: 0, false, none, null or
    empty (augment.crop.p=0, model.dropout=0, schedule.name=none, data.limit=null)."""
    return value == default and (not default or default == "none")


@cache
def _defaults() -> dict[str, Any]:
    """Every schema setting's default, as :func:`flat_settings` (a model's own keys have none here)."""
    return flat_settings(build_config({}).to_dict())
