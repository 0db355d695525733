"""A row's test figures when its run was trained with several seeds: its seeds' saved test predictions
(each run's predictions_test.npz) drawn as one — the confusion matrix summed, the per-class accuracy as
the mean over the seeds with ± 1 std error bars, the ROC curves of the seeds' predictions pooled."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vislab.errors import UserError
from vislab.experiments.results.data_used import own_test_sets
from vislab.plotting.roc import plot_roc
from vislab.plotting.runs import plot_confusion, plot_per_class
from vislab.report.figure_set import FigureSet, wide
from vislab.report.run_files import RunFiles
from vislab.report.sections import saved_predictions, scored
from vislab.training.metrics import Metrics
from vislab.training.roc import micro_roc
from vislab.training.summary import RunSummary


@dataclass(frozen=True)
class SeedPredictions:
    """One seed run's saved test predictions."""

    run: str
    probs: np.ndarray  # N×K
    labels: np.ndarray  # N
    names: list[str]  # the K class names
    origin: np.ndarray | None = None  # N×2: each sample's official set and index (None: not saved)


def read_seeds(
    notes: list[str], runs: dict[str, Path], summaries: dict[str, RunSummary], files: RunFiles
) -> list[SeedPredictions]:
    """The saved test predictions of a row's seed runs (name → folder), in order; a run without them,
    with an unreadable file or with other classes than the first is left out, with a note."""
    out: list[SeedPredictions] = []
    for run, folder in runs.items():
        try:
            saved = saved_predictions(files, folder, summaries.get(run, RunSummary()))
        except UserError as e:  # a damaged file costs its seed, not the row
            notes.append(f"{run}: {e} The row's test figures leave this seed out.")
            continue
        if saved is None:
            notes.append(
                f"{run}: no predictions_test.npz; the row's test figures leave this seed out"
            )
        elif out and saved[1] != out[0].names:
            notes.append(f"{run}: other classes than {out[0].run}; the row's figures leave it out")
        else:
            p, names = saved
            out.append(SeedPredictions(run, p.probs, p.labels, names, p.origin))
    return out


def over(n: int) -> str:
    """'over 3 seeds' ('over 1 seed')."""
    return f"over {n} seed{'s' if n != 1 else ''}"


def mean_and_std(values: np.ndarray) -> tuple[list[float], list[float] | None, list[int]]:
    """Each column's mean over the rows (seeds) that have it (not NaN: a class a seed's test split lacks),
    its sample std (ddof=1, NaN where fewer than two have it; no std for a single row) and how many
    rows have it."""
    columns = [v[~np.isnan(v)] for v in np.asarray(values, dtype=float).T]
    mean = [float(c.mean()) if len(c) else float("nan") for c in columns]
    std = [float(c.std(ddof=1)) if len(c) > 1 else float("nan") for c in columns]
    return mean, (std if len(values) > 1 else None), [len(c) for c in columns]


def row_figures(figs: FigureSet, row: str, seeds: list[SeedPredictions]) -> list[dict]:
    """The row's test confusion matrix (counts summed over ``seeds``), per-class accuracy (the mean over
    them, ± 1 std) and ROC curves (their test predictions pooled); [] without seeds."""
    if not seeds:
        return []
    names, n, s = seeds[0].names, len(seeds), figs.file_part(row)
    of, whose = _of_seeds(seeds)
    each = [scored(p.probs, p.labels) for p in seeds]
    confusion = np.sum([m.confusion for m in each], axis=0)
    mean, std, held = mean_and_std(np.array([m.per_class for m in each]))
    bars = "; error bars ± 1 std over the seeds" if std is not None else ""
    bars += _fewer(names, held, n)
    own = OWN_SPLIT * own_test_sets(seeds)  # each seed drew its own split
    out = [
        wide(  # its numbers are drawn at 8 pt: shown at its own size, on a row of its own
            figs.make(
                f"confusion_{s}.png",
                f"{row}: test confusion matrix {'summed ' * (n > 1)}{of} (counts of {whose} "
                f"{int(confusion.sum()):,} test "
                f"predictions{' together' * (n > 1)}{own}; shade: the share of each true class)",
                plot_confusion,
                confusion,
                names,
                title=f"{row}: test, {f'{n} seeds summed' if n > 1 else seeds[0].run}",
            )
        ),
        figs.make(
            f"per_class_{s}.png",
            f"{row}: test accuracy per class{', the mean' * (n > 1)} {of}{own}{bars}",
            plot_per_class,
            mean,
            names,
            title=f"{row}: per-class accuracy (test, {f'mean {of}' if n > 1 else seeds[0].run})",
            std=std,
            seeds=held,
            of=n,
        ),
        figs.make(
            f"roc_{s}.png",
            f"{row}: ROC curves, one vs rest, {of} "
            f"({'their test predictions pooled' if n > 1 else 'its test predictions'}{own})",
            plot_roc,
            _pooled(seeds).roc,
            names,
            title=f"{row}: ROC (test, {f'{n} seeds pooled' if n > 1 else seeds[0].run})",
            pooled=n if n > 1 else 0,
            micro=_pooled_micro(seeds) if len(names) > 1 else None,
        ),
    ]
    return [f for f in out if f]


def _of_seeds(seeds: list[SeedPredictions]) -> tuple[str, str]:
    """The captions' words for the seeds drawn ("over 2 seeds", "the 2 seed runs'"), or for one seed: the
    only one the paper holds (--only), or whose predictions could be read."""
    n = len(seeds)
    if n > 1:
        return over(n), f"the {n} seed runs'"
    return f"of one seed run, {seeds[0].run}", "its"


def _pooled(seeds: list[SeedPredictions]) -> Metrics:
    """The scores of the seeds' test predictions pooled (their ROC curves)."""
    return scored(
        np.concatenate([p.probs for p in seeds]), np.concatenate([p.labels for p in seeds]), True
    )


def _pooled_micro(seeds: list[SeedPredictions]) -> tuple[np.ndarray, np.ndarray, float]:
    """The micro-average ROC of the seeds' test predictions pooled."""
    return micro_roc(
        np.concatenate([p.labels for p in seeds]), np.concatenate([p.probs for p in seeds])
    )


OWN_SPLIT = ", each seed on its own test split, drawn with its train.seed"


def _fewer(names: list[str], held: list[int], n: int) -> str:
    """The caption's words for the faded bars: the classes only some of the ``n`` seeds' test splits hold
    (``held``: how many hold each), their mean over those ('' when every seed holds every class)."""
    by_count: dict[int, list[str]] = {}
    for name, k in zip(names, held):
        if 0 < k < n:
            by_count.setdefault(k, []).append(name)
    said = [
        f"{'class' if len(c) == 1 else 'classes'} {', '.join(c)}: {k} of {n} seeds"
        for k, c in sorted(by_count.items())
    ]
    return (
        f"; faded: the mean over the seeds whose test split holds the class ({'; '.join(said)})"
        if said
        else ""
    )
