"""A stored config against a wanted one: the keys that differ, except those that leave results alone; and
the stored one with the wanted one's settings of those keys (what a resumed run trains by)."""

from __future__ import annotations

import copy

from vislab.config.build import as_stored, build_config
from vislab.errors import ConfigError

# Keys that do not change what a run computes (where and how it runs): two configs that differ only in these
# describe the same run — a suite's finished run, a resumed run, a sweep's trials on different machines.
RESULT_NEUTRAL_KEYS = (
    "track.",
    "train.threads",
    "train.device",
    "data.device",
    "data.download",
    "train.eval_batch_size",
    "data.root",
    "train.compile",
    "train.cudnn_benchmark",
)


def config_differences(stored: dict, wanted: dict, prefix: str = "") -> list[str]:
    """``key: old → new`` for each dotted key whose value differs between two config dicts, ignoring
    RESULT_NEUTRAL_KEYS. A stored config is read through the current schema first, so that a key added
    to vislab since it was written counts with its default, not as a difference."""
    if not prefix:
        stored = _as_current(stored)
    out = []
    for key in sorted(set(stored) | set(wanted)):
        dotted = f"{prefix}{key}"
        a, b = stored.get(key), wanted.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_differences(a, b, dotted + ".")
        elif a != b and not dotted.startswith(RESULT_NEUTRAL_KEYS):
            out.append(f"{dotted}: {a!r} → {b!r}")
    return out


def with_neutral_settings(stored: dict, wanted: dict, prefix: str = "") -> dict:
    """``stored`` (a config tree) with ``wanted``'s values of the RESULT_NEUTRAL_KEYS — where and how a
    run runs: a resumed run trains by its own config on the machine and data path it is resumed with. A new
    tree; every other key keeps ``stored``'s value, as does a neutral key ``wanted`` lacks."""
    out = dict(stored)
    for key, value in wanted.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(stored.get(key), dict):
            out[key] = with_neutral_settings(stored[key], value, dotted + ".")
        # a neutral key, or a neutral section that stored lacks (track)
        elif dotted.startswith(RESULT_NEUTRAL_KEYS) or f"{dotted}." in RESULT_NEUTRAL_KEYS:
            out[key] = copy.deepcopy(value)
    return out


def _as_current(tree: dict) -> dict:
    """``tree`` with the current schema's defaults filled in; ``tree`` itself if it no longer validates."""
    try:
        return build_config(as_stored(tree), source="stored config").to_dict()
    except ConfigError:
        return tree
