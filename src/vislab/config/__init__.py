"""The one config schema: pydantic models, YAML I/O and ``--set key.sub=value`` overrides.

Keys use the reports' words: ``data.name``, ``data.normalize``, ``augment.*``, ``model.name`` (+ model
kwargs under ``model.*``), ``optim.lr``, ``schedule.name``, ``train.epochs`` ...
"""

from __future__ import annotations

from vislab.config.augmentation import (
    Affine,
    AugmentConfig,
    AutoAug,
    Blur,
    ColorJitter,
    Crop,
    CutMix,
    Erasing,
    Flip,
    Mixup,
    RandAug,
    ResizedCrop,
    Rotation,
    TrivialAug,
)
from vislab.config.build import as_stored, build_config, load_config
from vislab.config.differences import RESULT_NEUTRAL_KEYS, config_differences
from vislab.config.files import (
    PRESET_DIR,
    ConfigBase,
    SpecFile,
    find_yaml,
    load_spec,
    read_base,
    read_yaml,
)
from vislab.config.notes import augmentations_on, beyond_plain_sgd, config_notes
from vislab.config.overrides import apply_override, assignments, parse_value, set_dotted
from vislab.config.schema import (
    DEFAULT_DATA_ROOT,
    Config,
    DataConfig,
    Ema,
    ModelConfig,
    OptimConfig,
    ScheduleConfig,
    TrackConfig,
    TrainConfig,
)
from vislab.config.sections import Section, given
from vislab.config.validation import Schema, friendly_error, validate

__all__ = [
    "DEFAULT_DATA_ROOT",
    "PRESET_DIR",
    "RESULT_NEUTRAL_KEYS",
    "Affine",
    "AugmentConfig",
    "AutoAug",
    "Blur",
    "ColorJitter",
    "Config",
    "ConfigBase",
    "Crop",
    "CutMix",
    "DataConfig",
    "Ema",
    "Erasing",
    "Flip",
    "Mixup",
    "ModelConfig",
    "OptimConfig",
    "RandAug",
    "ResizedCrop",
    "Rotation",
    "Schema",
    "ScheduleConfig",
    "Section",
    "SpecFile",
    "TrackConfig",
    "TrainConfig",
    "TrivialAug",
    "apply_override",
    "as_stored",
    "assignments",
    "augmentations_on",
    "beyond_plain_sgd",
    "build_config",
    "config_differences",
    "config_notes",
    "find_yaml",
    "friendly_error",
    "given",
    "load_config",
    "load_spec",
    "parse_value",
    "read_base",
    "read_yaml",
    "set_dotted",
    "validate",
]
