"""The config of vislab.train's arguments (and of the API functions that take the same): a config, your
model and your data as vislab names."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from pydantic import InstanceOf

from vislab.config import Config, build_config, read_yaml, set_dotted
from vislab.config.build import TRAIN, Caller, set_model, setting_key
from vislab.data.sources import memory
from vislab.data.sources.dataset_arrays import arrays_from_dataset
from vislab.errors import UserError
from vislab.models import objects
from vislab.models.registry import check_model_options

# a Config is taken as it is (not validated again), a mapping as a config tree
ConfigLike = InstanceOf[Config] | Mapping[str, Any] | str | Path | None


def make_config(
    config: ConfigLike = None,
    *,
    model: str | Callable[..., torch.nn.Module] | None = None,
    data: Any = None,
    overrides: Mapping[str, Any] | None = None,
    caller: Caller = TRAIN,
) -> Config:
    """The validated Config of :func:`train`'s arguments: ``config`` ← ``model`` ← ``data`` ← overrides.

    ``caller``: the function whose arguments these are, named by its errors with the YAML file given as
    ``config`` ("Invalid config (bad.yaml + vislab.lr_find arguments)") and by the hint for a setting that
    is no config key (``epochs=1`` given to vislab.lr_find)."""
    tree = _config_tree(config)
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
    """UserError unless ``obj`` may be a model: an instance (``Net(...)``) or anything not callable is not."""
    if isinstance(obj, torch.nn.Module):
        cls = type(obj).__name__
        raise UserError(
            f"model: you passed an instance of {cls} (an nn.Module object); pass the class {cls} itself "
            f"(model={cls}, without parentheses): vislab builds it with num_classes and input_shape from "
            f"the data, and your options as model__<option>=value (e.g. model__width=64)."
        )
    if not callable(obj):
        raise UserError(
            f"model must be a registered name, a build(input_shape, num_classes, **options) callable or an "
            f"nn.Module class, not {type(obj).__name__}."
        )


# ------------------------------------------------------------------------------------ user data
def _data_name(data: Any) -> str:
    """Register numpy arrays ``(x, y[, class_names])``, a dict of them with a test set, or a torch Dataset
    as in-memory data; its data.name."""
    if isinstance(data, torch.utils.data.Dataset):
        x, y, names = arrays_from_dataset(data)
        return memory.register_arrays(x, y, class_names=names)
    if isinstance(data, (tuple, list)) and len(data) in (2, 3):
        x, y, *rest = data
        return memory.register_arrays(x, y, class_names=rest[0] if rest else None)
    if isinstance(data, dict):  # {"train": (x, y[, class_names]), "test": (x_test, y_test)}
        return memory.register_arrays(data)
    raise UserError(
        f"data must be a dataset name, numpy arrays (x, y) or (x, y, class_names), a dict "
        f"{{'train': (x, y[, class_names]), 'test': (x_test, y_test)}}, or a torch Dataset, "
        f"not {type(data).__name__}."
    )
