"""Model registry: one place that maps ``model.name`` to a constructor.

Every builder has the uniform signature ``build(input_shape, num_classes, **kwargs) -> nn.Module``,
where ``input_shape`` is (C, H, W) for images or (D,) for feature vectors and ``kwargs`` come from
``model.*`` in the config. Kwargs are checked against the builder's signature and type hints, so a
wrong key or value is a clear user error.

Models that are fitted rather than trained by gradient (``majority``, ``svm``) expose
``fit_arrays(x, y)``; the trainer calls it once instead of running epochs.
"""

from __future__ import annotations

import contextlib
import difflib
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import torch.nn as nn
from pydantic import ValidationError, validate_call

from vislab.errors import ConfigError, UserError

MODELS: dict[str, Callable[..., nn.Module]] = {}
_RESERVED = ("input_shape", "num_classes")


def register_model(name: str):
    """Decorator: register ``build(input_shape, num_classes, **kwargs)`` under ``name``."""

    def deco(fn: Callable[..., nn.Module]):
        MODELS[name] = fn
        return fn

    return deco


def model_kwargs(name: str) -> dict[str, Any]:
    """The kwargs a model accepts, with defaults (for `model info` and messages)."""
    fn = _lookup(name)
    params = inspect.signature(fn).parameters.items()
    return {
        k: (None if p.default is p.empty else p.default)
        for k, p in params
        if k not in _RESERVED and p.kind is not p.VAR_KEYWORD
    }


def check_model_options(name: str, kwargs: dict[str, Any]) -> None:
    """ConfigError for an option ``name`` does not take, or a value out of range (builds nothing); models that
    pass any option on (timm) are checked when built."""
    sig = inspect.signature(_lookup(name))
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return
    valid = [k for k in sig.parameters if k not in _RESERVED]
    for key in kwargs:
        if key not in valid:
            near = difflib.get_close_matches(key, valid, n=1)
            hint = f" Did you mean 'model.{near[0]}'?" if near else ""
            raise ConfigError(
                f"model '{name}' has no option 'model.{key}'.{hint} Valid options: {', '.join(valid) or '(none)'}."
            )
    _check_ranges(name, kwargs)


def build_model(
    name: str, input_shape: tuple[int, ...], num_classes: int, **kwargs: Any
) -> nn.Module:
    """Build a registered model, validating kwargs against its signature."""
    fn = _lookup(name)
    check_model_options(name, kwargs)
    try:
        model = validate_call(fn)(input_shape, num_classes, **kwargs)
    except ValidationError as e:
        msgs = "; ".join(
            f"model.{'.'.join(map(str, er['loc'][-1:]))} = {er.get('input')!r}: {er['msg']}"
            for er in e.errors()
        )
        raise ConfigError(f"invalid option for model '{name}': {msgs}.") from None
    model.vislab_name = name  # type: ignore[attr-defined]
    return model


_PROBABILITIES = ("dropout", "attn_dropout", "drop_path")
_SIZES = ("widths", "fc", "hidden", "kernel_size", "convs_per_stage")


def _check_ranges(name: str, kwargs: dict[str, Any]) -> None:
    """Options every model family shares: probabilities in [0, 1), layer sizes at least 1 (torch would only
    fail later, in a kernel, with a message that names neither)."""
    number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)  # noqa: E731
    for key in _PROBABILITIES:
        value = kwargs.get(key)
        if number(value) and not 0 <= value < 1:
            raise ConfigError(
                f"model.{key}={value} must lie in [0, 1) (a probability; 0 = off) for model '{name}'."
            )
    for key in _SIZES:
        value = kwargs.get(key)
        if any(number(v) and v < 1 for v in (value if isinstance(value, list) else [value])):
            raise ConfigError(
                f"model.{key}={value}: every size must be at least 1 (model '{name}')."
            )


_skip_pretrained = [0]


@contextlib.contextmanager
def skip_pretrained() -> Iterator[None]:
    """Within this block, ``pretrained``/``weights`` options load nothing: for rebuilding a model whose
    trained state dict (a checkpoint) replaces the weights anyway, so resume/predict need no weights file."""
    _skip_pretrained[0] += 1
    try:
        yield
    finally:
        _skip_pretrained[0] -= 1


def pretrained_skipped() -> bool:
    return _skip_pretrained[0] > 0


def _lookup(name: str) -> Callable[..., nn.Module]:
    _import_all()
    if name.startswith("timm:"):
        from vislab.models.timm_zoo import build_timm

        return lambda input_shape, num_classes, **kw: build_timm(
            name[5:], input_shape, num_classes, **kw
        )
    if name not in MODELS:
        near = difflib.get_close_matches(name, list(MODELS), n=1)
        hint = f" Did you mean '{near[0]}'?" if near else ""
        raise ConfigError(
            f"unknown model '{name}'.{hint} Available: {', '.join(sorted(MODELS))}, timm:<name>."
        )
    return MODELS[name]


def _import_all() -> None:
    import importlib

    for mod in (
        "baselines",
        "mlp",
        "cnn",
        "scratch",
        "svm",
        "vit",
        "resnet",
        "fast",
    ):  # timm_zoo: lazily, in _lookup
        try:
            importlib.import_module(f"vislab.models.{mod}")
        except ModuleNotFoundError as e:  # a family not written yet
            if e.name != f"vislab.models.{mod}":
                raise


def require_image_input(name: str, input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(C, H, W) or a UserError saying that this model needs images."""
    if len(input_shape) != 3:
        raise UserError(
            f"model '{name}' needs images but the data are {input_shape[0]}-D feature vectors "
            f"(e.g. data.name=circles). Use model.name=mlp or mlp-scratch for feature data."
        )
    return input_shape  # type: ignore[return-value]
