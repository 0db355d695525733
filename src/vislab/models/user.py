"""Users' own models, named by a reference instead of a registered name.

``model.name=path/to/file.py:Net`` (a file: the part before ':' ends in ``.py`` or holds a '/', relative
to the current directory) or ``model.name=package.module:build`` (a module importable from sys.path or
from the current directory). A registered prefix (``timm:``) wins over both. The target is either

- an ``nn.Module`` subclass, called as ``Net(num_classes=K, **options)``, plus ``input_shape=(C, H, W)``
  when its ``__init__`` names an ``input_shape`` parameter (it must take ``num_classes``); or
- a builder function ``build(input_shape, num_classes, **options)`` returning an ``nn.Module``.

The options come from ``model.*`` and are checked against the target's signature like a built-in's
(:func:`vislab.models.registry.check_model_options`). A file is read once, hashed (sha256) and executed
from those very bytes under a unique module name; the model built from it carries ``vislab_code``
(reference, path, sha256), which the trainer records in checkpoints and summary.json.

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
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import torch.nn as nn
from pydantic import TypeAdapter

from vislab.errors import ConfigError, UntrustedCode, UserCodeError
from vislab.models.code_errors import code_failed

RESERVED = ("input_shape", "num_classes")  # what vislab passes; the other parameters are model.*

# (absolute path, sha256) → the module run from those bytes
_MODULES: dict[tuple[str, str], ModuleType] = {}
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


def resolve(name: str) -> Callable[..., nn.Module] | None:
    """A registry-style builder ``(input_shape, num_classes, **options)`` for a user reference (None for
    any other name); imports the user's code. UserCodeError naming the file and the fix when it is unusable."""
    ref = parse_reference(name)
    if ref is None:
        return None
    module, path, sha = _load_file(ref) if ref.is_file else _load_module(ref)
    where = str(path) if ref.is_file else f"module {ref.target}"
    if not hasattr(module, ref.attr):
        defined = _defined_in(module)
        example = f" (e.g. model.name={ref.target}:{defined[0]})" if defined else ""
        raise UserCodeError(
            f"model '{name}': {where} defines no '{ref.attr}'. It defines: "
            f"{', '.join(defined) or '(no classes or functions)'}. Name one of them after ':'{example}, "
            f"or define {ref.attr} there."
        )
    target = getattr(module, ref.attr)
    record = {"reference": name, "path": str(path) if path else None, "sha256": sha}
    key = (name, record["path"], sha, id(target))
    if key not in _ADAPTERS:
        files = [path] if path else _module_files(ref.target)
        _ADAPTERS[key] = adapt(target, name, where, files, record, attr=ref.attr)
    return _ADAPTERS[key]


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
    name = f"vislab_user_{''.join(c if c.isalnum() else '_' for c in path.stem)}_{sha[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[name] = module  # dataclasses, pickling and typing look the module up by name
    try:
        exec(compile(source, str(path), "exec", dont_inherit=True), module.__dict__)  # noqa: S102 - the user's own model file
    except Exception as e:
        del sys.modules[name]
        raise code_failed(ref.text, e, "while importing it", [path]) from None
    return module


def _load_module(ref: Reference) -> tuple[ModuleType, Path | None, str | None]:
    """The imported module, its file and the file's sha256 (None, None for a module without a file)."""
    if module_origin(ref.target) is False:
        raise UserCodeError(
            f"model '{ref.text}': no module named '{ref.target}' can be imported (looked on sys.path "
            f"and in the current directory, {Path.cwd()}). Install the package that provides it (or "
            f"check the spelling); for a single file use model.name=path/to/file.py:{ref.attr}."
        )
    try:
        with _cwd_importable(ref.target):
            module = importlib.import_module(ref.target)
    except Exception as e:
        raise code_failed(ref.text, e, "while importing it", _module_files(ref.target)) from None
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
def _cwd_importable(dotted: str) -> Iterator[None]:
    """While inside, the current directory is on sys.path if only it holds ``dotted``'s top package."""
    top = dotted.partition(".")[0]
    here = top not in sys.modules and _find_in(top, None) is None and find_top(top) is not None
    cwd = os.getcwd()
    if here:
        sys.path.append(cwd)
    try:
        yield
    finally:
        if here and cwd in sys.path:
            sys.path.remove(cwd)


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


# --------------------------------------------------------------------------------- building
def adapt(
    target: Any,
    label: str,
    where: str,
    files: list[Path],
    record: dict | None = None,
    attr: str | None = None,
) -> Callable[..., nn.Module]:
    """``target`` (an ``nn.Module`` class or a builder function) as a registry builder
    ``(input_shape, num_classes, **options)`` whose signature lists the options (with the target's type
    hints), so the registry checks ``model.*`` like a built-in's. The one calling convention of users'
    models, for ``file.py:Net`` references and for objects given to ``vislab.train(model=...)``:

    - a class is called as ``Net(num_classes=K, **options)``, plus ``input_shape=(C, H, W)`` when its
      ``__init__`` names it; a builder as ``build(input_shape, num_classes, **options)``.

    ``label`` names the model in messages, ``attr`` the target (default its ``__name__``), ``where`` the
    place it is defined, ``files`` the files whose
    frames a traceback of the user's code shows; ``record`` (reference, path, sha256) travels with the
    builder as ``vislab_code`` into checkpoints and summary.json, ``target`` as ``vislab_target`` (whose
    source a reopened run compares with the one it recorded: :mod:`vislab.models.objects`).
    """
    attr = attr or getattr(target, "__name__", type(target).__name__)
    params = _target_params(label, attr, where, target)
    options = _options(target, params)
    build = _caller(
        target, label, attr, where, files, takes_shape="input_shape" in {p.name for p in params}
    )
    P = inspect.Parameter
    reserved = [P(n, P.POSITIONAL_OR_KEYWORD) for n in RESERVED]
    build.__signature__ = inspect.Signature([*reserved, *options])  # type: ignore[attr-defined]
    build.__annotations__ = {p.name: p.annotation for p in options if p.annotation is not P.empty}
    build.__name__ = attr
    build.__qualname__ = getattr(target, "__qualname__", attr)
    build.__module__ = getattr(target, "__module__", None) or __name__
    build.__doc__ = getattr(target, "__doc__", None)
    build.vislab_target = target  # type: ignore[attr-defined]  # whose source a reopened run checks
    if record is not None:
        build.vislab_code = record  # type: ignore[attr-defined]
    return build


def _options(target: Any, params: list[inspect.Parameter]) -> list[inspect.Parameter]:
    """The target's ``model.*`` options: its parameters but the reserved ones, keyword-only, with its
    type hints (a ``**kwargs`` last)."""
    hints = _hints(target.__init__ if inspect.isclass(target) else target)
    P = inspect.Parameter
    options = [
        p.replace(kind=P.KEYWORD_ONLY, annotation=hints.get(p.name, P.empty))
        if p.kind is not P.VAR_KEYWORD
        else p
        for p in params
        if p.name not in RESERVED
        and p.kind in (P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY, P.VAR_KEYWORD)
    ]
    options.sort(key=lambda p: p.kind is P.VAR_KEYWORD)
    return options


def _caller(
    target: Any, label: str, attr: str, where: str, files: list[Path], takes_shape: bool
) -> Callable[..., nn.Module]:
    """``build(input_shape, num_classes, **options)`` calling ``target`` by the one convention; the
    user's exception or a non-module result is a UserCodeError naming the file."""
    is_class = inspect.isclass(target)

    def build(input_shape: Any, num_classes: Any, **kwargs: Any) -> nn.Module:
        try:
            if is_class:
                if takes_shape:
                    kwargs["input_shape"] = tuple(input_shape)
                model = target(num_classes=num_classes, **kwargs)
            else:
                model = target(tuple(input_shape), num_classes, **kwargs)
        except Exception as e:
            raise code_failed(label, e, "while building the model", files) from None
        if not isinstance(model, nn.Module):
            raise UserCodeError(
                f"model '{label}': {attr}(...) in {where} returned a {type(model).__name__}, "
                f"not a torch.nn.Module. Return the model itself (an nn.Module instance) from {attr}."
            )
        return model

    return build


def source_files(obj: Any) -> list[Path]:
    """The files defining a class's or function's code (a notebook cell is a file too): the frames of a
    traceback of the user's code that are shown."""
    funcs = [obj] if inspect.isfunction(obj) else []
    if inspect.isclass(obj):
        funcs = [f for c in obj.__mro__ if c.__module__ == obj.__module__ for f in vars(c).values()]
    return sorted({Path(f.__code__.co_filename) for f in funcs if inspect.isfunction(f)})


def _target_params(label: str, attr: str, where: str, target: Any) -> list[inspect.Parameter]:
    """The target's parameters; UserCodeError when it is no model class or builder, or when its
    signature lacks the arguments vislab passes."""
    what = f"model '{label}': {attr} in {where}"
    if inspect.isclass(target) and not issubclass(target, nn.Module):
        raise UserCodeError(
            f"{what} is a class but not a torch.nn.Module. Make it subclass nn.Module, or name a "
            f"builder function build(input_shape, num_classes, **options) that returns one."
        )
    if not callable(target):
        raise UserCodeError(
            f"{what} is a {type(target).__name__}, not callable. Name an nn.Module class or a builder "
            f"function build(input_shape, num_classes, **options)."
        )
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):  # a C callable without a signature: options unchecked
        return [inspect.Parameter("options", inspect.Parameter.VAR_KEYWORD)]
    names = [p.name for p in params]
    if inspect.isclass(target) and "num_classes" not in names:
        raise UserCodeError(
            f"{what} does not take num_classes (its parameters: {', '.join(names) or 'none'}). A model "
            f"class must accept num_classes, and may accept input_shape: "
            f"def __init__(self, num_classes, input_shape=None, ...)."
        )
    if not inspect.isclass(target) and names[:2] != list(RESERVED):
        raise UserCodeError(
            f"{what} takes ({', '.join(names)}), but a builder's first two parameters must be "
            f"input_shape and num_classes: def {attr}(input_shape, num_classes, **options)."
        )
    return params


def _hints(fn: Any) -> dict[str, Any]:
    """``fn``'s type hints that pydantic can check (Any in place of any other, e.g. an undefined name)."""
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception:  # noqa: BLE001 - a hint the user's module cannot resolve: left unchecked
        return {}
    return {k: v if _checkable(v) else Any for k, v in hints.items() if k != "return"}


def _checkable(hint: Any) -> bool:
    try:
        TypeAdapter(hint)
    except Exception:  # noqa: BLE001 - pydantic has no schema for it (an arbitrary class)
        return False
    return True
