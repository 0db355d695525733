"""The data each run used, stated from the runs' own summaries (never from a suite's description): the
line under a table's title (:func:`data_line`: dataset, split sizes and what a sample is), the title's
datasets (:func:`titled`), each table row's dataset (:func:`row_datasets`: bold ranks only runs of one
dataset, and of one test set, against each other), and the rows of seeds that each drew their own split
and the rows scored on different test sets (:func:`rows_with_own_test_sets`, from their saved test
predictions). Each run is its :class:`RunSummary` (one holding a value of another type is unreadable,
left out before it gets here)."""

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
    and, of :class:`OwnSplits`, the rows scored on different test sets (``apart``) and those it could not
    tell of (a seed's test predictions unreadable)."""
    line = _sizes_line(summaries)
    if own_splits:
        line = (
            f"{line} The seeds of {and_list(own_splits)} each drew their own train/val/test split "
            f"(with their train.seed): the sizes are each seed's, and the seeds' test images differ."
        )
    apart = own_splits.apart if isinstance(own_splits, OwnSplits) else []
    unknown = own_splits.unknown if isinstance(own_splits, OwnSplits) else []
    return " ".join([line, *([apart_sentence(apart)] if apart else []), *unknown])


def apart_sentence(apart: Sequence[Sequence[str]]) -> str:
    """The data line's sentence on rows scored on different test sets (``apart``: the rows of each)."""
    sets = "; ".join(f"test set {i}: {', '.join(rows)}" for i, rows in enumerate(apart, 1))
    return (
        f"Rows scored on different test images (their train/val/test splits differ: drawn with another "
        f"train.seed, or other data settings) — {sets}. Their test figures are not of the same images: "
        f"bold ranks only the rows of one test set against each other."
    )


class OwnSplits(list[str]):
    """The rows of seeds whose seeds drew their own split (:func:`rows_with_own_test_sets`); ``apart``:
    the rows scored on one test set each, grouped by it, where rows of one dataset were scored on
    different ones ([] otherwise); and ``unknown``: for each row it cannot tell of, as a seed's
    predictions_test.npz could not be read, a sentence naming that file (:func:`data_line` adds both)."""

    def __init__(
        self,
        rows: Sequence[str] = (),
        unknown: Sequence[str] = (),
        apart: Sequence[Sequence[str]] = (),
    ) -> None:
        super().__init__(rows)
        self.unknown = list(unknown)
        self.apart = [list(group) for group in apart]


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


# between a row's dataset and its test set in :func:`row_datasets` (bold ranks rows of one of each)
_TEST_SET = "\x00test set "


def row_datasets(
    table: list[dict],
    summaries: dict[str, RunSummary],
    rows: dict[str, list[str]] | None = None,
    own: Sequence[str] = (),
) -> list[str]:
    """Each table row's dataset (``data`` of its summary; a row of seeds, ``rows``: row → its runs, its
    first finished run's), for ``cells.bold_cells``; with its test set where rows of one dataset were
    scored on different ones (``own``: :class:`OwnSplits`, its ``apart``), so that bold ranks only the
    rows of one test set."""
    firsts = {
        r: next((n for n in names if n in summaries), "") for r, names in (rows or {}).items()
    }
    apart = own.apart if isinstance(own, OwnSplits) else []
    test_set = {row: i for i, group in enumerate(apart, 1) for row in group}
    return [
        str(summaries.get(firsts.get(r["run"], r["run"]), RunSummary()).data)
        + (f"{_TEST_SET}{test_set[r['run']]}" if r["run"] in test_set else "")
        for r in table
    ]


def mixes_data(data: Sequence[str] | None) -> bool:
    """Whether a table's rows (``data``: each one's dataset, :func:`row_datasets`) hold more than one
    dataset (test sets of one dataset are one)."""
    return len({d.split(_TEST_SET)[0] for d in data or ()}) > 1


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
    summaries: Mapping[str, RunSummary] | None = None,
) -> OwnSplits:
    """The rows (row → its runs) of seeds whose seeds' test sets differ (:func:`own_test_sets`), read
    from each run's predictions_test.npz in ``runs`` (run → folder) by ``read`` (default
    ``RunDir.read_predictions``; a report's: the build's one read of each); and ``apart``: the other
    rows grouped by their test set where rows of one dataset (their ``summaries``' data) were scored on
    different ones (:func:`own_test_sets` again: the same rule). A row that does not differ by its
    readable seeds but has a seed whose file cannot be read is not known: ``unknown`` names it."""
    read = read or _read_predictions
    out, unknown, one = [], [], {}
    for row, names in rows.items():
        tests, unread = _saved_tests([n for n in names if n in runs], runs, read)
        if len(tests) > 1 and own_test_sets([t for _, t in tests]):
            out.append(row)
        elif unread and len(names) > 1:
            unknown.append(
                f"Whether the seeds of {row} drew their own train/val/test split is not known: "
                f"{'; '.join(unread)}."
            )
        elif tests and not unread:  # one test set: its first run's
            data = (summaries or {}).get(tests[0][0], RunSummary()).data
            one[row] = (data, tests[0][1])
    return OwnSplits(out, unknown, _by_test_set(one))


def _saved_tests(
    names: list[str], runs: dict[str, Path], read: Callable[[Path], SavedPredictions | None]
) -> tuple[list[tuple[str, SavedPredictions]], list[str]]:
    """The runs ``names``' saved test predictions (run, what ``read`` gave; a run without any left
    out), and the messages naming each file that cannot be read."""
    tests, unread = [], []
    for name in names:  # a failed seed has no folder to read
        try:
            saved = read(runs[name])
        except UserError as e:  # damaged: the row's figures note it too
            unread.append(" ".join(str(e).split()).rstrip("."))  # names the file
            continue
        if saved is not None:
            tests.append((name, saved))
    return tests, unread


def _by_test_set(one: dict[str, tuple[str | None, SavedPredictions]]) -> list[list[str]]:
    """The rows of ``one`` (row → its dataset and its one test set) grouped by test set, those of a
    dataset whose rows were scored on more than one; [] when every dataset's rows share theirs."""
    groups: list[tuple[str | None, SavedPredictions, list[str]]] = []
    for row, (data, test) in one.items():
        same = (g for d, t, g in groups if d == data and not own_test_sets([t, test]))
        if (group := next(same, None)) is not None:
            group.append(row)
        else:
            groups.append((data, test, [row]))
    datasets = [d for d, _, _ in groups]
    return [g for d, _, g in groups if datasets.count(d) > 1]


def _read_predictions(run_dir: Path) -> SavedPredictions | None:
    """The run's predictions_test.npz, read from its folder."""
    return RunDir(run_dir).read_predictions()
