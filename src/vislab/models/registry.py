"""The model registry: ``model.name`` → builder, and the checks of ``model.*`` options.

A builder has the signature ``build(input_shape, num_classes, **options) -> nn.Module``, where
``input_shape`` is (C, H, W) for images or (D,) for feature vectors and the options come from
``model.*`` in the config. Each option declares its type and bounds in that signature (see
:mod:`vislab.models.options`), so a wrong key or an out-of-range value is a ConfigError before anything
is built (the pydantic checks and the sentences of a refused value: :mod:`vislab.models.option_checks`).
A family whose names share a prefix (``timm:<name>``) registers one builder for the prefix and checks
what it passes on itself.

This module imports no family: families import it, and :mod:`vislab.models` imports every family.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import torch.nn as nn
from pydantic import PlainValidator, ValidationError

from vislab.arguments import checked, users_frames
from vislab.errors import ConfigError, ModelNameTaken, UserCodeError, UserError
from vislab.models import registered_import, user
from vislab.models.calling import RESERVED, adapt, bound_now, source_files, target_of
from vislab.models.fingerprints import changes, code_fingerprint, file_sha256, same_code
from vislab.models.option_checks import explain, options_model, plain_values, validating
from vislab.models.unknown_names import DATA_GIVEN, data_given, synonym, unknown_model
from vislab.registry import NameTaken, registrar

if TYPE_CHECKING:
    from vislab.config import Config

Builder = Callable[..., nn.Module]
MODELS: dict[str, Builder] = {}
#: prefix → ``build(rest_of_name, input_shape, num_classes, **options)`` for names ``prefix:rest``.
MODEL_PREFIXES: dict[str, Builder] = {}
#: name → the record of the user's code registered under it (:func:`registered_code`): its one record
_CODE: dict[str, dict[str, Any]] = {}
# model name → the values a preset fills its unset options with (register_model's ``presets``)
_PRESETS: dict[str, Callable[[str | None], dict[str, Any]]] = {}


class WeightOptions(NamedTuple):
    """The options a family loads weights by (:data:`COPIES_WEIGHTS`): ``published`` true, a ``file``."""

    published: str
    file: str


COPIES_WEIGHTS: dict[str, WeightOptions] = {}


def _model_name(name: Any) -> str:
    """``register_model``'s name: a string, one word without ':' (a prefix's: ``timm:``, ``file.py:Net``); a
    class or function given instead is the decorator written without its name (``@vislab.register_model``
    alone), which would replace the class by a decorator."""
    if isinstance(name, str):
        if not name.strip() or ":" in name or any(c.isspace() for c in name):
            raise UserError(
                f"vislab.register_model({name!r}): a model's name is one word without ':' — a name with "
                f"':' means another kind of model (timm:NAME, torchvision:NAME, FILE.py:Class), which it "
                f"would hide. Choose a name such as 'my-net'."
            )
        return name
    if callable(name):
        own = getattr(name, "__name__", "")
        own = own if own.isidentifier() else "net"  # a lambda's is <lambda>
        raise UserError(
            f'@vislab.register_model takes the model\'s name: write @vislab.register_model("{own.lower()}") '
            f'above {own} (then model.name={own.lower()} in a config, or vislab.train(model="{own.lower()}")).'
        )
    raise UserError(
        f"vislab.register_model takes the model's name, a string, not {type(name).__name__} ({name!r})."
    )


ModelName = Annotated[str, PlainValidator(_model_name)]


@checked
def register_model(
    name: ModelName, presets: Callable[[str | None], dict[str, Any]] | None = None
) -> Callable[[Builder], Builder]:
    """Decorator: register ``build(input_shape, num_classes, **options)``, or an ``nn.Module`` class taking
    ``num_classes`` (and ``input_shape`` if it names it), as model ``name``; returns it unchanged.
    ``presets``: for a builder whose options default to None to be filled by its ``preset`` option, the
    values preset ``p`` (None: no preset given) fills them with (:func:`option_defaults`).

    Another class or function under a taken name is a UserError saying how to go on (another name; in
    a notebook, the same class name again, or a new kernel): the runs trained as ``name`` record the
    class they were trained with, which ``name`` keeps. The same module and qualified name again (a
    notebook cell run again, a module re-imported) replaces the entry, with its code as it is now. A
    class or builder of yours (not vislab's own) is recorded with the sha256 of its source and of the
    code of yours it runs (:func:`vislab.models.fingerprints.code_fingerprint`; ``model_code`` in the
    run's checkpoints and summary.json): once ``name`` holds code that differs (more than in comments
    and docstrings), a run trained with the earlier code is refused (UserCodeError) by evaluate, predict
    and resume, in this process or another, until the definition it was trained with is registered
    again; so is ``name`` itself once its module binds another definition to the class's name
    (:func:`_lookup`).

    >>> @vislab.register_model("tiny")
    ... class Tiny(nn.Module):
    ...     def __init__(self, num_classes: int, width: int = 32): ...
    """
    if presets is not None:
        _PRESETS[name] = presets

    def deco(obj: Builder) -> Builder:
        try:
            return register_as(name, obj)
        except NameTaken:  # by vislab's model, or by another class of yours
            raise _taken(name, obj) from None

    return users_frames(deco)


def register_as(name: str, obj: Builder) -> Builder:
    """:func:`register_model`'s work: ``obj`` (a class or builder; a model object's builder,
    :mod:`vislab.models.objects`) registered as ``name``, a class or the user's function called by
    :func:`~vislab.models.calling.adapt`, its code recorded; ValueError when another class
    or builder holds ``name`` (the registrar's :class:`~vislab.registry.NameTaken`)."""
    put = registrar(MODELS, name, "model")
    target = target_of(obj)  # a model object's builder: the user's class or function it calls
    where = _origin(target)
    # a class, or a function of the user's, called by the one convention (calling.adapt): the user's
    # exception is a UserCodeError naming their line; vislab's builders and model objects' go in as they are
    if inspect.isclass(obj) or (target is obj and _is_users(obj)):
        put(adapt(obj, name, where, source_files(obj)))
    else:
        put(obj)
    if _is_users(obj):  # the run records it; reopening it checks it (objects.check_unchanged)
        _CODE[name] = {"reference": name, "object": where, **code_fingerprint(target)}
        _CODE[name].update(_module_hash(target))
    else:
        _CODE.pop(name, None)
    return obj


def _module_hash(target: Any) -> dict[str, str]:
    """``{"module_sha256": …}``: the sha256 of the file of the module defining ``target`` where another
    process may import it (not ``__main__``), which lets a run reopen by importing that module
    (:func:`vislab.models.registered_import.import_registered`); else empty."""
    module = sys.modules.get(getattr(target, "__module__", None) or "__main__")
    file = getattr(module, "__file__", None)
    if module is None or module.__name__ == "__main__" or not file or not Path(file).is_file():
        return {}
    return {"module_sha256": file_sha256(Path(file))}


def _taken(name: str, obj: Builder) -> ModelNameTaken:
    """Why ``obj`` is not registered as ``name``, which another class or builder holds, and how to go on."""
    old, new = target_of(MODELS[name]), target_of(obj)
    own = getattr(new, "__name__", "")
    tries = [own.lower(), f"my-{name}", *(f"{name}-{i}" for i in range(2, len(MODELS) + 3))]
    free = next(t for t in tries if t and t not in MODELS)
    said = (
        f"vislab.register_model('{name}'): model '{name}' is already registered by {_origin(old)}"
    )
    other = f"register {_origin(new)} under another name, e.g. @vislab.register_model('{free}')"
    if name not in _CODE:  # vislab's own
        return ModelNameTaken(f"{said}, one of vislab's models: {other}.")
    again = getattr(old, "__name__", "")
    same_module = getattr(old, "__module__", None) == getattr(new, "__module__", "")
    rename = f"; or name it {again} again (the same name replaces its entry)" * same_module
    return ModelNameTaken(
        f"{said}, earlier in this process, which keeps it: the runs trained as '{name}' are of "
        f"{again}. To go on, {other}{rename}; or restart the kernel (a new Python process starts with "
        f"vislab's models only)."
    )


def code_of(name: str) -> dict[str, Any] | None:
    """The record of the user's code that model ``name`` is built from, as a run records it (``model_code``
    in its checkpoints and summary.json): reference, its file or the object it names, the sha256 of its
    source and of the user's modules it imported; None for vislab's own models. A file reference is
    recorded as the file is now: ask with the name just built (a resumed run's ``build_as``).
    ConfigError for a name no model has."""
    return _resolve(name)[1]


def registered_code(name: str) -> dict[str, Any] | None:
    """The record of the user's code registered as ``name``: a model object (``vislab.train(model=Net)``)
    or a class or builder of the user's (reference, where it is defined, the sha256 of its source); None
    for vislab's own models and for names not registered."""
    return _CODE.get(name)


def _is_users(obj: Any) -> bool:
    """Whether ``obj``, given to :func:`register_model`, is the user's code to fingerprint: a builder vislab
    made for a model object (``vislab.train(model=Net)``: its target is not itself), or a class or
    function not vislab's own."""
    module = getattr(obj, "__module__", None) or ""
    return target_of(obj) is not obj or module.partition(".")[0] != "vislab"


def _origin(obj: Any) -> str:
    """Where ``obj`` is defined: ``module.QualifiedName``."""
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def register_model_prefix(prefix: str) -> Callable[[Builder], Builder]:
    """Decorator: ``build(rest, input_shape, num_classes, **options)`` builds every ``prefix:rest``."""
    return registrar(MODEL_PREFIXES, prefix, "model prefix")


def unregister_model(name: str) -> None:
    """Remove model ``name`` from the registry (e.g. a test's toy family, when the test ends)."""
    _CODE.pop(name, None)
    _PRESETS.pop(name, None)
    COPIES_WEIGHTS.pop(name, None)
    if MODELS.pop(name, None) is None:
        raise KeyError(f"no model '{name}' is registered")


def model_kwargs(name: str) -> dict[str, Any]:
    """The options a model accepts, with defaults (for `model info` and messages)."""
    params = inspect.signature(_lookup(name)).parameters.items()
    return {
        k: (None if p.default is p.empty else p.default)
        for k, p in params
        if k not in RESERVED and p.kind is not p.VAR_KEYWORD
    }


def weight_options(name: str) -> WeightOptions | None:
    """Model ``name``'s family's declared :class:`WeightOptions` (``timm:``'s); None for a user's model."""
    return COPIES_WEIGHTS.get(name.partition(":")[0] + ":" if ":" in name else name)


def copies_weights(name: str, options: dict[str, Any]) -> bool:
    """Whether model ``name`` with ``options`` loads trained weights by the options it declares."""
    w = weight_options(name)
    return w is not None and (bool(options.get(w.published)) or options.get(w.file) is not None)


def option_defaults(name: str, preset: str | None = None) -> dict[str, Any]:
    """The values model ``name``'s options take when left unset: its signature's defaults, those it leaves
    to a preset (None) filled by ``preset``'s (default: the preset its signature names)."""
    defaults = model_kwargs(name)
    fill = _PRESETS.get(name)
    if fill is None:
        return defaults
    filled = fill(preset if preset is not None else defaults.get("preset"))
    return {k: filled.get(k) if v is None else v for k, v in defaults.items()}


def check_model_options(
    name: str, kwargs: dict[str, Any], source: str | None = None, chosen: bool = True
) -> dict[str, Any]:
    """``kwargs`` as model ``name``'s builder takes them, the ones to record (config.yaml, checkpoints):
    each value coerced to the type its signature declares (``batchnorm="yes"`` → ``True``, ``width=8.0``
    → ``8``), as plain values. ConfigError for an option the model does not take, or a value of the wrong
    type or out of its declared range; builds nothing. ``source``: where the options were written (a
    sweep or suite file), named as a config error names it ("Invalid config (SOURCE): ..."); ``chosen``
    False: no model.name was given (``name`` is the default's), and an unknown option that is no typo of
    the default's says so. A builder that passes any option on (timm) checks them as it builds: as given."""
    invalid = (
        (lambda why: ConfigError(f"Invalid config ({source}):\n  {why}")) if source else ConfigError
    )
    try:
        fn = _lookup(name)
    except ConfigError as e:  # no model of that name: said naming where it was written
        if source is None or type(e) is not ConfigError:
            raise
        raise invalid(str(e)) from None
    params = inspect.signature(fn).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return dict(kwargs)
    options = [p.name for p in params if p.name not in RESERVED]
    for key in kwargs:
        if key not in options:
            valid = ["name", *options]  # model.name picks the model: a key of the section too
            near = meant_option(key, valid)
            # no typo of the default's options: another model's option
            if not near and not chosen and key not in DATA_GIVEN:
                raise invalid(
                    f"unknown config key 'model.{key}': no model.name was given, and the default "
                    f"model, '{name}', has no such option. Give model.name (Python: model=), the model "
                    f"whose option it is (`vislab model list` names the models and their options)."
                )
            hint = f" Did you mean 'model.{near}'?" if near else data_given(key)
            raise invalid(
                f"model '{name}' has no option 'model.{key}'.{hint} Valid keys: {', '.join(valid)}."
            )
    try:
        options = options_model(fn).model_validate(kwargs)
    except ValidationError as e:
        raise invalid(explain(name, fn, kwargs, e)) from None
    return plain_values(options, kwargs)


def meant_option(key: str, valid: list[str]) -> str | None:
    """The one of ``valid`` an unknown option ``key`` means: its synonym (``drop_rate``: ``dropout``),
    else a close spelling; none for what the data give (``in_chans``)."""
    if key in DATA_GIVEN:
        return None
    return synonym(key, valid) or next(iter(difflib.get_close_matches(key, valid, n=1)), None)


def with_checked_options(cfg: Config, name: str | None = None) -> Config:
    """``cfg`` with its ``model.*`` options as :func:`check_model_options` returns them for model ``name``
    (default ``cfg.model.name``; a resumed run's code found elsewhere is built under another): what a run
    records in config.yaml and its checkpoints, whatever the spelling it was given in."""
    options = check_model_options(name or cfg.model.name, cfg.model.kwargs())
    return cfg.model_copy(update={"model": type(cfg.model)(name=cfg.model.name, **options)})


def build_model(
    name: str, input_shape: tuple[int, ...], num_classes: int, **kwargs: Any
) -> nn.Module:
    """Build a registered model, its options checked against the builder's signature first."""
    fn = _lookup(name)
    check_model_options(name, kwargs)
    if isinstance(fn, functools.partial):  # a prefix family: it checks what it passes on
        model = fn(input_shape, num_classes, **kwargs)
    else:
        try:
            model = validating(fn)(input_shape, num_classes, **kwargs)
        except ValidationError as e:
            raise ConfigError(explain(name, fn, kwargs, e)) from None
    return model


def _lookup(name: str) -> Builder:
    """The builder of ``name`` (:func:`_resolve`)."""
    return _resolve(name)[0]


def _resolve(name: str) -> tuple[Builder, dict[str, Any] | None]:
    """The builder of ``name``, and the record of the user's code it builds (None for vislab's own): a
    registered model; for ``prefix:rest``, the prefix's builder with ``rest`` bound; else a user's own
    model referenced as ``file.py:attr`` or ``package.module:attr`` (:mod:`vislab.models.user`)."""
    if name in MODELS:
        _check_current(name, MODELS[name])
        return MODELS[name], _CODE.get(name)
    prefix, _, rest = name.partition(":")
    if rest and prefix in MODEL_PREFIXES:
        return functools.partial(MODEL_PREFIXES[prefix], rest), None
    own = user.resolve(name)  # path/to/file.py:Net or package.module:build: imports the user's code
    if own is not None:
        return own
    raise ConfigError(unknown_model(name, MODELS, MODEL_PREFIXES))


def require_registered(name: str, record: Any, trust_code: bool = False) -> None:
    """Before a run's model ``name`` is rebuilt, where no model has that name here but the run's
    ``record`` (its ``model_code``) says it was a class or builder of the user's registered in another
    Python process (``@vislab.register_model("tiny")``, ``vislab.train(model=Net)``): its module imported
    where it can be, under a file model's trust rules (:func:`registered_import.import_registered`), which
    registers it again; else ConfigError naming it (``__main__.Tiny``) and how to register it again."""
    where = record.get("object") if isinstance(record, dict) else None
    if name in MODELS or not isinstance(where, str) or user.is_user_reference(name):
        return
    prefix, _, rest = name.partition(":")
    if rest and prefix in MODEL_PREFIXES:
        return
    why = (
        registered_import.import_registered(where, record, trust_code)
        if not name.startswith("user-")
        else ""
    )
    if name not in MODELS:
        raise ConfigError(unknown_model(name, MODELS, MODEL_PREFIXES, where, why))


def _check_current(name: str, builder: Builder) -> None:
    """UserCodeError when the user's class or builder registered as ``name`` is no longer the one its
    module binds to that name: a notebook cell run again with other code (a bug fixed) defined another,
    which would silently not be the model built."""
    if name not in _CODE:
        return  # vislab's own
    target = target_of(builder)
    now = bound_now(target)
    if now is None or now is target:
        return
    attr = target.__qualname__
    old_code, new_code = code_fingerprint(target), code_fingerprint(now)
    was, is_now = old_code["source_sha256"], new_code["source_sha256"]
    if was is None or is_now is None or same_code(old_code, new_code):
        return  # a comment or a docstring edited: the same model
    kind = "class" if inspect.isclass(now) else "function"
    train = (
        f"vislab.train(model={attr}, ..., overwrite=True)"
        if name.startswith("user-")
        else f"register it again (vislab.register_model('{name}') on the new {attr}) and train with "
        f"overwrite=True"
    )
    raise UserCodeError(
        f"model '{name}' is the {kind} {attr} as registered earlier, but {target.__module__}.{attr} "
        f"has been redefined since ({changes(was, is_now)}): the {attr} your code defines now is not "
        f"the one '{name}' was registered (and its runs trained) with, so neither is used silently. To "
        f"reopen or resume a run with the code it was trained with, run the earlier definition of "
        f"{attr} again; to train the new {attr}, {train} (another out= keeps the earlier run)."
    )
