"""The data each run used, stated from the runs' own summaries (never from a suite's description): the
line under a table's title (:func:`data_line`: dataset, split sizes and what a sample is), the title's
datasets (:func:`titled`), each table row's dataset (:func:`row_datasets`: bold ranks only runs of one
dataset against each other), and the rows of seeds that each drew their own split (:func:`rows_with_own_test_sets`,
from their saved test labels). Each run is its :class:`RunSummary` (a hand-edited value of another type:
unknown)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from vislab.errors import UserError
from vislab.training.rundir import RunDir, SavedPredictions
from vislab.training.summary import RunSummary
from vislab.words import and_list


def _data(summary: RunSummary) -> str:
    """The dataset (data.name) a run used; "?" where its summary does not say."""
    return summary.data or "?"


def datasets(summaries: dict[str, RunSummary]) -> list[str]:
    """The datasets (data.name) the runs used, in run order."""
    return list(dict.fromkeys(_data(s) for s in summaries.values()))


def samples_word(summary: RunSummary) -> str:
    """What a run's samples were, by their shape (``sample_shape``): images (C×H×W), 2-D points (the
    circles) or feature vectors. A summary from before vislab recorded the shape: by its dataset's name."""
    shape = summary.sample_shape
    if shape is not None:
        return "images" if len(shape) == 3 else "points" if shape == [2] else "feature vectors"
    data = _data(summary)
    return "points" if data == "circles" else "samples" if data.startswith("memory:") else "images"


def data_line(summaries: Mapping[str, RunSummary], own_splits: Sequence[str] = ()) -> str:
    """What the runs were trained and scored on, from their summaries: dataset and split sizes; and
    where rows of seeds (``own_splits``: those rows) drew a split per seed, that their test sets differ;
    and, of :class:`OwnSplits`, the rows it could not tell of (a seed's test predictions unreadable)."""
    line = _sizes_line(summaries)
    if own_splits:
        line = (
            f"{line} The seeds of {and_list(own_splits)} each drew their own train/val/test split "
            f"(with their train.seed): the sizes are each seed's, and the seeds' test images differ."
        )
    unknown = own_splits.unknown if isinstance(own_splits, OwnSplits) else []
    return " ".join([line, *unknown])


class OwnSplits(list[str]):
    """The rows of seeds whose seeds drew their own split (:func:`rows_with_own_test_sets`), and
    ``unknown``: for each row it cannot tell of, as a seed's predictions_test.npz could not be read, a
    sentence naming that file (:func:`data_line` adds it)."""

    def __init__(self, rows: Sequence[str] = (), unknown: Sequence[str] = ()) -> None:
        super().__init__(rows)
        self.unknown = list(unknown)


def _sizes_line(summaries: Mapping[str, RunSummary]) -> str:
    """The dataset and split sizes of the runs, one group per dataset and sizes."""
    groups: dict[str, list[str]] = {}
    for name, s in summaries.items():
        split = {"train": s.n_train, "val": s.n_val, "test": s.n_test}
        sizes = " / ".join(f"{n:,} {k}" for k, n in split.items() if n is not None)
        data = _data(s)
        what = f"{data} ({sizes} {samples_word(s)})" if sizes else data
        groups.setdefault(what, []).append(name)
    if len(groups) == 1:
        return f"Data: {next(iter(groups))}{', all runs' if len(summaries) > 1 else ''}."
    return (
        "Data: " + "; ".join(f"{what} for {', '.join(runs)}" for what, runs in groups.items()) + "."
    )


def titled(title: str, summaries: dict[str, RunSummary]) -> str:
    """``title`` plus the data actually used, e.g. 'suite dlvc-compare on fashion-mnist'."""
    names = datasets(summaries)
    return f"{title} on {', '.join(names)}" if title and names else title


def row_datasets(
    table: list[dict], summaries: dict[str, RunSummary], rows: dict[str, list[str]] | None = None
) -> list[str]:
    """Each table row's dataset (``data`` of its summary; a row of seeds, ``rows``: row → its runs, its
    first finished run's), for ``cells.bold_cells``."""
    firsts = {
        r: next((n for n in names if n in summaries), "") for r, names in (rows or {}).items()
    }
    return [str(summaries.get(firsts.get(r["run"], r["run"]), RunSummary()).data) for r in table]


def mixes_data(data: Sequence[str] | None) -> bool:
    """Whether a table's rows (``data``: each one's dataset) hold more than one dataset."""
    return len(set(data or ())) > 1


def own_test_sets(seeds: Sequence[SavedPredictions]) -> bool:
    """Whether seeds' test sets differ — each drew its own split — by their saved test predictions (or
    anything with their ``labels`` and ``origin``): the samples' origins (official set and index) where
    every seed saved them, else their labels in the split's order (one test set gives the same sequence
    every seed; a folder's, sorted by class, may not tell)."""
    known = all(s.origin is not None for s in seeds)
    ids = [s.origin if known else s.labels for s in seeds]
    return any(a.shape != ids[0].shape or not np.array_equal(a, ids[0]) for a in ids[1:])


def rows_with_own_test_sets(
    rows: dict[str, list[str]],
    runs: dict[str, Path],
    read: Callable[[Path], SavedPredictions | None] | None = None,
) -> OwnSplits:
    """The rows of seeds (row → its runs) whose seeds' test sets differ (:func:`own_test_sets`), read
    from each run's predictions_test.npz in ``runs`` (run → folder) by ``read`` (default
    ``RunDir.read_predictions``; a report's: the build's one read of each). A row that does not differ
    by its readable seeds but has a seed whose file cannot be read is not known: ``unknown`` names it."""
    read = read or _read_predictions
    out, unknown = [], []
    for row, names in rows.items():
        tests, unread = [], []
        for name in (n for n in names if n in runs):  # a failed seed has no folder to read
            try:
                saved = read(runs[name])
            except UserError as e:  # damaged: the row's figures note it too
                unread.append(" ".join(str(e).split()).rstrip("."))  # names the file
                continue
            if saved is not None:
                tests.append(saved)
        if len(tests) > 1 and own_test_sets(tests):
            out.append(row)
        elif unread and len(names) > 1:
            unknown.append(
                f"Whether the seeds of {row} drew their own train/val/test split is not known: "
                f"{'; '.join(unread)}."
            )
    return OwnSplits(out, unknown)


def _read_predictions(run_dir: Path) -> SavedPredictions | None:
    """The run's predictions_test.npz, read from its folder."""
    return RunDir(run_dir).read_predictions()
