"""The names in a Weights & Biases sweep file, as vislab config keys: a parameter's name is a config key as it
is (``optim.lr``; ``model.widths.0`` is an item of a list) or one of :data:`ALIASES`; the metric's name one of
:data:`METRIC_NAMES`."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from vislab.config import Config, ModelConfig
from vislab.models import MODELS, model_kwargs


def _lower(v: Any) -> Any:
    return v.lower() if isinstance(v, str) else v


def _scheduler(v: Any) -> Any:
    """PyTorch scheduler class names (``ExponentialLR``) → vislab's ``schedule.name``."""
    names = {"exponentiallr": "exponential", "steplr": "step", "cosineannealinglr": "cosine"}
    return names.get(_lower(v), _lower(v)) if isinstance(v, str) else v


def _one_layer(v: Any) -> Any:
    """A hidden layer's width (0: none) → the list of hidden widths vislab's models take."""
    return [v] if isinstance(v, int) and v > 0 else [] if v == 0 else v


# W&B names → (vislab config key, value conversion). The DLVC assignment 1 students swept `optimizer`
# (AdamW, SGD), `scheduler`, `lr`, `gamma`, `batch_size`, `dropout`/`dropout_rate`, `weight_decay`, the
# augmentation probability and the ViT's `patch_size`, `embed_dim`, `num_encoder_layers`, `hidden_layer_depth`
# (the transformer MLP), `head_dim`, `num_heads`, `mlp_head_hidden_layers_depth` (the head's hidden layer),
# and the CNN's per-layer widths (three conv layers, two MLP layers).
ALIASES: dict[str, tuple[str, Callable[[Any], Any] | None]] = {
    "model": ("model.name", None),
    "dataset": ("data.name", None),
    "lr": ("optim.lr", None),
    "learning_rate": ("optim.lr", None),
    "optimizer": ("optim.name", _lower),
    "weight_decay": ("optim.weight_decay", None),
    "momentum": ("optim.momentum", None),
    "scheduler": ("schedule.name", _scheduler),
    "gamma": ("schedule.gamma", None),
    "batch_size": ("train.batch_size", None),
    "epochs": ("train.epochs", None),
    "seed": ("train.seed", None),
    "label_smoothing": ("train.label_smoothing", None),
    "dropout": ("model.dropout", None),
    "dropout_rate": ("model.dropout", None),
    "augmentation_ratio": ("augment.p", None),
    "augmentation_probability": ("augment.p", None),
    "augment_probability": ("augment.p", None),
    "patch_size": ("model.patch_size", None),
    "embed_dim": ("model.embed_dim", None),
    "num_encoder_layers": ("model.depth", None),
    "hidden_layer_depth": ("model.mlp_hidden", None),
    "head_dim": ("model.head_dim", None),
    "num_heads": ("model.num_heads", None),
    "mlp_head_hidden_layers_depth": ("model.head_hidden", _one_layer),
    "conv_layer_1_dim": ("model.widths.0", None),
    "conv_layer_2_dim": ("model.widths.1", None),
    "conv_layer_3_dim": ("model.widths.2", None),
    "mlp_layer_1_dim": ("model.fc.0", None),
    "mlp_layer_2_dim": ("model.fc.1", None),
}

# Metric names as W&B users log them (normalised: lower case, words joined by '_') → vislab's metrics.
METRIC_NAMES = {
    "val_acc": ("val_acc", "val_accuracy", "validation_acc", "validation_accuracy", "valid_acc"),
    "val_pacc": ("val_pacc", "val_per_class_accuracy", "validation_per_class_accuracy"),
    "val_loss": ("val_loss", "validation_loss", "valid_loss"),
}


def normalise(name: str) -> str:
    """``Validation Accuracy`` → ``validation_accuracy``."""
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


def vislab_key(name: str) -> tuple[str, Callable[[Any], Any] | None] | None:
    """(config key, value conversion) that a W&B parameter name stands for, or None."""
    if is_config_key(name):
        return name, None
    return ALIASES.get(normalise(name))


def is_config_key(key: str) -> bool:
    """Whether ``key`` names a config value: a schema field, any ``model.*`` option (the model checks it), an
    item of a list (``model.widths.0``) or of a mapping field (``data.options.split``)."""
    node: Any = Config
    for part in key.split("."):
        if node is ModelConfig:
            return True
        if isinstance(node, type) and issubclass(node, BaseModel):
            field = node.model_fields.get(part)
            if field is None:
                return False
            node = _unwrap(field.annotation)
        elif get_origin(node) is dict:
            return True
        elif get_origin(node) in (list, tuple) and part.isdigit():
            node = _unwrap(get_args(node)[0])
        else:
            return False
    return not (isinstance(node, type) and issubclass(node, BaseModel))


def _unwrap(annotation: Any) -> Any:
    """``X`` for ``X | None``."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    return args[0] if len(args) == 1 and type(None) in get_args(annotation) else annotation


def _leaf_keys(node: Any = Config, prefix: str = "") -> list[str]:
    keys = []
    for name, field in node.model_fields.items():
        sub = _unwrap(field.annotation)
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            keys += _leaf_keys(sub, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return keys


def unmapped_line(name: str) -> str:
    """``name — closest vislab key: model.mlp_hidden`` (by the key's last word or an alias)."""
    words: dict[str, str] = {}
    options = {f"model.{k}" for m in MODELS for k in model_kwargs(m)}
    for key in sorted(_leaf_keys()) + sorted(options):
        words.setdefault(key, key)
        words.setdefault(key.rsplit(".", 1)[-1], key)
    for alias, (key, _) in ALIASES.items():
        words.setdefault(alias, key)
    near = difflib.get_close_matches(normalise(name), list(words), n=1, cutoff=0.5)
    return f"'{name}'" + (f" — closest vislab key: {words[near[0]]}" if near else "")
