"""``--set key.sub=value``: the value typed as YAML types it, set at its dotted key of a nested dict."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from vislab.errors import ConfigError


def parse_value(text: str) -> Any:
    """Type a ``--set`` value the way YAML would: 3 → int, 1e-3 → float, true → bool, [1,2] → list."""
    try:
        value = yaml.safe_load(text)
    except Exception:  # noqa: BLE001 - YAMLError, and ValueError/RecursionError from e.g. '2001-13-01', '!!int x', '[[[['
        return text
    # 'net.py:' or 'a: b' reads as a mapping; a --set value is one only written as one: {a: 1}
    if isinstance(value, dict) and not text.lstrip().startswith("{"):
        return text
    # YAML 1.1 reads '1e-3' as a string; users mean a float.
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def assignments(overrides: Sequence[str] | Mapping[str, Any]) -> list[str]:
    """Overrides as ``key=value`` strings: a mapping's keys dotted or ``section__key``, its values written
    as YAML (parsed back as given)."""
    if isinstance(overrides, Mapping):
        return [f"{k.replace('__', '.')}={_as_yaml(v)}" for k, v in overrides.items()]
    if isinstance(overrides, str):
        return [overrides]
    return list(overrides)


def _as_yaml(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def set_dotted(tree: dict, key: str, value: Any) -> None:
    """``tree[a][b][c] = value`` for ``key = "a.b.c"``, creating sections as needed."""
    parts = key.strip().split(".")
    if not all(parts):
        raise ConfigError(f"config key '{key}' has an empty part.")
    node = tree
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"config key '{key}': '{part}' holds a value, not a section.")
        node = child
    node[parts[-1]] = value


def apply_override(tree: dict, assignment: str) -> None:
    """Apply one ``key.sub=value`` assignment to a nested dict in place."""
    if "=" not in assignment:
        raise ConfigError(
            f"--set '{assignment}' is not of the form key.sub=value (e.g. optim.lr=0.01)."
        )
    key, _, text = assignment.partition("=")
    set_dotted(tree, key, parse_value(text))
