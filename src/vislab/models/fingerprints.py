"""Fingerprints of the user's model code: the sha256 of a class's or function's source followed by the
user's code it runs (base classes, the functions and classes it calls, the globals it reads: a notebook's
other cells), its text remembered in this process to show what a later version changed; and the user's
own modules a model's file imported.

A model file rarely stands alone: ``model.py`` does ``from blocks import Block``, a sibling file. Those
modules — whose files lie under the model file's folder or the current directory, outside installed
packages, the standard library and vislab — are recorded with their sha256 in the run's record
(``model_code["imports"]``, paths relative to the model file's folder), and a run is reopened or resumed
only while each still has the recorded bytes: editing ``blocks.py`` would otherwise change the model
the run's weights are loaded into, silently.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import dis
import hashlib
import inspect
import linecache
import os
import re
import sys
import sysconfig
import textwrap
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from vislab.errors import UserCodeError

# sha256 → the text fingerprinted in this process (to show what a later version changed)
_TEXTS: dict[str, str] = {}
# (a module's file, the module's id) → the file's sha256 when vislab first saw the module: the code that
# runs until the module is imported anew (a model file keeps the classes it imported), edited or not
_SEEN: dict[tuple[Path, int], str] = {}
_VISLAB_DIR = Path(__file__).resolve().parents[1]
_INSTALLED = ("site-packages", "dist-packages")


def remember(text: str) -> str:
    """The sha256 of ``text`` (UTF-8), the text kept in this process to show later what changed."""
    sha = hashlib.sha256(text.encode()).hexdigest()
    _TEXTS[sha] = text
    return sha


def file_sha256(path: Path) -> str:
    """The sha256 of the file's bytes, its text (when it is UTF-8) kept as :func:`remember` keeps one."""
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    with contextlib.suppress(UnicodeDecodeError):  # a compiled extension: no lines to show
        _TEXTS[sha] = data.decode()
    return sha


def changes(was: str, now: str) -> str:
    """What changed from the text fingerprinted ``was`` to ``now``: the lines that differ when this
    process saw both, else the two fingerprints."""
    if was not in _TEXTS or now not in _TEXTS:
        return f"its sha256 is now {now[:12]}…, the run recorded {was[:12]}…"
    before, after = _parts(_TEXTS[was]), _parts(_TEXTS[now])
    said, left = [], 6
    for part in dict.fromkeys([*before, *after]):
        diff = difflib.unified_diff(before.get(part, []), after.get(part, []), n=0)
        lines = [d for d in diff if d[:1] in "+-" and not d.startswith(("+++", "---"))]
        if lines:
            shown = "; ".join(f"{d[0]} {d[1:].strip()}" for d in lines[: max(left, 1)])
            more = (
                f"; … {len(lines) - max(left, 1)} more lines" if len(lines) > max(left, 1) else ""
            )
            said.append(f"{part or 'its source'} changed: {shown}{more}")
            left -= len(lines)
    return "; ".join(said) or "its source changed"


def _parts(text: str) -> dict[str, list[str]]:
    """A fingerprinted text's lines by part: "" (the object's own source), then ``"the code it uses,
    module.Name,"`` and ``"the globals it uses"`` (:func:`code_fingerprint`)."""
    parts: dict[str, list[str]] = {"": []}
    part = ""
    for line in text.splitlines():
        if line.startswith(_HEADER + "uses "):
            what = line.removeprefix(_HEADER + "uses ")
            part = "the globals it uses" if what == "the globals" else f"the code it uses, {what},"
            parts[part] = []
        else:
            parts[part].append(line)
    return parts


def own_imports(module: ModuleType, new: Iterable[str], folder: Path) -> dict[str, str]:
    """``{path relative to folder: sha256}`` of the user's own modules that ``module`` (the model's file,
    in ``folder``) uses: those that appeared in sys.modules while it was imported (``new``, names) and
    those its namespace refers to (``import blocks``, ``from blocks import Block``), and theirs in turn;
    only files under ``folder`` or the current directory, outside installed packages, the standard
    library and vislab, and not the ``__init__`` of a package ``module`` is in (as for ``module`` itself,
    its own file is the one a run records). Each file's sha256 is the one it had when this process first
    saw the module: Python runs that code until the module is imported anew, edited or not."""
    roots = [folder.resolve(), Path.cwd().resolve()]
    parts = module.__name__.split(".")
    packages = [sys.modules.get(".".join(parts[:i])) for i in range(1, len(parts))]
    skip = {_file_of(m) for m in [module, *packages] if m is not None}
    queue = [module, *(m for n in new if (m := sys.modules.get(n)) is not None)]
    found: dict[Path, str] = {}
    seen: set[int] = set()
    while queue:
        m = queue.pop()
        if id(m) in seen:
            continue
        seen.add(id(m))
        if m is not module:
            path = _file_of(m)
            if path is None or not is_own_file(path, roots, skip):
                continue
            found[path] = _SEEN.setdefault((path, id(m)), file_sha256(path))
        queue += _modules_used(m)
    return {Path(os.path.relpath(p, roots[0])).as_posix(): found[p] for p in sorted(found)}


def _modules_used(module: ModuleType) -> list[ModuleType]:
    """The modules ``module``'s namespace holds, or whose classes and functions it holds."""
    used = []
    for value in list(vars(module).values()):
        if isinstance(value, ModuleType):
            used.append(value)
        elif (m := sys.modules.get(_owner(value))) is not None:
            used.append(m)
    return used


def _owner(value: object) -> str:
    """The name of the module that defined ``value`` (a class, a function), else ""."""
    try:
        owner = getattr(value, "__module__", None)
    except Exception:  # noqa: BLE001 - a proxy object whose attributes raise: defined nowhere of ours
        return ""
    return owner if isinstance(owner, str) else ""


def _file_of(module: ModuleType) -> Path | None:
    file = getattr(module, "__file__", None)
    try:
        return Path(file).resolve() if isinstance(file, str) and Path(file).is_file() else None
    except (OSError, ValueError):
        return None


def is_own_file(path: Path, roots: list[Path], skip: set[Path | None]) -> bool:
    """Whether ``path`` is a file of the user's own code: under one of ``roots``, not one of ``skip``,
    not part of an installed package, the standard library or vislab."""
    if path in skip or any(part in _INSTALLED for part in path.parts):
        return False
    system = {sysconfig.get_path(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    places = [Path(p).resolve() for p in system if p] + [_VISLAB_DIR]
    if any(path.is_relative_to(p) for p in places):
        return False
    return any(path.is_relative_to(r) for r in roots)


def check_imports(recorded: dict, folder: Path, model: str, run: str) -> None:
    """UserCodeError when a module that model ``model``'s file imported (``recorded``: relative path →
    sha256, from ``folder``) no longer has the recorded bytes: the model built now would not be the one
    run ``run`` trained. Checked before anything is imported."""
    changed = []
    for rel, was in recorded.items():
        path = folder / rel
        if not path.is_file():
            changed.append(f"{rel} is gone (no file {path})")
        elif (now := file_sha256(path)) != was:
            changed.append(f"{rel} changed ({changes(was, now)})")
    if changed:
        files = ", ".join(rel for rel in recorded)
        who = "the run" if run == model else f"run '{run}'"  # resuming names the run by its model
        raise UserCodeError(
            f"{who} was trained with model '{model}', whose code imports {files}; since then "
            f"{'; '.join(changed)}. The model built now would not be the one trained, so it is not "
            f"rebuilt. Put back the version the run was trained with and reopen the run, or train a "
            f"new run with the code as it is now (to evaluate or draw the run with it anyway: "
            f"--trust-code, Python: trust_code=True)."
        )


def code_fingerprint(obj: Any) -> dict[str, Any]:
    """``{"source_sha256": …, "code_sha256": …}``: the sha256 of the object's source followed by the
    user's own code and the globals its behaviour depends on (:func:`users_code_used`), those named in
    ``"uses"`` (absent where there are none: a class that uses only libraries keeps the fingerprint of
    its own source); and of the same without comments and docstrings (:func:`same_code`); where
    Python cannot find the object's source (code typed at a plain ``python`` prompt or passed to
    ``python -c``), ``None`` and ``"source"`` saying why."""
    try:
        source = _source(obj)
    except (OSError, TypeError) as e:
        return {"source_sha256": None, "source": f"unavailable ({e})"}
    code, bound = users_code_used(obj)
    parts = [("", source)] + [(f"\n{_HEADER}uses {_where(u)}\n", _source_or_why(u)) for u in code]
    if bound:
        parts.append((f"\n{_HEADER}uses the globals\n", "\n".join(bound[k] for k in sorted(bound))))
    text = "".join(h + t for h, t in parts)
    bare = "".join(h + _without_comments(t) for h, t in parts)
    found = {
        "source_sha256": remember(text),
        "code_sha256": hashlib.sha256(bare.encode()).hexdigest(),
    }
    if not code and not bound:
        return found
    return {**found, "uses": [*map(_where, code), *sorted(bound)]}


def same_code(was: dict[str, Any], now: dict[str, Any]) -> bool:
    """Whether two records of a class's or function's code (:func:`code_fingerprint`'s; ``was`` a run's)
    are of the same code: the same source, or where both record it (runs since vislab did), the same
    code once comments and docstrings are left out — a comment or a docstring added in a notebook's cell
    changes no model."""
    sha = was.get("source_sha256")
    if sha and sha == now.get("source_sha256"):
        return True
    code = was.get("code_sha256")
    return bool(code) and code == now.get("code_sha256")


def _without_comments(source: str) -> str:
    """``source`` as Python reads it, without its comments and docstrings (``ast.unparse`` of it without
    them); as it is where it is no Python (a source Python could not find)."""
    try:
        tree = ast.parse(textwrap.dedent(source))
    except (SyntaxError, ValueError):
        return source
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, _DOCUMENTED) and body and _is_docstring(body[0]):
            node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree)


_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _is_docstring(statement: ast.stmt) -> bool:
    value = getattr(statement, "value", None)
    return (
        isinstance(statement, ast.Expr)
        and isinstance(value, ast.Constant)
        and isinstance(value.value, str)
    )


def own_source_sha256(obj: Any) -> str | None:
    """The sha256 of the object's own source alone: its fingerprint as runs recorded it before it covered
    the code the object uses (their ``model_code`` has no ``"uses"``); None where Python cannot find it."""
    try:
        return remember(_source(obj))
    except (OSError, TypeError):
        return None


_HEADER = "# vislab: "  # the line that starts each part of a fingerprinted text but the object's own source


def users_code_used(obj: Any) -> tuple[list[Any], dict[str, str]]:
    """What ``obj`` (a class or function) runs besides its own source: the user's own classes and
    functions — its base classes, those its code (its methods', their nested functions') names as
    globals, and theirs in turn — sorted by ``module.Name``; and the other globals that code names,
    ``{name: "name = value"}``: a number (a tuple of them), or a library's class or function under a name of the
    user's (``ACT = nn.ReLU``). The user's own: defined in ``obj``'s module (a notebook's ``__main__``,
    the user's file) or in a file beside it or under the current directory — not in vislab, the standard
    library or an installed package. As modules bind them now: a cell run again with another
    ``block`` changes the model a class calling ``block()`` builds."""
    module = sys.modules.get(_owner(obj))
    folder = _file_of(module) if module is not None else None
    roots = [Path.cwd().resolve(), *([folder.parent] if folder is not None else [])]
    found: dict[int, Any] = {}
    bound: dict[str, str] = {}
    queue = [obj]
    while queue:
        for name, value in _refers_to(queue.pop()):
            if _is_users(value, _owner(obj), roots):
                if value is not obj and id(value) not in found:
                    found[id(value)] = value
                    queue.append(value)
            elif name and (line := _binding(name, value)):
                bound[name] = line
    return sorted(found.values(), key=_where), bound


def _refers_to(obj: Any) -> list[tuple[str | None, Any]]:
    """(global name or None, value): what ``obj`` refers to outside its own source: a class's bases and
    the classes and functions of its namespace defined elsewhere, and what its methods (a function's
    code) load by global name."""
    if inspect.isfunction(obj):
        return _globals_named(obj)
    if not inspect.isclass(obj):
        return []
    refers: list[tuple[str | None, Any]] = [(None, base) for base in obj.__bases__]
    for value in vars(obj).values():
        for f in _functions_in(value):
            inside = f.__qualname__.startswith(f"{obj.__qualname__}.")
            refers += _globals_named(f) if inside else [(None, f)]
        if inspect.isclass(value):
            refers.append((None, value))
    return refers


def _functions_in(value: Any) -> list[Any]:
    """The functions a class attribute holds: itself, a static or class method's, a property's."""
    if isinstance(value, (staticmethod, classmethod)):
        value = value.__func__
    if isinstance(value, property):
        return [f for f in (value.fget, value.fset, value.fdel) if inspect.isfunction(f)]
    return [value] if inspect.isfunction(value) else []


_LOADS = frozenset({"LOAD_GLOBAL", "LOAD_NAME", "LOAD_FROM_DICT_OR_GLOBALS"})


def _globals_named(fn: Any) -> list[tuple[str | None, Any]]:
    """(name, value) of each global that function ``fn``'s code (and the code nested in it: lambdas,
    comprehensions, inner functions) loads, as its module binds it now; not the builtins."""
    space, found, codes = fn.__globals__, [], [fn.__code__]
    while codes:
        code = codes.pop()
        codes += [c for c in code.co_consts if inspect.iscode(c)]
        for ins in dis.get_instructions(code):
            if ins.opname in _LOADS and ins.argval in space:
                found.append((ins.argval, space[ins.argval]))
    return found


# the constants a fingerprint covers: numbers; not text, which may name this machine (DEVICE = "cuda")
_PLAIN = (bool, int, float, complex, type(None))


def _binding(name: str, value: Any) -> str | None:
    """``"name = value"`` for a global the user's code reads whose value is a number (or a tuple of
    them) or a library's class or function bound to another name than its own; None for the rest (a
    module, ``Conv2d`` imported as itself, an object)."""
    if inspect.isclass(value) or inspect.isfunction(value) or inspect.isbuiltin(value):
        alias = getattr(value, "__name__", name) != name
        return f"{name} = {_where(value)}" if alias else None
    plain = isinstance(value, _PLAIN) or (
        isinstance(value, tuple) and all(isinstance(v, _PLAIN) for v in value)
    )
    text = repr(value) if plain else ""
    return f"{name} = {text}" if text and len(text) <= 200 else None


def _is_users(obj: Any, home: str, roots: list[Path]) -> bool:
    """Whether ``obj`` is a class or function of the user's own code: defined in module ``home`` (the
    model's) or ``__main__``, or in a file under one of ``roots`` outside installed packages, the
    standard library and vislab."""
    owner = _owner(obj)
    if not (inspect.isclass(obj) or inspect.isfunction(obj)) or owner.partition(".")[0] == "vislab":
        return False
    if owner in (home, "__main__"):
        return True
    module = sys.modules.get(owner)
    path = _file_of(module) if module is not None else None
    return path is not None and is_own_file(path, roots, set())


def _where(obj: Any) -> str:
    return f"{_owner(obj)}.{getattr(obj, '__qualname__', '?')}"


def _source_or_why(obj: Any) -> str:
    try:
        return _source(obj)
    except (OSError, TypeError) as e:
        return f"(source unavailable: {e})"


def _source(obj: Any) -> str:
    """The source of a function or class. Python finds a class's by its name in its module's file, which
    a notebook's ``__main__`` lacks (before Python 3.13) and where a script may define it twice: so a class
    with functions of its own is read from where their code says it is, the ``class`` line above them."""
    own = [
        f.__code__
        for f in vars(obj).values()
        if inspect.isfunction(f) and f.__qualname__.startswith(f"{obj.__qualname__}.")
    ]
    if not inspect.isclass(obj) or not own:
        return inspect.getsource(obj)
    first = min(own, key=lambda c: c.co_firstlineno)
    lines = linecache.getlines(first.co_filename)
    header = re.compile(rf"\s*class\s+{re.escape(obj.__name__)}\b")
    above = range(min(first.co_firstlineno, len(lines)) - 1, -1, -1)
    start = next((i for i in above if header.match(lines[i])), None)
    if start is None:
        raise OSError(f"could not find the source of class {obj.__qualname__}")
    return "".join(inspect.getblock(lines[start:]))
