"""Runs grouped as seeds of one row — a seeded suite's rows (suite.json's ``rows``), or runs named
``<row>-s<i>`` in a folder — are seeds only when their configs differ in nothing but their seed (and where
or how they ran): otherwise each is a row of its own, and a note says which runs differ, in what. One rule
for every table (results.md, ``vislab compare``, report.html, the paper): a suite's run trained on since
with other settings (``vislab train --resume DIR/<run> --epochs 3``) is not averaged with its seeds."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from pathlib import Path

from vislab.config import RESULT_NEUTRAL_KEYS, Config
from vislab.errors import UserError
from vislab.experiments.results.model_options import NOT_TAKEN, at_model_default
from vislab.experiments.results.settings import WRITES_ONLY, read_settings

# what seeds of one row may differ in: their seed, and what leaves results alone (where and how they ran)
SEEDS_MAY_DIFFER = (*RESULT_NEUTRAL_KEYS, *WRITES_ONLY, "train.seed")


def alike_seeds(
    rows: Mapping[str, list[str]],
    run_dirs: Mapping[str, Path],
    configs: Mapping[str, Config] | None = None,
    among: Collection[str] | None = None,
    suite: bool = False,
) -> tuple[dict[str, list[str]], str]:
    """Of rows of seeds (a suite's, or runs named ``<row>-s<i>``: ``spread.rows_by_seed_suffix``), each
    whose runs' configs differ in nothing but :data:`SEEDS_MAY_DIFFER` (:func:`seeds_differing`); a row
    whose runs differ otherwise is no row of seeds, each of its runs a row of its own — and the note
    says which and in what ("" when every row's seeds are alike; ``suite``: the rows are a suite's, the
    note's fix its command's)."""
    differ = seeds_differing(rows, run_dirs, configs, among)
    out: dict[str, list[str]] = {}
    for row, names in rows.items():
        if row in differ:
            out.update((name, [name]) for name in names)
        else:
            out[row] = list(names)
    return out, differing_note(differ, suite)


def seeds_differing(
    rows: Mapping[str, list[str]],
    run_dirs: Mapping[str, Path],
    configs: Mapping[str, Config] | None = None,
    among: Collection[str] | None = None,
) -> dict[str, str]:
    """Row → what its seeds differ in but :data:`SEEDS_MAY_DIFFER` (``a, b differ in key (a 3, b 2)``),
    for each row whose do. Only the runs ``among`` are compared (a table's finished runs; None: all): a
    seed that failed is in no table. ``configs``: run → its config already read (a report's, read
    once); the others' config.yaml is read from ``run_dirs``. A row with a config that cannot be read is
    not told apart (the table's note on unread settings names it)."""
    out = {}
    for row, names in rows.items():
        compared = [n for n in names if among is None or n in among]
        differ = _seed_differences(compared, run_dirs, configs or {}) if len(compared) > 1 else []
        if differ:
            out[row] = f"{', '.join(compared)} differ in {'; '.join(differ)}"
    return out


def differing_note(differ: Mapping[str, str], suite: bool = False) -> str:
    """The note under a table on the rows of :func:`seeds_differing` ("" when none); ``suite``: the rows
    are a suite's, whose command trains such runs again."""
    if not differ:
        return ""
    fix = (
        "run the suite again (vislab suite FILE --out DIR --seeds N, with the suite's command-line "
        "changes): it trains again each run not trained with the suite's config, keeping it beside "
        "(--dry-run names them)"
        if suite
        else "train them so to average them"
    )
    return (
        f"Not averaged as seeds, though named <row>-s<i>: {' — '.join(differ.values())}. Each is a "
        f"row of its own; runs are seeds of one row when their configs differ only in train.seed (as "
        f"vislab suite --seeds N trains them): {fix}."
    )


def _seed_differences(
    names: list[str], run_dirs: Mapping[str, Path], configs: Mapping[str, Config]
) -> list[str]:
    """``key (run value, run value)`` for each setting the runs ``names`` differ in but
    :data:`SEEDS_MAY_DIFFER` (a model option at its model's default as unset); [] when one's config
    cannot be read."""
    read, found = [], []
    for name in names:
        try:
            read.append(read_settings(run_dirs[name], configs.get(name)))
        except (UserError, KeyError):
            return []  # its settings are unknown: the table's note on unread settings says so
        unset = at_model_default(read[-1])
        found.append({k: v for k, v in read[-1].items() if k not in unset})
    keys = sorted({k for s in found for k in s if not k.startswith(SEEDS_MAY_DIFFER)})
    return [
        f"{k} ({', '.join(f'{n} {s.get(k, NOT_TAKEN)}' for n, s in zip(names, read))})"
        for k in keys
        if any(s.get(k) != found[0].get(k) for s in found[1:])
    ] + _seeds_not_drawn(names, [s.get("train.seed") for s in read])


_INDEX = re.compile(r"-s(\d+)$")  # a seed run's index i in its name, <row>-s<i>


def _seeds_not_drawn(names: list[str], seeds: list[object]) -> list[str]:
    """``train.seed (run seed, ...: ...)`` where the runs ``names`` were not trained with their row's
    seeds: each run ``<row>-s<i>`` with one train.seed + i (as vislab suite --seeds N trains them) —
    or, not so named, each with a seed of its own; [] where they were (or a seed is unknown)."""
    index = [int(m[1]) if (m := _INDEX.search(n)) else None for n in names]
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        return []
    if None not in index:
        drawn = len({s - i for s, i in zip(seeds, index)}) == 1  # type: ignore[operator]
        rule = "not one train.seed + i for <row>-s<i>"
    else:
        drawn = len(set(seeds)) == len(seeds)
        rule = "not a seed each"
    said = ", ".join(f"{n} {s}" for n, s in zip(names, seeds))
    return [] if drawn else [f"train.seed ({said}: {rule})"]
