"""Users' own models, named by a reference instead of a registered name.

``model.name=path/to/file.py:Net`` (a file: the part before ':' ends in ``.py`` or holds a '/', relative
to the current directory) or ``model.name=package.module:build`` (a module importable from sys.path or
from the current directory). A registered prefix (``timm:``) wins over both. The target is either

- an ``nn.Module`` subclass, called as ``Net(num_classes=K, **options)``, plus ``input_shape=(C, H, W)``
  when its ``__init__`` names an ``input_shape`` parameter (it must take ``num_classes``); or
- a builder function ``build(input_shape, num_classes, **options)`` returning an ``nn.Module``.

The options come from ``model.*`` and are checked against the target's signature like a built-in's
(:func:`vislab.models.registry.check_model_options`). A file is read once, hashed (sha256) and executed
from those very bytes under a unique module name, its folder first on sys.path meanwhile (as ``python
file.py`` would: ``from blocks import Block`` finds a sibling ``blocks.py``); :func:`resolve` returns its
builder with its record (reference, path, sha256, and ``imports``: the sha256 of the user's own modules
its code imported, see :mod:`vislab.models.fingerprints`), which the trainer records in checkpoints and
summary.json (``registry.code_of``). The calling convention is :mod:`vislab.models.calling`'s.

Opening a finished run never executes code silently: ``models/trust.py`` lets a run's user code be
imported only with ``trust_code`` or when the file at the recorded path has the recorded hash, which
:func:`pinned` then holds the file to.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.machinery
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import torch.nn as nn

from vislab.errors import ConfigError, UntrustedCode, UserCodeError
from vislab.models.calling import adapt
from vislab.models.code_errors import code_failed
from vislab.models.fingerprints import own_imports
from vislab.models.unknown_names import timm_note

# (absolute path, sha256) → the module run from those bytes
_MODULES: dict[tuple[str, str], ModuleType] = {}
# a user module's name → the names of the modules that appeared in sys.modules while it was imported
_IMPORTED: dict[str, set[str]] = {}
_ADAPTERS: dict[tuple, Callable[..., nn.Module]] = {}
# absolute path → the sha256 its bytes must have (while a run's code loads)
_PINS: dict[str, str] = {}


@dataclass(frozen=True)
class Reference:
    """``target:attr`` as written in ``model.name``."""

    text: str
    target: str
    attr: str

    @property
    def is_file(self) -> bool:
        return self.target.endswith(".py") or "/" in self.target or "\\" in self.target


def parse_reference(name: str) -> Reference | None:
    """The user reference in ``name``, or None when ``name`` is not one (a registered name, a typo)."""
    target, sep, attr = name.rpartition(":")
    if not sep or not target:
        return None
    ref = Reference(name, target, attr)
    if not ref.is_file and not all(p.isidentifier() for p in target.split(".")):
        return None
    if not attr.isidentifier() and target == "timm":  # a timm model, its name left out
        raise ConfigError(
            f"model '{name}': after 'timm:' comes the name of a timm model, e.g. model.name=timm:resnet18."
        )
    if not attr.isidentifier():
        raise ConfigError(
            f"model '{name}': after ':' comes the name of a class or function defined in "
            f"{target}, e.g. model.name={target}:Net."
        )
    return ref


def is_user_reference(name: str) -> bool:
    """True for ``file.py:attr`` / ``package.module:attr`` (checked without importing anything)."""
    try:
        return parse_reference(name) is not None
    except ConfigError:
        return False


def resolve(name: str) -> tuple[Callable[..., nn.Module], dict[str, Any]] | None:
    """A registry-style builder ``(input_shape, num_classes, **options)`` for a user reference, and the
    record of its code as it is now (reference, path, sha256, imports); None for any other name. Imports
    the user's code. UserCodeError naming the file and the fix when it is unusable."""
    ref = parse_reference(name)
    if ref is None:
        return None
    module, path, sha = _load_file(ref) if ref.is_file else _load_module(ref)
    where = str(path) if ref.is_file else f"module {ref.target}"
    if not hasattr(module, ref.attr):
        defined = _defined_in(module)
        models = [k for k in defined if _builds_model(getattr(module, k))]
        example = f" (e.g. model.name={ref.target}:{models[0]})" if models else ""
        raise UserCodeError(
            f"model '{name}': {where} defines no '{ref.attr}'. It defines: "
            f"{', '.join(defined) or '(no classes or functions)'}. Name one of them after ':'{example}, "
            f"or define {ref.attr} there.{_elsewhere(ref.attr) if _installed(path) else ''}"
        )
    target = getattr(module, ref.attr)
    if _installed(path) and not _is_builder(target):
        raise ConfigError(_not_a_builder(ref))
    record = {"reference": name, "path": str(path) if path else None, "sha256": sha}
    imports = _imports_of(module, path)
    if imports:
        record["imports"] = imports
    key = (name, record["path"], sha, id(target), tuple(imports.items()))
    if key not in _ADAPTERS:
        files = [path] if path else _module_files(ref.target)
        _ADAPTERS[key] = adapt(target, name, where, files, attr=ref.attr)
    return _ADAPTERS[key], record


def _builds_model(obj: Any) -> bool:
    """Whether ``obj`` may be a model after ':': an nn.Module class, or a builder (:func:`_is_builder`)."""
    if inspect.isclass(obj):
        return issubclass(obj, nn.Module)
    return inspect.isfunction(obj) and _is_builder(obj)


def _is_builder(target: Any) -> bool:
    """Whether ``target`` may be called as a builder, ``build(input_shape, num_classes, **options)``: a
    class (called as ``Net(num_classes=K, ...)``), or a function taking two positional arguments (or
    whose signature cannot be read)."""
    if not inspect.isfunction(target):
        return True
    try:
        inspect.signature(target).bind(None, None)
    except ValueError:
        return True
    except TypeError:
        return False
    return True


def _installed(path: Path | None) -> bool:
    """Whether a module's file ``path`` is an installed library's (site-packages), not the user's code."""
    return path is not None and bool({"site-packages", "dist-packages"} & set(path.parts))


def _not_a_builder(ref: Reference) -> str:
    """Why a library's function (``torchvision.models:resnet18``) is no model.name: the builder contract
    it is not written for, and what to give instead."""
    return (
        f"model '{ref.text}': {ref.target}.{ref.attr} is no vislab builder. vislab calls a function "
        f"named package.module:build as build(input_shape, num_classes, **options) (the data's shape "
        f"and class count, then the model.* options), and {ref.attr} takes no such arguments."
        f"{_elsewhere(ref.attr)} Or wrap it in a file of yours, net.py: import {ref.target.split('.')[0]} "
        f"and def build(input_shape, num_classes): return {ref.target}.{ref.attr}(num_classes=num_classes) "
        f"(sized for input_shape's channels: torchvision's models take 3); then train with "
        f"model.name=net.py:build."
    )


def _elsewhere(attr: str) -> str:
    """For a library's model named ``attr``, the sentences (each after a space) naming vislab's and
    timm's model of that name, where there is one; else ""."""
    # imported here, not at the top: the registry imports this module
    from vislab.models.registry import MODELS

    own = f" model.name={attr} is vislab's own (`vislab model info {attr}` lists its options)."
    return (own if attr in MODELS else "") + timm_note(attr)


# ---------------------------------------------------------------------------------- loading
@contextlib.contextmanager
def pinned(path: Path, sha: str) -> Iterator[None]:
    """While inside, the file at ``path`` is executed only if its bytes still have this sha256."""
    _PINS[str(path)] = sha
    try:
        yield
    finally:
        _PINS.pop(str(path), None)


def _load_file(ref: Reference) -> tuple[ModuleType, Path, str]:
    """The module executed from the bytes of the reference's file (cached per path and content)."""
    given = Path(ref.target).expanduser()
    if not given.is_file():
        raise UserCodeError(
            f"model '{ref.text}': file '{ref.target}' not found (paths are relative to the current "
            f"directory, {Path.cwd()}). Give the path of your Python file, e.g. "
            f"model.name=models/net.py:{ref.attr}."
        )
    path = given.resolve()
    source = path.read_bytes()
    sha = hashlib.sha256(source).hexdigest()
    pinned = _PINS.get(str(path))
    if pinned is not None and pinned != sha:
        raise UntrustedCode(
            f"'{path}' changed while vislab was checking it (sha256 {sha[:12]}…, expected "
            f"{pinned[:12]}…); not imported. Try again, or pass --trust-code."
        )
    if (str(path), sha) not in _MODULES:
        _MODULES[str(path), sha] = _exec_file(ref, path, source, sha)
    return _MODULES[str(path), sha], path, sha


def _exec_file(ref: Reference, path: Path, source: bytes, sha: str) -> ModuleType:
    """The module run from ``source`` (the file's bytes), its folder first on sys.path meanwhile."""
    name = f"vislab_user_{''.join(c if c.isalnum() else '_' for c in path.stem)}_{sha[:12]}"
    before = set(sys.modules) | {name}
    try:
        with _on_sys_path(str(path.parent), first=True):
            module = exec_as(name, path, source)
    except Exception as e:
        raise code_failed(ref.text, e, "while importing it", [path]) from None
    _IMPORTED[name] = set(sys.modules) - before
    return module


def exec_as(name: str, path: Path, source: bytes) -> ModuleType:
    """Run ``source`` (the bytes of ``path`` that were checked: not read again) as the module ``name``,
    in sys.modules (dataclasses, pickling and typing look a module up by name); if it fails, sys.modules
    holds what it held before (the module as imported earlier, or nothing)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    earlier = sys.modules.get(name)
    sys.modules[name] = module
    try:
        exec(compile(source, str(path), "exec", dont_inherit=True), module.__dict__)  # noqa: S102 - the user's own, checked code
    except BaseException:
        if earlier is None:
            del sys.modules[name]
        else:
            sys.modules[name] = earlier
        raise
    return module


def _imports_of(module: ModuleType, path: Path | None) -> dict[str, str]:
    """The user's own modules the model's module imported (relative path → sha256), none without a file."""
    if path is None:
        return {}
    return own_imports(module, _IMPORTED.get(module.__name__, ()), path.parent)


def _load_module(ref: Reference) -> tuple[ModuleType, Path | None, str | None]:
    """The imported module, its file and the file's sha256 (None, None for a module without a file)."""
    if module_origin(ref.target) is False:
        raise UserCodeError(
            f"model '{ref.text}': no module named '{ref.target}' can be imported (looked on sys.path "
            f"and in the current directory, {Path.cwd()}). Install the package that provides it (or "
            f"check the spelling); for a single file use model.name=path/to/file.py:{ref.attr}."
        )
    before = set(sys.modules)
    try:
        with cwd_importable(ref.target):
            module = importlib.import_module(ref.target)
    except Exception as e:
        raise code_failed(ref.text, e, "while importing it", _module_files(ref.target)) from None
    _IMPORTED.setdefault(module.__name__, set()).update(set(sys.modules) - before)
    file = getattr(module, "__file__", None)
    if not file or not Path(file).is_file():
        return module, None, None
    path = Path(file).resolve()
    return module, path, hashlib.sha256(path.read_bytes()).hexdigest()


def module_origin(dotted: str) -> Path | None | bool:
    """The file ``import dotted`` would run, found without executing anything (a top package on sys.path,
    else in the current directory, see :func:`find_top`): a Path, None when the module has no file
    (built-in, namespace package), False when it cannot be found."""
    spec, search = None, None
    parts = dotted.split(".")
    for i in range(len(parts)):
        name = ".".join(parts[: i + 1])
        loaded = sys.modules.get(name)
        if loaded is not None:
            spec, search = loaded.__spec__, getattr(loaded, "__path__", None)
            if spec is None:  # e.g. __main__ run as a script
                return Path(loaded.__file__) if getattr(loaded, "__file__", None) else None
            continue
        spec = find_top(name) if i == 0 else _find_in(name, search)
        if spec is None:
            return False
        search = spec.submodule_search_locations
    origin = spec.origin if spec is not None and spec.has_location else None
    return Path(origin).resolve() if origin and Path(origin).is_file() else None


def _find_in(name: str, search: Any) -> Any:
    """The spec the import system finds for ``name`` in ``search`` (None: sys.path), ignoring sys.modules."""
    return next((s for f in sys.meta_path if (s := _find(f, name, search)) is not None), None)


def _find(finder: Any, name: str, path: Any) -> Any:
    find_spec = getattr(finder, "find_spec", None)
    return find_spec(name, path) if find_spec else None


def find_top(name: str) -> Any:
    """The spec of top-level module ``name``: on sys.path, else in the current directory, as ``python -c``
    or a notebook would find it (a console script such as ``vislab`` has no current directory on
    sys.path)."""
    return _find_in(name, None) or importlib.machinery.PathFinder.find_spec(name, [os.getcwd()])


@contextlib.contextmanager
def cwd_importable(dotted: str) -> Iterator[None]:
    """While inside, the current directory is on sys.path if only it holds ``dotted``'s top package."""
    top = dotted.partition(".")[0]
    here = top not in sys.modules and _find_in(top, None) is None and find_top(top) is not None
    with _on_sys_path(os.getcwd(), first=False) if here else contextlib.nullcontext():
        yield


@contextlib.contextmanager
def _on_sys_path(folder: str, first: bool) -> Iterator[None]:
    """While inside, ``folder`` is on sys.path (first, or last) unless it already was."""
    added = folder not in sys.path
    if added:
        sys.path.insert(0 if first else len(sys.path), folder)
    try:
        yield
    finally:
        if added and folder in sys.path:
            sys.path.remove(folder)


def _module_files(dotted: str) -> list[Path]:
    """Where a module reference's code lives: its file, or its top package's folder."""
    origin = module_origin(dotted.split(".")[0])
    if isinstance(origin, Path):
        return [origin.parent if origin.name == "__init__.py" else origin]
    return []


def _defined_in(module: ModuleType) -> list[str]:
    """The public classes and functions a module defines itself (not those it imports)."""
    return sorted(
        k
        for k, v in vars(module).items()
        if not k.startswith("_")
        and (inspect.isclass(v) or inspect.isfunction(v))
        and getattr(v, "__module__", None) == module.__name__
    )
