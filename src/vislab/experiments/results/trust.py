"""Whether a run's figures are its own: summary.json's accuracies checked against what the run recorded
beside them — its test ones against its saved test predictions (predictions_test.npz: probabilities and
labels), its train and val ones against its best epoch's row of metrics.jsonl — and each against [0, 1].
A summary.json edited by hand (a test ACC of 0.99 where the predictions give 0.7533) disagrees: the
tables name the figure, what summary.json claims and what the run recorded, and never rank such a row
in bold (``data_used.row_datasets``). One check, where the tables read their runs' saved test
predictions (``data_used.rows_with_own_test_sets``), for every table (results.md, ``vislab compare``,
report.html, the paper)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from vislab.errors import UserError
from vislab.training.rundir import RunDir, SavedPredictions
from vislab.training.summary import TOP5_MIN_CLASSES, RunSummary

# summary.json's accuracies: each a share of samples, within [0, 1]
ACCURACIES = (
    "train_acc",
    "val_acc",
    "val_pacc",
    "val_top5_acc",
    "test_acc",
    "test_pacc",
    "test_top5_acc",
)
_EXACT = 1e-9  # float rounding: a figure copied from the run's records, or computed again as it was


def doubted(
    summary: RunSummary, saved: SavedPredictions | None, rows: Sequence[dict] = ()
) -> dict[str, str]:
    """Figure → what summary.json claims beside what the run recorded (``'test_acc 0.9900
    (predictions_test.npz: 0.7533)'``), for each accuracy that is outside [0, 1] or disagrees with the
    run's own records (``saved``: its predictions_test.npz, None where it has none; ``rows``: its
    metrics.jsonl's, :func:`metrics_rows`) beyond float rounding; {} when all agree (a figure without a
    record is not checked)."""
    recorded = {**_from_predictions(saved), **_from_metrics(summary, rows)}
    out = {}
    for key in ACCURACIES:
        claimed = summary.get(key)
        if not isinstance(claimed, (int, float)) or isinstance(claimed, bool):
            continue
        if not 0 <= claimed <= 1:
            out[key] = f"{key} {claimed:.4f} (outside [0, 1])"
        elif key in recorded and abs(claimed - recorded[key][0]) > recorded[key][2]:
            value, where, _ = recorded[key]
            out[key] = f"{key} {claimed:.4f} ({where}: {value:.4f})"
    return out


def _from_predictions(saved: SavedPredictions | None) -> dict[str, tuple[float, str, float]]:
    """The test accuracies the saved predictions give: figure → (value, source, tolerance); the
    tolerance counts the samples whose top classes tie (either may have been predicted)."""
    if saved is None or len(saved.labels) == 0:
        return {}
    where, probs, labels = "predictions_test.npz", saved.probs, saved.labels
    n, k = probs.shape
    order = np.argsort(-probs, axis=1, kind="stable")
    top = np.take_along_axis(probs, order, axis=1)
    hit = order[:, 0] == labels
    recall = [hit[labels == c].mean() for c in range(k) if (labels == c).any()]
    tied = int((top[:, 0] == top[:, 1]).sum()) if k > 1 else 0
    out = {
        "test_acc": (float(hit.mean()), where, tied / n + _EXACT),
        "test_pacc": (
            float(np.mean(recall)),
            where,
            tied / min(np.bincount(labels)[labels]) + _EXACT,
        ),
    }
    if k >= TOP5_MIN_CLASSES:
        in_top5 = (order[:, :5] == labels[:, None]).any(1)
        tied5 = int((top[:, 4] == top[:, 5]).sum()) if k > 5 else 0
        out["test_top5_acc"] = (float(in_top5.mean()), where, tied5 / n + _EXACT)
    return out


def metrics_rows(run_dir: Path, read: Callable[[Path], list[dict]] | None = None) -> list[dict]:
    """The run's metrics.jsonl rows, read by ``read`` (a build's one read of each, which notes a row cut
    short; default ``RunDir.read_metrics``, whose :class:`Note` says it: `vislab compare` reads the file
    nowhere else); none where the file cannot be read (the tables' notes name it)."""
    try:
        return (read or (lambda run: RunDir(run).read_metrics()))(run_dir)
    except UserError:
        return []


def _from_metrics(summary: RunSummary, rows: Sequence[dict]) -> dict[str, tuple[float, str, float]]:
    """The train and val accuracies of the best epoch's row of the run's metrics.jsonl (``rows``; none
    where the row is missing): figure → (value, source, tolerance): float rounding for train ACC
    (summary.json copies it), one val sample for the val figures (val scored again, in other processes
    or after a resume, may differ by a sample): of n_val for ACC and top-5, of the smallest class present
    for PACC (:func:`_pacc_tolerance`; not checked where no per-class accuracy tells the classes)."""
    row = next((r for r in rows if r.get("epoch") == summary.best_epoch), None)
    if row is None:
        return {}
    where = f"metrics.jsonl, epoch {summary.best_epoch}"
    one = 1 / summary.n_val + _EXACT if summary.n_val else _EXACT
    tolerance = {"train_acc": _EXACT, "val_acc": one, "val_top5_acc": one}
    if (pacc := _pacc_tolerance(summary, rows, row)) is not None:
        tolerance["val_pacc"] = pacc
    return {
        key: (float(v), where, tolerance[key])
        for key in ACCURACIES
        if key in tolerance
        and isinstance(v := row.get(key), (int, float))
        and not isinstance(v, bool)
    }


def _pacc_tolerance(summary: RunSummary, rows: Sequence[dict], best: dict) -> float | None:
    """One val sample of the smallest class present, in val PACC (a mean over K classes): 1 / (K · n).
    Each class's n as its accuracies (hits / n) in metrics.jsonl's rows and summary.json tell it
    (:func:`_class_size`); a class always at 0 or 1 tells none — it counts as 1 where summary.json's
    accuracy of it differs from the best row's (a sample of a class of one scored again) or summary.json
    has none, and not at all where they agree (a sample of it scored otherwise would show as a fraction).
    None where the best row has no per-class accuracies."""
    classes = _per_class(best.get("val_per_class"))
    if not classes:
        return None
    mine = _per_class(summary.val_per_class)  # in class order, as the rows'
    lists = [_per_class(r.get("val_per_class")) for r in rows] + [mine]
    sizes = []
    for c, acc in enumerate(classes):
        if acc is None:
            continue  # no sample of it: not in the mean
        size = _class_size([a[c] for a in lists if c < len(a)], summary.n_val or 10_000)
        if size is None and (len(mine) != len(classes) or mine[c] != acc):
            size = 1
        sizes += [size] if size else []
    present = sum(a is not None for a in classes)
    return 1 / (present * min(sizes)) + _EXACT if sizes else _EXACT


def _per_class(values: object) -> list[float | None]:
    """A row's val_per_class (or summary.json's, class → accuracy) as a list in class order; [] where
    it is none."""
    values = list(values.values()) if isinstance(values, dict) else values
    if not isinstance(values, list):
        return []
    return [
        float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
        for v in values
    ]


def _class_size(accuracies: Sequence[float | None], n_val: int) -> int | None:
    """The fewest val samples a class can hold, by its accuracies (each hits / n: a fraction of a
    denominator at most ``n_val``): the least common multiple of their denominators; None where each is
    0 or 1 (they tell nothing)."""
    told = {
        a for a in accuracies if a is not None and 0 < a < 1
    }  # each value once: epochs repeat them
    denominators = [Fraction(a).limit_denominator(n_val).denominator for a in told]
    size = math.lcm(*denominators) if denominators else 1
    return min(size, n_val) if size > 1 else None


def doubted_sentence(doubts: dict[str, dict[str, str]]) -> str:
    """The sentence on the rows whose figures are not their runs' own (row → :func:`doubted`'s, each
    run of a row named), "" when none."""
    if not doubts:
        return ""
    said = "; ".join(f"{row}: {', '.join(texts.values())}" for row, texts in doubts.items())
    return (
        f"Figures that disagree with their run's own records (summary.json edited since it was "
        f"written, or outside [0, 1]; what the run recorded in brackets) — {said}. Those rows are not "
        f"ranked in bold, nor first by --sort, and one whose test ACC disagrees is not weighed in the "
        f"verdicts; to compare them, ask for the run folder as it trained, or train the run again: "
        f"vislab train --config RUN/config.yaml --out NEW_FOLDER."
    )
