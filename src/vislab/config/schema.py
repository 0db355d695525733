"""The schema: Config and its pydantic sections (data, model, optim, schedule, train, ...; the augment
section's in :mod:`vislab.config.augmentation`, the base of each in :mod:`vislab.config.sections`)."""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import BeforeValidator, ConfigDict, Field, field_validator, model_validator

from vislab.config.augmentation import AugmentConfig
from vislab.config.sections import Section, ShownAsYaml

DEFAULT_DATA_ROOT = "data"  # data.root's default: the one folder vislab downloads into unasked


def as_text(value: Any) -> Any:
    """A path given in Python (a ``pathlib.Path``, a :class:`vislab.Run`: any ``os.PathLike``) as the
    string config.yaml stores; any other value as it is."""
    return os.fsdecode(value) if isinstance(value, os.PathLike) else value


#: a path-valued setting: a str, or any os.PathLike given in Python (stored as its str)
PathText = Annotated[str, BeforeValidator(as_text)]


# ----------------------------------------------------------------------------------------- data
class DataConfig(Section):
    name: str = "digits"
    # folder holding the dataset files (per-dataset sub-folders are also searched); a root that does not
    # exist is an error, never created (except the default folder, which a download creates)
    root: PathText = DEFAULT_DATA_ROOT
    # fetch official files when missing: "auto" only into the default root, true into any existing root
    download: bool | Literal["auto"] = "auto"
    # imagenet: fixed statistics, for pretrained models
    normalize: Literal["none", "standard", "zca", "imagenet"] = "standard"
    # ZCA's ε, added to the train covariance's eigenvalues: a regulariser. Pixels in [0, 1] vary by about
    # 0.06-0.09, so the default 0.1 shrinks most directions (smooths) rather than whitening them; for a
    # covariance near the identity give 1e-3 or below, which amplifies noise (the reports' runs use 0.1)
    zca_epsilon: float = Field(0.1, gt=0)
    val_fraction: float = Field(0.1, gt=0, lt=1)  # carved from train where a source has no val set
    # carved from train first where a source has no test set (digits, a folder without test/, memory:
    # arrays without one), whatever val_fraction: runs with another val_fraction keep the same test set
    test_fraction: float = Field(0.1, gt=0, lt=1)
    # A source's own validation set (CIFAR-10: data_batch_5; a folder's val/) is the val split; false: it joins
    # train and val is carved with val_fraction (the RDFIA reports train on all 50,000 CIFAR-10 images).
    official_val: bool = True
    # Explicit sizes: pool the official sets named in `use` and carve a seeded, stratified
    # train/val/test split of these sizes (e.g. [8000, 1000, 1000] from the MNIST test set).
    split: list[int] | None = None
    use: list[Literal["train", "test"]] = ["train", "test"]  # official sets to load
    # keep N training samples, drawn with the seed (quick runs)
    limit: int | None = Field(None, gt=0)
    # keep N training samples of each class, drawn with the seed (balanced small-data subsets); a class
    # with fewer is refused when the data is loaded
    limit_per_class: int | None = Field(None, gt=0)
    # keep N val and N test samples, stratified, drawn with the seed: a quick check scores fewer images per
    # epoch (its test figures are then of a sample, not of the whole test set); None: every one
    limit_eval: int | None = Field(None, gt=0)
    # the seed that draws the splits, data.limit's and limit_eval's samples; null: train.seed. Fix it to give
    # every seed of a run the same train/val/test images: their spread is then the training's own draws'
    split_seed: int | None = Field(None, ge=0, lt=2**31)  # as train.seed: room for the seed + i
    # up-sample images to resize x resize (e.g. for timm ViTs)
    resize: int | None = Field(None, gt=0)
    # `folder` source: decode every image to this square size (to data.resize instead when given)
    image_size: int = Field(32, gt=0)
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

    @model_validator(mode="after")
    def _one_limit(self) -> DataConfig:
        if self.limit is not None and self.limit_per_class is not None:
            raise ValueError(
                "data.limit (N training images in all) and data.limit_per_class (N of each class) both "
                "cap the train split: give one of them (the other null)"
            )
        return self


# ------------------------------------------------------------------------------------- model
class ModelConfig(ShownAsYaml):
    """`name` picks a registry entry; every other key is a constructor kwarg, checked by the registry."""

    model_config = ConfigDict(extra="allow")
    name: str = "cnn"

    @model_validator(mode="after")
    def _not_what_vislab_passes(self) -> ModelConfig:
        for key in ("input_shape", "num_classes"):  # every builder gets them from the data
            if key in (self.model_extra or {}):
                raise ValueError(
                    f"model.{key} is not an option: vislab builds every model for the data it trains "
                    f"on (its input_shape and num_classes). Remove model.{key}"
                )
        return self

    @model_validator(mode="after")
    def _paths_as_text(self) -> ModelConfig:
        for key, value in (
            self.model_extra or {}
        ).items():  # model.weights=Path(...): stored as str
            self.model_extra[key] = as_text(value)  # type: ignore[index]  # not None: iterated
        return self

    def kwargs(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


# ------------------------------------------------------------------------------- optimisation
# an Adam moment's decay rate: torch refuses one outside [0, 1)
Beta = Annotated[float, Field(ge=0, lt=1)]


class OptimConfig(Section):
    name: Literal["sgd", "adam", "adamw"] = "adam"
    lr: float = Field(1e-3, gt=0)
    momentum: float = Field(0.0, ge=0, lt=1)
    nesterov: bool = False
    weight_decay: float = Field(0.0, ge=0)
    betas: tuple[Beta, Beta] = (0.9, 0.999)  # adam, adamw
    # the classifier's own learning rate (a re-initialised head after train.init_from, else the last
    # Linear to the classes); the schedule scales it as it scales optim.lr. None: optim.lr
    head_lr: float | None = Field(None, gt=0)
    # weight decay on every weight (true), or not on the 1-D ones — biases, normalisation layers' scales —
    # nor on those the model names in a no_weight_decay() method (timm's: position embeddings, class token)
    decay_bias_norm: bool = True
    # L1 penalty: λ·Σ|w| over the weights weight decay applies to (optim.decay_bias_norm decides biases
    # and norms alike) added to the training loss, whose train_loss in metrics.jsonl includes it (the
    # loss minimised, as label smoothing's); val and test losses stay plain cross-entropy
    l1: float = Field(0.0, ge=0)

    @field_validator("betas", mode="before")
    @classmethod
    def _two_betas(cls, value: Any) -> Any:
        if isinstance(value, (list, tuple)) and len(value) != 2:
            raise ValueError(
                "optim.betas takes two numbers, Adam's decay rates of the gradient's mean and of its "
                "square, e.g. [0.9, 0.999] (--set optim.betas=[0.9,0.999])"
            )
        return value


class ScheduleConfig(Section):
    name: Literal["none", "exponential", "step", "cosine", "onecycle", "plateau"] = "none"
    # the lr's factor — exponential: per epoch; step: per step_size epochs. None (config.yaml: null): the
    # schedule's own (``gamma_read``): step 0.1, as torch's StepLR; exponential 0.95, the RDFIA default
    gamma: float | None = Field(None, gt=0, le=1)
    step_size: int = Field(10, gt=0)
    # cosine, plateau: the floor, the same absolute lr for every parameter group (optim.head_lr's too), as
    # torch's CosineAnnealingLR eta_min and ReduceLROnPlateau min_lr
    min_lr: float = Field(0.0, ge=0)
    warmup_epochs: float = Field(0.0, ge=0)  # linear warm-up (fractions allowed)
    # plateau: the lr times `factor` after `patience` evaluations in a row where train.select_metric did
    # not improve by train.min_delta (the cut resets the count); 0.1, as torch's ReduceLROnPlateau
    factor: float = Field(0.1, gt=0, lt=1)
    patience: int = Field(5, ge=1)

    @property
    def gamma_read(self) -> float:
        """The factor the step or exponential schedule applies: ``gamma`` when given, else the schedule's
        own (step 0.1, exponential 0.95). A run's config.yaml records gamma as given (null: the
        schedule's own), so a run resumes with the gamma it started with."""
        if self.gamma is not None:
            return self.gamma
        return 0.1 if self.name == "step" else 0.95


class Ema(Section):
    """An exponential moving average of the weights, which evaluation, best.pt and export use."""

    decay: float = Field(0.0, ge=0, lt=1)  # 0 = off; e.g. 0.999
    # decay min(decay, (1 + t) / (10 + t)) at optimizer step t (TensorFlow's ExponentialMovingAverage
    # num_updates rule, not timm's warm-up): early steps count more; false: decay from the first step
    warmup: bool = True


#: the metrics that select the best epoch (best.pt), stop early, cut the lr on a plateau and prune a
#: sweep's trials: val figures only (the test split never chooses)
SelectMetric = Literal["val_pacc", "val_acc", "val_loss"]
SELECT_METRICS: tuple[str, ...] = get_args(SelectMetric)


class TrainConfig(Section):
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(64, ge=1)
    eval_batch_size: int = Field(1024, ge=1)
    seed: int = Field(
        0, ge=0, lt=2**31
    )  # numpy takes 0 … 2**32 - 1: room for the seed + i vislab derives
    device: Literal["auto", "cpu", "cuda"] = "auto"
    eval_every: int = Field(1, ge=1)  # evaluate on val every N epochs (and after the last)
    # an epoch-0 row: the untrained model scored on the train images of epoch 1 (unaugmented) and val
    eval_at_start: bool = False
    # score the test split at every evaluation, for the curves only (RDFIA's train-vs-test figures): written
    # to each metrics row as test_loss/test_acc/test_pacc, never used to select, stop early or prune
    track_test: bool = False
    select_metric: SelectMetric = "val_pacc"  # best.pt chooses by it
    early_stop: int | None = Field(None, ge=1)  # patience in evaluations; None = off
    # the metric early stopping watches (e.g. val_loss while best.pt keeps the best val_pacc); None:
    # train.select_metric
    early_stop_metric: SelectMetric | None = None
    # what counts as an improvement, in each metric's direction (a loss: lower), for early stopping and
    # the plateau schedule
    min_delta: float = Field(0.0, ge=0)
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    # the training loss's weight of each class (torch's cross_entropy weight=; val and test losses stay
    # plain): "balanced", n_train / (n_classes * count_c) counted on the train split (sklearn's
    # compute_class_weight), or one weight > 0 per class in class order, checked when the data is loaded
    class_weights: Literal["balanced"] | list[float] | None = None
    # each epoch's train order: "shuffle", every image once; "balanced", as many draws with replacement,
    # each class (of those the train split holds) equally likely, then an image of it
    sampler: Literal["shuffle", "balanced"] = "shuffle"
    # the largest L2 norm of all gradients together (one vector of every parameter's, as torch's
    # clip_grad_norm_), scaled down to it at each optimizer step; None: no clipping
    grad_clip: float | None = Field(None, gt=0)
    amp: bool = True  # CUDA autocast: bf16, or fp16 with loss scaling where bf16 is emulated (training/precision.py)
    channels_last: bool = True  # NHWC memory format for conv models (faster on CPU and CUDA)
    # CUDA: cuDNN times its convolution algorithms for each new input shape and keeps the fastest (as the
    # speed records do); a resumed run may then pick others, so it matches the uninterrupted one only to
    # float rounding
    cudnn_benchmark: bool = False
    # torch.compile (true), or compiled with CUDA graphs replaying each step's kernels ("graphs": mode
    # "reduce-overhead"; on a CPU the same as true); falls back to eager with a message
    compile: bool | Literal["graphs"] = False
    threads: int | None = Field(None, ge=1)  # torch CPU threads
    # the training loss every N steps into steps.jsonl (mean of the N steps, read back once per epoch); 0 = off
    log_every: int = Field(0, ge=0)
    # per-layer gradient L2 norms at every optimizer step (the whole accumulated window, before grad_clip),
    # summed on the device, epoch means into grad_norms.jsonl
    track_grad_norm: bool = False
    ema: Ema = Ema()
    # test-time augmentation in evaluation, eval, predict and export: logits averaged over the image and its
    # mirror ("flip"), and each also shifted by one pixel up-left and down-right ("flip-translate")
    tta: Literal["none", "flip", "flip-translate"] = "none"
    # gradient accumulation: one optimizer step every k batches (the schedule counts optimizer steps; an
    # epoch's last, shorter window is the mean of its own samples); with batch norm not exactly a k-times
    # larger batch (its statistics are per batch)
    accumulate: int = Field(1, ge=1)
    # start a new run from another run's weights (its folder or a checkpoint): tensors of the same name
    # and shape are loaded, the others (a head for other classes) stay freshly initialised and are named
    init_from: PathText | None = None
    # the head (head_modules(), default the last Linear to the classes) with train.init_from: "auto"
    # re-initialises it when the other run's class names differ from this run's (same number: same
    # shape), "new" always, "keep" loads it wherever its shape fits
    init_head: Literal["auto", "new", "keep"] = "auto"
    # parameter-name patterns (fnmatch, e.g. "features.*") whose weights do not train
    freeze: list[str] = []
    # the run's figures/ at its end (curves, confusion matrix, ...); false: summary, metrics and
    # predictions only (quick checks, many small runs: a suite's or a sweep's report draws its own)
    figures: bool = True

    @field_validator("freeze", mode="before")
    @classmethod
    def _freeze_list(cls, value: Any) -> Any:
        if value is None or isinstance(value, str):
            patterns = _patterns(value)
            shown = yaml.safe_dump(patterns, default_flow_style=True).strip()
            quote = '"' if "'" in shown else "'"
            alias = any(p.startswith("*") for p in patterns)
            raise ValueError(
                "train.freeze is a list of parameter-name patterns"
                + (", each quoted where it starts with * (YAML reads *name as an alias)" * alias)
                + f": --set {quote}train.freeze={shown}{quote} (Python: train__freeze={patterns!r}; "
                f"[] freezes nothing)"
            )
        return value

    @field_validator("class_weights", mode="before")
    @classmethod
    def _class_weights(cls, value: Any) -> Any:
        if not isinstance(value, str) and hasattr(value, "tolist"):  # numpy's or torch's array
            value = value.tolist()  # e.g. sklearn's compute_class_weight: a list of floats
        if not (value is None or value == "balanced" or isinstance(value, (list, tuple))):
            raise ValueError(
                f"train.class_weights is balanced, a list of one weight per class or null, not "
                f"{value!r}: --set train.class_weights=balanced / train__class_weights='balanced', or "
                f"--set 'train.class_weights=[1, 10]' / train__class_weights=[1, 10]"
            )
        return value

    @field_validator("class_weights")
    @classmethod
    def _positive_weights(cls, value: Any) -> Any:
        if isinstance(value, list) and not all(0 < w < float("inf") for w in value):
            raise ValueError(
                f"train.class_weights={value}: each class's weight is a finite number > 0 (a class "
                f"weighted 0 would not train: leave its images out of the data instead)"
            )
        return value

    @field_validator("compile", mode="before")
    @classmethod
    def _compile_choice(cls, value: Any) -> Any:
        if value == "graphs" or isinstance(value, bool) or value in (0, 1) or _is_bool_word(value):
            return value
        raise ValueError(
            f"train.compile is true, false or 'graphs', not {value!r}: --set train.compile=true / "
            f"train__compile=True (torch.compile's default mode), or --set train.compile=graphs / "
            f"train__compile='graphs' (its 'reduce-overhead', with CUDA graphs)"
        )

    @field_validator("ema", mode="before")
    @classmethod
    def _ema_section(cls, value: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise ValueError(
                f"train.ema is a section (decay, warmup), not a number: give its decay, "
                f"--set train.ema.decay={value:g} (0 = off)"
            )
        return value

    @property
    def stop_metric(self) -> str:
        """The metric early stopping watches: ``early_stop_metric``, else ``select_metric``."""
        return self.early_stop_metric or self.select_metric


def _is_bool_word(value: Any) -> bool:
    """Whether ``value`` is a word pydantic reads as a boolean (yes, off, ...)."""
    words = ("0", "off", "f", "false", "n", "no", "1", "on", "t", "true", "y", "yes")
    return isinstance(value, str) and value.lower() in words


def _patterns(value: str | None) -> list[str]:
    """The freeze patterns a string given for train.freeze meant: ``'a.*'`` one, ``'[*bn*, a.*]'`` (a list
    YAML could not read: ``*`` starts an alias) each of its items."""
    if value is None:
        return []
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        return [p.strip().strip("'\"") for p in text[1:-1].split(",") if p.strip()]
    return [value]


class TrackConfig(Section):
    tensorboard: bool = False
    wandb: bool = False
    project: str = "vislab"
    run_name: str | None = None


class Config(Section):
    """A run's whole configuration, validated: the sections ``data``, ``augment``, ``model``, ``optim``,
    ``schedule``, ``train`` and ``track``, each key with its default unless set. An unknown key or a
    value of the wrong type is refused: by :func:`vislab.load_config` (ConfigError naming it), and when
    set on the object (``cfg.optim.lr = 0.1`` is checked: pydantic's ValidationError). ``to_dict()`` and
    ``to_yaml()`` give it as a run's config.yaml holds it.

    >>> cfg = vislab.load_config("my.yaml", optim__lr=0.1)   # vislab.Config(): every default
    >>> run = vislab.train(cfg, out="runs/mine")
    """

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
