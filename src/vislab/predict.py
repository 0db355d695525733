"""Using a finished checkpoint: rebuild its model, evaluate it on a split (classifying images:
:mod:`vislab.classify`).

One implementation for the CLI (``vislab eval``, which formats these values for the terminal) and the
Python API (``vislab.Run.evaluate``). Nothing here prints."""

from __future__ import annotations

import errno
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vislab.config import DataConfig, build_config
from vislab.data import prepare_data
from vislab.data.fingerprint import data_change
from vislab.data.input_spec import InputSpec
from vislab.data.loader import DeviceLoader
from vislab.data.types import OFFICIAL_SETS, ArraySet, Splits
from vislab.errors import CheckpointNote, DataError, UserCodeError, UserError, show_note
from vislab.models import build_model, skip_pretrained
from vislab.models.objects import check_unchanged, is_users_code
from vislab.models.trust import recorded_code
from vislab.plotting.files import check_new_files, name_part
from vislab.plotting.mistakes import (
    GALLERY_SIZE,
    Mistake,
    confident_mistakes,
    confused_pairs,
    mistake_rows,
    plot_mistakes,
)
from vislab.plotting.runs import plot_confusion
from vislab.training.checkpoint import load_checkpoint, pick_checkpoint
from vislab.training.metrics import Metrics, compute_metrics
from vislab.training.record import RunRecord
from vislab.training.rundir import RunDir
from vislab.training.summary import RunSummary
from vislab.training.writable import check_writable


def load_model(
    target: str | Path, trust_code: bool = False, checkpoint: str = "best"
) -> tuple[torch.nn.Module, RunRecord]:
    """Rebuild the model of a checkpoint (needs nothing but the checkpoint) and the run's record.

    ``target``: a checkpoint file (its weights: last.pt's live ones) or a run directory, whose
    ``checkpoint`` (:func:`pick_checkpoint`, its note warned) is used: ``"best"``, best.pt — or, where the
    run has none, last.pt standing in for it, with its ``train.ema`` average where it has one (what the
    run's scores in summary.json are of); ``"last"``, last.pt's live weights.

    A model that is the user's own code (``model.name=file.py:Net``) is imported only with
    ``trust_code=True`` or when the file has the sha256 the run recorded; else UntrustedCode (exit 2). A
    model object (``vislab.train(model=Net)``) redefined since the run trained is a UserCodeError."""
    picked = pick_checkpoint(target, checkpoint)
    picked.show_note()
    path = picked.path
    ckpt = load_checkpoint(path)
    run = _run_of(Path(target))
    if note := (_other_run_note(run, path, ckpt.record) if run is not None else None):
        show_note(note, CheckpointNote)
    weights = picked.weights(ckpt)
    m, spec = ckpt.record.model, ckpt.record.inputs
    code = recorded_code(m.name, m.code, trust_code, str(target))
    with code as name, skip_pretrained():  # the state dict is the model; no pretrained file needed
        check_unchanged(name, m.code, str(target), trust_code)  # code changed since training
        model = build_model(name, spec.input_shape, m.num_classes, **m.kwargs)
    try:
        model.load_state_dict(weights)
    except (RuntimeError, KeyError, TypeError, ValueError) as e:  # missing keys, shape mismatch
        own = is_users_code(m.name)
        why = (
            f"{m.name} is your own code, which most likely builds other layers now than when the run "
            f"trained: reopen the run with the code it was trained with (that version of the file, "
            f"module or notebook cell)."
            if own
            else f"The file is damaged or from an incompatible vislab version "
            f"({ckpt.record.vislab_version})."
        )
        raise (UserCodeError if own else DataError)(
            f"checkpoint '{path}': its weights do not fit the model it describes ({m.name}, "
            f"{m.kwargs}): {' '.join(str(e).split())[:300].rstrip('.')}. {why}"
        ) from None
    return model.eval(), ckpt.record


def _other_run_note(run: Path, path: Path, record: RunRecord) -> str | None:
    """The note for run folder ``run``'s checkpoint ``path`` (``record``) holding another model than the
    one its summary.json says the run trained: copied from another run. None where they agree, or where
    summary.json names none (config.yaml is not read: the commands that need it read it once)."""
    named = (RunDir(run).read_summary() or RunSummary()).model
    if named is None or named == record.model.name:
        return None
    return (
        f"'{path}' holds model {record.model.name}, but '{run / 'summary.json'}' says the run trained "
        f"model {named}, and its scores are of that model: the checkpoint was copied from another run. "
        f"What is used here is the checkpoint's model, as it records itself; put this run's own back to "
        f"use the run's."
    )


def score_checkpoint(
    target: str | Path, split: str = "test", overrides: Sequence[str] = (), trust_code: bool = False
) -> tuple[Metrics, list[str]]:
    """A checkpoint's metrics on a split of its dataset (with the checkpoint's own normalisation) and the
    class names; ``overrides`` are ``--set`` assignments (data.* and train.eval_batch_size only)."""
    scored = score_split(target, split, overrides, trust_code)
    return scored.metrics, scored.class_names


@dataclass
class Scored:
    """A split scored by a checkpoint: its metrics, class names, probabilities and the split itself."""

    metrics: Metrics
    class_names: list[str]
    probs: np.ndarray
    data: ArraySet


def score_split(
    target: str | Path, split: str, overrides: Sequence[str] = (), trust_code: bool = False
) -> Scored:
    """Score ``split`` of the checkpoint's own dataset (``overrides``: data.* settings) with its model."""
    model, record, data, inputs = split_inputs(target, split, overrides, trust_code)
    # with the run's test-time augmentation, as training evaluated
    scored = record.inputs.wrap(model)
    with torch.inference_mode():
        logits = torch.cat([scored(x) for x, _ in inputs.epoch(0)])
    names = list(record.model.class_names)
    m = compute_metrics(logits, torch.from_numpy(data.y), len(names), with_roc=True)
    probs = torch.softmax(logits.float(), 1).numpy()
    return Scored(m, names, probs, data)


def split_inputs(
    target: str | Path, split: str, overrides: Sequence[str] = (), trust_code: bool = False
) -> tuple[torch.nn.Module, RunRecord, ArraySet, DeviceLoader]:
    """A checkpoint's model and record, ``split`` of its own dataset (``overrides``: data.* settings; labels
    as the model's class indices, matched by name) and its loader as evaluation feeds it to the model (the
    spec's centre crop and normalisation)."""
    if split not in SPLITS:
        raise UserError(
            f"the split must be train, val or test, not '{split}'; or all: every sample of the data "
            "(train, val and test together)."
        )
    model, record = load_model(target, trust_code)
    if record.config is None:
        raise DataError(
            f"checkpoint '{target}' holds no config, so its dataset is unknown: use a checkpoint "
            f"written by vislab's trainer."
        )
    _check_data_settings(overrides)
    cfg = build_config(record.config, list(overrides), source="checkpoint config")
    spec = record.inputs
    # an image folder is decoded to the model's channels (another folder's images converted)
    channels = spec.input_shape[0] if len(spec.input_shape) == 3 else None
    splits, _ = prepare_data(cfg.data, cfg.train.seed, stats=spec.stats, channels=channels)
    if note := _data_note(target, record, splits, cfg.data, split, overrides):
        show_note(note)
    got = InputSpec.build(cfg.augment, splits.sample_shape, spec.stats).input_shape
    _check_fits(target, spec.input_shape, got, cfg.data.name)
    chosen = _every_sample(splits) if split == "all" else dict(splits.items())[split]
    data = _labels_by_name(target, record, splits.class_names, chosen, cfg.data.name)
    loader = DeviceLoader(data, spec.stats, cfg.train.eval_batch_size, size=spec.crop_size)
    return model, record, data, loader


#: what eval scores: a split of the data, or "all": every sample of it (its three splits together)
SPLITS = ("train", "val", "test", "all")


def _every_sample(splits: Splits) -> ArraySet:
    """Every sample of ``splits``: train's, then val's, then test's (with their files and origins)."""
    sets = [s for _, s in splits.items()]
    names = None if any(s.names is None for s in sets) else np.concatenate([s.names for s in sets])
    origin = (
        None if any(s.origin is None for s in sets) else np.concatenate([s.origin for s in sets])
    )
    x, y = np.concatenate([s.x for s in sets]), np.concatenate([s.y for s in sets])
    return ArraySet(x, y, names, origin)


def _data_note(
    target: str | Path,
    record: RunRecord,
    splits: Splits,
    data: DataConfig,
    split: str,
    overrides: Sequence[str],
) -> str | None:
    """The note on what is scored, or None: the run's own data changed since it trained; ``split`` all
    of the data the run trained on (its train split included); a split of other data carved from its
    train set (a part of it only)."""
    other = _names_other_data(overrides)
    if not other and split != "all":
        return _changed_note(target, record, splits, data, split)
    own = not other or (
        record.data is not None
        and splits.fingerprint is not None
        and data_change(record.data, splits.fingerprint) is None
    )
    if split == "all":
        return _trained_on_note(splits, data) if own else None
    return None if own else _carved_note(splits, data, split)


def _where(splits: Splits, data: DataConfig) -> str:
    """The data in a note's words: an image folder's data.root, else data.name."""
    folder = splits.fingerprint is not None and splits.fingerprint["of"] == "files"
    return f"data.root '{data.root}'" if folder else f"data.name={data.name}"


def _trained_on_note(splits: Splits, data: DataConfig) -> str:
    """The note for ``--split all`` of the run's own data: it holds the samples the run trained on."""
    n = {key: len(s) for key, s in splits.items()}
    return (
        f"--split all scores every sample of the run's own data ({_where(splits, data)}): the "
        f"{n['train']} it trained on (train) and the {n['val']} it picked its best checkpoint by (val) "
        f"among them, so these are not held-out scores (--split test: the {n['test']} it held out). "
        f"To score new images, give their folder: --split all --set data.root=OTHER."
    )


def _carved_note(splits: Splits, data: DataConfig, split: str) -> str | None:
    """The note for ``split`` of other data than the run's being a part carved from its train set (the
    data has no such set of its own: an image folder without a test/ folder); None where it has one."""
    scored = dict(splits.items())[split]
    if scored.origin is None or not (scored.origin[:, 0] != OFFICIAL_SETS.index(split)).any():
        return None
    total = sum(len(s) for _, s in splits.items())
    return (
        f"{_where(splits, data)} has no {split} set of its own, so its {split} split is carved from "
        f"it: these scores are of {len(scored)} of its {total} samples. To score all of them: "
        f'--split all (Python: split="all").'
    )


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
    where = f"under data.root '{data.root}'" if folder else f"of data.name={data.name}"
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
        f"the data {where} changed since the run trained ({change}): its {split} split drawn now is "
        f"not the one the run {was}, so these scores are not the run's. {fix}."
    )


def _check_data_settings(overrides: Sequence[str]) -> None:
    """UserError for the first setting but data.* and train.eval_batch_size: the model scores as trained;
    one that names no section (``limit_eval=30``) is no config key (:func:`_no_section`)."""
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


def _no_section(setting: str, key: str) -> str:
    """Why ``setting`` (``key=value``) is no config key, in the command's words and Python's: with its
    section when ``key`` is a data.* key (``limit_eval=30`` → data.limit_eval / data__limit_eval)."""
    value = setting.split("=", 1)[1] if "=" in setting else "..."
    if key in DataConfig.model_fields:
        fix = f"data.{key}={value} (Python: data__{key}={value})"
    else:
        fix = "data.root=DIR (Python: data__root=DIR); eval takes data.* settings only"
    return f"'{setting}' is no config key: a config key names its section, e.g. {fix}."


def _check_fits(
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


def _labels_by_name(
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


@dataclass
class Evaluation:
    """What ``vislab eval`` found: the scored split, its most confused pairs (true, predicted, count) and
    most confidently wrong predictions, where :func:`write_evaluation_figures` draws the confusion
    matrix (``normalize``: each true class's shares) and the gallery (None: no gallery), and where the
    list of every wrong prediction goes (written with or without a gallery)."""

    split: str
    scored: Scored
    pairs: list[tuple[int, int, int]]
    mistakes: list[Mistake]
    confusion_png: Path
    mistakes_png: Path | None
    mistakes_csv: Path
    normalize: bool = False
    run: str = ""  # what the figures' titles call the checkpoint: its run (and which checkpoint)


def evaluate_checkpoint(
    target: Path,
    split: str,
    overrides: list[str],
    out: Path | None,
    trust_code: bool = False,
    mistakes: int = GALLERY_SIZE,
    force: bool = False,
    normalize: bool = False,
) -> Evaluation:
    """Score a checkpoint on a split and pick its ``mistakes`` most confidently wrong samples (with their
    files, for an image folder); writes nothing (:func:`write_evaluation_figures` does), so the scores
    survive an unwritable run folder (an ``out`` that cannot be written is refused before scoring).

    The PNGs and the mistakes' CSV (written even with ``mistakes=0``, no gallery) go into ``out``, or the
    run's figures/ folder (for a checkpoint file too: ``RUN/checkpoints/last.pt`` → ``RUN/figures/``; a
    checkpoint outside a run folder: beside it), named by the split, a checkpoint file's stem, the
    ``overrides`` and ``normalize``. In ``out`` an existing file is replaced only with ``force``
    (checked before scoring); in the run's own folder, eval replaces its own earlier output (the same
    names: the same checkpoint, split and data). ``normalize``: the confusion matrix shows each true
    class's shares (rows sum to 1) instead of counts."""
    if out is not None:  # the run's own folder: an unwritable one still shows the scores (the CLI)
        check_writable(out, "the confusion PNG and the mistakes", undone="nothing was scored")
    if mistakes < 0:
        raise UserError(f"--mistakes must be 0 (no gallery) or more, not {mistakes}.")
    target = Path(target)
    folder = Path(out) if out is not None else _figures_folder(target)
    tag = "".join(f"_{name_part(s)}" for s in (checkpoint_tag(target), *overrides) if s)
    shares = "_normalized" if normalize else ""  # another figure of the same counts: another name
    confusion_png = folder / f"confusion_{split}{tag}{shares}.png"
    mistakes_png = folder / f"mistakes_{split}{tag}.png" if mistakes else None
    mistakes_csv = folder / f"mistakes_{split}{tag}.csv"
    if out is not None:
        check_new_files([p for p in (confusion_png, mistakes_png, mistakes_csv) if p], force)
    scored = score_split(target, split, overrides, trust_code)
    wrong = confident_mistakes(scored.probs, scored.data.y, mistakes, scored.data.names)
    pairs = confused_pairs(scored.metrics.confusion)
    run = _run_label(target)
    return Evaluation(
        split, scored, pairs, wrong, confusion_png, mistakes_png, mistakes_csv, normalize, run
    )


def _run_label(target: Path) -> str:
    """What eval's titles call ``target``: its run's name, with the checkpoint when not the run's own
    (``cnn-s0 (last)``); a checkpoint file outside a run folder, its file name."""
    run, tag = _run_of(target), checkpoint_tag(target)
    if run is None:
        return target.name
    return f"{run.name} ({tag})" if tag else run.name


#: the columns of eval's mistakes_<split>.csv and of ``Run.mistakes``
MISTAKES_FIELDS = ["file", "index", "true", "predicted", "probability", "source"]


def mistakes_table(scored: Scored) -> tuple[list[str], list[dict]]:
    """Every wrong prediction of a scored split, most confident first, a row each: its file (an image
    folder's; else empty), index in the split, true and predicted class, probability, and its source:
    its official set and index in that set (``test[425]``: ``ArraySet.sources``), which the index in a
    split sampled by data.split or data.limit_eval is not. The rows of eval's mistakes_<split>.csv and
    of ``Run.mistakes``."""
    data = scored.data
    wrong = confident_mistakes(scored.probs, data.y, None, data.names)
    sources = data.sources(np.array([m.index for m in wrong], dtype=np.int64))
    rows = mistake_rows(wrong, scored.class_names)
    return MISTAKES_FIELDS, [{**row, "source": s} for row, s in zip(rows, sources)]


def write_evaluation_figures(ev: Evaluation) -> None:
    """Draw the confusion matrix and the gallery (its images; for feature vectors, the confused pairs
    only) into ``ev``'s paths. OSError when their folder cannot be written."""
    folder = ev.confusion_png.parent
    if folder.exists() and not folder.is_dir():  # mkdir would say only "File exists"
        raise NotADirectoryError(errno.ENOTDIR, "it is a file, not a folder", str(folder))
    m, names = ev.scored.metrics, ev.scored.class_names
    title = f"{ev.run}: {ev.split}" if ev.run else ev.split  # as the run's own: "cnn-s0: test"
    plot_confusion(m.confusion, names, ev.confusion_png, title=title, normalize=ev.normalize)
    if ev.mistakes_png is not None:
        images = ev.scored.data.x if ev.scored.data.is_image else None
        plot_mistakes(images, ev.mistakes, ev.pairs, names, ev.mistakes_png, title=title)


def _figures_folder(target: Path) -> Path:
    """Where eval writes without ``--out``: the figures/ of the run that ``target`` is or holds the
    checkpoint of (``RUN/checkpoints/last.pt``); beside a checkpoint file outside a run folder."""
    run = _run_of(target)
    return run / "figures" if run is not None else target.parent


def _run_of(target: Path) -> Path | None:
    """The run folder ``target`` is, or holds the checkpoint of (``RUN/checkpoints/best.pt``: a folder
    with a config.yaml); None for a checkpoint file outside a run folder."""
    if target.is_dir():
        return target
    run = target.parent.parent
    if target.parent.name == "checkpoints" and (run / "config.yaml").is_file():
        return run
    return None


def checkpoint_tag(target: str | Path) -> str:
    """Which checkpoint a figure's name and title tell: ``last`` for ``RUN/checkpoints/last.pt`` (a
    checkpoint file's stem); '' for a run directory or a best.pt, which the run's own names mean."""
    target = Path(target)
    return target.stem if target.is_file() and target.name != "best.pt" else ""
