"""The one config schema: pydantic models, YAML I/O and ``--set key.sub=value`` overrides.

Keys use the reports' words: ``data.name``, ``data.normalize``, ``augment.*``, ``model.name`` (+ model
kwargs under ``model.*``), ``optim.lr``, ``schedule.name``, ``train.epochs`` ...
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vislab.errors import ConfigError

PRESET_DIR = Path(__file__).parent / "presets"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# ----------------------------------------------------------------------------------------- data
class DataConfig(Section):
    name: str = "digits"
    root: str = (
        "data"  # folder holding the dataset files (per-dataset sub-folders are also searched)
    )
    download: bool = True  # fetch official files when missing (never in tests)
    normalize: Literal["none", "standard", "zca", "imagenet"] = (
        "standard"  # imagenet: fixed, for pretrained
    )
    zca_epsilon: float = Field(0.1, gt=0)
    val_fraction: float = Field(0.1, gt=0, lt=1)  # carved from train where a source has no val set
    # A source's own validation set (CIFAR-10: data_batch_5; a folder's val/) is the val split; false: it joins
    # train and val is carved with val_fraction (the RDFIA reports train on all 50,000 CIFAR-10 images).
    official_val: bool = True
    # Explicit sizes: pool the official sets named in `use` and carve a seeded, stratified
    # train/val/test split of these sizes (e.g. [8000, 1000, 1000] from the MNIST test set).
    split: list[int] | None = None
    use: list[Literal["train", "test"]] = ["train", "test"]  # official sets to load
    limit: int | None = Field(None, gt=0)  # keep only the first N training samples (quick runs)
    resize: int | None = Field(
        None, gt=0
    )  # up-sample images to resize x resize (e.g. for timm ViTs)
    image_size: int = Field(32, gt=0)  # `folder` source: decode every image to this square size
    n_samples: int = Field(1000, gt=0)  # `circles` source: number of points
    noise: float = Field(0.1, ge=0)  # `circles` source: gaussian noise on the points
    device: Literal["auto", "cpu", "cuda"] = "auto"  # where the split tensors live

    @model_validator(mode="after")
    def _check_split(self) -> DataConfig:
        if self.split is not None and (len(self.split) != 3 or min(self.split) <= 0):
            raise ValueError("data.split must be three positive sizes [train, val, test]")
        return self


# -------------------------------------------------------------------------------- augmentation
class Crop(Section):
    p: float = Field(0.0, ge=0, le=1)
    padding: int = Field(4, ge=0)


class ResizedCrop(Section):
    p: float = Field(0.0, ge=0, le=1)
    scale: tuple[float, float] = (0.6, 1.0)
    ratio: tuple[float, float] = (0.75, 1.333)


class Flip(Section):
    p: float = Field(0.0, ge=0, le=1)


class Rotation(Section):
    p: float = Field(0.0, ge=0, le=1)
    degrees: float = Field(15.0, ge=0)


class Affine(Section):
    p: float = Field(0.0, ge=0, le=1)
    degrees: float = Field(10.0, ge=0)
    translate: tuple[float, float] = (0.1, 0.1)
    scale: tuple[float, float] = (0.9, 1.1)
    shear: float = Field(5.0, ge=0)


class ColorJitter(Section):
    p: float = Field(0.0, ge=0, le=1)
    brightness: float = Field(0.2, ge=0)
    contrast: float = Field(0.2, ge=0)
    saturation: float = Field(0.2, ge=0)
    hue: float = Field(0.05, ge=0, le=0.5)


class Blur(Section):
    p: float = Field(0.0, ge=0, le=1)
    kernel_size: int = Field(3, ge=3)
    sigma: tuple[float, float] = (0.1, 1.5)


class Erasing(Section):
    p: float = Field(0.0, ge=0, le=1)
    scale: tuple[float, float] = (0.02, 0.2)
    ratio: tuple[float, float] = (0.3, 3.3)


class AugmentConfig(Section):
    """Train-split augmentation. Each op has its own probability; `p` gates a sample as a whole."""

    p: float = Field(1.0, ge=0, le=1)  # probability that a sample is augmented at all (report 003)
    crop: Crop = Crop()
    resized_crop: ResizedCrop = ResizedCrop()
    hflip: Flip = Flip()
    rotation: Rotation = Rotation()
    affine: Affine = Affine()
    color_jitter: ColorJitter = ColorJitter()
    blur: Blur = Blur()
    erasing: Erasing = Erasing()


# ------------------------------------------------------------------------------------- model
class ModelConfig(BaseModel):
    """`name` picks a registry entry; every other key is a constructor kwarg, checked by the registry."""

    model_config = ConfigDict(extra="allow")
    name: str = "cnn"

    def kwargs(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


# ------------------------------------------------------------------------------- optimisation
class OptimConfig(Section):
    name: Literal["sgd", "adam", "adamw"] = "adam"
    lr: float = Field(1e-3, gt=0)
    momentum: float = Field(0.0, ge=0, lt=1)
    nesterov: bool = False
    weight_decay: float = Field(0.0, ge=0)
    betas: tuple[float, float] = (0.9, 0.999)


class ScheduleConfig(Section):
    name: Literal["none", "exponential", "step", "cosine", "onecycle"] = "none"
    gamma: float = Field(0.95, gt=0, le=1)  # exponential: per epoch; step: per step_size epochs
    step_size: int = Field(10, gt=0)
    min_lr: float = Field(0.0, ge=0)  # cosine floor
    warmup_epochs: float = Field(0.0, ge=0)  # linear warm-up (fractions allowed)


class TrainConfig(Section):
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(64, ge=1)
    eval_batch_size: int = Field(1024, ge=1)
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    eval_every: int = Field(1, ge=1)
    eval_at_start: bool = (
        False  # an epoch-0 row: the untrained model scored on train (unaugmented) and val
    )
    select_metric: Literal["val_pacc", "val_acc", "val_loss"] = "val_pacc"  # best.pt chooses by it
    early_stop: int | None = Field(None, ge=1)  # patience in evaluations; None = off
    min_delta: float = Field(0.0, ge=0)
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    grad_clip: float | None = Field(None, gt=0)
    amp: bool = True  # bf16 autocast on CUDA
    channels_last: bool = True  # NHWC memory format for conv models (faster on CPU and CUDA)
    compile: bool = False  # torch.compile, with a fallback message
    threads: int | None = Field(None, ge=1)  # torch CPU threads


class TrackConfig(Section):
    tensorboard: bool = False
    wandb: bool = False
    project: str = "vislab"
    run_name: str | None = None


class Config(Section):
    data: DataConfig = DataConfig()
    augment: AugmentConfig = AugmentConfig()
    model: ModelConfig = ModelConfig()
    optim: OptimConfig = OptimConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    train: TrainConfig = TrainConfig()
    track: TrackConfig = TrackConfig()

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


# ----------------------------------------------------------------------------- loading + errors
def _section_keys(path: tuple) -> list[str]:
    """Valid keys at a dotted location of the schema (for 'did you mean' messages)."""
    cls: type[BaseModel] = Config
    for part in path:
        field = cls.model_fields.get(str(part))
        ann = getattr(field, "annotation", None) if field else None
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return []
        cls = ann
    return list(cls.model_fields)


def _friendly(err: ValidationError, source: str) -> ConfigError:
    lines = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not isinstance(p, int) or True)
        key = ".".join(str(p) for p in loc)
        if e["type"] == "extra_forbidden":
            valid = _section_keys(loc[:-1])
            near = difflib.get_close_matches(str(loc[-1]), valid, n=1)
            hint = f" Did you mean '{'.'.join([*map(str, loc[:-1]), near[0]])}'?" if near else ""
            lines.append(f"unknown config key '{key}'.{hint} Valid keys here: {', '.join(valid)}.")
        else:
            got = e.get("input")
            lines.append(f"config value '{key}' = {got!r} is invalid: {e['msg']}.")
    return ConfigError(f"Invalid config ({source}):\n  " + "\n  ".join(lines))


def parse_value(text: str) -> Any:
    """Type a ``--set`` value the way YAML would: 3 → int, 1e-3 → float, true → bool, [1,2] → list."""
    try:
        value = yaml.safe_load(text)
    except Exception:  # noqa: BLE001 - YAMLError, and ValueError/RecursionError from e.g. '2001-13-01', '!!int x', '[[[['
        return text
    # YAML 1.1 reads '1e-3' as a string; users mean a float.
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def set_dotted(tree: dict, key: str, value: Any) -> None:
    """``tree[a][b][c] = value`` for ``key = "a.b.c"``, creating sections as needed."""
    parts = key.strip().split(".")
    if not all(parts):
        raise ConfigError(f"config key '{key}' has an empty part.")
    node = tree
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"config key '{key}': '{part}' holds a value, not a section.")
        node = child
    node[parts[-1]] = value


def apply_override(tree: dict, assignment: str) -> None:
    """Apply one ``key.sub=value`` assignment to a nested dict in place."""
    if "=" not in assignment:
        raise ConfigError(
            f"--set '{assignment}' is not of the form key.sub=value (e.g. optim.lr=0.01)."
        )
    key, _, text = assignment.partition("=")
    set_dotted(tree, key, parse_value(text))


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


def read_yaml(path: str | Path) -> dict:
    """Read a YAML mapping, or a preset name shipped with vislab (e.g. ``fast``)."""
    p = Path(path)
    if not p.exists() and (PRESET_DIR / f"{path}.yaml").exists():
        p = PRESET_DIR / f"{path}.yaml"
    if not p.exists():
        presets = sorted(f.stem for f in PRESET_DIR.glob("*.yaml"))
        raise ConfigError(
            f"Config file '{path}' does not exist. Give a YAML path or a preset: {', '.join(presets)}."
        )
    try:
        tree = yaml.safe_load(p.read_text()) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"Config file '{p}' is not valid YAML: {e}") from None
    except RecursionError:
        raise ConfigError(f"Config file '{p}' is nested too deeply to be a config.") from None
    except (
        ValueError,
        TypeError,
        OverflowError,
    ) as e:  # a typed scalar YAML cannot build: 2001-13-01, !!int x
        raise ConfigError(f"Config file '{p}' holds a value YAML cannot read: {e}.") from None
    except OSError as e:
        raise ConfigError(f"Config file '{p}' cannot be read: {e.strerror}.") from None
    if not isinstance(tree, dict):
        raise ConfigError(
            f"Config file '{p}' must hold a mapping of sections (data:, model:, ...)."
        )
    return tree


def build_config(
    tree: dict | None = None, overrides: list[str] | tuple = (), source: str = "config"
) -> Config:
    """Validate a nested dict plus ``--set`` overrides into a Config (raises ConfigError)."""
    tree = _deep_merge({}, tree or {})
    for assignment in overrides:
        apply_override(tree, assignment)
    if not isinstance(tree.get("model", {}), dict):
        raise ConfigError(
            "config section 'model' must be a mapping (model.name plus model kwargs)."
        )
    _check_plain(tree, source)
    try:
        cfg = Config.model_validate(tree)
    except ValidationError as e:
        raise _friendly(e, source) from None
    try:
        cfg.to_dict()  # every value must go back to config.yaml (e.g. not a non-UTF-8 !!binary in model.*)
    except Exception as e:  # noqa: BLE001 - pydantic serialisation raises several types
        raise ConfigError(
            f"Invalid config ({source}): a value cannot be written back as YAML ({type(e).__name__}: "
            f"{str(e)[:200]}). Use plain numbers, strings, booleans and lists."
        ) from None
    return cfg


def _check_plain(tree: Any, source: str, max_values: int = 100_000, max_depth: int = 50) -> None:
    """Refuse self-referencing or alias-bomb YAML (``&a [*a]``, nested ``*a`` lists) before it is walked."""
    stack, n = [(tree, 0)], 0
    while stack:
        node, depth = stack.pop()
        n += 1
        if depth > max_depth or n > max_values:
            raise ConfigError(
                f"Invalid config ({source}): it nests deeper than {max_depth} levels or holds more "
                f"than {max_values} values (recursive or repeated YAML anchors/aliases?)."
            )
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, (list, tuple, set, frozenset)):
            stack.extend((v, depth + 1) for v in node)


# Keys that do not change what a run computes (where and how it runs): two configs that differ only in these
# describe the same run — a suite's finished run, a resumed run, a sweep's trials on different machines.
RESULT_NEUTRAL_KEYS = (
    "track.",
    "train.threads",
    "train.device",
    "data.device",
    "data.download",
    "train.eval_batch_size",
    "data.root",
    "train.compile",
)


def config_differences(stored: dict, wanted: dict, prefix: str = "") -> list[str]:
    """``key: old → new`` for each dotted key whose value differs between two config dicts, ignoring
    RESULT_NEUTRAL_KEYS."""
    out = []
    for key in sorted(set(stored) | set(wanted)):
        dotted = f"{prefix}{key}"
        a, b = stored.get(key), wanted.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_differences(a, b, dotted + ".")
        elif a != b and not dotted.startswith(RESULT_NEUTRAL_KEYS):
            out.append(f"{dotted}: {a!r} → {b!r}")
    return out


def load_config(
    path: str | Path | None = None, overrides: list[str] | tuple = (), base: dict | None = None
) -> Config:
    """Base dict (optional) ← YAML file (optional) ← ``--set`` overrides → validated Config."""
    tree = _deep_merge({}, base or {})
    if path is not None:
        tree = _deep_merge(tree, read_yaml(path))
    source = (
        " + ".join([*([str(path)] if path else []), *(["--set"] if overrides else [])])
        or "defaults"
    )
    return build_config(tree, overrides, source=source)
