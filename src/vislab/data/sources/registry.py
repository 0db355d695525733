"""The data-source registry: ``data.name`` → a loader that takes a DataConfig and returns SourceData.

A family of names sharing a prefix (``torchvision:<Class>``, ``memory:<name>``) registers one loader
for the prefix, ``load(rest, cfg)``, which checks the rest of the name itself (as the models registry's
``register_model_prefix``). This module imports no source: sources import it, and
:mod:`vislab.data.sources` imports every source.
"""

from __future__ import annotations

import difflib
import functools
import shlex
from collections.abc import Callable
from pathlib import Path

from vislab.config import DataConfig
from vislab.data.types import SourceData
from vislab.errors import ConfigError
from vislab.registry import registrar

Loader = Callable[[DataConfig], SourceData]
#: ``load(rest_of_name, cfg)`` for the names ``prefix:rest``.
PrefixLoader = Callable[[str, DataConfig], SourceData]
SOURCES: dict[str, Loader] = {}
SOURCE_PREFIXES: dict[str, PrefixLoader] = {}


def register_source(name: str) -> Callable[[Loader], Loader]:
    """Decorator: register ``load(cfg: DataConfig) -> SourceData`` as dataset ``data.name=name``.

    A second loader under a taken name is a ValueError (re-importing the same module is not).
    """
    return registrar(SOURCES, name, "data source")


def register_source_prefix(prefix: str) -> Callable[[PrefixLoader], PrefixLoader]:
    """Decorator: ``load(rest, cfg) -> SourceData`` loads every dataset ``data.name=prefix:rest``."""
    return registrar(SOURCE_PREFIXES, prefix, "data source prefix")


def unregister_source(name: str) -> None:
    """Remove data source ``name`` from the registry (e.g. a test's toy source, when the test ends)."""
    if SOURCES.pop(name, None) is None:
        raise KeyError(f"no data source '{name}' is registered")


def _lookup(name: str) -> Loader:
    """The loader of ``name`` (for ``prefix:rest``, the prefix's loader with ``rest`` bound)."""
    prefix, _, rest = name.partition(":")
    if rest and prefix in SOURCE_PREFIXES:
        return functools.partial(SOURCE_PREFIXES[prefix], rest)
    if name not in SOURCES:
        if prefix in SOURCE_PREFIXES:  # 'torchvision:' without a class
            hint = f" '{prefix}:' needs a name after the colon (e.g. {_example(prefix)})."
        elif Path(name).is_dir():
            hint = _folder_hint(name)
        else:  # CIFAR10 as cifar-10: the case told apart by nothing but the near-match
            lower = {n.lower(): n for n in SOURCES}
            near = difflib.get_close_matches(name.lower(), list(lower), n=1)
            hint = f" Did you mean '{lower[near[0]]}'?" if near else ""
        names = [*sorted(SOURCES), *(f"{p}:<name>" for p in sorted(SOURCE_PREFIXES))]
        raise ConfigError(
            f"unknown dataset data.name='{name}'.{hint} Available: {', '.join(names)}."
        )
    return SOURCES[name]


def _folder_hint(path: str) -> str:
    """What to give for a folder of images named as the dataset: the folder source, reading it."""
    root = shlex.quote(path)
    return (
        f" '{path}' is a folder: read it as an image folder with data.name=folder and data.root set to "
        f"it (vislab data info folder --set data.root={root}; vislab train --set data.name=folder "
        f"--set data.root={root}; Python: data__name='folder', data__root={path!r})."
    )


def _example(prefix: str) -> str:
    return {"torchvision": "torchvision:SVHN"}.get(prefix, f"{prefix}:<name>")


def require_source(name: str) -> None:
    """ConfigError unless a source is registered under ``name`` or its prefix (cheap: loads no data)."""
    _lookup(name)


def load_source(cfg: DataConfig) -> SourceData:
    """The official sets of dataset ``cfg.name`` (ConfigError for an unknown name)."""
    data = _lookup(cfg.name)(cfg)
    data.name = cfg.name
    return data
