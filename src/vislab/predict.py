"""Using a finished checkpoint: rebuild its model, evaluate it on a split (classifying images:
:mod:`vislab.classify`).

One implementation for the CLI (``vislab eval``, which formats these values for the terminal) and the
Python API (``vislab.Run.evaluate``). Nothing here prints."""

from __future__ import annotations

import errno
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vislab.claimed_scores import Claimed, claimed_score
from vislab.data.input_spec import InputSpec
from vislab.data.loader import DeviceLoader
from vislab.data.types import ArraySet
from vislab.errors import CheckpointNote, DataError, UserError, show_note
from vislab.eval_checks import (
    check_data_settings,
    check_fits,
    check_root_read,
    check_train_only,
    labels_by_name,
)
from vislab.eval_data import SPLITS, data_note, eval_config, eval_splits, every_sample, unlimited
from vislab.eval_data import data_where_now as where_now
from vislab.models import build_model, skip_pretrained
from vislab.models.objects import check_unchanged
from vislab.models.trust import recorded_code
from vislab.plotting.files import check_new_files, name_part
from vislab.plotting.mistake_picks import (
    GALLERY_SIZE,
    Mistake,
    confident_mistakes,
    confused_pairs,
    mistake_rows,
)
from vislab.training.checkpoint import PickedCheckpoint, pick_checkpoint
from vislab.training.evaluate import split_loss
from vislab.training.metrics import Metrics, compute_metrics
from vislab.training.parts import channels_last
from vislab.training.record import RunRecord
from vislab.training.roc import micro_roc
from vislab.training.rundir import RunDir, refuse_run_file
from vislab.training.saved_weights import load_weights
from vislab.training.summary import RunSummary
from vislab.training.writable import check_writable


def load_model(
    target: str | Path, trust_code: bool = False, checkpoint: str = "best"
) -> tuple[torch.nn.Module, RunRecord]:
    """Rebuild the model of a checkpoint (needs nothing but the checkpoint) and the run's record.

    ``target``: a checkpoint file or a run directory, whose ``checkpoint`` (:func:`pick_checkpoint`, its
    note warned) is used: ``"best"``, best.pt — or, where the run has none, last.pt standing in for it;
    ``"last"``, last.pt. A last.pt's weights are its ``train.ema`` average where it holds one (what the
    run's evaluations scored), else its live ones.

    A model that is the user's own code (``model.name=file.py:Net``) is imported only with
    ``trust_code=True`` or when the file has the sha256 the run recorded; else UntrustedCode (exit 2). A
    model object (``vislab.train(model=Net)``) redefined since the run trained is a UserCodeError, as is
    code whose layers no longer fit the saved weights (``training.saved_weights.load_weights``)."""
    model, picked = picked_model(target, trust_code, checkpoint)
    return model, picked.load().record


def picked_model(
    target: str | Path | PickedCheckpoint, trust_code: bool, checkpoint: str = "best"
) -> tuple[torch.nn.Module, PickedCheckpoint]:
    """:func:`load_model`'s model, and the checkpoint it was picked from (loaded: read once); ``target``
    may be that checkpoint, picked already (:func:`pick_checkpoint`; ``checkpoint`` then unused)."""
    picked = target if isinstance(target, PickedCheckpoint) else pick_checkpoint(target, checkpoint)
    target = picked.run or picked.path
    picked.show_note()
    path, ckpt = picked.path, picked.load()
    run = _run_of(Path(target))
    if note := (_other_run_note(run, path, ckpt.record) if run is not None else None):
        show_note(note, CheckpointNote)
    m, spec = ckpt.record.model, ckpt.record.inputs
    code = recorded_code(m.name, m.code, trust_code, str(target))
    with code as name, skip_pretrained():  # the state dict is the model; no pretrained file needed
        check_unchanged(name, m.code, str(target), trust_code)  # code changed since training
        model = build_model(name, spec.input_shape, m.num_classes, **m.kwargs)
    run_name = f"run '{run}' ({path.name})" if run is not None else f"checkpoint '{path}'"
    load_weights(model, picked.weights(ckpt), m.name, run_name, ckpt.record.vislab_version)
    return model.eval(), picked


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


@dataclass
class Scored:
    """A split scored by a checkpoint: its metrics, class names, probabilities, the split itself and
    which weights of the checkpoint file scored it (:attr:`PickedCheckpoint.said`)."""

    metrics: Metrics
    class_names: list[str]
    probs: np.ndarray
    data: ArraySet
    weights: str


def score_split(
    target: str | Path,
    split: str,
    overrides: Sequence[str] = (),
    trust_code: bool = False,
    source: str = "--set",
) -> Scored:
    """Score ``split`` of the checkpoint's own dataset (``overrides``: data.* settings, given as
    ``source`` says) with its model; a note where the run's summary.json records another accuracy
    for these weights on this split of the same data (:func:`claimed_score`)."""
    model, data, inputs, picked, claimed = _split_inputs(
        target, split, overrides, trust_code, source
    )
    record = picked.load().record
    # with the run's test-time augmentation, as training evaluated
    scored = record.inputs.wrap(model)
    with torch.inference_mode():
        logits = torch.cat([scored(x) for x, _ in inputs.epoch(0)])
    names, labels = list(record.model.class_names), torch.from_numpy(data.y)
    loss = split_loss(logits, labels)  # as summary.json's
    m = compute_metrics(logits, labels, len(names), loss=loss, with_roc=True)
    if claimed is not None and (note := claimed.note(m.acc, m.n)):
        show_note(note)  # summary.json's score of these weights is not what they score
    probs = torch.softmax(logits.float(), 1).numpy()
    return Scored(m, names, probs, data, picked.said)


def split_inputs(
    target: str | Path,
    split: str,
    overrides: Sequence[str] = (),
    trust_code: bool = False,
    source: str = "--set",
) -> tuple[torch.nn.Module, RunRecord, ArraySet, DeviceLoader]:
    """A checkpoint's model and record, ``split`` of its own dataset (``overrides``: data.* settings,
    given as ``source`` says; labels as the model's class indices, matched by name) and its loader as
    evaluation feeds it to the model (the spec's centre crop and normalisation)."""
    model, data, loader, picked, _ = _split_inputs(target, split, overrides, trust_code, source)
    return model, picked.load().record, data, loader


def _split_inputs(
    target: str | Path, split: str, overrides: Sequence[str], trust_code: bool, source: str
) -> tuple[torch.nn.Module, ArraySet, DeviceLoader, PickedCheckpoint, Claimed | None]:
    """:func:`split_inputs`' model, split and loader, the checkpoint picked (loaded), and the score the
    run's summary.json records for these weights on this split, where it records one
    (:func:`claimed_score`)."""
    if split not in SPLITS:
        raise UserError(
            f"the split must be train, val or test, not '{split}'; or all: every sample of the data "
            "(train, val and test together)."
        )
    check_data_settings(overrides, target)  # before the model: a setting refused is never unsaid
    model, picked = picked_model(target, trust_code)
    record = picked.load().record
    if record.config is None:
        raise DataError(
            f"checkpoint '{target}' holds no config, so its dataset is unknown: use a checkpoint "
            f"written by vislab's trainer."
        )
    config = where_now(_run_of(Path(target)), record.config)
    # "all": every sample, the run's data.limit / limit_per_class / limit_eval not applied
    tree = unlimited(config, overrides, source) if split == "all" else config
    cfg = eval_config(tree, overrides, source)
    check_root_read(cfg.data, overrides)
    check_train_only(overrides, split, config, cfg)
    spec = record.inputs
    # an image folder is decoded to the model's channels (another folder's images converted)
    channels = spec.input_shape[0] if len(spec.input_shape) == 3 else None
    # data_note says what these scores depend on
    splits = eval_splits(target, cfg, split, channels, overrides)
    summary = _summary_of(Path(target)) if split == "all" else None
    if note := data_note(target, record, splits, cfg.data, split, overrides, summary):
        show_note(note)
    got = InputSpec.build(cfg.augment, splits.sample_shape, spec.stats).input_shape
    check_fits(target, spec.input_shape, got, cfg.data.name)
    chosen = every_sample(splits) if split == "all" else dict(splits.items())[split]
    data = labels_by_name(target, record, splits.class_names, chosen, cfg.data.name)
    loader = DeviceLoader(data, spec.stats, cfg.train.eval_batch_size, size=spec.crop_size)
    if channels_last(cfg.train.channels_last, model, spec.input_shape):  # as the run evaluated
        model, loader.channels_last = model.to(memory_format=torch.channels_last), True
    claimed = claimed_score(_run_of(Path(target)), picked, splits, split, overrides)
    return model, data, loader, picked, claimed


@dataclass
class Evaluation:
    """What ``vislab eval`` found: the scored split, its most confused pairs (true, predicted, count) and
    most confidently wrong predictions, where :func:`write_evaluation_figures` draws the confusion
    matrix (``normalize``: each true class's shares), the ROC curves and the gallery (None: no gallery),
    and where the list of every wrong prediction goes (written with or without a gallery), and its
    numbers: the per-class table (``training.metrics.per_class_table``) and the confusion matrix's
    counts (``confusion_table``)."""

    split: str
    scored: Scored
    pairs: list[tuple[int, int, int]]
    mistakes: list[Mistake]
    confusion_png: Path
    roc_png: Path  # one-vs-rest, per class, with their macro and micro averages (Run.plot("roc"))
    mistakes_png: Path | None
    mistakes_csv: Path
    per_class_csv: Path
    confusion_csv: Path
    scores_json: Path  # the split's overall scores (split, n and summary.json's score names)
    normalize: bool = False
    run: str = ""  # what the figures' titles call the checkpoint: its run (and which checkpoint)
    #: which weights were scored (:attr:`PickedCheckpoint.said`: "best.pt, epoch 3", "last.pt's train.ema
    #: average, epoch 8")
    weights: str = ""

    def files(self) -> list[Path]:
        """The files eval writes, in its order: the figures, the CSVs, then the overall scores."""
        figures = [self.confusion_png, self.roc_png, self.mistakes_png]
        return [p for p in figures if p is not None] + self.csv_files() + [self.scores_json]

    def csv_files(self) -> list[Path]:
        """The CSVs: every wrong prediction, the per-class table, the confusion matrix's counts."""
        return [self.mistakes_csv, self.per_class_csv, self.confusion_csv]


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

    The PNGs and the CSVs (the mistakes' even with ``mistakes=0``, no gallery; the per-class table and
    the confusion matrix's counts, whatever ``normalize``) go into ``out``, or the
    run's figures/ folder (for a checkpoint file too: ``RUN/checkpoints/last.pt`` → ``RUN/figures/``; a
    checkpoint outside a run folder: beside it), named by the split, a checkpoint file's stem, the
    ``overrides`` and ``normalize``. In ``out`` an existing file is replaced only with ``force``
    (checked before scoring); in the run's own folder, eval replaces its own earlier output (the same
    names: the same checkpoint, split and data). ``normalize``: the confusion matrix shows each true
    class's shares (rows sum to 1) instead of counts."""
    if out is not None:  # the run's own folder: an unwritable one still shows the scores (the CLI)
        refuse_run_file(out, "--out")  # RUN_OWN, RUN_FIGURES
        check_writable(
            out,
            "the confusion and ROC PNGs, the tables and the mistakes",
            undone="nothing was scored",
        )
    if mistakes < 0:
        raise UserError(f"--mistakes must be 0 (no gallery) or more, not {mistakes}.")
    target = Path(target)
    folder = Path(out) if out is not None else figures_folder(target)
    tag = "".join(f"_{name_part(s)}" for s in (checkpoint_tag(target), *overrides) if s)
    shares = "_normalized" if normalize else ""  # another figure of the same counts: another name
    confusion_png = folder / f"confusion_{split}{tag}{shares}.png"
    roc_png = folder / f"roc_{split}{tag}.png"
    mistakes_png = folder / f"mistakes_{split}{tag}.png" if mistakes else None
    csvs = [folder / f"{what}_{split}{tag}.csv" for what in ("mistakes", "per_class", "confusion")]
    scores_json = folder / f"scores_{split}{tag}.json"
    if out is not None:
        drawn = (confusion_png, roc_png, mistakes_png)
        check_new_files([p for p in (*drawn, *csvs, scores_json) if p], force)
    scored = score_split(target, split, overrides, trust_code)
    wrong = confident_mistakes(scored.probs, scored.data.y, mistakes, scored.data.names)
    pairs = confused_pairs(scored.metrics.confusion)
    files = (confusion_png, roc_png, mistakes_png, *csvs, scores_json)
    label = run_label(target)
    return Evaluation(split, scored, pairs, wrong, *files, normalize, label, scored.weights)


def run_label(target: Path) -> str:
    """What eval's and ``Run.plot``'s titles call ``target``: its run's name, with the checkpoint when not
    the run's own (``cnn-s0 (last)``); a checkpoint file outside a run folder, its file name."""
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
    split sampled by data.split or data.limit_eval is not (empty for an image folder's, which its file
    finds). The rows of eval's mistakes_<split>.csv and of ``Run.mistakes``."""
    data = scored.data
    wrong = confident_mistakes(scored.probs, data.y, None, data.names)
    sources = data.sources(np.array([m.index for m in wrong], dtype=np.int64))
    rows = mistake_rows(wrong, scored.class_names)
    return MISTAKES_FIELDS, [{**row, "source": s} for row, s in zip(rows, sources)]


def write_evaluation_figures(ev: Evaluation) -> None:
    """Draw the confusion matrix, the ROC curves (as ``Run.plot("roc")``: with the macro and micro
    averages) and the gallery (its images; for feature vectors, the confused pairs only) into ``ev``'s
    paths. OSError when their folder cannot be written."""
    # on use: matplotlib takes a second to import, which scoring, export and predict do without
    from vislab.plotting.mistakes import plot_mistakes
    from vislab.plotting.roc import plot_roc
    from vislab.plotting.runs import plot_confusion

    folder = ev.confusion_png.parent
    if folder.exists() and not folder.is_dir():  # mkdir would say only "File exists"
        raise NotADirectoryError(errno.ENOTDIR, "it is a file, not a folder", str(folder))
    m, names = ev.scored.metrics, ev.scored.class_names
    title = f"{ev.run}: {ev.split}" if ev.run else ev.split  # as the run's own: "cnn-s0: test"
    plot_confusion(m.confusion, names, ev.confusion_png, title=title, normalize=ev.normalize)
    micro = micro_roc(ev.scored.data.y, ev.scored.probs) if len(names) > 1 else None
    plot_roc(m.roc, names, ev.roc_png, title=title, micro=micro)
    if ev.mistakes_png is not None:
        images = ev.scored.data.x if ev.scored.data.is_image else None
        plot_mistakes(images, ev.mistakes, ev.pairs, names, ev.mistakes_png, title=title)


def figures_folder(target: Path) -> Path:
    """Where eval writes without ``--out``: the figures/ of the run that ``target`` is or holds the
    checkpoint of (``RUN/checkpoints/last.pt``); beside a checkpoint file outside a run folder."""
    run = _run_of(target)
    return run / "figures" if run is not None else target.parent


def _summary_of(target: Path) -> RunSummary | None:
    """The summary.json of the run ``target`` is (or holds the checkpoint of); None where it has none."""
    run = _run_of(target)
    return RunDir(run).read_summary() if run is not None else None


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
