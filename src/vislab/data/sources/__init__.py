"""Data-source registry: ``@register_source(name)`` functions take a DataConfig and return SourceData."""

from __future__ import annotations

from collections.abc import Callable

from vislab.config import DataConfig
from vislab.data.types import SourceData
from vislab.errors import ConfigError

SOURCES: dict[str, Callable[[DataConfig], SourceData]] = {}


def register_source(name: str):
    def deco(fn: Callable[[DataConfig], SourceData]):
        SOURCES[name] = fn
        return fn

    return deco


def require_source(name: str) -> None:
    """ConfigError unless a source is registered under ``name`` (cheap: loads no data)."""
    _import_all()
    if name not in SOURCES:
        raise ConfigError(
            f"unknown dataset data.name='{name}'. Available: {', '.join(sorted(SOURCES))}."
        )


def load_source(cfg: DataConfig) -> SourceData:
    require_source(cfg.name)
    data = SOURCES[cfg.name](cfg)
    data.name = cfg.name
    return data


def _import_all() -> None:
    import importlib

    for mod in ("cifar", "idx", "digits", "circles", "folder"):
        try:
            importlib.import_module(f"vislab.data.sources.{mod}")
        except ModuleNotFoundError as e:  # a source not written yet
            if e.name != f"vislab.data.sources.{mod}":
                raise
