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
        return [f"{k.replace('__', '.')}={as_yaml(v)}" for k, v in overrides.items()]
    if isinstance(overrides, str):
        return [overrides]
    return list(overrides)


def as_yaml(value: Any) -> str:
    """``value`` as a config file and ``--set`` write it (YAML's flow style): null, true, 0.5, [32, 64]."""
    return (
        yaml.safe_dump(_plain(value), default_flow_style=True).strip().removesuffix("...").strip()
    )


def as_set(value: Any) -> str:
    """``value`` as ``--set`` takes it (YAML): null, true, 0.9, [net.*]."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return f"[{', '.join(map(str, value))}]"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _plain(value: Any) -> Any:
    """``value`` with numpy's (or torch's) numbers and arrays as Python's, which YAML writes."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    tolist = getattr(value, "tolist", None)  # np.int64(30), np.array([8, 16]), a tensor
    return tolist() if callable(tolist) and not isinstance(value, str) else value


def set_dotted(tree: dict, key: str, value: Any) -> None:
    """``tree[a][b][c] = value`` for ``key = "a.b.c"``, creating sections as needed. A number after a list
    sets that item of it (``model.widths.0``), or one past its end adds an item; a list the tree does not
    hold (a model's preset fills it) has no item to set, and the error says to give the whole list."""
    parts = key.strip().split(".")
    if not all(parts):
        raise ConfigError(f"config key '{key}' has an empty part.")
    node: dict | list = tree
    for depth, part in enumerate(parts[:-1]):
        held = ".".join(parts[: depth + 1])
        child = _item(node, part, key) if isinstance(node, list) else node.get(part)
        if child is None:
            if parts[depth + 1].isdigit():
                raise ConfigError(
                    f"config key '{key}': '{held}' is not set in this config (the model or the schema "
                    f"fills it in), so it has no item to change; set the whole list: {held}=[...]"
                )
            child = _put(node, part, {}, key)
        if isinstance(
            child, list
        ):  # a copy: the list may be shared (a suite's base, a caller's tree)
            child = _put(node, part, list(child), key)
        elif not isinstance(child, dict):
            raise ConfigError(f"config key '{key}': '{part}' holds a value, not a section.")
        node = child
    _put(node, parts[-1], value, key)


def _item(items: list, part: str, key: str, adding: bool = False) -> Any:
    """The item of ``items`` that ``part`` numbers (with ``adding``, its index, which may be one past the
    end); ConfigError naming the numbers it may take."""
    last = len(items) if adding else len(items) - 1
    if not part.isdigit() or int(part) > last:
        held = key[: key.rindex(f".{part}")]
        raise ConfigError(
            f"config key '{key}': '{held}' is a list of {len(items)} item(s) ({as_yaml(items)}); "
            f"an item is set by its number, 0 to {last}"
            + (" (the last adds one)." if adding else ".")
        )
    return int(part) if adding else items[int(part)]


def _put(node: dict | list, part: str, value: Any, key: str) -> Any:
    """``node[part] = value``, a list's item by its number (one past the end appends); returns value."""
    if isinstance(node, dict):
        node[part] = value
    elif (index := _item(node, part, key, adding=True)) == len(node):
        node.append(value)
    else:
        node[index] = value
    return value


def apply_override(tree: dict, assignment: str) -> None:
    """Apply one ``key.sub=value`` assignment to a nested dict in place."""
    if "=" not in assignment:
        raise ConfigError(
            f"override '{assignment}' is not of the form key.sub=value (e.g. --set optim.lr=0.01; "
            f"Python: overrides=['optim.lr=0.01'])."
        )
    key, _, text = assignment.partition("=")
    value = parse_value(text)
    check_plain(value, f"--set {key.strip()}")  # '&a [*a]': refused before anything walks it
    set_dotted(tree, key, value)


def check_plain(tree: Any, source: str, max_values: int = 100_000, max_depth: int = 50) -> None:
    """Refuse self-referencing or alias-bomb YAML (``&a [*a]``, nested ``*a`` lists) before it is walked."""
    stack, n = [(tree, 0)], 0
    while stack:
        node, depth = stack.pop()
        n += 1
        if depth > max_depth or n > max_values:
            raise ConfigError(
                f"Invalid config ({source}): it nests deeper than {max_depth} levels or holds more "
                f"than {max_values} values (recursive or repeated YAML anchors/aliases?)."
            )
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, (list, tuple, set, frozenset)):
            stack.extend((v, depth + 1) for v in node)
