"""A validated Config from a base mapping, a YAML file and overrides (``--set`` assignments, or settings
given in Python), in that order."""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from pydantic import BaseModel

from vislab.arguments import Assignments, checked
from vislab.config.files import read_yaml
from vislab.config.overrides import apply_override, check_plain, set_dotted
from vislab.config.schema import Config
from vislab.config.validation import validate
from vislab.errors import ConfigError


def as_stored(tree: Any) -> Any:
    """A config tree a run stored (its config.yaml, a checkpoint's) read as today's vislab reads settings,
    each set to what that run did: ``data.test_fraction``, added since — before it, a test split carved
    from train took ``data.val_fraction``; an even ``augment.blur.kernel_size``, refused since — it ran
    one larger. Anything that is not such a tree, as it is."""
    if not isinstance(tree, dict):
        return tree
    data, augment = tree.get("data"), tree.get("augment")
    if isinstance(data, dict) and "val_fraction" in data and "test_fraction" not in data:
        tree = {**tree, "data": {**data, "test_fraction": data["val_fraction"]}}
    blur = augment.get("blur") if isinstance(augment, dict) else None
    k = blur.get("kernel_size") if isinstance(blur, dict) else None
    if isinstance(k, int) and not isinstance(k, bool) and k % 2 == 0:
        tree = {**tree, "augment": {**augment, "blur": {**blur, "kernel_size": k + 1}}}
    return tree


def setting(tree: Any, dotted: str, default: Any = None) -> Any:
    """The value at ``dotted`` (``"train.select_metric"``) in a plain config tree (a run's stored config, a
    sweep's base), unvalidated; ``default`` where a key is missing or a section is no mapping (an old or
    hand-edited file: ``train:`` left empty)."""
    node = tree
    for key in dotted.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return default
        node = node[key]
    return node


def set_model(tree: dict, name: str) -> None:
    """Make config ``tree`` train model ``name``. Its other model options stay where it names no model or
    this one (they are given for it: checked against its options when it is built), and go where it names
    another (they are that model's) — for ``vislab.train(model=...)``, a suite's row and a sweep's trial
    alike."""
    section = tree.get("model") if isinstance(tree.get("model"), dict) else {}
    kept = section if section.get("name") in (None, name) else {}
    tree["model"] = {**kept, "name": name}


def stored_tree(folder: str | Path) -> dict:
    """The config tree the run in ``folder`` stored (its config.yaml) as :func:`read_yaml` reads it,
    neither validated nor updated (:func:`as_stored`): what reads one setting of any run, one of an older
    vislab or one whose config no longer validates (:meth:`~vislab.training.rundir.RunDir.load_config`
    validates); {} for an empty file. ConfigError naming the file where it is missing or unreadable."""
    return read_yaml(Path(folder) / "config.yaml", kind="run config")


def _deep_merge(base: dict, over: dict) -> dict:
    """``over`` merged into ``base``, as a new tree (neither input's nested dicts are shared with the result,
    so overrides applied to it never reach the caller's dicts)."""
    out = {k: _deep_merge(v, {}) if isinstance(v, dict) else v for k, v in base.items()}
    for k, v in over.items():
        out[k] = (
            _deep_merge(out[k] if isinstance(out.get(k), dict) else {}, v)
            if isinstance(v, dict)
            else v
        )
    return out


def build_config(
    tree: dict | None = None, overrides: list[str] | tuple = (), source: str = "config"
) -> Config:
    """Validate a nested dict plus ``--set`` overrides into a Config (raises ConfigError)."""
    tree = _deep_merge({}, tree or {})
    for assignment in overrides:
        apply_override(tree, assignment)
    if not isinstance(tree.get("model", {}), dict):
        raise ConfigError(
            f"Invalid config ({source}): section 'model' must be a mapping (model.name plus model "
            f"options), e.g. model: {{name: mlp}} / --set model.name=mlp."
        )
    check_plain(tree, source)
    cfg = validate(Config, tree, source)
    try:
        cfg.to_dict()  # every value must go back to config.yaml (e.g. not a non-UTF-8 !!binary in model.*)
    except Exception as e:  # noqa: BLE001 - pydantic serialisation raises several types
        raise ConfigError(
            f"Invalid config ({source}): a value cannot be written back as YAML ({type(e).__name__}: "
            f"{str(e)[:200]}). Use plain numbers, strings, booleans and lists."
        ) from None
    return cfg


@checked
def load_config(
    path: str | os.PathLike | Mapping[str, Any] | None = None,
    overrides: Assignments = (),
    base: dict | None = None,
    **settings: Any,
) -> Config:
    """Base dict (optional) ← YAML file or nested dict (optional) ← overrides → validated Config
    (ConfigError naming each mistake). ``overrides``: ``key.sub=value`` strings, typed as YAML types them
    (the command's ``--set``), or a mapping ``{"optim.lr": 0.1}``; ``settings``: ``section__key``
    keywords, as :func:`vislab.train` takes them. A key given twice: ConfigError.

    >>> cfg = vislab.load_config("my.yaml", optim__lr=0.1, train__epochs=5)
    >>> cfg = vislab.load_config({"optim": {"lr": 0.5}}, train__epochs=5)
    """
    tree, given_dict = _deep_merge({}, base or {}), isinstance(path, Mapping)
    if isinstance(path, Mapping):
        tree, path = _deep_merge(tree, dict(path)), None
    elif path is not None:
        tree = _deep_merge(tree, read_yaml(path))
    if isinstance(overrides, Mapping):
        given, sets = {**overrides, **settings}, []
    else:
        given, sets = settings, [overrides] if isinstance(overrides, str) else list(overrides)
    _set_once(tree, given, sets)
    source = config_source(path, sets, given_dict, bool(given))
    return build_config(tree, sets, source=source)


def config_source(
    path: str | Path | None,
    sets: Sequence[str] = (),
    dict_given: bool = False,
    kwargs: bool = False,
) -> str:
    """Where a config's settings were given, as its errors name it: "my.yaml + --set", "defaults"."""
    parts = [*([str(path)] if path else []), *(["the config dict"] if dict_given else [])]
    parts += (["--set"] if sets else []) + (["vislab.load_config arguments"] if kwargs else [])
    return " + ".join(parts) or "defaults"


def _set_once(tree: dict, given: Mapping[str, Any], sets: list[str]) -> None:
    """Set each of ``given`` (a key dotted or ``section__key`` → its value) in ``tree``; ConfigError for a
    key set twice, in ``given`` or in ``sets`` (``key=value`` strings, applied later)."""
    seen = {s.partition("=")[0].strip(): s for s in sets}
    for key, value in given.items():
        dotted = setting_key(key, value, LOAD_CONFIG)
        if dotted in seen:
            raise ConfigError(
                f"{dotted} is given twice ({seen[dotted]!r} and {key}={value!r}): give it once."
            )
        seen[dotted] = f"{key}={value!r}"
        set_dotted(tree, dotted, value)


class Caller(NamedTuple):
    """A Python function taking settings as ``section__key`` keywords, as its hint for one that names no
    section names it: its ``name``, its own ``arguments`` (a misspelt one is suggested) and, for those of
    vislab.train's arguments it lacks, what to give it ``instead`` (``{value!r}``: the value given)."""

    name: str
    arguments: tuple[str, ...]
    instead: Mapping[str, str] = MappingProxyType({})


#: the arguments of ``vislab.train`` that are no config keys, to suggest for a misspelt one
TRAIN_ARGUMENTS = ("out", "model", "data", "quiet", "resume", "overwrite", "trust_code", "epochs")
TRAIN = Caller("vislab.train", TRAIN_ARGUMENTS)
LOAD_CONFIG = Caller(
    "vislab.load_config",
    ("path", "overrides", "base"),
    MappingProxyType(
        {
            "model": "give model__name={value!r}",
            "data": "give data__name={value!r}",
            "out": "a config holds no run folder: give out= to vislab.train",
        }
    ),
)


def setting_key(key: str, value: Any, caller: Caller = TRAIN) -> str:
    """The dotted config key of a setting given in Python: ``optim__lr`` or ``optim.lr`` → ``optim.lr``;
    ConfigError for one that names no section (``lr=0.1``), with a hint for ``caller``, the function
    given it."""
    dotted = key.replace("__", ".")
    if "." not in dotted:
        raise ConfigError(
            f"'{key}={value!r}' is no config key{_near_setting(key, value, caller)}: a config key is "
            f"section__key (e.g. optim__lr=1e-3, train__epochs=5, model__hidden=[64]) or dotted in a "
            f"mapping ({{'optim.lr': 1e-3}})."
        )
    return dotted


def _near_setting(key: str, value: Any, caller: Caller) -> str:
    """' (…)' for a setting that names no section: a close argument of ``caller`` (``overwrit`` →
    ``overwrite``), what ``caller`` takes in place of an argument of vislab.train it lacks (``epochs`` →
    ``train__epochs``), else a config key whose name is close (``lr`` → ``optim__lr``). A key ``caller``
    says what to give instead of (``vislab.lr_find``'s ``lr``) is answered so first."""
    if key in caller.instead and key not in TRAIN_ARGUMENTS:
        return (
            f" ({caller.name} takes no {key} argument: {caller.instead[key].format(value=value)})"
        )
    lacked = [a for a in TRAIN_ARGUMENTS if a not in caller.arguments]
    near = difflib.get_close_matches(key, [*caller.arguments, *lacked], n=1)
    if near and near[0] in caller.arguments:
        return f" (did you mean {near[0]}={value!r}, an argument of {caller.name}?)"
    if near:
        default = "give train__epochs={value!r}" if near[0] == "epochs" else "vislab.train takes it"
        fix = caller.instead.get(near[0], default).format(value=value)
        return f" ({caller.name} takes no {near[0]} argument: {fix})"
    keys = {
        f"{section}__{field}": field
        for section, info in Config.model_fields.items()
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)
        for field in info.annotation.model_fields
    }
    near = difflib.get_close_matches(key, list(keys.values()), n=1)
    dotted = next((k for k, f in keys.items() if near and f == near[0]), None)
    return f" (did you mean {dotted}={value!r}?)" if dotted else ""
