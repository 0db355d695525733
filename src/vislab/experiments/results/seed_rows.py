"""Runs grouped as seeds of one row — a seeded suite's rows (suite.json's ``rows``), or runs named
``<row>-s<i>`` in a folder — are seeds only when their configs differ in nothing but their seed (and where
or how they ran), each run with a train.seed of its own (any seeds: a suite's train.seed + i, or a hand's;
copies of one run are no seeds): otherwise each is a row of its own, and a note says which runs differ, in
what, or share a seed. One rule for every table (results.md, ``vislab compare``, report.html, the paper):
a suite's run trained on since with other settings (``vislab train --resume DIR/<run> --epochs 3``) is
not averaged with its seeds."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from vislab.config import RESULT_NEUTRAL_KEYS, Config
from vislab.errors import UserError
from vislab.experiments.results.model_options import NOT_TAKEN, at_model_default
from vislab.experiments.results.settings import WRITES_ONLY, read_settings, silent_keys
from vislab.training.rundir import RunDir

# what seeds of one row may differ in: their seed, and what leaves results alone (where and how they ran)
SEEDS_MAY_DIFFER = (*RESULT_NEUTRAL_KEYS, *WRITES_ONLY, "train.seed")


@dataclass(frozen=True)
class SeedSplit:
    """Rows of seeds told apart (:func:`seed_split`): ``differ``, row → what keeps its runs from being
    seeds (:func:`_seed_differences`); ``settings``: those of them whose runs differ in settings (the
    others share a train.seed); ``seeds``: the rows compared, row → its runs; ``suite``: they are a
    suite's, whose command trains such runs again."""

    differ: dict[str, str] = field(default_factory=dict)
    settings: frozenset[str] = frozenset()
    seeds: dict[str, list[str]] = field(default_factory=dict)
    suite: bool = False

    def split(self, rows: Mapping[str, list[str]]) -> dict[str, list[str]]:
        """``rows`` with each row of :attr:`differ` replaced, in place, by its runs, a row each."""
        out: dict[str, list[str]] = {}
        for row, names in rows.items():
            if row in self.differ:
                out.update((name, [name]) for name in names)
            else:
                out[row] = list(names)
        return out

    @property
    def note(self) -> str:
        """The note under a table naming the rows of :attr:`differ` (:func:`differing_note`)."""
        return differing_note(self.differ, self.suite)

    @property
    def unlike(self) -> dict[str, str]:
        """Run → why its row's runs are not averaged and how to average them, worded by cause, for each
        run of a row of :attr:`differ` (what a verdict without a spread says)."""
        out = {}
        for row, text in self.differ.items():
            cause = "suite" if self.suite else "settings" if row in self.settings else "seed"
            said = f"the seeds {text}, so they are not averaged: to average them, {_FIXES[cause]}"
            out.update((name, said) for name in self.seeds[row])
        return out


def seed_split(
    rows: Mapping[str, list[str]],
    run_dirs: Mapping[str, Path],
    configs: Mapping[str, Config] | None = None,
    among: Collection[str] | None = None,
    suite: bool = False,
) -> SeedSplit:
    """Of rows of seeds (a suite's, or runs named ``<row>-s<i>``: ``spread.rows_by_seed_suffix``), those
    whose runs differ in more than :data:`SEEDS_MAY_DIFFER` (:func:`_unalike`, the one rule of every
    table, its note and its verdicts): each is no row of seeds, its runs each a row of their own
    (``SeedSplit.split``)."""
    found = _unalike(rows, run_dirs, configs, among)
    return SeedSplit(
        {row: "; ".join(filter(None, [s, *shared])) for row, (s, shared) in found.items()},
        frozenset(row for row, (s, _) in found.items() if s),
        {row: list(rows[row]) for row in found},
        suite,
    )


def seeds_differing(
    rows: Mapping[str, list[str]],
    run_dirs: Mapping[str, Path],
    configs: Mapping[str, Config] | None = None,
    among: Collection[str] | None = None,
) -> dict[str, str]:
    """Row → what keeps its runs from being seeds (:func:`_seed_differences`: ``a, b differ in key (a 3,
    b 2)``, ``a, b share train.seed 0``), for each row whose runs are not (:func:`seed_split`'s
    ``differ``)."""
    return seed_split(rows, run_dirs, configs, among).differ


def _unalike(
    rows: Mapping[str, list[str]],
    run_dirs: Mapping[str, Path],
    configs: Mapping[str, Config] | None,
    among: Collection[str] | None,
) -> dict[str, tuple[str, list[str]]]:
    """Row → what keeps its runs from being seeds (:func:`_seed_differences`), for each row whose runs
    are not. Only the runs ``among`` are compared (a table's finished runs; None: all): a seed that
    failed is in no table. ``configs``: run → its config already read (a report's, read once); the
    others' config.yaml is read from ``run_dirs``. A row with a config that cannot be read is not told
    apart (the table's note on unread settings names it)."""
    out = {}
    for row, names in rows.items():
        compared = [n for n in names if among is None or n in among]
        if len(compared) > 1:
            settings, shared = _seed_differences(compared, run_dirs, configs or {})
            if settings or shared:
                out[row] = (settings, shared)
    return out


# how to average runs named as seeds that are not, by cause (their settings differ, they share a
# train.seed), and for a suite's (its command trains again each run not trained with its config)
_FIXES = {
    "settings": "train each again with one config and a train.seed of its own (vislab train --config "
    "FOLDER/<run>/config.yaml --set train.seed=S --out FOLDER/<row>-s<i> --overwrite)",
    "seed": "train all but one of those sharing a train.seed again with a train.seed of its own "
    "(vislab train --config FOLDER/<run>/config.yaml --set train.seed=S --out FOLDER/<run> "
    "--overwrite)",
    "suite": "run the suite again (vislab suite FILE --out DIR --seeds N, with the suite's command-line "
    "changes), which trains again each run not trained with the suite's config, keeping it beside "
    "(--dry-run names them)",
}


def differing_note(differ: Mapping[str, str], suite: bool = False) -> str:
    """The note under a table on the rows of :func:`seeds_differing` ("" when none); ``suite``: the rows
    are a suite's, whose command trains such runs again."""
    if not differ:
        return ""
    return (
        f"Not averaged as seeds, though named <row>-s<i>: {' — '.join(differ.values())}. Each is a "
        f"row of its own; runs are seeds of one row when their configs differ only in train.seed, "
        f"each with a train.seed of its own (as vislab suite --seeds N trains them): to average them, "
        f"{_FIXES['suite' if suite else 'settings']}."
    )


def _seed_differences(
    names: list[str], run_dirs: Mapping[str, Path], configs: Mapping[str, Config]
) -> tuple[str, list[str]]:
    """What keeps the runs ``names`` from being seeds of one row: ``run, run differ in key (run value,
    run value); ...`` (or "") for the settings they differ in but :data:`SEEDS_MAY_DIFFER` (a model option at
    its model's default as unset; a setting that changes nothing for a run, ``settings.silent_keys`` as
    a suite's plan counts it: schedule.gamma under schedule.name=none, compared among the others only),
    and ``run, run share train.seed S`` for each seed more than one trained with (:func:`_shared_seeds`);
    ("", []) when none, or one's config cannot be read."""
    read, found, silent = [], [], []
    for name in names:
        try:
            read.append(read_settings(run_dirs[name], configs.get(name)))
        except (UserError, KeyError):
            return "", []  # its settings are unknown: the table's note on unread settings says so
        unset = at_model_default(read[-1])
        found.append({k: v for k, v in read[-1].items() if k not in unset})
        silent.append(silent_keys(read[-1], _trained_by(run_dirs[name])))
    keys = sorted({k for s in found for k in s if not k.startswith(SEEDS_MAY_DIFFER)})
    differ = [
        f"{k} ({', '.join(f'{n} {s.get(k, NOT_TAKEN)}' for n, s in zip(names, read))})"
        for k in keys
        if len({repr(s.get(k)) for s, m in zip(found, silent) if k not in m}) > 1
    ]
    said = f"{', '.join(names)} differ in {'; '.join(differ)}" if differ else ""
    return said, _shared_seeds(names, [s.get("train.seed") for s in read])


def _trained_by(run_dir: Path) -> str:
    """How the run in ``run_dir`` was trained, as its summary.json records it (``optimizer`` where it
    does not say)."""
    summary = RunDir(run_dir).read_summary()
    return (summary.trained_by if summary is not None else None) or "optimizer"


def _shared_seeds(names: list[str], seeds: list[object]) -> list[str]:
    """``run, run share train.seed S`` for each seed that more than one of the runs ``names`` trained
    with: copies of one run, or runs trained alike, whose spread is no spread over seeds; [] where each
    has a seed of its own (or a seed is unknown)."""
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        return []
    by_seed: dict[object, list[str]] = {}
    for name, seed in zip(names, seeds):
        by_seed.setdefault(seed, []).append(name)
    return [f"{', '.join(n)} share train.seed {s}" for s, n in by_seed.items() if len(n) > 1]
