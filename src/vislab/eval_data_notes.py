"""What eval's note on its data says (``eval_data.data_note`` joins them): the run's own data changed since
it trained, ``--split all`` of the data it trained on or of a part of it, a split carved from other data's
train set, of another copy of a dataset, or drawn otherwise than the run drew it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from vislab.config import DataConfig, build_config
from vislab.data import load_splits
from vislab.data.fingerprint import data_change
from vislab.data.redrawn_notes import redrawn_note
from vislab.data.types import OFFICIAL_SETS, Splits
from vislab.errors import DataError
from vislab.eval_checks import given_setting
from vislab.training.record import RunRecord
from vislab.training.summary import RunSummary

#: the data settings that keep a part of the data: "all" scores every sample, so the run's are not applied
LIMITS = ("limit", "limit_per_class", "limit_eval")

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
        *LIMITS,
    )
)


def joined_notes(*notes: str | None) -> str | None:
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


def trained_on_note(
    splits: Splits, data: DataConfig, summary: RunSummary | None, every: bool = True
) -> str:
    """The note for ``--split all`` of the run's own data (``every`` sample of it, or a part:
    :func:`part_note`): it holds the samples the run trained on (how many: the run's summary.json's
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


def part_note(splits: Splits, data: DataConfig, given: bool) -> str | None:
    """The note for ``--split all`` scoring fewer samples than the data holds: data.split's sizes,
    ``given`` with --set, or the run's, kept where the sets loaded hold no train set to split otherwise
    (:func:`vislab.eval_data.unlimited`); None where all are."""
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


def carved_note(splits: Splits, data: DataConfig, split: str) -> str | None:
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


def drawn_otherwise_note(
    record: RunRecord, splits: Splits, split: str, overrides: Sequence[str]
) -> str | None:
    """The note for ``split`` drawn otherwise than the run drew it (``overrides`` give data settings
    of :data:`_DRAWS`): how many of its samples the run trained on, or picked its best checkpoint by,
    counted against the run's own draw of this data (its settings and train.seed); None where it holds
    none, or where the data are not the run's as recorded (:func:`changed_note` says so)."""
    drawn = [o for o in overrides if o.split("=", 1)[0].strip() in _DRAWS]
    carves = {o.split("=", 1)[0].strip() for o in drawn} - {f"data.{k}" for k in LIMITS}
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


def names_other_data(overrides: Sequence[str]) -> bool:
    """Whether ``overrides`` name other data than the run's (data.name, data.root or data.use)."""
    keys = {o.split("=", 1)[0].strip() for o in overrides}
    return bool(keys & {"data.name", "data.root", "data.use"})


def changed_note(
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


def other_copy_note(
    record: RunRecord, splits: Splits, data: DataConfig, split: str, overrides: Sequence[str]
) -> str | None:
    """The note for ``split`` of a dataset's files the ``overrides`` name (data.root: a copy of MNIST,
    CIFAR-10, ... elsewhere) holding as many samples of each class as the run's data, but not the same
    ones by the checksums the run recorded (another version of the dataset, images replaced): its split
    there is not the one the run held out. None where the run recorded none, for other numbers of
    samples (other data altogether: :func:`carved_note` says what is scored), and for an image folder,
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
    some of the recorded sets (the test set alone: ``eval_data._test_set_alone``), how their sizes by class
    differ, as their digests cover every set."""
    if set(now["counts"]) >= set(recorded["counts"]):
        return data_change(recorded, now)
    was = {k: recorded["counts"].get(k, []) for k in now["counts"]}
    moved = sum(abs(sum(c) - sum(was[k])) for k, c in now["counts"].items())
    unit = now["of"]
    if moved:
        return f"{moved} {unit[:-1] if moved == 1 else unit} added or removed"
    return None if was == now["counts"] else "labels changed"
