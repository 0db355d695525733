"""The config of vislab.train's arguments (and of the API functions that take the same): a config, your
model and your data as vislab names."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import torch
from pydantic import BeforeValidator, InstanceOf

from vislab.config import Config, build_config, read_yaml, set_dotted
from vislab.config.build import TRAIN, Caller, set_model, setting_key
from vislab.data.sources import memory
from vislab.errors import UserError
from vislab.models import objects
from vislab.models.calling import target_of
from vislab.models.registry import MODELS, check_model_options


def _not_a_model(config: Any) -> Any:
    """``config`` as given; UserError for a model given as the first argument (``vislab.train(Net,
    data=...)``, which is the config): the way to give it as ``model=``."""
    if isinstance(config, torch.nn.Module):
        _check_model_object(config)
    model_class = inspect.isclass(config) and issubclass(config, torch.nn.Module)
    if model_class or inspect.isfunction(config):  # a builder, or any function: not a config
        name = config.__name__ if config.__name__.isidentifier() else "build"
        raise UserError(
            f"config: {name} is a model, not a config: give it as model={name}. The first argument "
            f"is the config: a dict, a YAML path or preset name, or a vislab.Config."
        )
    return config


# a Config is taken as it is (not validated again), a mapping as a config tree
ConfigLike = Annotated[
    InstanceOf[Config] | Mapping[str, Any] | str | Path | None, BeforeValidator(_not_a_model)
]


def make_config(
    config: ConfigLike = None,
    *,
    model: str | Callable[..., torch.nn.Module] | None = None,
    data: Any = None,
    overrides: Mapping[str, Any] | None = None,
    caller: Caller = TRAIN,
    base: Mapping[str, Any] | None = None,
) -> Config:
    """The validated Config of :func:`train`'s arguments: ``config`` ← ``model`` ← ``data`` ← overrides.

    ``caller``: the function whose arguments these are, named by its errors with the YAML file given as
    ``config`` ("Invalid config (bad.yaml + vislab.lr_find arguments)") and by the hint for a setting that
    is no config key (``epochs=1`` given to vislab.lr_find). ``base``: a config tree whose keys those
    arguments leave unset are kept (a resumed run's saved config), not the defaults."""
    tree = _on_top(base, _config_tree(config)) if base is not None else _config_tree(config)
    if isinstance(model, str):
        _check_quoted(model)
    if model is not None:
        set_model(tree, model if isinstance(model, str) else user_model(model))
    if data is not None:
        set_dotted(tree, "data.name", data if isinstance(data, str) else _data_name(data))
    for key, value in (overrides or {}).items():
        dotted = setting_key(key, value, caller)
        if dotted == "model.name":
            set_model(tree, value if isinstance(value, str) else user_model(value))
        else:
            set_dotted(tree, dotted, value)
    if isinstance(tree.get("model"), dict):  # a model of this process's: its defaults recorded too
        tree["model"] = objects.with_defaults(tree["model"])
    file = f"{config} + " if isinstance(config, (str, Path)) else ""
    source = f"{file}{caller.name} arguments"
    cfg = build_config(tree, source=source)
    chosen = "name" in cfg.model.model_fields_set  # else the default model's, never chosen
    check_model_options(cfg.model.name, cfg.model.kwargs(), source=source, chosen=chosen)
    return cfg


def _config_tree(config: ConfigLike) -> dict:
    if config is None:
        return {}
    if isinstance(config, Config):
        return config.to_dict()
    if isinstance(config, Mapping):
        return copy.deepcopy(dict(config))
    if isinstance(config, (str, Path)):
        return read_yaml(config)
    raise UserError(
        f"config must be a dict, a YAML path, a preset name or a vislab.Config, not {type(config).__name__}."
    )


def _on_top(base: Mapping[str, Any], tree: dict) -> dict:
    """Config ``tree`` on top of ``base``: the keys it leaves unset are base's, but a model section that
    names another model replaces base's (base's options are its own model's)."""
    out = copy.deepcopy(dict(base))
    for key, value in tree.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _on_top(out[key], dict(value))
        else:
            out[key] = copy.deepcopy(value)
    named = tree.get("model", {}).get("name") if isinstance(tree.get("model"), Mapping) else None
    if named is not None and named != base.get("model", {}).get("name"):
        out["model"] = copy.deepcopy(tree["model"])
    return out


# ------------------------------------------------------------------------------ user models
def user_model(obj: Callable[..., torch.nn.Module]) -> str:
    """The model name of your ``build(input_shape, num_classes, **options)`` function or ``nn.Module``
    class. One defined at the top of an importable module (``import nets; model=nets.Net``) is named by
    its reference ``nets:Net``, hashed and reopened anywhere as ``model.name=nets:Net`` is; any other (a
    notebook's, a script's) is registered in this process as ``user-<qualified name>`` with the sha256 of
    its source (a redefinition in a notebook cell replaces it; a run trained with the earlier one then
    refuses to reopen). A class is called as ``Net(num_classes=K, **options)``, plus
    ``input_shape=(C, H, W)`` when its ``__init__`` names it, as for ``model.name=file.py:Net``. The other
    parameters are ``model.*`` options, validated against their type hints like the built-in models'.

    >>> name = user_model(MyNet); vislab.train(model=name, model__width=64)
    """
    _check_model_object(obj)
    reference = objects.reference_of(obj)
    if reference is not None:
        return reference
    try:
        return objects.register(obj)
    except ValueError as e:
        raise UserError(
            f"{e} Rename your model, or register it yourself under a name of your choice with "
            f"@vislab.register_model('my-name') and pass model='my-name'."
        ) from None


def _check_model_object(obj: Any) -> None:
    """UserError unless ``obj`` may be a model: an instance (``Net(...)``), a class of torch's own
    (``nn.Sequential``: it takes no num_classes) or anything not callable is not."""
    if isinstance(obj, torch.nn.Module):
        cls = type(obj).__name__
        if not _takes_num_classes(type(obj)):
            raise UserError(
                f"model: you passed an instance of {cls} (an nn.Module object). {_builder(type(obj))}"
            )
        raise UserError(
            f"model: you passed an instance of {cls} (an nn.Module object); pass the class {cls} itself "
            f"(model={cls}, without parentheses): vislab builds it with num_classes and input_shape from "
            f"the data, and your options as model__<option>=value (e.g. model__width=64)."
        )
    torchs = inspect.isclass(obj) and obj.__module__.partition(".")[0] == "torch"
    if torchs and not _takes_num_classes(obj):  # nn.Sequential: not the user's to change
        raise UserError(f"model: you passed torch's class {obj.__name__}. {_builder(obj)}")
    if not callable(obj):
        raise UserError(
            f"model must be a registered name, a build(input_shape, num_classes, **options) callable or an "
            f"nn.Module class, not {type(obj).__name__}."
        )


def _check_quoted(name: str) -> None:
    """UserError where ``model=name``, a string, names no registered model but a class or builder of the
    user's: one given as ``model=`` before (``user-<name>``), or one the code calling vislab binds to
    that name (a notebook's cell, a script), to be given itself (``model=Net``, no quotes)."""
    if name in MODELS or not name.isidentifier():
        return
    given = MODELS.get(objects.PREFIX + name)
    obj = target_of(given) if given is not None else _users_binding(name)
    if obj is None:
        return
    kind = "class" if inspect.isclass(obj) else "function"
    raise UserError(
        f"model={name!r} names no registered model: did you mean model={name} (the {kind}, no "
        f"quotes)? Give your {kind} itself; a name in quotes names one of vislab's models or one you "
        f"registered (vislab.register_model)."
    )


def _users_binding(name: str) -> Any:
    """The nn.Module class or builder (a function taking num_classes) that the code calling vislab binds
    to ``name`` (a notebook's or a script's, not vislab's nor torch's), or None."""
    frame = inspect.currentframe()
    while frame is not None:
        if frame.f_globals.get("__name__", "").partition(".")[0] != "vislab":
            for scope in (frame.f_locals, frame.f_globals):
                if _is_users_model(scope.get(name)):
                    return scope[name]
        frame = frame.f_back
    return None


def _is_users_model(obj: Any) -> bool:
    """Whether ``obj`` is a model class or builder of the user's: an ``nn.Module`` class or a function
    taking ``num_classes``, defined outside vislab and torch."""
    if (getattr(obj, "__module__", None) or "").partition(".")[0] in ("vislab", "torch"):
        return False
    if inspect.isclass(obj):
        return issubclass(obj, torch.nn.Module)
    return inspect.isfunction(obj) and "num_classes" in inspect.signature(obj).parameters


def _takes_num_classes(cls: type) -> bool:
    """Whether class ``cls`` can be built as ``cls(num_classes=K)`` (it names num_classes, or takes
    ``**kwargs``)."""
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):  # no signature Python can read: let the build say
        return True
    return any(p.name == "num_classes" or p.kind is p.VAR_KEYWORD for p in params)


def _builder(cls: type) -> str:
    """How to give a model of class ``cls``, which takes no num_classes (``nn.Sequential``): a builder."""
    made = f"nn.{cls.__name__}" if cls.__module__.startswith("torch.nn") else cls.__name__
    return (
        f"{cls.__name__} takes no num_classes, and vislab builds the model itself, for the data's "
        f"input shape and number of classes: give a function that builds it, "
        f"def build(input_shape, num_classes): return {made}(...), then model=build (its other "
        f"parameters are options: model__<option>=value)."
    )


# ------------------------------------------------------------------------------------ user data
def _data_name(data: Any) -> str:
    """Register numpy arrays ``(x, y[, class_names])``, a dict of them with a test set, a val set or both,
    or a torch Dataset as in-memory data; its data.name."""
    if isinstance(data, torch.utils.data.Dataset):
        return memory.register_arrays(data)
    if isinstance(data, (tuple, list)) and len(data) in (2, 3):
        x, y, *rest = data
        return memory.register_arrays(x, y, class_names=rest[0] if rest else None)
    if isinstance(data, dict):  # {"train": (x, y[, names]), "test": (xt, yt), "val": (xv, yv)}
        return memory.register_arrays(data)
    if isinstance(data, torch.utils.data.DataLoader):
        raise UserError(
            "data: a DataLoader is not taken (vislab makes its own loaders, batched by "
            "train__batch_size): give its dataset, data=loader.dataset (a torch Dataset)."
        )
    raise UserError(
        f"data must be a dataset name, numpy arrays (x, y) or (x, y, class_names), a dict "
        f"{{'train': (x, y[, class_names]), 'test': (x_test, y_test), 'val': (x_val, y_val)}} "
        f"('test' and 'val' optional), or a torch Dataset, "
        f"not {type(data).__name__}."
    )


def shown_config(cfg: Config) -> str:
    """``cfg`` as `vislab config show` prints it: its YAML with every option of its model (the model's
    name and options checked as a run checks them; builds nothing), and the values a run uses for those
    left unset — a preset's or the model's builder's (``model.dropout: 0.5  # preset simple``), the
    schedule's own ``gamma`` — each marked by a comment, since config.yaml records them unset (null)."""
    from vislab.config.overrides import as_yaml
    from vislab.models.info import resolved_options  # on use: imports the model families

    name = cfg.model.name
    checked = check_model_options(name, cfg.model.kwargs())  # as a run records them
    resolved = resolved_options(name, checked)
    options = {
        k: None if source else v for k, (v, source) in resolved.items()
    }  # null: a line _commented fills
    cfg = cfg.model_copy(update={"model": type(cfg.model)(name=name, **{**options, **checked})})
    filled = {("model", k): (as_yaml(v), source) for k, (v, source) in resolved.items() if source}
    s = cfg.schedule
    if s.gamma is None and s.name in ("exponential", "step"):
        filled["schedule", "gamma"] = (as_yaml(s.gamma_read), f"the {s.name} schedule's own")
    return _commented(cfg.to_yaml(), filled)


def _commented(text: str, filled: dict[tuple[str, str], tuple[str, str]]) -> str:
    """YAML ``text`` with each key of ``filled`` ((section, key) → (value, where it comes from)) one line
    with that value in flow style and a comment naming where it comes from."""
    out, section, skipping = [], "", False
    for line in text.splitlines():
        if not line.startswith(" "):
            section = line.rstrip(":")
        elif skipping and line.startswith(("  - ", "    ")):
            continue  # the block list of a value replaced
        key = line.strip().partition(":")[0]
        skipping = line.startswith("  ") and (section, key) in filled
        if skipping:
            value, source = filled[section, key]
            line = f"  {key}: {value}  # {source}"
        out.append(line)
    return "\n".join(out) + "\n"
