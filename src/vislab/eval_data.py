"""The data a checkpoint is scored on (``vislab eval``, ``Run.evaluate``): the split asked for — or all of
it —, with a note where the data are not the ones it was trained on, or only a part of a new folder. What
eval refuses before it scores (settings, shapes, classes) is ``eval_checks.py``'s."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vislab.config import DataConfig, build_config
from vislab.data import load_splits
from vislab.data.fingerprint import data_change
from vislab.data.split_notes import absent_note, redrawn_note
from vislab.data.types import OFFICIAL_SETS, ArraySet, Splits
from vislab.errors import UserError
from vislab.eval_checks import given_setting
from vislab.training.record import RunRecord
from vislab.training.summary import RunSummary

#: what eval scores: a split of the data, or "all": every sample of it (its three splits together)
SPLITS = ("train", "val", "test", "all")

#: the data settings that keep a part of the data: "all" scores every sample, so the run's are not applied
_LIMITS = ("limit", "limit_per_class", "limit_eval")

#: the data settings that draw which samples fall in each split (with train.seed, which eval refuses)
_DRAWS = tuple(
    f"data.{k}" for k in ("split", "val_fraction", "test_fraction", "official_val", "use", *_LIMITS)
)


def unlimited(config: dict, overrides: Sequence[str]) -> dict:
    """The run's ``config`` (plain values) for ``--split all``: its data.limit, data.limit_per_class and
    data.limit_eval dropped, so every sample is scored; UserError where ``overrides`` give one of them
    (not null): "all" means all, and a limit would keep part of the data, not all of it. Its data.split
    sizes, which may sum to less than the data holds, are dropped too where the sets loaded
    (``data.use``) hold a train set to split otherwise and ``overrides`` give none (:func:`data_note`
    says how many samples are scored where they are not all)."""
    tree = {**config, "data": {**config.get("data", {}), **dict.fromkeys(_LIMITS)}}
    given = build_config(tree, list(overrides), source="checkpoint config").data
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
    train set (a part of it only); a split of the run's own data drawn otherwise, holding samples it
    trained or selected on (:func:`_redrawn_note`); a split with no sample of some classes, drawn
    otherwise than at training (``split_notes.absent_note``; training said those of its own draw)."""
    if split != "all" and (redrawn := _redrawn_note(record, splits, split, overrides)):
        return _joined(redrawn, absent_note(splits, data, split))
    other = _names_other_data(overrides)
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
        None if own else _carved_note(splits, data, split), absent_note(splits, data, split)
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
    own = load_splits(data, cfg.train.seed, shape[0] if len(shape) == 3 else None, notes=False)
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
    change = data_change(record.data, splits.fingerprint)
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
