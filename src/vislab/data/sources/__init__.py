"""Data sources: the registry that maps ``data.name`` to a loader, and every source.

A source is a function decorated with ``@register_source(name)`` that takes a DataConfig and returns
SourceData (:mod:`vislab.data.sources.registry`). Adding a dataset is one file, imported in the list
at the end of this file; every source listed there is imported with this package, so a missing or
broken source fails here, loudly, instead of silently vanishing from the registry.
"""

from __future__ import annotations

from vislab.data.sources.registry import (
    SOURCES,
    load_source,
    register_source,
    register_source_prefix,
    require_source,
    unregister_source,
)

# isort: split
# Every data source, one import each: importing a source registers its loaders, and a source that is
# missing or cannot be imported stops this import with its own error.
import vislab.data.sources.cifar  # noqa: F401
import vislab.data.sources.circles  # noqa: F401
import vislab.data.sources.digits  # noqa: F401
import vislab.data.sources.folder  # noqa: F401
import vislab.data.sources.idx  # noqa: F401
import vislab.data.sources.memory  # noqa: F401
import vislab.data.sources.torchvision_zoo  # noqa: F401

__all__ = [
    "SOURCES",
    "cifar",
    "circles",
    "digits",
    "folder",
    "idx",
    "load_source",
    "memory",
    "register_source",
    "register_source_prefix",
    "require_source",
    "torchvision_zoo",
    "unregister_source",
]
