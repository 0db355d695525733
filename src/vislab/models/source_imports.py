"""What a module's source imports of the user's own code, read without running it: a registered class's
module is imported on reopen only where it imports none (their code is in no hash the run recorded)."""

from __future__ import annotations

import ast
import sys
from importlib.machinery import PathFinder
from pathlib import Path

from vislab.models.fingerprints import is_own_file


def own_imports_in(source: bytes, folder: Path) -> list[str]:
    """The modules ``source`` (a module file in ``folder``) imports that are the user's own: its relative
    imports, and the absolute ones found as files under ``folder`` or the current directory outside
    installed packages, the standard library and vislab. Nothing is imported to find them."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # running it raises the same error, named there
        return []
    roots = [folder.resolve(), Path.cwd().resolve()]
    own: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom) and node.level
        ):  # from . import blocks, from .blocks import B
            names = [node.module] if node.module else [a.name for a in node.names]
            own.update("." * node.level + n for n in names)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            own.update(n for n in names if n and _is_own(n.partition(".")[0], roots))
    return sorted(own)


def _is_own(top: str, roots: list[Path]) -> bool:
    """Whether the top-level module ``top`` is a file of the user's own (found from ``roots`` first)."""
    spec = PathFinder.find_spec(top, [*map(str, roots), *sys.path])
    origin = spec.origin if spec is not None and spec.has_location else None
    return origin is not None and is_own_file(Path(origin).resolve(), roots, set())
