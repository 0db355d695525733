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

from vislab.config import Config
from vislab.config.reads import OWN_SETS_BY_NAME
from vislab.errors import UserError
from vislab.experiments.results.split_words import (
    apart_sentence,
    blind_sentence,
    own_sentence,
    shared_sentence,
    told_sentence,
    unknown_split,
)
from vislab.experiments.results.spread import TEST_SET
from vislab.experiments.results.told_splits import (
    Test,
    by_config,
    differ,
    own_sets,
    same_samples,
    samples_vary,
    shared_splits,
    split_or_none,
)
from vislab.experiments.results.told_splits import told as told_of
from vislab.experiments.results.trust import doubted, doubted_sentence, metrics_rows
from vislab.training.rundir import RunDir, SavedPredictions
from vislab.training.summary import RunSummary


def _data(summary: RunSummary) -> str:
    """The dataset (data.name) a run used; "?" where its summary does not say."""
    return summary.data or "?"


def samples_word(summary: RunSummary) -> str:
    """What a run's samples were, by their shape (``sample_shape``): images (C×H×W), 2-D points (the
    circles) or feature vectors. A summary from before vislab recorded the shape: by its dataset's name."""
    shape = summary.sample_shape
    if shape is not None:
        return "images" if len(shape) == 3 else "points" if shape == [2] else "feature vectors"
    data = _data(summary)
    return "points" if data == "circles" else "samples" if data.startswith("memory:") else "images"


def data_line(
    summaries: Mapping[str, RunSummary],
    own_splits: Sequence[str] = (),
    configs: Mapping[str, Config] | None = None,
) -> str:
    """What the runs were trained and scored on, from their summaries: dataset and split sizes (and
    where a run's ``configs``' data.use and data.split drew them from other than the official train and
    test sets: :func:`drawn_from`); and
    where rows of seeds (``own_splits``: those rows) drew a split per seed, that their test sets differ
    (and, of :class:`OwnSplits`, that they are weighed against no row of one test set, ``beside``, nor
    of other data settings, ``own_set``); where they share one by data.split_seed (``shared``), that their
    spread is the initialisation's alone; the rows scored on different test sets (``apart``), those it could not
    tell of (a seed's test predictions unreadable; a run without them: ``blind``) and the rows whose
    figures disagree with their runs' own records (``doubts``: ``trust.doubted``). The runs whose
    folders are not here (``OwnSplits.elsewhere``: a sweep's rows from its study database, which records
    no split sizes) are left out of it, where any other run is left."""
    own = own_splits if isinstance(own_splits, OwnSplits) else None
    line = _sizes_line(
        (own is not None and own.with_folders(summaries)) or summaries, configs or {}
    )
    if own_splits:
        beside = (own.beside, own.own_set) if own is not None else ((), None)
        line += " " + own_sentence(own_splits, *beside)
    if own is None:
        return line
    apart = [apart_sentence(own.apart, own.test_set)] if own.apart else []
    said = [
        shared_sentence(own.shared),
        told_sentence(own.told),
        blind_sentence(own.blind),
        doubted_sentence(own.doubts),
    ]
    return " ".join([line, *apart, *own.unknown, *(s for s in said if s)])


class OwnSplits(list[str]):
    """The rows of seeds whose seeds drew their own split (:func:`rows_with_own_test_sets`); ``apart``:
    the rows scored on one test set each, grouped by it, where rows of one dataset were scored on
    different ones ([] otherwise); ``unknown``: for each row of seeds it cannot tell of, as a seed's
    predictions_test.npz could not be read, a sentence naming that file; ``test_set``: row → the number
    of the test set it was scored on (numbered in the order the rows were given, whatever order a table
    sorts them in; none for a row of seeds each on their own, or one whose test set is unknown);
    ``told``: row → what its config.yaml says of its test set, as it has no predictions_test.npz
    (``told_splits.told``); ``blind``: row → why its test set is unknown (no predictions_test.npz, nor
    a config.yaml to read); ``doubts``: row →
    its figures that disagree with its runs' records (``trust.doubted``); ``own_set``: row of seeds each on
    their own → the number of the data settings that drew their splits (train.seed aside); ``beside``:
    the rows of one test set of a dataset that also has such rows; ``shared``: row of seeds that share
    one split by data.split_seed → its data.split_seed. :func:`data_line` says all of these;
    :func:`row_datasets` ranks no ``blind`` or doubted row in bold (:attr:`unranked`), and a row of
    seeds each on their own only against the rows of its ``own_set``.
    ``elsewhere``: the runs of the rows none of whose runs has a folder here (a sweep's trials from its
    study database): such a row makes no test-set claim, is in none of the above, and is ranked on the
    figures it has."""

    def __init__(
        self,
        rows: Sequence[str] = (),
        unknown: Sequence[str] = (),
        apart: Sequence[Sequence[str]] = (),
        *,
        test_set: Mapping[str, int] | None = None,
        blind: Mapping[str, str] | None = None,
        doubts: Mapping[str, dict[str, str]] | None = None,
        told: Mapping[str, str] | None = None,
        elsewhere: Sequence[str] = (),
        own_set: Mapping[str, int] | None = None,
        beside: Sequence[str] = (),
        shared: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(rows)
        self.own_set = dict(own_set or {})
        self.beside = list(beside)
        self.shared = dict(shared or {})
        self.elsewhere = list(elsewhere)
        self.unknown = list(unknown)
        self.apart = [list(group) for group in apart]
        self.test_set = dict(test_set or {})
        self.blind = dict(blind or {})
        self.doubts = dict(doubts or {})
        self.told = dict(told or {})

    @property
    def unranked(self) -> set[str]:
        """The rows never ranked in bold: test set unknown, or figures not their runs' own."""
        return {*self.blind, *(row for row, d in self.doubts.items() if d)}

    def with_folders(self, summaries: Mapping[str, RunSummary]) -> dict[str, RunSummary]:
        """``summaries`` but those of the runs whose folders are not here (:attr:`elsewhere`)."""
        return {name: s for name, s in summaries.items() if name not in self.elsewhere}


def drawn_from(config: Config | None) -> str:
    """Where a run's splits came from, where its data.use or data.split make it other than its source's
    official train set (train and val) and test set (test): ", all three drawn from mnist's official test
    set"; "" otherwise, or for a source whose official sets its name does not tell (a folder's)."""
    data = config.data if config is not None else None
    if data is None or "test" not in OWN_SETS_BY_NAME.get(data.name, ()):
        return ""
    sets = f"{data.name}'s official {' and '.join(data.use)} set{'s pooled' * (len(data.use) > 1)}"
    if data.split is not None:
        return f", all three drawn from {sets} by data.split"
    if data.use == ["train"]:
        return f", test carved from {sets} (its official test set not used: data.use=[train])"
    return f", all three carved from {sets}" if data.use == ["test"] else ""


def _sizes_line(summaries: Mapping[str, RunSummary], configs: Mapping[str, Config]) -> str:
    """The dataset and split sizes of the runs (and where they were drawn from: :func:`drawn_from`),
    one group per dataset and sizes."""
    groups: dict[str, list[str]] = {}
    for name, s in summaries.items():
        split = {"train": s.n_train, "val": s.n_val, "test": s.n_test}
        sizes = " / ".join(f"{n:,} {k}" for k, n in split.items() if n is not None)
        data, origin = _data(s), drawn_from(configs.get(name))
        what = f"{data} ({sizes} {samples_word(s)}{origin})" if sizes else data
        groups.setdefault(what, []).append(name)
    if len(groups) == 1:
        return f"Data: {next(iter(groups))}{', all runs' if len(summaries) > 1 else ''}."
    return (
        "Data: " + "; ".join(f"{what} for {', '.join(runs)}" for what, runs in groups.items()) + "."
    )


def titled(title: str, summaries: dict[str, RunSummary]) -> str:
    """``title`` plus the data actually used, e.g. 'suite dlvc-compare on fashion-mnist'; a run whose
    summary does not say (a sweep's trial from its study database without its config) adds none."""
    names = [name for name in dict.fromkeys(map(_data, summaries.values())) if name != "?"]
    return f"{title} on {', '.join(names)}" if title and names else title


def row_datasets(
    table: list[dict],
    summaries: dict[str, RunSummary],
    rows: dict[str, list[str]] | None = None,
    own: Sequence[str] = (),
) -> list[str]:
    """Each table row's dataset (``data`` of its summary; a row of seeds, ``rows``: row → its runs, its
    first finished run's), for ``cells.bold_cells``; with its test set where rows of one dataset were
    scored on different ones (``own``: :class:`OwnSplits`, its ``apart``), so that bold ranks only the
    rows of one test set; a row of seeds each drawing their own split (``own``' rows) with the rows of
    its ``own_set`` alone, never with a row of one test set; and a row of its own, ranked against none,
    for each row whose test set is unknown or whose figures are not its runs' own
    (:attr:`OwnSplits.unranked`)."""
    firsts = {
        r: next((n for n in names if n in summaries), "") for r, names in (rows or {}).items()
    }
    apart = own.apart if isinstance(own, OwnSplits) else []
    unranked = own.unranked if isinstance(own, OwnSplits) else set()
    test_set: dict[str, object] = {row: i for i, group in enumerate(apart, 1) for row in group}
    own_set = own.own_set if isinstance(own, OwnSplits) else {}
    test_set |= {row: f"own {own_set.get(row, 1)}" for row in own}
    return [
        str(summaries.get(firsts.get(r["run"], r["run"]), RunSummary()).data)
        + (f"{TEST_SET}{test_set[r['run']]}" if r["run"] in test_set else "")
        + (f"{TEST_SET}unknown {r['run']}" if r["run"] in unranked else "")
        for r in table
    ]


def mixes_data(data: Sequence[str] | None) -> bool:
    """Whether a table's rows (``data``: each one's dataset, :func:`row_datasets`) hold more than one
    dataset (test sets of one dataset are one)."""
    return len({d.split(TEST_SET)[0] for d in data or ()}) > 1


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
    order: Sequence[str] = (),
    metrics: Callable[[Path], list[dict]] | None = None,
) -> OwnSplits:
    """The rows (row → its runs) of seeds whose seeds' test sets differ (:func:`own_test_sets`), read
    from each run's predictions_test.npz in ``runs`` (run → folder) by ``read`` (default
    ``RunDir.read_predictions``; a report's: the build's one read of each); ``apart``: the other rows
    grouped by test set where rows of one dataset (``summaries``' data) were scored on different ones
    (:func:`own_test_sets` again), each row's ``test_set`` numbered in ``order`` (default ``rows``').
    A row not told apart by its readable seeds but with a seed whose file cannot be read is
    ``unknown``; one with a run without the file is
    ``told`` by its runs' config.yaml (``told_splits.SPLIT_KEYS``), or ``blind`` without one; one none
    of whose runs is in ``runs`` (a sweep's trial from its study database) is ``elsewhere``. ``doubts``:
    each row's figures that disagree with the same files and its metrics.jsonl's (``trust.doubted``),
    read by ``metrics`` (a build's; default ``RunDir.read_metrics``, unless a build's ``read`` is given
    alone: then its test figures only)."""
    check = metrics is not None or read is None  # a build's reads: each file once
    read, summaries = read or (lambda run_dir: RunDir(run_dir).read_predictions()), summaries or {}
    out, unknown, one, blind, doubts, told = [], [], {}, {}, {}, []
    here, elsewhere = _by_folders(rows, runs)
    for row, names in here.items():
        tests, unread, missing = _saved_tests(names, runs, read)
        doubts[row] = _doubts(row, names, runs, dict(tests), summaries, metrics, check)
        configs = by_config(names, runs, dict(tests)) if missing and not unread else None
        seen = [t for _, t in tests] if configs is None else list(configs.values())
        if len(seen) > 1 and (own_test_sets(seen) if configs is None else differ(seen)):
            out.append(row)
        elif unread or (missing and configs is None):
            blind[row], apart = unknown_split(row, names, unread, missing)
            unknown += [apart] if apart else []
        if configs is not None:
            told.append(row)
        if row not in out and row not in blind and seen:  # one test set: its first run's
            first = tests[0][0] if configs is None else next(iter(configs))
            one[row] = (summaries.get(first, RunSummary()).data, seen[0], first)
    return OwnSplits(
        out,
        unknown,
        blind=blind,
        doubts={row: d for row, d in doubts.items() if d},
        told={row: told_of(row, one, runs) for row in told},
        elsewhere=elsewhere,
        **_test_sets(one, out, here, [*order, *rows], runs, summaries),
    )


def _test_sets(
    one: dict[str, tuple[str | None, Test, str]],
    own: list[str],
    rows: dict[str, list[str]],
    order: Sequence[str],
    runs: dict[str, Path],
    summaries: Mapping[str, RunSummary],
) -> dict:
    """:class:`OwnSplits`' ``apart``, ``test_set`` (the rows of ``one``, row → its dataset, its one test
    set and its first run, grouped by test set and numbered in ``order``), ``own_set`` and ``beside``
    (of the ``own`` rows: ``told_splits.own_sets``) and ``shared`` (``told_splits.shared_splits``)."""
    groups = _by_test_set(one, order, runs)
    own_set, beside = own_sets(own, rows, runs, summaries, one)
    return dict(
        apart=[g for d, g in groups if [d2 for d2, _ in groups].count(d) > 1],
        test_set={row: i for i, (_, group) in enumerate(groups, 1) for row in group},
        own_set=own_set,
        beside=beside,
        shared=shared_splits(one, rows, runs),
    )


def _by_folders(
    rows: dict[str, list[str]], runs: dict[str, Path]
) -> tuple[dict[str, list[str]], list[str]]:
    """(the ``rows``, row → its runs, but those none of whose runs has a folder in ``runs``; the runs
    of those: a sweep's trials from its study database, whose test set nothing tells)."""
    away = [row for row, names in rows.items() if names and not any(n in runs for n in names)]
    here = {row: names for row, names in rows.items() if row not in away}
    return here, [name for row in away for name in rows[row]]


def _saved_tests(
    names: list[str], runs: dict[str, Path], read: Callable[[Path], SavedPredictions | None]
) -> tuple[list[tuple[str, SavedPredictions]], list[str], list[str]]:
    """The runs ``names``' saved test predictions (run, what ``read`` gave), the messages naming each
    file that cannot be read, and the runs with no such file (or no folder here)."""
    tests, unread, missing = [], [], []
    for name in names:
        try:
            saved = read(runs[name]) if name in runs else None
        except UserError as e:  # damaged: the row's figures note it too
            unread.append(" ".join(str(e).split()).rstrip("."))  # names the file
            continue
        if saved is not None:
            tests.append((name, saved))
        else:
            missing.append(name)
    return tests, unread, missing


def _doubts(
    row: str,
    names: list[str],
    runs: dict[str, Path],
    saved: dict[str, SavedPredictions],
    summaries: Mapping[str, RunSummary],
    metrics: Callable[[Path], list[dict]] | None,
    check: bool = True,
) -> dict[str, str]:
    """The figures of ``row``'s runs that disagree with their records (``trust.doubted``; their
    metrics.jsonl read by ``metrics``, where ``check``), each named by its run where it is not the
    row's own."""
    out = {}
    for name in names:
        if name in summaries and name in runs:
            rows = metrics_rows(runs[name], metrics) if check else []
            for key, text in doubted(summaries[name], saved.get(name), rows).items():
                out[key if name == row else f"{name}.{key}"] = (
                    text if name == row else f"{name} {text}"
                )
    return out


def _by_test_set(
    one: dict[str, tuple[str | None, Test, str]], order: Sequence[str], runs: dict[str, Path]
) -> list[tuple[str | None, list[str]]]:
    """The rows of ``one`` (row → its dataset, its one test set and its first run) grouped by test set
    (:func:`_same_test`), each with its dataset, the groups in ``order`` of their first row."""
    groups: list[tuple[str | None, tuple[Test, str], list[str]]] = []
    known: dict[str, dict | None] = {}  # run → its split settings, read once

    def split(test: Test, run: str) -> dict | None:
        if run not in known:
            known[run] = split_or_none(test, run, runs)
        return known[run]

    for row in sorted(one, key=[*order, *one].index):
        data, test, first = one[row]
        told = samples_vary(data)  # its samples drawn by settings the predictions do not tell
        same = (g for d, t, g in groups if d == data and _same_test(t, (test, first), split, told))
        if (group := next(same, None)) is not None:
            group.append(row)
        else:
            groups.append((data, (test, first), [row]))
    return [(d, g) for d, _, g in groups]


def _same_test(
    a: tuple[Test, str],
    b: tuple[Test, str],
    split: Callable[[Test, str], dict | None],
    samples: bool = True,
) -> bool:
    """Whether two test sets (each with its run) are one: by their saved predictions where both have
    them (:func:`own_test_sets`) and the settings that change the samples themselves, which those do
    not tell (``told_splits.same_samples``: data.noise), else by the split settings of their runs'
    configs (none: not one); ``split``: a test set's split settings (``told_splits.split_or_none``);
    ``samples`` False: data whose samples no setting changes (not ``told_splits.samples_vary``), whose
    configs are not read for them."""
    (x, run_x), (y, run_y) = a, b
    if isinstance(x, SavedPredictions) and isinstance(y, SavedPredictions):
        same = not own_test_sets([x, y])
        return same and (not samples or same_samples(split(x, run_x), split(y, run_y)))
    mine, theirs = split(x, run_x), split(y, run_y)
    return mine is not None and mine == theirs
