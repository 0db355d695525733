"""The terminal's view of ``vislab eval`` and ``vislab predict``: the values ``vislab.predict`` returns,
formatted as a per-class table, confused pairs and one line per image — or as files (``predict
--csv``, eval's overall scores, list of wrong predictions, per-class table and confusion counts); and the
checkpoint ``--checkpoint`` picks (eval, predict, export), with its note. Results go to stdout; what was
written, to stderr."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vislab.classify import Ranked, prediction_table
from vislab.cli.options import is_stdout
from vislab.errors import DataError, UserError
from vislab.files import atomic_write_text
from vislab.plotting.mistake_picks import pair_lines
from vislab.predict import MISTAKES_FIELDS, Evaluation, figures_folder, mistakes_table
from vislab.training.checkpoint import pick_checkpoint
from vislab.training.metrics import PER_CLASS_FIELDS, Metrics, confusion_table, per_class_table
from vislab.training.rundir import refuse_run_file
from vislab.training.writable import check_writable
from vislab.words import and_list, counted, first_few

out = Console(emoji=False)
err = Console(stderr=True, emoji=False)


def chosen_checkpoint(target: Path, checkpoint: str | None) -> Path:
    """What ``--checkpoint`` (best without it) picks in run directory ``target``, as eval, predict and
    export take it: the run itself for its best weights (best.pt, or a ``train.ema`` run's average in the
    last.pt standing in for it: :attr:`PickedCheckpoint.is_runs_best`), else the checkpoint file — last.pt
    (its ``train.ema`` average where it holds one), asked for or in place of a best.pt the run does not
    have yet (then a ``note:`` on stderr says so). A checkpoint file is used as it is; with
    ``--checkpoint``, UserError."""
    target = Path(target)
    if checkpoint is not None and target.is_file():
        raise UserError(
            f"--checkpoint {checkpoint} picks a checkpoint of a run directory, but '{target}' is a "
            f"checkpoint file: give the run directory, or the file without --checkpoint."
        )
    try:
        picked = pick_checkpoint(target, checkpoint or "best")
    except DataError:
        if checkpoint is not None:
            raise
        return (
            target  # no checkpoint to choose from: the command names what is missing, in its turn
        )
    # the run: eval names its figures as it always has; the loader picks the same weights (and note) again
    if picked.is_runs_best:
        return target
    picked.show_note()  # warned: shown as a note: line (notes_as_lines)
    return picked.path


def say_weights(said: str) -> None:
    """``weights: last.pt's train.ema average, epoch 8`` on stderr: which weights predict and export used
    (``said``: :attr:`PickedCheckpoint.said` of the checkpoint their loader read), as eval says them."""
    err.print(escape(f"weights: {said}"), highlight=False, soft_wrap=True)


def print_scores(ev: Evaluation) -> None:
    """The split's scores (:func:`score_line`), which weights were scored (best.pt's too), the per-class
    table (n/a for a class the split has no sample of, and a line naming those) and most confused pairs
    (before any PNG is written)."""
    m, names = ev.scored.metrics, ev.scored.class_names
    # the scores stay the first line (scripts read it)
    out.print(f"{ev.split}: {score_line(m)}", highlight=False, soft_wrap=True)
    out.print(escape(f"weights: {ev.weights}"), highlight=False, soft_wrap=True)
    table = Table()
    table.add_column("class")
    table.add_column("accuracy", justify="right")
    table.add_column("support", justify="right")
    for name, acc, row in zip(names, m.per_class, m.confusion):
        table.add_row(escape(str(name)), f"{acc:.4f}" if row.sum() else "n/a", str(int(row.sum())))
    out.print(table)
    if line := absent_line(ev):
        out.print(escape(line), highlight=False, soft_wrap=True)
    out.print(f"most confused pairs ({ev.split}, true → predicted):", highlight=False)
    for line in pair_lines(ev.pairs, names) or ["none: every prediction is right"]:
        out.print(escape(f"  {line}"), highlight=False)


def score_line(m: Metrics) -> str:
    """A split's overall scores in words: accuracy, per-class accuracy, then top-5 accuracy, macro
    one-vs-rest ROC AUC and loss where known, and the number of samples."""
    parts = [f"acc {m.acc:.4f}", f"per-class acc {m.pacc:.4f}"]
    if m.top5_acc is not None:
        parts.append(f"top-5 {m.top5_acc:.4f}")
    if m.auc is not None:
        parts.append(f"AUC (macro OvR) {m.auc:.4f}")
    if m.loss is not None:
        parts.append(f"loss {m.loss:.4f}")
    return ", ".join([*parts, f"n={m.n}"])


def absent_line(ev: Evaluation) -> str | None:
    """The line under the per-class table naming the classes the split has no sample of: their accuracy
    is n/a, not 0 (and with ``--normalize`` their confusion rows are blank). None where every class has
    some."""
    m = ev.scored.metrics
    names = [str(n) for n, row in zip(ev.scored.class_names, m.confusion) if not row.sum()]
    if not names:
        return None
    what = "images" if ev.scored.data.is_image else "samples"
    listed = and_list(names) if len(names) <= 10 else first_few(names, 10)
    one = len(names) == 1
    classes = f"class {listed}: its" if one else f"classes {listed}: their"
    rows = "its row" if one else "their rows"
    blank = f" and the normalised confusion matrix leaves {rows} blank" if ev.normalize else ""
    return (
        f"no {ev.split} {what} of {classes} accuracy is n/a, not 0; per-class acc leaves "
        f"{'it' if one else 'them'} out{blank}."
    )


def print_figures(ev: Evaluation) -> None:
    """Where the confusion matrix, the ROC curves, the gallery, the list of wrong predictions, the tables
    and the overall scores were written (on stderr)."""
    lines = [f"confusion matrix: {ev.confusion_png}"]
    lines.append(f"ROC curves (one vs rest; macro and micro average): {ev.roc_png}")
    if ev.mistakes_png is not None and not ev.pairs:  # plot_mistakes drew none
        what = "image" if ev.scored.data.is_image else "sample"
        lines.append(f"mistakes: no figure, no {ev.split} {what} was misclassified")
    elif ev.mistakes_png is not None and ev.scored.data.is_image:
        lines.append(f"most confidently wrong images ({len(ev.mistakes)}): {ev.mistakes_png}")
    elif ev.mistakes_png is not None:
        lines.append(f"most confused pairs (feature vectors, no images): {ev.mistakes_png}")
    wrong = int((ev.scored.probs.argmax(1) != ev.scored.data.y).sum())
    lines.append(
        f"every wrong prediction ({wrong}; columns {', '.join(MISTAKES_FIELDS)}): {ev.mistakes_csv}"
    )
    lines.append(f"per-class table (columns {', '.join(PER_CLASS_FIELDS)}): {ev.per_class_csv}")
    lines.append(f"confusion matrix counts (rows true, columns predicted): {ev.confusion_csv}")
    lines.append(f"overall scores ({', '.join(_scores(ev))}): {ev.scores_json}")
    for line in lines:
        err.print(escape(line), highlight=False, soft_wrap=True)


def print_predictions(results: list[tuple[Path, Ranked | UserError]]) -> int:
    """One line per image: its top-k classes, or its error. Returns the number of errors."""
    failures = 0
    for path, ranked in results:
        if isinstance(ranked, UserError):
            failures += 1
            print_image_error(path, ranked)
            continue
        text = ", ".join(f"{name} {q:.3f}" for name, q in ranked)
        out.print(escape(f"{path}: {text}"), highlight=False, soft_wrap=True)
    return failures


def print_image_error(image: object, error: UserError, console: Console = out) -> None:
    """``IMAGE: error: ...`` for one image of several that could not be used (the others go on), on
    ``console`` (stdout, among the results, unless given)."""
    console.print(
        f"[red]{escape(str(image))}: error:[/] {escape(str(error))}",
        highlight=False,
        soft_wrap=True,
    )


def note_top_k(results: list[tuple[Path, Ranked | UserError]], top_k: int) -> None:
    """A note on stderr when the ``--top-k`` a user gave asks for more classes than the model has (each
    image then lists all of them). Not called without the option: its default asks for no more."""
    given = max((len(r) for _, r in results if not isinstance(r, UserError)), default=top_k)
    if given < top_k:
        err.print(
            f"note: --top-k {top_k}, but the model knows {given} classes: each image lists all {given}.",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


def write_mistakes_csv(ev: Evaluation) -> None:
    """Every wrong prediction of the split, most confident first, into ``ev.mistakes_csv``: its file (an
    image folder's; else empty), index in the split, true and predicted class, probability."""
    _write_csv(ev.mistakes_csv, *mistakes_table(ev.scored))


def write_tables_csv(ev: Evaluation) -> None:
    """The split's numbers: the per-class table into ``ev.per_class_csv`` (class, n, correct, recall,
    precision, f1), the confusion matrix's counts into ``ev.confusion_csv`` (rows true, columns
    predicted, by class name) and the overall scores into ``ev.scores_json``."""
    m, names = ev.scored.metrics, ev.scored.class_names
    _write_csv(ev.per_class_csv, *per_class_table(m.confusion, names))
    _write_csv(ev.confusion_csv, *confusion_table(m.confusion, names))
    text = json.dumps(_scores(ev), indent=1) + "\n"
    atomic_write_text(ev.scores_json, text, "--out")


# scores_train.json's note: its scores are not summary.json's train_acc and train_loss, another figure
TRAIN_NOTE = (
    "train_eval_*: these weights scored on the train split in eval mode, without augmentation; "
    "summary.json's train_acc and train_loss are another figure: the means over the best epoch's "
    "training batches, in train mode, with the run's augmentation."
)


def _scores(ev: Evaluation) -> dict:
    """The split's overall scores as summary.json names them (``test_acc``, ``test_pacc``, then
    ``test_top5_acc``, ``test_loss`` and ``test_auc`` where known), after the split and its number of
    samples. The train split's are ``train_eval_*``, with a note: summary.json's ``train_acc`` is
    another figure."""
    m = ev.scored.metrics
    prefix = "train_eval" if ev.split == "train" else ev.split
    scores = {"split": ev.split, "n": m.n, **m.as_dict(prefix)}
    if m.auc is not None:
        scores[f"{prefix}_auc"] = m.auc
    return scores | ({"note": TRAIN_NOTE} if ev.split == "train" else {})


def check_csv_path(path: Path) -> None:
    """UserError (before any work) unless the CSV ``path`` can be written: not a folder, not a run's own
    file (``training.rundir.RUN_OWN``), and in a writable folder (or where one can be made); ``-`` (stdout)
    always can."""
    if is_stdout(path):
        return
    refuse_run_file(path, "--csv")
    if Path(path).is_dir():
        raise UserError(
            f"--csv '{path}' is a folder: give a file to write, e.g. --csv "
            f"{os.path.join(path, 'predictions.csv')}."
        )
    check_writable(path, "the CSV", "--csv", "nothing was predicted", is_file=True)


def eval_target(target: Path, checkpoint: str | None, out: Path | None) -> Path:
    """What ``vislab eval`` scores (:func:`chosen_checkpoint`), where its files can go: without ``--out``,
    UserError (before scoring) where the figures/ folder of the run ``target`` is (or holds the
    checkpoint of) cannot be written, naming ``--out DIR``."""
    target = chosen_checkpoint(target, checkpoint)
    if out is None and target.exists():  # else eval names what is missing, in its turn
        _check_run_figures(target)
    return target


def _check_run_figures(target: Path) -> None:
    """UserError naming ``--out DIR`` where eval cannot write into the run's figures/ folder."""
    folder = figures_folder(Path(target))
    if folder.exists() and not folder.is_dir():
        raise UserError(
            f"eval writes its confusion and ROC PNGs, tables and mistakes into '{folder}', which is a file, not "
            f"a folder: nothing was scored. Move that file aside, or give another folder for them: "
            f"--out DIR."
        )
    try:
        check_writable(folder, "eval's figures and tables", undone="nothing was scored")
    except UserError:
        raise UserError(
            f"eval writes its confusion and ROC PNGs, tables and mistakes into '{folder}', which cannot be "
            f"written (a read-only run, or not yours): nothing was scored. Give a writable folder "
            f"for them: --out DIR."
        ) from None


def write_predictions_csv(results: list[tuple[Path, Ranked | UserError]], path: Path) -> int:
    """One row per image into ``path`` (``-``: stdout; the columns of
    :func:`vislab.classify.prediction_table`), then its errors and where the CSV went on stderr. Returns
    the number of errors."""
    for file, ranked in results:
        if isinstance(ranked, UserError):
            print_image_error(file, ranked, err)  # the CSV's error column holds it too
    _write_csv(path, *prediction_table(results), option="--csv")
    failures = sum(isinstance(r, UserError) for _, r in results)
    unread = f" ({failures} could not be read)" if failures else ""
    where = "stdout" if is_stdout(path) else path
    err.print(
        escape(f"{counted(len(results), 'image')}{unread}: {where}"),
        highlight=False,
        soft_wrap=True,
    )
    return failures


def _write_csv(path: Path, fields: list[str], rows: list[dict], option: str = "--out") -> None:
    """``rows`` under a header of ``fields`` (a missing key or None: an empty cell), written atomically
    (``-``: on stdout); missing folders are made. ``option``: the one that chose the place, named if it
    cannot be written."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    if is_stdout(path):
        sys.stdout.write(buf.getvalue())
        sys.stdout.flush()
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(path), buf.getvalue(), option)
