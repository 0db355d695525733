"""A validated Config from a base mapping, a YAML file and ``--set`` overrides, in that order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vislab.config.files import read_yaml
from vislab.config.overrides import apply_override
from vislab.config.schema import Config
from vislab.config.validation import validate
from vislab.errors import ConfigError


def as_stored(tree: Any) -> Any:
    """A config tree a run stored (its config.yaml, a checkpoint's) with each setting added to vislab since
    set to what that run did: ``data.test_fraction`` — before it, a test split carved from train took
    ``data.val_fraction``. Anything that is not such a tree, as it is."""
    data = tree.get("data") if isinstance(tree, dict) else None
    if isinstance(data, dict) and "val_fraction" in data and "test_fraction" not in data:
        return {**tree, "data": {**data, "test_fraction": data["val_fraction"]}}
    return tree


def _deep_merge(base: dict, over: dict) -> dict:
    """``over`` merged into ``base``, as a new tree (neither input's nested dicts are shared with the result,
    so overrides applied to it never reach the caller's dicts)."""
    out = {k: _deep_merge(v, {}) if isinstance(v, dict) else v for k, v in base.items()}
    for k, v in over.items():
        out[k] = (
            _deep_merge(out[k] if isinstance(out.get(k), dict) else {}, v)
            if isinstance(v, dict)
            else v
        )
    return out


def build_config(
    tree: dict | None = None, overrides: list[str] | tuple = (), source: str = "config"
) -> Config:
    """Validate a nested dict plus ``--set`` overrides into a Config (raises ConfigError)."""
    tree = _deep_merge({}, tree or {})
    for assignment in overrides:
        apply_override(tree, assignment)
    if not isinstance(tree.get("model", {}), dict):
        raise ConfigError(
            "config section 'model' must be a mapping (model.name plus model kwargs)."
        )
    _check_plain(tree, source)
    cfg = validate(Config, tree, source)
    try:
        cfg.to_dict()  # every value must go back to config.yaml (e.g. not a non-UTF-8 !!binary in model.*)
    except Exception as e:  # noqa: BLE001 - pydantic serialisation raises several types
        raise ConfigError(
            f"Invalid config ({source}): a value cannot be written back as YAML ({type(e).__name__}: "
            f"{str(e)[:200]}). Use plain numbers, strings, booleans and lists."
        ) from None
    return cfg


def _check_plain(tree: Any, source: str, max_values: int = 100_000, max_depth: int = 50) -> None:
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


def load_config(
    path: str | Path | None = None, overrides: list[str] | tuple = (), base: dict | None = None
) -> Config:
    """Base dict (optional) ← YAML file (optional) ← ``--set`` overrides → validated Config."""
    tree = _deep_merge({}, base or {})
    if path is not None:
        tree = _deep_merge(tree, read_yaml(path))
    source = (
        " + ".join([*([str(path)] if path else []), *(["--set"] if overrides else [])])
        or "defaults"
    )
    return build_config(tree, overrides, source=source)
