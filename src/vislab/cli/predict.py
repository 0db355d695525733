"""``vislab eval`` and ``vislab predict``: a finished run (or a checkpoint file) scored on a split, or
classifying image files and folders (the logic: ``vislab.predict``; the terminal's view and the CSV files:
``cli/scores.py``).

Commands import the layers they drive when they run ("on use" below): torch and matplotlib take seconds
to load, which `vislab --help` and usage errors should not wait for.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from vislab.cli.endings import err
from vislab.cli.options import CheckpointChoice, CheckpointOpt, SetOpt, TrustOpt, is_stdout
from vislab.cli.stopped import kept_on_ctrl_c

if TYPE_CHECKING:
    from vislab.predict import Evaluation

DEFAULT_TOP_K = 3  # classes per image without --top-k (all of them when the model has fewer)


SplitOpt = typer.Option(
    "test",
    "--split",
    help="train | val | test | all. all: every sample of the data, its three splits together: "
    "with --set data.root=OTHER, every image of a folder of new images (test alone is the tenth "
    "vislab carves from a folder without a test/ folder); of the run's own data, the images it "
    "trained on too (a note says so).",
)


def eval_(
    target: Path = typer.Argument(..., help="Run directory or checkpoint file."),
    split: str = SplitOpt,
    set_: list[str] | None = SetOpt,
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Folder for the PNGs and the CSVs (default: the run's figures/, also for a checkpoint "
        "file in the run's checkpoints/, where eval replaces its own files and the run's "
        "confusion_test.png: the same figure while its data and weights are unchanged).",
    ),
    which: CheckpointChoice | None = CheckpointOpt,
    trust_code: bool = TrustOpt,
    mistakes: int = typer.Option(
        16,
        "--mistakes",
        metavar="N",
        help="The N most confidently wrong images in mistakes_<split>.png; 16 without the option. "
        "Give the number: --mistakes 32 (--mistakes 0: no gallery). mistakes_<split>.csv lists every "
        "wrong prediction (an image folder's: its file), with or without the gallery.",
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Replace PNGs and CSVs already in --out (the run's own figures/ always are).",
    ),
    normalize: bool = typer.Option(
        False,
        "--normalize",
        help="Confusion matrix as each true class's shares (rows sum to 1) instead of counts.",
    ),
) -> None:
    """Evaluate a checkpoint on a split (or all of the data): accuracy, per-class table, most confused
    class pairs, confusion matrix, ROC curves (one vs rest, macro and micro averages) and wrong-image
    gallery PNGs, and as CSVs the wrong predictions, the per-class table (per_class_<split>.csv), the
    confusion counts (confusion_<split>.csv), the scores (scores_<split>.json). Scores: stdout; files: stderr."""
    # on use: torch & co. take seconds to load (module docstring)
    from vislab.cli.scores import eval_target, print_figures, print_scores
    from vislab.predict import evaluate_checkpoint

    target = eval_target(target, which and which.value, out)
    with kept_on_ctrl_c("eval", []):
        ev = evaluate_checkpoint(
            target, split, set_ or [], out, trust_code, mistakes, force, normalize
        )
    # the scores first: a folder that fails while written (a full disk; main() names it) leaves them shown
    print_scores(ev)
    _write_files(ev, target, split, set_ or [], out is not None)
    print_figures(ev)


def _write_files(ev: Evaluation, target: Path, split: str, sets: list[str], out: bool) -> None:
    """The evaluation's figures and CSVs (and a damaged predictions_test.npz again); a Ctrl-C meanwhile
    says which were written, the scores being printed, and that the same command draws them again."""
    from vislab.cli.scores import write_mistakes_csv, write_tables_csv
    from vislab.predict import write_evaluation_figures

    files = ev.files()
    redraw = "draw them" + (
        " (with --out: and --force, which replaces those written)" if out else ""
    )
    with kept_on_ctrl_c("eval", files, done="the scores above are complete", again=redraw):
        _rewrite_damaged_predictions(target, split, sets, ev)
        write_evaluation_figures(ev)
        write_mistakes_csv(ev)
        write_tables_csv(ev)


def _rewrite_damaged_predictions(target: Path, split: str, sets: list[str], ev: Evaluation) -> None:
    """A run's predictions_test.npz that cannot be read (``RunDir.read_predictions`` names it and
    this fix), written again from this scoring: the run's best weights on its own test split, no --set."""
    from vislab.errors import UserError
    from vislab.training.rundir import RunDir

    if split != "test" or sets or not target.is_dir():
        return
    try:
        RunDir(target).read_predictions()
    except UserError:
        RunDir(target).write_predictions(
            "test", ev.scored.probs, ev.scored.data.y, ev.scored.data.origin
        )
        err.print(
            escape(f"wrote {target / 'predictions_test.npz'} again (it could not be read)"),
            highlight=False,
            soft_wrap=True,
        )


TopKOpt = typer.Option(
    None,
    "--top-k",
    "-k",
    min=1,
    help="Classes per image (default 3, or all of a model's fewer classes; more than the model has: all "
    "of them, and a note says so).",
    show_default=False,
)
CsvOpt = typer.Option(
    None,
    "--csv",
    help="Write one row per image here (file, predicted, probability, the other top-k classes and "
    "probabilities, error) instead of a line each on the terminal (-: on stdout).",
)
ForceCsvOpt = typer.Option(
    False,
    "--force",
    help="Replace a file already at --csv (never a run's own checkpoints, config.yaml, ...).",
)


def predict(
    checkpoint: Path = typer.Argument(..., help="Run directory or checkpoint file."),
    images: list[Path] = typer.Argument(
        ...,
        help="Image files or folders of them (every image inside, sub-folders too); any size: resized "
        "to the run's image size, then centre-cropped when it trained on crops (augment.crop.size).",
    ),
    top_k: int | None = TopKOpt,
    which: CheckpointChoice | None = CheckpointOpt,
    trust_code: bool = TrustOpt,
    csv: Path | None = CsvOpt,
    force: bool = ForceCsvOpt,
) -> None:
    """Top-k classes for each image (stdout; which weights: stderr). Exit code 2 if any image could not
    be read (the others are classified)."""
    # on use: torch & co. take seconds to load (module docstring)
    from vislab.classify import picked_predictions
    from vislab.cli.scores import (
        check_csv_path,
        chosen_checkpoint,
        note_top_k,
        print_predictions,
        say_weights,
        write_predictions_csv,
    )
    from vislab.plotting.files import check_new_files

    if csv is not None:  # before any image is read
        check_csv_path(csv)
        if not is_stdout(csv):
            check_new_files([csv], force, "--csv")
    target = chosen_checkpoint(checkpoint, which and which.value)
    results, picked = picked_predictions(target, images, top_k or DEFAULT_TOP_K, trust_code)
    say_weights(picked.said)  # on stderr (stdout holds the predictions); not before a refusal
    if top_k is not None:  # asked for: a note when the model has fewer classes
        note_top_k(results, top_k)
    failures = write_predictions_csv(results, csv) if csv else print_predictions(results)
    if failures:
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    """Mount ``vislab eval`` and ``vislab predict`` on the main app."""
    app.command("eval")(eval_)
    app.command("predict")(predict)
