"""The data a checkpoint is scored on (``vislab eval``, ``Run.evaluate``): the split asked for — or all of
it —, with a note where the data are not the ones it was trained on, or only a part of a new folder. What
eval refuses before it scores (settings, shapes, classes) is ``eval_checks.py``'s."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vislab.config import Config, DataConfig, build_config
from vislab.config.files import read_yaml
from vislab.data import load_splits
from vislab.data.fingerprint import data_change
from vislab.data.redrawn_notes import absent_note, redrawn_note
from vislab.data.sources.memory_name import sets_left_out
from vislab.data.types import OFFICIAL_SETS, ArraySet, Splits
from vislab.errors import ConfigError, DataError, UserError
from vislab.eval_checks import given_setting
from vislab.training.record import RunRecord
from vislab.training.summary import RunSummary

#: what eval scores: a split of the data, or "all": every sample of it (its three splits together)
SPLITS = ("train", "val", "test", "all")

#: the data settings that keep a part of the data: "all" scores every sample, so the run's are not applied
_LIMITS = ("limit", "limit_per_class", "limit_eval")

#: the data settings that draw which samples fall in each split (with train.seed, which eval refuses)
_DRAWS = tuple(
    f"data.{k}"
    for k in (
        "split",
        "split_seed",
        "val_fraction",
        "test_fraction",
        "official_val",
        "use",
        *_LIMITS,
    )
)


def eval_config(tree: dict, overrides: Sequence[str], source: str) -> Config:
    """The config a checkpoint is scored with: the run's ``tree`` with ``overrides``. A ConfigError names
    ``source`` where the overrides are to blame (``--set``, ``Run.evaluate arguments``), the checkpoint's
    config where the run's own config is."""
    try:
        return build_config(tree, list(overrides), source=source)
    except ConfigError as given:
        try:
            build_config(tree, source="checkpoint config")
        except ConfigError as own:
            raise own from None
        raise given from None


def unlimited(config: dict, overrides: Sequence[str], source: str = "--set") -> dict:
    """The run's ``config`` (plain values) for ``--split all``: its data.limit, data.limit_per_class and
    data.limit_eval dropped, so every sample is scored; UserError where ``overrides`` give one of them
    (not null): "all" means all, and a limit would keep part of the data, not all of it. Its data.split
    sizes, which may sum to less than the data holds, are dropped too where the sets loaded
    (``data.use``) hold a train set to split otherwise and ``overrides`` give none (:func:`data_note`
    says how many samples are scored where they are not all). ``source``: the overrides' (their
    mistakes' errors name it: :func:`eval_config`)."""
    tree = {**config, "data": {**config.get("data", {}), **dict.fromkeys(_LIMITS)}}
    given = eval_config(tree, overrides, source).data
    if "train" in given.use and not given_setting(overrides, "data.split"):
        tree["data"]["split"] = None
    for key in _LIMITS:
        if getattr(given, key) is not None:
            typed = given_setting(overrides, f"data.{key}") or f"data.{key}={getattr(given, key)}"
            raise UserError(
                f"setting '{typed}' (Python: data__{key}={getattr(given, key)}): --split all scores "
                f"every sample of the data, and data.{key} "
                f"would keep a part of it. Drop the setting to score all of them; to score a part, "
                f"score a split: --split test --set data.limit_eval=N (Python: "
                f'evaluate(split="test", data__limit_eval=N)).'
            )
    return tree


def data_where_now(run: Path | None, config: dict) -> dict:
    """A checkpoint's ``config`` with where its data is now: data.root and data.download as the run's
    config.yaml records them since a resume moved the data (a best.pt written before keeps the old
    root). Unchanged for a checkpoint outside a run folder (``run`` None), or a config.yaml missing,
    unreadable or of other data."""
    try:
        saved = read_yaml(run / "config.yaml", kind="run config") if run is not None else {}
    except UserError:
        return config
    data, now = config.get("data"), saved.get("data")
    where = ("root", "download")  # what `vislab train --resume RUN --set data.root=NEW` moves
    if not (isinstance(data, dict) and isinstance(now, dict)):
        return config
    if any(data.get(k) != now.get(k) for k in {*data, *now} - {*where, "device"}):
        return config
    return {**config, "data": {**data, **{k: now[k] for k in where if k in now}}}


def eval_splits(
    target: str | Path, cfg: Config, split: str, channels: int | None, overrides: Sequence[str]
) -> Splits:
    """The splits eval scores ``split`` of (``channels``: as ``data.load_splits`` takes them; training
    said how they were drawn: no notes). "all" pools them again: data too small to carve is scored
    whole, not refused. Sets loaded without a train set are scored as they are (:func:`_loaded_alone`);
    so is the official test set, the run's test split, where the run's data fails to load but it does
    (:func:`_test_set_alone`: the train set's files absent, say)."""
    data, seed = cfg.data, cfg.train.seed
    if "train" not in data.use and data.split is None:
        splits = _loaded_alone(data, seed, channels)
        if split != "all" and not len(dict(splits.items())[split]):
            typed = given_setting(overrides, "data.use") or f"data.use={list(data.use)}"
            held = next((k for k, s in splits.items() if len(s)), "test")
            raise UserError(
                f"setting '{typed}' loads no train set, and the {split} split is carved from the train "
                f"set: it has no sample to score. Score the {held} set it loads: vislab eval {target} "
                f'--split {held}{_sets(overrides)} (Python: split="{held}"), or every sample loaded: '
                f'--split all (Python: split="all").'
            )
        return splits
    try:
        return load_splits(data, seed, channels, notes=False, whole=split == "all")
    except DataError as error:
        return _test_set_alone(target, data, seed, split, channels, overrides, error)


def _loaded_alone(data: DataConfig, seed: int, channels: int | None) -> Splits:
    """The sets ``data.use`` loads, no train set among them: each official set its own split, train
    empty, as ``make_splits`` gives them ``whole`` (data.limit and data.limit_per_class, which keep a part
    of train, left out; data.limit_eval samples val and test as the run's draw did)."""
    kept = data.model_copy(update={"limit": None, "limit_per_class": None})
    return load_splits(kept, seed, channels, notes=False, whole=True)


def _test_set_alone(
    target: str | Path,
    data: DataConfig,
    seed: int,
    split: str,
    channels: int | None,
    overrides: Sequence[str],
    error: DataError,
) -> Splits:
    """Where the run's ``data`` failed to load (``error``) but its official test set loads alone — its
    test split, as data.use holds it and no data.split carves it: that set, for ``split`` test; for
    another split, ``error`` with eval's way on (its ``--split test``) in place of any training advice.
    ``error`` as it is where the test set does not load alone either."""
    if data.split is not None or "test" not in data.use:
        raise error
    try:
        splits = _loaded_alone(data.model_copy(update={"use": ["test"]}), seed, channels)
    except UserError:
        raise error from None
    if not len(splits.test):
        raise error
    if split == "test":
        return splits
    # the sources' "Only the test set is here: train on ..." (data.download.test_set_only_hint) is
    # training's advice: eval's is to score that test set
    said = str(error).partition(" Only the test set is here:")[0]
    needs = "--split all of the run's data" if split == "all" else f"the {split} split"
    raise DataError(
        f"{said} Its test set loads without the train set, and it is the run's test split (the "
        f"samples it held out): score it with vislab eval {target} --split test{_sets(overrides)} "
        f"(Python: split=\"test\"), or every sample of it with --split all --set 'data.use=[test]' "
        f'(Python: split="all", data__use=["test"]); {needs} needs the train set.'
    ) from None


def _sets(overrides: Sequence[str]) -> str:
    """``overrides`` as the command line's ``--set`` options (each quoted where the shell needs it)."""
    return "".join(f" --set {shlex.quote(o)}" for o in overrides)


def every_sample(splits: Splits) -> ArraySet:
    """Every sample of ``splits``: train's, then val's, then test's (with their files and origins)."""
    sets = [s for _, s in splits.items()]
    names = None if any(s.names is None for s in sets) else np.concatenate([s.names for s in sets])
    origin = (
        None if any(s.origin is None for s in sets) else np.concatenate([s.origin for s in sets])
    )
    x, y = np.concatenate([s.x for s in sets]), np.concatenate([s.y for s in sets])
    return ArraySet(x, y, names, origin)


def data_note(
    target: str | Path,
    record: RunRecord,
    splits: Splits,
    data: DataConfig,
    split: str,
    overrides: Sequence[str],
    summary: RunSummary | None = None,
) -> str | None:
    """The note on what is scored, or None: the run's own data changed since it trained; ``split`` all
    of the data the run trained on (its train split included: its sizes from the run's ``summary``), or
    all but fewer samples than the data holds (:func:`_part_note`); a split of other data carved from its
    train set (a part of it only), or of a dataset's copy as many by class as the run's but of other
    samples (:func:`_other_copy_note`); a split of the run's own data drawn otherwise, holding samples it
    trained or selected on (:func:`_redrawn_note`); a split with no sample of some classes, drawn
    otherwise than at training (``redrawn_notes.absent_note``; training said those of its own draw).
    DataError first where arrays registered again lack a set the run was given (``sets_left_out``)."""
    if not (other := _names_other_data(overrides)):
        sets_left_out(data.name, record.data, splits.fingerprint, split)
    if split != "all" and (redrawn := _redrawn_note(record, splits, split, overrides)):
        return _joined(redrawn, absent_note(splits, data, split))
    if not other and split != "all":
        changed = _changed_note(target, record, splits, data, split)
        return _joined(
            changed, None if changed or not overrides else absent_note(splits, data, split)
        )
    own = not other or (
        record.data is not None
        and splits.fingerprint is not None
        and data_change(record.data, splits.fingerprint) is None
    )
    if split == "all":
        part = _part_note(splits, data, given_setting(overrides, "data.split") is not None)
        return _joined(_trained_on_note(splits, data, summary, not part) if own else None, part)
    return _joined(
        None if own else _other_copy_note(record, splits, data, split, overrides),
        None if own else _carved_note(splits, data, split),
        absent_note(splits, data, split),
    )


def _joined(*notes: str | None) -> str | None:
    """The ``notes`` given, one after another, each but the first as a sentence (not a setting's name:
    data.split stays so); None where none is."""
    given = [n for n in notes if n]
    sentences = [n if "." in n.split()[0] else n[0].upper() + n[1:] for n in given[1:]]
    return " ".join([*given[:1], *sentences]) or None


def _where(splits: Splits, data: DataConfig) -> str:
    """The data in a note's words: an image folder's data.root, else data.name."""
    folder = splits.fingerprint is not None and splits.fingerprint["of"] == "files"
    return (
        f"the data under data.root '{data.root}'"
        if folder
        else f"the data of data.name={data.name}"
    )


def _held(splits: Splits) -> int:
    """How many samples the data held (the sets loaded, before any split size or limit kept a part)."""
    if splits.fingerprint is None:
        return sum(len(s) for _, s in splits.items())
    return int(sum(sum(c) for c in splits.fingerprint["counts"].values()))


def _trained_on_note(
    splits: Splits, data: DataConfig, summary: RunSummary | None, every: bool = True
) -> str:
    """The note for ``--split all`` of the run's own data (``every`` sample of it, or a part:
    :func:`_part_note`): it holds the samples the run trained on (how many: the run's summary.json's
    n_train, n_val, n_test; unsaid where it has none)."""
    s = summary or RunSummary()
    n = lambda count, some: some if count is None else f"the {count}"  # noqa: E731
    return (
        f"--split all scores {'every sample' if every else 'samples'} of {_where(splits, data)}, "
        f"the run's own: "
        f"{n(s.n_train, 'the samples')} it trained on (train) and {n(s.n_val, 'those')} it picked its "
        f"best checkpoint by (val) among them, so these are not held-out scores (--split test: "
        f'{n(s.n_test, "the ones")} it held out; Python: split="test"). To score new images, give their '
        f'folder: --split all --set data.root=OTHER (Python: evaluate(split="all", '
        f"data__root=OTHER))."
    )


def _part_note(splits: Splits, data: DataConfig, given: bool) -> str | None:
    """The note for ``--split all`` scoring fewer samples than the data holds: data.split's sizes,
    ``given`` with --set, or the run's, kept where the sets loaded hold no train set to split otherwise
    (:func:`unlimited`); None where all are."""
    scored, held = sum(len(s) for _, s in splits.items()), _held(splits)
    if scored >= held or data.split is None:
        return None
    _, n_val, n_test = data.split
    sizes = [held - n_val - n_test, n_val, n_test]
    why = "given here" if given else f"data.use={list(data.use)}: no train set to split otherwise"
    fix = (
        "leave data.split out"
        if given and "train" in data.use
        else f"--set data.split=[{','.join(map(str, sizes))}] (Python: data__split={sizes})"
    )
    return (
        f"data.split={list(data.split)} keeps {scored} of the {held} samples of "
        f"{_where(splits, data)} ({why}), so --split all scores those {scored}, not every one. To "
        f"score all {held}: {fix}."
    )


def _carved_note(splits: Splits, data: DataConfig, split: str) -> str | None:
    """The note for ``split`` of other data than the run's being a part carved from its train set (the
    data has no such set of its own: an image folder without a test/ folder); None where it has one."""
    scored = dict(splits.items())[split]
    if scored.origin is None or not (scored.origin[:, 0] != OFFICIAL_SETS.index(split)).any():
        return None
    return (
        f"{_where(splits, data)} has no {split} set of its own, so its {split} split is carved from "
        f"it: these scores are of {len(scored)} of its {_held(splits)} samples. To score all of them: "
        f'--split all (Python: split="all").'
    )


def _redrawn_note(
    record: RunRecord, splits: Splits, split: str, overrides: Sequence[str]
) -> str | None:
    """The note for ``split`` drawn otherwise than the run drew it (``overrides`` give data settings
    of :data:`_DRAWS`): how many of its samples the run trained on, or picked its best checkpoint by,
    counted against the run's own draw of this data (its settings and train.seed); None where it holds
    none, or where the data are not the run's as recorded (:func:`_changed_note` says so)."""
    drawn = [o for o in overrides if o.split("=", 1)[0].strip() in _DRAWS]
    carves = {o.split("=", 1)[0].strip() for o in drawn} - {f"data.{k}" for k in _LIMITS}
    now, was = splits.fingerprint, record.data
    if not (carves or (drawn and split == "train")) or record.config is None or not (now and was):
        return None  # the limits keep a part of each split: val and test stay held out
    if any(was["counts"].get(k) != c for k, c in now["counts"].items()):
        return None  # other data
    cfg = build_config(record.config, [o for o in overrides if o not in drawn], "checkpoint config")
    shape = record.inputs.input_shape  # the same samples at any size: not resized
    data = cfg.data.model_copy(update={"resize": None})
    try:
        own = load_splits(data, cfg.train.seed, shape[0] if len(shape) == 3 else None, notes=False)
    except DataError:
        return None  # the run's own data does not load (its train files absent): no draw to count
    if own.fingerprint is None or data_change(was, own.fingerprint) is not None:
        return None
    return redrawn_note(split, dict(splits.items())[split], own, drawn)


def _names_other_data(overrides: Sequence[str]) -> bool:
    """Whether ``overrides`` name other data than the run's (data.name, data.root or data.use)."""
    keys = {o.split("=", 1)[0].strip() for o in overrides}
    return bool(keys & {"data.name", "data.root", "data.use"})


def _changed_note(
    target: str | Path, record: RunRecord, splits: Splits, data: DataConfig, split: str
) -> str | None:
    """The note for the run's own data changed since it trained (``splits`` drawn from it now): the
    ``split`` scored is then not the one the run trained on or held out; None where it is unchanged or
    the run recorded no fingerprint (trained before vislab recorded one)."""
    if record.data is None or splits.fingerprint is None:
        return None
    change = _change_of_sets(record.data, splits.fingerprint)
    if change is None:
        return None
    folder = splits.fingerprint["of"] == "files"
    what = "images" if folder else "samples"
    was = "trained on" if split == "train" else f"held out, and may hold {what} it trained on"
    fix = (
        "Restore the folder as it was when the run trained, or score a separate folder of new images, "
        f"every one of them: vislab eval {target} --split all --set data.root=OTHER (Python: "
        f'evaluate(split="all", data__root=OTHER))'
        if folder
        else "Evaluate on the data the run trained on"
    )
    return (
        f"{_where(splits, data)} changed since the run trained ({change}): its {split} split drawn now "
        f"is not the one the run {was}, so these scores are not the run's. {fix}."
    )


def _other_copy_note(
    record: RunRecord, splits: Splits, data: DataConfig, split: str, overrides: Sequence[str]
) -> str | None:
    """The note for ``split`` of a dataset's files the ``overrides`` name (data.root: a copy of MNIST,
    CIFAR-10, ... elsewhere) holding as many samples of each class as the run's data, but not the same
    ones by the checksums the run recorded (another version of the dataset, images replaced): its split
    there is not the one the run held out. None where the run recorded none, for other numbers of
    samples (other data altogether: :func:`_carved_note` says what is scored), and for an image folder,
    whose record (its files' paths and sizes) does not tell a changed copy from new images."""
    now, was = splits.fingerprint, record.data
    if now is None or was is None or now["of"] != "samples":
        return None
    if any(was["counts"].get(k) != c for k, c in now["counts"].items()):
        return None
    change = _change_of_sets(was, now)
    if change is None:
        return None
    root = given_setting(overrides, "data.root")
    where = f"data.root '{root.split('=', 1)[1].strip()}'" if root else _where(splits, data)
    was_held = "trained on" if split == "train" else "held out"
    return (
        f"{where} holds as many samples of each class as the data the run trained on, but not the "
        f"same ones ({change}; the run recorded checksums of its data): its {split} split there is "
        f"not the one the run {was_held}, so these scores are not the run's. To score the run's own, "
        f"give data.root a copy of the data it trained on: --set data.root=DIR (Python: "
        f"data__root=DIR); an unchanged copy is scored without this note."
    )


def _change_of_sets(recorded: dict, now: dict) -> str | None:
    """``fingerprint.data_change`` of the run's ``recorded`` data and ``now``'s; where ``now`` holds only
    some of the recorded sets (the test set alone: :func:`_test_set_alone`), how their sizes by class
    differ, as their digests cover every set."""
    if set(now["counts"]) >= set(recorded["counts"]):
        return data_change(recorded, now)
    was = {k: recorded["counts"].get(k, []) for k in now["counts"]}
    moved = sum(abs(sum(c) - sum(was[k])) for k, c in now["counts"].items())
    unit = now["of"]
    if moved:
        return f"{moved} {unit[:-1] if moved == 1 else unit} added or removed"
    return None if was == now["counts"] else "labels changed"
