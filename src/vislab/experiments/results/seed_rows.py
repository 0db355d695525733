"""Runs named as seeds of one row (``<row>-s<i>``) are seeds only when their configs differ in nothing
but their seed (and where or how they ran): otherwise each is a row of its own, and a note says which
runs differ, in what."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from vislab.config import RESULT_NEUTRAL_KEYS, Config
from vislab.errors import UserError
from vislab.experiments.results.model_options import NOT_TAKEN, at_model_default
from vislab.experiments.results.settings import WRITES_ONLY, flat_settings, read_settings

# what seeds of one row may differ in: their seed, and what leaves results alone (where and how they ran)
SEEDS_MAY_DIFFER = (*RESULT_NEUTRAL_KEYS, *WRITES_ONLY, "train.seed")


def alike_seeds(
    rows: dict[str, list[str]],
    run_dirs: Mapping[str, Path],
    configs: Mapping[str, Config] | None = None,
) -> tuple[dict[str, list[str]], str]:
    """Of rows of seeds found by their runs' names (``<row>-s<i>``: ``spread.rows_by_seed_suffix``), each
    whose runs' configs differ in nothing but :data:`SEEDS_MAY_DIFFER` (``configs``: run → its config
    already read; the others' config.yaml is read from ``run_dirs``); a row whose runs differ otherwise
    is no row of seeds, each of its runs a row of its own — and the note says which and in what ("" when
    every row's seeds are alike; a row with a config that cannot be read stays as named)."""
    out: dict[str, list[str]] = {}
    told: list[str] = []
    for row, names in rows.items():
        differ = _seed_differences(names, run_dirs, configs or {}) if len(names) > 1 else []
        if not differ:
            out[row] = names
            continue
        out.update((name, [name]) for name in names)
        told.append(f"{', '.join(names)} differ in {'; '.join(differ)}")
    if not told:
        return out, ""
    return out, (
        f"Not averaged as seeds, though named <row>-s<i>: {' — '.join(told)}. Each is a row of its "
        f"own; runs are seeds of one row when their configs differ only in train.seed (as vislab suite "
        f"--seeds N trains them): train them so to average them."
    )


def _seed_differences(
    names: list[str], run_dirs: Mapping[str, Path], configs: Mapping[str, Config]
) -> list[str]:
    """``key (run value, run value)`` for each setting the runs ``names`` differ in but
    :data:`SEEDS_MAY_DIFFER` (a model option at its model's default as unset); [] when one's config
    cannot be read."""
    read, found = [], []
    for name in names:
        cfg = configs.get(name)
        try:
            read.append(flat_settings(cfg.to_dict()) if cfg else read_settings(run_dirs[name]))
        except (UserError, KeyError):
            return []  # its settings are unknown: the table's note on unread settings says so
        unset = at_model_default(read[-1])
        found.append({k: v for k, v in read[-1].items() if k not in unset})
    keys = sorted({k for s in found for k in s if not k.startswith(SEEDS_MAY_DIFFER)})
    return [
        f"{k} ({', '.join(f'{n} {s.get(k, NOT_TAKEN)}' for n, s in zip(names, read))})"
        for k in keys
        if any(s.get(k) != found[0].get(k) for s in found[1:])
    ]
