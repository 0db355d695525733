"""Models given to ``vislab.train(model=...)`` as Python objects: the name a run records them by, and
the fingerprint of their source that lets a reopened run notice that the object was redefined since.

A class or function defined at the top of a module that another process can import is recorded by its
reference ``module:attr`` (:mod:`vislab.models.user` imports and hashes it as for
``model.name=package.module:Net``). Any other object — a notebook's or a script's ``__main__``, a class
made inside a function — is registered in this process only, as ``user-<qualified name>``, with the
sha256 of its source: a notebook cell run again with other code replaces it, and reopening a run trained
with the earlier code is then refused by :func:`check_unchanged`, saying what changed. A class registered
under a name of the user's (``@vislab.register_model("tiny")``) is fingerprinted and checked the same way.
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path
from typing import Any

from vislab.errors import ConfigError, UserCodeError
from vislab.models import user
from vislab.models.calling import RESERVED, adapt, bound_now, source_files, target_of
from vislab.models.fingerprints import (
    changes,
    check_imports,
    code_fingerprint,
    own_source_sha256,
    same_code,
)
from vislab.models.registry import (
    MODEL_PREFIXES,
    MODELS,
    register_as,
    register_model,
    registered_code,
    require_registered,
)

PREFIX = "user-"  # the registered names of model objects


def is_user_object(name: str) -> bool:
    """True for the name of a model object registered by ``vislab.train(model=obj)``."""
    return name.startswith(PREFIX)


def python_only(model_name: str, data_name: str) -> bool:
    """Whether a run of ``model_name`` on ``data_name`` can be trained again only from Python: its model
    an object or its data arrays given to ``vislab.train`` in a process of their own, which a
    ``vislab train --config`` command cannot reach."""
    return is_user_object(model_name) or data_name.startswith("memory:")


def is_users_code(name: str) -> bool:
    """True when model ``name`` is the user's own code: a model object, a class or builder of the user's
    registered under a name (``@vislab.register_model``), or a reference (``file.py:Net``,
    ``package.module:Net``)."""
    return is_registered_users(name) or user.is_user_reference(name)


def is_users_forward(name: str) -> bool:
    """True when the user wrote model ``name``'s forward (:func:`is_users_code`), not a registered family's
    (``timm:resnet18``: code outside vislab, but not the user's to check)."""
    prefix, _, rest = name.partition(":")
    return is_users_code(name) and not (rest and prefix in MODEL_PREFIXES)


def is_registered_users(name: str) -> bool:
    """True when the model registered as ``name`` is the user's own code: a model object, or a class or
    builder registered by ``@vislab.register_model`` outside vislab."""
    return is_user_object(name) or registered_code(name) is not None


def reference_of(obj: Any) -> str | None:
    """``module:attr`` for a class or function defined at the top of a module another process can import
    (found on sys.path or in the current directory); None for any other object (``__main__``'s, nested)."""
    module, attr = getattr(obj, "__module__", None), getattr(obj, "__qualname__", "")
    if not module or module == "__main__" or not attr.isidentifier():
        return None
    if module.partition(".")[0] in MODEL_PREFIXES:  # 'timm:Net' would name timm's model Net
        return None
    loaded = sys.modules.get(module)
    if getattr(loaded, attr, None) is not obj or not _importable(module):
        return None
    return f"{module}:{attr}"


def _importable(dotted: str) -> bool:
    """Whether ``import dotted`` from this process's sys.path or the current directory finds the module
    loaded here (its top package at the same place), with a file: so another process can import it."""
    top, loaded = dotted.partition(".")[0], sys.modules.get(dotted)
    spec, loaded_top = user.find_top(top), sys.modules.get(top)
    if spec is None or not spec.has_location or loaded is None or loaded_top is None:
        return False
    files = [getattr(loaded, "__file__", None), getattr(loaded_top, "__file__", None)]
    return all(files) and Path(spec.origin).resolve() == Path(files[1]).resolve()


def with_defaults(section: dict[str, Any]) -> dict[str, Any]:
    """A config's ``model`` section with the defaults of the options it leaves unset where its model is
    registered in this process only (a model object, a class of ``@vislab.register_model``): a run
    records them in its config.yaml, since no later process can look them up as the tables do a
    built-in's or a file's. Plain values only (a number, text, None, a list of them); any other
    model's section, and one of a model object not defined in this process yet (a run reopened after a
    restart, before its cell is run again: its config.yaml holds them), as given."""
    name = section.get("name")
    if not isinstance(name, str) or name not in MODELS or not is_registered_users(name):
        return section
    if user.is_user_reference(name):
        return section
    try:
        params = inspect.signature(MODELS[name]).parameters.values()
    except (TypeError, ValueError):  # no signature Python can read: the build says what is wrong
        return section
    plain = [p for p in params if p.name not in RESERVED and _plain(p.default)]
    return {**{p.name: p.default for p in plain}, **section}


def _plain(value: Any) -> bool:
    """Whether ``value`` reads back from YAML as itself: None, a bool, number or text, or a list of them."""
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str))


def code_files(name: str, code: dict[str, Any] | None) -> list[Path]:
    """The files of the user's own model ``name`` whose frames a traceback of its errors shows: the file
    its record ``code`` names (``file.py:Net``; ``registry.code_of`` of the name built) and the user's
    modules it imported, else the files defining the model object or class registered as ``name``."""
    code = code or {}
    if code.get("path"):
        folder = Path(code["path"]).parent
        return [
            Path(code["path"]),
            *((folder / rel).resolve() for rel in code.get("imports") or {}),
        ]
    target = target_of(MODELS.get(name))
    return source_files(target) if is_registered_users(name) and target is not None else []


def register(obj: Any) -> str:
    """Register ``obj`` (a class or builder function) in this process as ``user-<qualified name>``, called
    as a ``file.py:Net`` reference would be (:func:`vislab.models.calling.adapt`), its record
    (``registry.code_of``: checkpoints, summary.json) holding its source's fingerprint; return that name.
    The same module and qualified name (a notebook cell run again) replaces itself; ValueError when
    another model holds the name."""
    qual = getattr(obj, "__qualname__", type(obj).__qualname__).replace("<locals>.", "")
    name = PREFIX + (re.sub(r"[^A-Za-z0-9._-]+", "_", qual) or "model")
    where = f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"
    register_as(name, adapt(obj, name, where, source_files(obj)))  # records obj's code
    return name


def check_unchanged(name: str, recorded: Any, run: str, trust_code: bool = False) -> None:
    """Before run ``run``'s model ``name`` is rebuilt: UserCodeError when a module its file imported (a
    sibling ``blocks.py``) changed since (unless ``trust_code``: the code as it is now), or when neither
    the model object registered under that name nor the one its module now binds to the same name (a
    notebook cell run again) has the code the run recorded (:func:`same_code`: comments and docstrings
    aside) — the model built would not be the one trained; for a model object and a class registered
    with ``@vislab.register_model`` alike. A current
    definition that has it is registered again, a model object's after a restart too (its cell run again:
    :func:`_defined_again`). A model object defined again here whose source the run or this process lacks
    is refused (ConfigError: it cannot be checked). Nothing to compare passes: a run before vislab
    recorded its code, a registered model whose source Python cannot find now, a name neither registered
    nor defined again in this process."""
    _defined_again(name, recorded, run)
    imports = recorded.get("imports") if isinstance(recorded, dict) else None
    folder = _code_folder(name, recorded) if isinstance(imports, dict) and imports else None
    if folder is not None and not trust_code:
        check_imports(imports, folder, recorded.get("reference") or name, run)  # type: ignore[arg-type]
    require_registered(
        name, recorded, trust_code
    )  # registered in another process: which class, how
    was = recorded.get("source_sha256") if isinstance(recorded, dict) else None
    builder = MODELS.get(name) if is_registered_users(name) else None
    if not was or builder is None:
        return
    target = target_of(builder)
    known = [(o, code) for o in (bound_now(target), target) if o is not None and (code := _code(o))]
    if not known:
        return
    same = next((o for o, code in known if same_code(recorded, code)), None)
    if same is None and "uses" not in recorded:  # a run's from before the code a class uses counted
        same = next((o for o, _ in known if own_source_sha256(o) == was), None)
    if same is not None:
        if same is not target and is_user_object(name):  # the original definition, run again
            register(same)
        elif same is not target:  # a registered class's original definition, run undecorated
            register_model(name)(same)
        return
    shown, now = known[0][0], known[0][1]["source_sha256"]
    attr = getattr(shown, "__name__", name[len(PREFIX) :])
    who = "the run" if run == name else f"run '{run}'"  # resuming names the run by its model
    raise UserCodeError(
        f"{who} was trained with model '{name}', the "
        f"{'class' if inspect.isclass(shown) else 'function'} {attr} as it was defined then, but {attr} "
        f"has been redefined since ({changes(was, now)}): the model built now would not "
        f"be the one trained. Run the original definition of {attr} again (e.g. its notebook cell) "
        f"and reopen the run, give the new version another name, or put {attr} in a file and train "
        f"with model.name=path/to/file.py:{attr}, whose runs each reopen with their own code."
    )


def _defined_again(name: str, recorded: Any, run: str) -> None:
    """Model object ``name`` of run ``run`` trained in another process (a kernel since restarted), not
    registered here: the class or function its ``recorded`` code names (``__main__.MyNet``), where this
    process defines it again (its cell run again), registered under ``name`` as ``vislab.train(model=
    MyNet)`` would — looked up in the module already loaded, nothing imported; :func:`check_unchanged`
    then compares its code with the run's. ConfigError where that cannot be compared (the run or this
    process has no source of it: ``python -c``, a plain ``python`` prompt): another class of that name
    would be used silently."""
    where = recorded.get("object") if isinstance(recorded, dict) else None
    if not is_user_object(name) or name in MODELS or not isinstance(where, str):
        return
    module, _, attr = where.rpartition(".")
    obj = getattr(sys.modules.get(module), attr, None)
    ours = inspect.isclass(obj) or inspect.isfunction(obj)
    if not ours or getattr(obj, "__qualname__", None) != attr or PREFIX + attr != name:
        return
    if (recorded.get("source_sha256") or recorded.get("code_sha256")) and _code(obj) is not None:
        register(obj)
        return
    whose = "this process's" if recorded.get("source_sha256") else "the run's"
    who = "The run" if run == name else f"Run '{run}'"
    raise ConfigError(
        f"{who} was trained with model '{name}', {where} given to vislab.train(model=...) in another "
        f"Python process, but Python cannot find {whose} source of {attr} (code typed at a plain python "
        f"prompt or passed to python -c): the {attr} defined here cannot be checked to be the one "
        f"trained, so it is not used. If it is, register it: vislab.register_model('{name}') on "
        f"{attr}; or put {attr} in a file and train with model.name=path/to/file.py:{attr}, whose runs "
        f"each reopen with their own code."
    )


def _code(obj: Any) -> dict[str, Any] | None:
    """The fingerprint of ``obj``'s code (:func:`code_fingerprint`); None where Python cannot find it."""
    code = code_fingerprint(obj)
    return code if code["source_sha256"] else None


def _code_folder(name: str, recorded: dict) -> Path | None:
    """The folder of the file model ``name`` is built from now (the paths of the modules it imported are
    relative to it): a file reference's, a module's (found without importing it), else the recorded one's."""
    ref = user.parse_reference(name) if user.is_user_reference(name) else None
    if ref is not None and ref.is_file:
        return Path(ref.target).expanduser().resolve().parent
    origin = user.module_origin(ref.target) if ref is not None else None
    if isinstance(origin, Path):
        return origin.parent
    path = recorded.get("path")
    return Path(path).parent if isinstance(path, str) else None
