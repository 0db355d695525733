"""The one config schema: pydantic models, YAML I/O and ``--set key.sub=value`` overrides.

Keys use the reports' words: ``data.name``, ``data.normalize``, ``augment.*``, ``model.name`` (+ model
kwargs under ``model.*``), ``optim.lr``, ``schedule.name``, ``train.epochs`` ...
"""

from __future__ import annotations

import difflib
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from vislab.errors import ConfigError

PRESET_DIR = Path(__file__).parent / "presets"
DEFAULT_DATA_ROOT = "data"  # data.root's default: the one folder vislab downloads into unasked


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# ----------------------------------------------------------------------------------------- data
class DataConfig(Section):
    name: str = "digits"
    # folder holding the dataset files (per-dataset sub-folders are also searched); a root that does not
    # exist is an error, never created (except the default folder, which a download creates)
    root: str = DEFAULT_DATA_ROOT
    # fetch official files when missing: "auto" only into the default root, true into any existing root
    download: bool | Literal["auto"] = "auto"
    # imagenet: fixed statistics, for pretrained models
    normalize: Literal["none", "standard", "zca", "imagenet"] = "standard"
    zca_epsilon: float = Field(0.1, gt=0)
    val_fraction: float = Field(0.1, gt=0, lt=1)  # carved from train where a source has no val set
    # A source's own validation set (CIFAR-10: data_batch_5; a folder's val/) is the val split; false: it joins
    # train and val is carved with val_fraction (the RDFIA reports train on all 50,000 CIFAR-10 images).
    official_val: bool = True
    # Explicit sizes: pool the official sets named in `use` and carve a seeded, stratified
    # train/val/test split of these sizes (e.g. [8000, 1000, 1000] from the MNIST test set).
    split: list[int] | None = None
    use: list[Literal["train", "test"]] = ["train", "test"]  # official sets to load
    # keep N training samples, drawn with the seed (quick runs)
    limit: int | None = Field(None, gt=0)
    # keep N val and N test samples, stratified, drawn with the seed: a quick check scores fewer images per
    # epoch (its test figures are then of a sample, not of the whole test set); None: every one
    limit_eval: int | None = Field(None, gt=0)
    # up-sample images to resize x resize (e.g. for timm ViTs)
    resize: int | None = Field(None, gt=0)
    image_size: int = Field(32, gt=0)  # `folder` source: decode every image to this square size
    n_samples: int = Field(1000, gt=0)  # `circles` source: number of points
    noise: float = Field(0.1, ge=0)  # `circles` source: gaussian noise on the points
    # `cifar100` source: the 100 fine classes or the 20 coarse superclasses
    label_mode: Literal["fine", "coarse"] = "fine"
    # `torchvision:<Class>` sources: extra constructor arguments (e.g. {split: balanced} for EMNIST)
    options: dict[str, Any] = {}
    device: Literal["auto", "cpu", "cuda"] = "auto"  # where the split tensors live

    @model_validator(mode="after")
    def _check_split(self) -> DataConfig:
        if self.split is not None and (len(self.split) != 3 or min(self.split) <= 0):
            raise ValueError("data.split must be three positive sizes [train, val, test]")
        return self


# -------------------------------------------------------------------------------- augmentation
class Crop(Section):
    """Random crop (translation). ``size``: crop size×size windows of the (padded) images, as RandomCrop(size)
    — the model then takes size×size inputs, and every evaluation (val/test, eval, predict, export) takes
    the centre crop. ``padding``: zero border added before cropping; None = automatic: 0 with ``size``,
    else an eighth of the image side (4 px on 32×32 and 28×28, 1 px on the 8×8 digits)."""

    p: float = Field(0.0, ge=0, le=1)
    padding: int | None = Field(None, ge=0)
    size: int | None = Field(None, gt=0)


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


class RandAug(Section):
    """RandAugment, per sample: ``num_ops`` rounds, each giving every sample one operation drawn from kornia's
    RandAugment list, at ``magnitude`` on kornia's scale (0 < m < 30, mapped linearly into each operation's
    range). ``num_ops`` 0 = off; the paper uses 1–3 at 5–15."""

    num_ops: int = Field(0, ge=0)
    magnitude: float = Field(9.0, gt=0, lt=30)


class TrivialAug(Section):
    """TrivialAugment: with probability ``p`` a sample gets one operation of kornia's TrivialAugment list at a
    magnitude drawn uniformly from its range — both drawn per sample."""

    p: float = Field(0.0, ge=0, le=1)


class AutoAug(Section):
    """AutoAugment: with probability ``p`` a sample gets one sub-policy of ``policy`` (kornia's tables of the
    paper's searched policies), drawn per sample; each of its operations has its own probability."""

    p: float = Field(0.0, ge=0, le=1)
    policy: Literal["cifar10", "imagenet", "svhn"] = "cifar10"


class Mixup(Section):
    """Mixup: with probability ``p`` a sample becomes λ·itself + (1 − λ)·its batch neighbour, λ ~ Beta(α, α),
    and its label the same mix of the two labels."""

    p: float = Field(0.0, ge=0, le=1)
    alpha: float = Field(0.2, gt=0)


class CutMix(Section):
    """CutMix: with probability ``p`` a box of a sample's batch neighbour is pasted into it (area 1 − λ,
    λ ~ Beta(α, α)) and its label mixed by the box's exact area."""

    p: float = Field(0.0, ge=0, le=1)
    alpha: float = Field(1.0, gt=0)


class AugmentConfig(Section):
    """Train-split augmentation. Each op has its own probability; `p` gates a sample as a whole (the image
    ops; mixup and cutmix, which mix pairs of a batch and their labels, have only their own `p`)."""

    p: float = Field(
        1.0, ge=0, le=1
    )  # probability that a sample is augmented at all (DLVC assignment 1, group report C)
    crop: Crop = Crop()
    resized_crop: ResizedCrop = ResizedCrop()
    hflip: Flip = Flip()
    rotation: Rotation = Rotation()
    affine: Affine = Affine()
    color_jitter: ColorJitter = ColorJitter()
    blur: Blur = Blur()
    randaugment: RandAug = RandAug()
    trivialaugment: TrivialAug = TrivialAug()
    autoaugment: AutoAug = AutoAug()
    erasing: Erasing = Erasing()
    mixup: Mixup = Mixup()
    cutmix: CutMix = CutMix()


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
    # the classifier's own learning rate (a re-initialised head after train.init_from, else the last
    # Linear to the classes); the schedule scales it as it scales optim.lr. None: optim.lr
    head_lr: float | None = Field(None, gt=0)


class ScheduleConfig(Section):
    name: Literal["none", "exponential", "step", "cosine", "onecycle"] = "none"
    gamma: float = Field(0.95, gt=0, le=1)  # exponential: per epoch; step: per step_size epochs
    step_size: int = Field(10, gt=0)
    min_lr: float = Field(0.0, ge=0)  # cosine floor
    warmup_epochs: float = Field(0.0, ge=0)  # linear warm-up (fractions allowed)


class Ema(Section):
    """An exponential moving average of the weights, which evaluation, best.pt and export use."""

    decay: float = Field(0.0, ge=0, lt=1)  # 0 = off; e.g. 0.999
    warmup: bool = (
        True  # decay min(decay, (1 + t) / (10 + t)) at optimizer step t: early steps count more
    )


class TrainConfig(Section):
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(64, ge=1)
    eval_batch_size: int = Field(1024, ge=1)
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    eval_every: int = Field(1, ge=1)
    # an epoch-0 row: the untrained model scored on the train images of epoch 1 (unaugmented) and val
    eval_at_start: bool = False
    # score the test split at every evaluation, for the curves only (RDFIA's train-vs-test figures): written
    # to each metrics row as test_loss/test_acc/test_pacc, never used to select, stop early or prune
    track_test: bool = False
    select_metric: Literal["val_pacc", "val_acc", "val_loss"] = "val_pacc"  # best.pt chooses by it
    early_stop: int | None = Field(None, ge=1)  # patience in evaluations; None = off
    min_delta: float = Field(0.0, ge=0)
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    grad_clip: float | None = Field(None, gt=0)
    amp: bool = True  # bf16 autocast on CUDA
    channels_last: bool = True  # NHWC memory format for conv models (faster on CPU and CUDA)
    # torch.compile (true), or compiled with CUDA graphs replaying each step's kernels ("graphs": mode
    # "reduce-overhead"; on a CPU the same as true); falls back to eager with a message
    compile: bool | Literal["graphs"] = False
    threads: int | None = Field(None, ge=1)  # torch CPU threads
    # the training loss every N steps into steps.jsonl (mean of the N steps, read back once per epoch); 0 = off
    log_every: int = Field(0, ge=0)
    # per-layer gradient L2 norms, summed on the device every step, epoch means into grad_norms.jsonl
    track_grad_norm: bool = False
    ema: Ema = Ema()
    # test-time augmentation in evaluation, eval, predict and export: logits averaged over the image and its
    # mirror ("flip"), and each also shifted by one pixel up-left and down-right ("flip-translate")
    tta: Literal["none", "flip", "flip-translate"] = "none"
    # gradient accumulation: one optimizer step every k batches (the schedule counts optimizer steps); with
    # batch norm not exactly a k-times larger batch (its statistics are per batch)
    accumulate: int = Field(1, ge=1)
    # start a new run from another run's weights (its folder or a checkpoint): tensors of the same name
    # and shape are loaded, the others (a head for other classes) stay freshly initialised and are named
    init_from: str | None = None
    # parameter-name patterns (fnmatch, e.g. "features.*") whose weights do not train
    freeze: list[str] = []
    # the run's figures/ at its end (curves, confusion matrix, ...); false: summary, metrics and
    # predictions only (quick checks, many small runs: a suite's or a sweep's report draws its own)
    figures: bool = True


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
            msg = "Input should be a mapping (key: value)"
        if "[key]" in e["loc"]:  # a mapping key's own error (a run name)
            lines.append(f"{kind} key '{key}' is invalid: {msg}.")
        elif e["type"] == "extra_forbidden":
            valid = list(_fields_at(schema, loc[:-1]))
            near = difflib.get_close_matches(str(loc[-1]), valid, n=1)
            hint = f" Did you mean '{'.'.join([*map(str, loc[:-1]), near[0]])}'?" if near else ""
            lines.append(f"unknown {kind} key '{key}'.{hint} Valid keys here: {', '.join(valid)}.")
        elif e["type"] == "missing":
            field = _fields_at(schema, loc[:-1]).get(str(loc[-1]))
            what = f": {field.description}" if field is not None and field.description else ""
            lines.append(f"{kind} key '{key}' is missing{what}.")
        elif not loc:
            lines.append(f"{msg} (got {_shown(e.get('input'))}).")
        else:
            lines.append(f"{kind} value '{key}' = {_shown(e.get('input'))} is invalid: {msg}.")
    return ConfigError(f"Invalid {kind} ({source}):\n  " + "\n  ".join(lines))


Schema = TypeVar("Schema", bound=BaseModel)


def validate(schema: type[Schema], tree: Any, source: str, kind: str = "config") -> Schema:
    """``schema.model_validate(tree)``, its ValidationError turned into :func:`friendly_error`'s ConfigError."""
    try:
        return schema.model_validate(tree)
    except ValidationError as e:
        raise friendly_error(e, source, schema, kind) from None


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


def find_yaml(path: str | Path, builtin_dir: Path = PRESET_DIR) -> Path:
    """``path``, or the built-in ``builtin_dir/<path>.yaml`` when ``path`` is no file and that one is."""
    p = Path(path)
    if not p.is_file() and (builtin_dir / f"{path}.yaml").is_file():
        return builtin_dir / f"{path}.yaml"
    return p


def read_yaml(
    path: str | Path,
    kind: str = "config",
    builtin_dir: Path = PRESET_DIR,
    builtin_word: str = "preset",
    expect: str = "a mapping of sections (data:, model:, ...)",
) -> dict:
    """Read a YAML mapping from a file, or a built-in one by name (a ``builtin_dir/<name>.yaml``: the preset
    ``fast``, a suite, a sweep). Every way it can fail is a ConfigError naming the file."""
    p, what = find_yaml(path, builtin_dir), f"{kind.capitalize()} file"
    if not p.exists():
        names = sorted(f.stem for f in builtin_dir.glob("*.yaml"))
        raise ConfigError(
            f"{what} '{path}' does not exist. Give a YAML path or a built-in {builtin_word}: "
            f"{', '.join(names) or 'none'}."
        )
    try:
        tree = yaml.safe_load(p.read_text()) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"{what} '{p}' is not valid YAML: {e}") from None
    except RecursionError:
        raise ConfigError(f"{what} '{p}' is nested too deeply to be a {kind}.") from None
    # a typed scalar YAML cannot build (2001-13-01, !!int x)
    except (ValueError, TypeError, OverflowError) as e:
        raise ConfigError(f"{what} '{p}' holds a value YAML cannot read: {e}.") from None
    except OSError as e:
        raise ConfigError(f"{what} '{p}' cannot be read: {e.strerror}.") from None
    if not isinstance(tree, dict):
        raise ConfigError(f"{what} '{p}' must hold {expect}.")
    return tree


class SpecFile(BaseModel):
    """Schema of a YAML file that is not a run config (a suite, a sweep): unknown keys are errors; a number
    where text is expected (a run named 1, a description 2024) is taken as text."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


def load_spec(
    path: str | Path, schema: type[Schema], kind: str, builtin_dir: Path, expect: str
) -> tuple[Path, dict, Schema]:
    """A spec file (a suite, a sweep; or a built-in one by name) read and validated against ``schema``:
    its path, its mapping as read, the validated model. ConfigError naming the file and each bad key path."""
    p = find_yaml(path, builtin_dir)
    tree = read_yaml(p, kind=kind, builtin_dir=builtin_dir, builtin_word=kind, expect=expect)
    return p, tree, validate(schema, tree, str(p), kind=kind)


def _dict_or_path(base: Any) -> Any:
    if base is not None and not isinstance(base, (dict, str)):
        raise ValueError(
            "must be a config mapping (data:, model:, ...) or the path / preset name of a config YAML"
        )
    return base


# A suite's or sweep's ``base:``: a config mapping, or the path (beside the file first) / preset of a config YAML.
ConfigBase = Annotated[Any, AfterValidator(_dict_or_path)]


def read_base(base: dict | str | None, spec_file: Path) -> dict:
    """A :data:`ConfigBase` as a config mapping: a path is read relative to ``spec_file``'s folder when a file
    is there, else as given (or as a preset name)."""
    if not base or not isinstance(base, str):
        return base or {}
    beside = Path(spec_file).parent / base
    return read_yaml(base if Path(base).is_absolute() or not beside.is_file() else beside)


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
    cfg = validate(Config, tree, source)
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
    RESULT_NEUTRAL_KEYS. A stored config is read through the current schema first, so that a key added
    to vislab since it was written counts with its default, not as a difference."""
    if not prefix:
        stored = _as_current(stored)
    out = []
    for key in sorted(set(stored) | set(wanted)):
        dotted = f"{prefix}{key}"
        a, b = stored.get(key), wanted.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_differences(a, b, dotted + ".")
        elif a != b and not dotted.startswith(RESULT_NEUTRAL_KEYS):
            out.append(f"{dotted}: {a!r} → {b!r}")
    return out


def _as_current(tree: dict) -> dict:
    """``tree`` with the current schema's defaults filled in; ``tree`` itself if it no longer validates."""
    try:
        return build_config(tree, source="stored config").to_dict()
    except ConfigError:
        return tree


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
