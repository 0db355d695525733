"""The data-source registry: ``data.name`` → a loader that takes a DataConfig and returns SourceData.

This module imports no source: sources import it, and :mod:`vislab.data.sources` imports every source.
"""

from __future__ import annotations

from collections.abc import Callable

from vislab.config import DataConfig
from vislab.data.types import SourceData
from vislab.errors import ConfigError
from vislab.registry import registrar

Loader = Callable[[DataConfig], SourceData]
SOURCES: dict[str, Loader] = {}


def register_source(name: str) -> Callable[[Loader], Loader]:
    """Decorator: register ``load(cfg: DataConfig) -> SourceData`` as dataset ``data.name=name``.

    A second loader under a taken name is a ValueError (re-importing the same module is not).
    """
    return registrar(SOURCES, name, "data source")


def unregister_source(name: str) -> None:
    """Remove data source ``name`` from the registry (e.g. a test's toy source, when the test ends)."""
    if SOURCES.pop(name, None) is None:
        raise KeyError(f"no data source '{name}' is registered")


def require_source(name: str) -> None:
    """ConfigError unless a source is registered under ``name`` (cheap: loads no data)."""
    if name not in SOURCES:
        raise ConfigError(
            f"unknown dataset data.name='{name}'. Available: {', '.join(sorted(SOURCES))}."
        )


def load_source(cfg: DataConfig) -> SourceData:
    """The official sets of dataset ``cfg.name`` (ConfigError for an unknown name)."""
    require_source(cfg.name)
    data = SOURCES[cfg.name](cfg)
    data.name = cfg.name
    return data
