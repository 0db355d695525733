"""The data a checkpoint is scored on (``vislab eval``, ``Run.evaluate``): the split asked for — or all of
it —, with a note where the data are not the ones it was trained on, or only a part of a new folder. What
eval refuses before it scores (settings, shapes, classes) is ``eval_checks.py``'s; what each kind of note
says, ``eval_data_notes.py``'s."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vislab.config import Config, DataConfig, build_config
from vislab.config.files import read_yaml
from vislab.data import load_splits
from vislab.data.fingerprint import data_change
from vislab.data.redrawn_notes import absent_note
from vislab.data.sources.memory_name import sets_left_out
from vislab.data.types import ArraySet, Splits
from vislab.errors import ConfigError, DataError, UserError
from vislab.eval_checks import given_setting
from vislab.eval_data_notes import (
    LIMITS,
    carved_note,
    changed_note,
    drawn_otherwise_note,
    joined_notes,
    names_other_data,
    other_copy_note,
    part_note,
    trained_on_note,
)
from vislab.training.record import RunRecord
from vislab.training.summary import RunSummary

#: what eval scores: a split of the data, or "all": every sample of it (its three splits together)
SPLITS = ("train", "val", "test", "all")


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
    tree = {**config, "data": {**config.get("data", {}), **dict.fromkeys(LIMITS)}}
    given = eval_config(tree, overrides, source).data
    if "train" in given.use and not given_setting(overrides, "data.split"):
        tree["data"]["split"] = None
    for key in LIMITS:
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
    all but fewer samples than the data holds (:func:`part_note`); a split of other data carved from its
    train set (a part of it only), or of a dataset's copy as many by class as the run's but of other
    samples (:func:`other_copy_note`); a split of the run's own data drawn otherwise, holding samples it
    trained or selected on (:func:`drawn_otherwise_note`); a split with no sample of some classes, drawn
    otherwise than at training (``redrawn_notes.absent_note``; training said those of its own draw).
    DataError first where arrays registered again lack a set the run was given (``sets_left_out``)."""
    if not (other := names_other_data(overrides)):
        sets_left_out(data.name, record.data, splits.fingerprint, split)
    if split != "all" and (redrawn := drawn_otherwise_note(record, splits, split, overrides)):
        return joined_notes(redrawn, absent_note(splits, data, split))
    if not other and split != "all":
        changed = changed_note(target, record, splits, data, split)
        return joined_notes(
            changed, None if changed or not overrides else absent_note(splits, data, split)
        )
    own = not other or (
        record.data is not None
        and splits.fingerprint is not None
        and data_change(record.data, splits.fingerprint) is None
    )
    if split == "all":
        part = part_note(splits, data, given_setting(overrides, "data.split") is not None)
        return joined_notes(trained_on_note(splits, data, summary, not part) if own else None, part)
    return joined_notes(
        None if own else other_copy_note(record, splits, data, split, overrides),
        None if own else carved_note(splits, data, split),
        absent_note(splits, data, split),
    )
