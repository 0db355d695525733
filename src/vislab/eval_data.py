"""The data a checkpoint is scored on (``vislab eval``, ``Run.evaluate``): the split asked for — or all of
it —, checked against what the checkpoint records (its input shape, its classes by name, data settings
only), with a note where the data are not the ones it was trained on, or only a part of a new folder."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vislab.config import DataConfig, build_config
from vislab.config.overrides import parse_value
from vislab.config.reads import READS, reads_files
from vislab.data import load_splits
from vislab.data.fingerprint import data_change
from vislab.data.image_folders import IMAGE_EXTS
from vislab.data.split_notes import absent_note, redrawn_note
from vislab.data.types import OFFICIAL_SETS, ArraySet, Splits
from vislab.errors import UserError
from vislab.not_a_run import run_of_file
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

#: the data settings eval does not read, why, and what to do: the run's preprocessing is part of the model
_RECORDED = (
    "eval normalises the data with the statistics the run recorded (fitted with its data.normalize "
    "and data.zca_epsilon on its train split), which are part of the model. Drop it; to score another "
    "normalisation, train a run with it: vislab train --set {o}."
)
_UNREAD = {
    "data.normalize": _RECORDED,
    "data.zca_epsilon": _RECORDED,
    "data.device": "eval scores on the CPU, with the data there. Drop it.",
}


def unlimited(config: dict, overrides: Sequence[str]) -> dict:
    """The run's ``config`` (plain values) for ``--split all``: its data.limit, data.limit_per_class and
    data.limit_eval dropped, so every sample is scored; UserError where ``overrides`` give one of them
    (not null): "all" means all, and a limit would keep part of the data, not all of it. Its data.split
    sizes, which may sum to less than the data holds, are dropped too where the sets loaded
    (``data.use``) hold a train set to split otherwise and ``overrides`` give none (:func:`data_note`
    says how many samples are scored where they are not all)."""
    tree = {**config, "data": {**config.get("data", {}), **dict.fromkeys(_LIMITS)}}
    given = build_config(tree, list(overrides), source="checkpoint config").data
    if "train" in given.use and not _given(overrides, "data.split"):
        tree["data"]["split"] = None
    for key in _LIMITS:
        if getattr(given, key) is not None:
            typed = _given(overrides, f"data.{key}") or f"data.{key}={getattr(given, key)}"
            raise UserError(
                f"setting '{typed}' (Python: data__{key}={getattr(given, key)}): --split all scores "
                f"every sample of the data, and data.{key} "
                f"would keep a part of it. Drop the setting to score all of them; to score a part, "
                f"score a split: --split test --set data.limit_eval=N (Python: "
                f'evaluate(split="test", data__limit_eval=N)).'
            )
    return tree


def _given(overrides: Sequence[str], key: str) -> str | None:
    """The last of ``overrides`` that sets ``key``, or None."""
    return next((o for o in reversed(overrides) if o.split("=", 1)[0].strip() == key), None)


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
        part = _part_note(splits, data, _given(overrides, "data.split") is not None)
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


def check_data_settings(overrides: Sequence[str], target: str | Path = "RUN") -> None:
    """UserError for the first setting but data.* and train.eval_batch_size: the model scores as trained;
    one that names no section (``limit_eval=30``) is no config key (:func:`_no_section`); a data.*
    setting eval does not read (:data:`_UNREAD`); a data.root of images without class folders
    (:func:`_check_labelled`)."""
    for o in overrides:
        key = o.split("=", 1)[0].strip()
        if "." not in key:
            raise UserError(_no_section(o, key))
        if not (key.startswith("data.") or key == "train.eval_batch_size"):
            raise UserError(
                f"setting '{o}': eval scores the checkpoint's own model, whose options cannot change. "
                f"Only data.* (and train.eval_batch_size) settings apply here (--set data.root=DIR / "
                f"data__root=DIR)."
            )
        if key in _UNREAD:
            why = _UNREAD[key].format(o=o)
            raise UserError(f"setting '{o}' (Python: {_python(o)}) changes nothing here: {why}")
    if root := _given(overrides, "data.root"):
        _check_labelled(Path(root.split("=", 1)[1].strip()), target)


def check_root_read(data: DataConfig, overrides: Sequence[str]) -> None:
    """UserError where ``overrides`` give a data.root the run's data source never reads (digits,
    circles, ``memory:`` arrays: ``config.reads.reads_files``): the scores would be the run's own, named
    as other data's; or another data.* setting that ``data`` makes do nothing (``config.reads.READS``:
    data.image_size off an image folder, data.n_samples off circles, ...)."""
    value = lambda key: getattr(data, key.removeprefix("data."))  # noqa: E731
    for o in overrides:
        key = o.split("=", 1)[0].strip()
        gates = READS.get(key, ()) if key != "data.root" else ()
        if idle := next((i for i in (gate(value) for gate in gates) if i is not None), None):
            raise UserError(
                f"setting '{o}' (Python: {_python(o)}) changes nothing here: with {idle.cause}, "
                f"{idle.why.format(it='it')}, so these scores would be the same without it. Drop it."
            )
    given = _given(overrides, "data.root")
    idle = reads_files(value)
    if given is None or idle is None or _given(overrides, "data.name") is not None:
        return
    raise UserError(
        f"setting '{given}' changes nothing here: with {idle.cause}, {idle.why.format(it='data.root')}, "
        f"so these would be the run's own scores named as other data's. To score a folder of images "
        f"(one sub-folder per class): --set data.name=folder --set data.root=DIR (Python: "
        f'data__name="folder", data__root=DIR).'
    )


def _check_labelled(root: Path, target: str | Path) -> None:
    """UserError where ``root`` holds images but no folder: no class folders to label them, so nothing
    to score — ``vislab predict`` classifies such images."""
    if not root.is_dir() or any(p.is_dir() and not p.name.startswith(".") for p in root.iterdir()):
        return
    images = [p for p in root.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file()]
    if images:
        raise UserError(
            f"data.root '{root}' holds {len(images)} image{'s' if len(images) != 1 else ''} but no "
            f"class folders, so eval has no labels to score them by (it reads one folder per class: "
            f"{root / '<class>'}/*.png). To classify them: vislab predict {target} {root} --csv "
            f"predictions.csv{_predict_files_call(target, root)}."
        )


def _predict_files_call(target: str | Path, root: Path) -> str:
    """`` (Python: vislab.load_run('RUN').predict_files('ROOT'))`` for ``target``: the run folder it is,
    or the one its checkpoint file belongs to (``checkpoint='last'`` for last.pt); "" for a file of no
    run (``not_a_run.run_of_file``)."""
    path = Path(target)
    run = run_of_file(path) if path.is_file() else path
    if run is None:
        return ""
    last = ", checkpoint='last'" if path.is_file() and path.name == "last.pt" else ""
    return f" (Python: vislab.load_run('{run}').predict_files('{root}'{last}))"


def _python(setting: str) -> str:
    """``setting`` (``data.normalize=zca``) in Python's words: ``data__normalize='zca'``."""
    key, _, value = setting.partition("=")
    return f"{key.strip().replace('.', '__')}={parse_value(value.strip())!r}"


def _no_section(setting: str, key: str) -> str:
    """Why ``setting`` (``key=value``) is no config key, in the command's words and Python's: with its
    section when ``key`` is a data.* key (``limit_eval=30`` → data.limit_eval / data__limit_eval)."""
    value = setting.split("=", 1)[1] if "=" in setting else "..."
    if key in DataConfig.model_fields:
        fix = f"data.{key}={value} (Python: data__{key}={value})"
    else:
        fix = "data.root=DIR (Python: data__root=DIR); eval takes data.* settings only"
    return f"'{setting}' is no config key: a config key names its section, e.g. {fix}."


def check_fits(
    target: str | Path, want: tuple[int, ...], got: tuple[int, ...], data_name: str
) -> None:
    """UserError unless this data gives the inputs the checkpoint's model was built for."""
    if got == want:
        return
    shape = lambda s: "×".join(map(str, s))  # noqa: E731
    if len(got) != len(want):
        kinds = {1: "feature vectors", 3: "images"}
        fix = f"Evaluate on {kinds[len(want)]}, as the run trained on"
    elif len(got) == 3 and got[0] != want[0]:
        kind = {1: "grey (1-channel)", 3: "colour (3-channel)"}
        fix = f"Evaluate on {kind.get(want[0], f'{want[0]}-channel')} images, as the run trained on"
    else:
        fix = (
            f"Evaluate on data of that size (the run's own: no data.* overrides), or resize it with "
            f"data.resize={want[-1]} (an image folder: data.image_size={want[-1]})"
        )
    raise UserError(
        f"checkpoint '{target}' was trained on {shape(want)} inputs, but this data ({data_name}) gives "
        f"{shape(got)} inputs. {fix}."
    )


def labels_by_name(
    target: str | Path, record: RunRecord, names: list[str], data: ArraySet, data_name: str
) -> ArraySet:
    """``data`` labelled with the checkpoint's class indices, matched by class name (other data may
    hold the classes in another order, or some of them; names compared NFC-normalised: a name typed or
    stored with combining accents is the same name); UserError for a class the model never saw."""
    want = [unicodedata.normalize("NFC", n) for n in record.model.class_names]
    got = [unicodedata.normalize("NFC", n) for n in names]
    if got == want:
        return data
    unknown = [n for n in got if n not in want]
    if unknown:
        raise UserError(
            f"this data ({data_name}) has classes that checkpoint '{target}' was not trained on: "
            f"{', '.join(map(repr, unknown[:10]))}{' …' if len(unknown) > 10 else ''}. The model knows "
            f"{', '.join(map(repr, want[:20]))}{' …' if len(want) > 20 else ''}: evaluate on data of "
            f"those classes (an image folder's class folders named as they are).{_alike(unknown, want)}"
        )
    index = np.array([want.index(n) for n in got], dtype=np.int64)
    return ArraySet(data.x, index[data.y], data.names, data.origin)


def _alike(unknown: list[str], known: list[str]) -> str:
    """For each name of ``unknown`` that looks like one of ``known`` but is other characters (a
    ligature, a full-width letter, an invisible or no-break space), both as code points."""
    look = lambda n: "".join(  # noqa: E731
        " " if c.isspace() else c
        for c in unicodedata.normalize("NFKC", n)
        if unicodedata.category(c) != "Cf"
    ).strip()
    pairs = [(u, k) for u in unknown for k in known if look(u) == look(k)]
    return "".join(
        f" {ascii(u)} and the model's {ascii(k)} look alike but are other characters."
        for u, k in pairs
    )
