"""Validation against a schema: pydantic's errors as one ConfigError, with 'did you mean'."""

from __future__ import annotations

import difflib
from types import UnionType
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from vislab.config.schema import Config
from vislab.errors import ConfigError


def _model_in(annotation: Any) -> Any:
    """``X`` for ``X | None`` (or any union holding one pydantic model), else ``annotation``."""
    if get_origin(annotation) in (Union, UnionType):
        models = [
            a for a in get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)
        ]
        return models[0] if len(models) == 1 else annotation
    return annotation


def _node_at(schema: type[BaseModel], loc: tuple) -> Any:
    """The type at a location of ``schema``, stepping through model fields, mapping values (``space.<any
    key>``) and list items; None where the location is not in the schema."""
    node: Any = schema
    for part in loc:
        node = _model_in(node)
        if isinstance(node, type) and issubclass(node, BaseModel):
            field = node.model_fields.get(str(part))
            if field is None:
                return None
            node = field.annotation
        elif get_origin(node) in (dict, list):
            node = get_args(node)[-1]
        else:
            return None
    return _model_in(node)


def _fields_at(schema: type[BaseModel], loc: tuple) -> dict[str, Any]:
    """Field name → FieldInfo of the section at ``loc`` (for 'did you mean' and 'missing' messages)."""
    node = _node_at(schema, loc)
    return dict(node.model_fields) if isinstance(node, type) and issubclass(node, BaseModel) else {}


def _section_hint(schema: type[BaseModel], loc: tuple, value: Any) -> str:
    """For a section given one value (``augment.hflip=0.5``): the section's keys, and the first of them
    set to that value as the way to write it where that is valid (``augment.hflip.p=0.5``; not
    ``augment.crop.p=4``)."""
    keys = list(_fields_at(schema, loc))
    if not keys or isinstance(value, dict):
        return ""
    key = ".".join(map(str, loc))
    tree: Any = {keys[0]: value}
    for part in reversed(loc):
        tree = {part: tree}
    try:
        schema.model_validate(tree)
    except ValidationError:
        return f": {key} is a section of settings ({', '.join(keys)}), set one by one"
    return (
        f": {key} is a section of settings ({', '.join(keys)}), set one by one, e.g. "
        f"{key}.{keys[0]}={value}"
    )


#: PyTorch's names of vislab's choices (lower case, without "_"): the schedules' classes
TORCH_NAMES = {
    "exponentiallr": "exponential",
    "steplr": "step",
    "cosineannealinglr": "cosine",
    "cosineannealing": "cosine",
    "onecyclelr": "onecycle",
    "reducelronplateau": "plateau",
}


def _choice_hint(schema: type[BaseModel], loc: tuple, value: Any) -> str:
    """For a value that is none of a setting's choices: the choice it names in other letter case
    (``AdamW``: adamw) or in PyTorch's words (``ExponentialLR``: exponential); "" for none (``NAdam`` is
    no adam)."""
    if not isinstance(value, str):
        return ""
    choices = [c for c in _literals(_node_at(schema, loc)) if isinstance(c, str)]
    same = [c for c in choices if c.lower() == value.lower()]
    torch_name = TORCH_NAMES.get(value.lower().replace("_", ""))
    near = same or [c for c in choices if c == torch_name]
    if not near and value.startswith("test_") and any(c.startswith("val_") for c in choices):
        val = f"val_{value[5:]}"
        mean = f" Did you mean '{val}'?" if val in choices else ""
        return (
            ". The best checkpoint and early stopping are chosen on validation data, never on test: test "
            f"is for reporting (train.track_test scores it each epoch).{mean}"
        )
    return f". Did you mean '{near[0]}'?" if near else ""


#: keys a user types in one section that vislab keeps elsewhere (PyTorch's and the courses' words): what
#: the message says of each
ELSEWHERE = {
    "patience": "early stopping's patience is train.early_stop (schedule.patience: the plateau schedule's)",
    "monitor": "what best.pt and the plateau schedule watch is train.select_metric (early stopping: "
    "train.early_stop_metric, by default the same)",
    "dropout": "dropout is model.dropout, an option of the models that have dropout",
    "learning_rate": "the learning rate is optim.lr",
    "eta_min": "cosine's lowest lr (torch's eta_min) is schedule.min_lr",
    "t_max": "schedule.name=cosine decays over the whole run (train.epochs): it has no T_max",
}


def _elsewhere(schema: type[BaseModel], loc: tuple) -> str:
    """Where an unknown key ``loc`` lives instead: :data:`ELSEWHERE`'s word for it, or a section of
    ``schema`` that has a key of that name (``train.weight_decay``: optim.weight_decay); "" for none."""
    name = str(loc[-1]).lower()
    if name in ELSEWHERE:
        return f" In vislab, {ELSEWHERE[name]}."
    sections = [
        f"{section}.{name}"
        for section, field in schema.model_fields.items()
        if section != str(loc[0]) and name in _fields_at(schema, (section,))
    ]
    return f" Did you mean '{sections[0]}'?" if len(loc) == 2 and sections else ""


def _off_hint(schema: type[BaseModel], loc: tuple, value: Any) -> str:
    """For a setting that null turns off given 'none', 'off', false or 0 (``train.early_stop``): how to
    turn it off; else ""."""
    annotation = _node_at(schema, loc)
    takes_none = get_origin(annotation) in (Union, UnionType) and type(None) in get_args(annotation)
    off = value in (0, False) or (
        isinstance(value, str) and value.lower() in ("none", "off", "false", "no", "0")
    )
    if not takes_none or not off:
        return ""
    key = ".".join(map(str, loc))
    return (
        f". null turns it off: --set {key}=null / {key.replace('.', '__')}=None (or leave it out)"
    )


def _literals(annotation: Any) -> list[Any]:
    """The values a ``Literal[...]`` annotation allows (also inside a union: ``bool | Literal['auto']``)."""
    if get_origin(annotation) is Literal:
        return list(get_args(annotation))
    if get_origin(annotation) in (Union, UnionType):
        return [v for a in get_args(annotation) for v in _literals(a)]
    return []


def _shown(value: Any, limit: int = 100) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def friendly_error(
    err: ValidationError, source: str, schema: type[BaseModel] = Config, kind: str = "config"
) -> ConfigError:
    """One ConfigError for a pydantic ValidationError of ``schema``: each problem on a line naming its dotted
    key path (``optim.lr``, ``space.optim.lr.low``), with 'did you mean' for unknown keys; ``source`` (the
    file) in the first line."""
    lines = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if p != "[key]")
        key = ".".join(str(p) for p in loc)
        msg = str(e["msg"]).removeprefix("Value error, ").rstrip(".")
        if e["type"] == "model_type":  # not "... or instance of DataConfig": a class name
            msg = "Input should be a mapping (key: value)" + _section_hint(
                schema, loc, e.get("input")
            )
        elif e["type"] == "literal_error":
            msg += _choice_hint(schema, loc, e.get("input"))
        if "[key]" in e["loc"]:  # a mapping key's own error (a run name)
            lines.append(f"{kind} key '{key}' is invalid: {msg}.")
        elif e["type"] == "extra_forbidden":
            valid = list(_fields_at(schema, loc[:-1]))
            near = difflib.get_close_matches(str(loc[-1]), valid, n=1)
            hint = f" Did you mean '{'.'.join([*map(str, loc[:-1]), near[0]])}'?" if near else ""
            hint = _elsewhere(schema, loc) or hint
            lines.append(f"unknown {kind} key '{key}'.{hint} Valid keys here: {', '.join(valid)}.")
        elif e["type"] == "missing":
            field = _fields_at(schema, loc[:-1]).get(str(loc[-1]))
            what = f": {field.description}" if field is not None and field.description else ""
            lines.append(f"{kind} key '{key}' is missing{what}.")
        elif not loc:
            lines.append(f"{msg} (got {_shown(e.get('input'))}).")
        else:
            msg += _off_hint(schema, loc, e.get("input"))
            end = "" if msg.endswith(("?", ".")) else "."
            lines.append(f"{kind} value '{key}' = {_shown(e.get('input'))} is invalid: {msg}{end}")
    return ConfigError(f"Invalid {kind} ({source}):\n  " + "\n  ".join(lines))


Schema = TypeVar("Schema", bound=BaseModel)


def _model_name_misspelt(tree: Any, source: str) -> None:
    """ConfigError for a config whose model section misspells ``model.name`` (``model.nam``) and gives
    no ``model.name``: said as an unknown key, not as an option of the default model, never chosen."""
    model = tree.get("model") if isinstance(tree, dict) else None
    if not isinstance(model, dict) or "name" in model:
        return
    for key in model:
        if key != "name" and difflib.get_close_matches(str(key), ["name"], n=1, cutoff=0.7):
            raise ConfigError(
                f"Invalid config ({source}):\n  unknown config key 'model.{key}'. Did you mean "
                f"'model.name'? (it picks the model; `vislab model list` names them and their options)"
            )


def validate(schema: type[Schema], tree: Any, source: str, kind: str = "config") -> Schema:
    """``schema.model_validate(tree)``, its ValidationError turned into :func:`friendly_error`'s ConfigError
    (for a Config, first: a misspelt ``model.name``)."""
    if schema is Config:
        _model_name_misspelt(tree, source)
    try:
        return schema.model_validate(tree)
    except ValidationError as e:
        raise friendly_error(e, source, schema, kind) from None
