"""A run's set-up: data (statistics fitted on train, or a checkpoint's), the model, the loaders —
gathered in ``Setup``, the dataclass every stage of the trainer reads."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import torch

from vislab.config import Config
from vislab.data import prepare_data
from vislab.data.augment import build_augment, model_input_shape
from vislab.data.loader import DeviceLoader
from vislab.data.types import Splits
from vislab.errors import UserCodeError, UserError
from vislab.models import build_model, skip_pretrained
from vislab.models.hooks import ModelHooks, hooks_of
from vislab.models.user import code_failed, is_user_reference
from vislab.training.progress import Progress
from vislab.training.rundir import RunDir
from vislab.training.runtime import Distributed, resolve_data_device, resolve_device
from vislab.training.state import LoopState
from vislab.training.step_log import StepTracker
from vislab.version import __version__


@dataclass
class Setup:
    """What every stage of a run reads: built once by ``set_up`` (the optimizer by ``ready_steps``)."""

    cfg: Config
    run: RunDir
    dist: Distributed
    device: torch.device
    model: torch.nn.Module  # the bare model: weights, checkpoints, hooks
    hooks: ModelHooks
    splits: Splits
    train_loader: DeviceLoader
    val_loader: DeviceLoader
    test_loader: DeviceLoader
    meta: dict  # what every checkpoint carries beside the weights
    n_params: int
    log: Progress
    history: list[dict]
    state: LoopState
    resume_rng: tuple = (None, None)  # (cpu, cuda) RNG states of an epoch interrupted mid-way
    net: torch.nn.Module | None = None  # what runs forward: the model, DDP-wrapped and/or compiled
    opt: torch.optim.Optimizer | None = None
    amp: contextlib.AbstractContextManager = field(default_factory=contextlib.nullcontext)
    steps: StepTracker | None = None  # train.log_every, train.track_grad_norm: set by ready_steps

    @property
    def amp_on(self) -> bool:
        return self.device.type == "cuda" and self.cfg.train.amp


def set_up(
    cfg: Config,
    run: RunDir,
    ckpt: dict | None,
    quiet: bool,
    dist: Distributed,
    build_as: str | None = None,
) -> Setup:
    """Data (statistics fitted on train, or the checkpoint's), model and loaders; the config saved.

    ``build_as``: the model name to build with instead of ``cfg.model.name`` (a resumed run's user code
    found at the path its checkpoint recorded, see ``vislab.models.user.recorded_code``)."""
    tc = cfg.train
    device = dist.device or resolve_device(tc.device)
    if tc.threads:
        torch.set_num_threads(tc.threads)
    splits, stats = prepare_data(
        cfg.data, tc.seed, ckpt["preprocess"] if ckpt else None, cfg.augment.crop.size
    )
    shape = model_input_shape(cfg.augment, splits.sample_shape)  # smaller with augment.crop.size
    model, n_params = _build_model(cfg, shape, splits.num_classes, ckpt, device, build_as)
    hooks = hooks_of(model)
    if hooks.trained_by != "fit_arrays":  # fitted models predict nothing before their fit
        check_output(model, cfg.model.name, shape, splits.num_classes, device)
    meta = dict(
        model_name=cfg.model.name,
        model_code=getattr(model, "vislab_code", None),  # a user's model: reference, file, sha256
        model_kwargs=cfg.model.kwargs(),
        input_shape=list(shape),
        sample_shape=list(splits.sample_shape),  # the images before the centre crop to input_shape
        num_classes=splits.num_classes,
        class_names=splits.class_names,
        preprocess=stats,
        config=cfg.to_dict(),
        vislab_version=__version__,
    )
    if dist.is_main:
        run.write_config(cfg.to_yaml())
    loaders = _build_loaders(
        cfg, splits, stats, device, dist, hooks, _channels_last(cfg, model, shape)
    )
    log = Progress(quiet=quiet or not dist.is_main)
    n = "/".join(str(len(s)) for _, s in splits.items())
    log.line(
        f"{cfg.model.name} on {cfg.data.name}: {n} train/val/test, {n_params:,} parameters, "
        f"device {device}"
    )
    return Setup(
        cfg, run, dist, device, model, hooks, splits, *loaders, meta, n_params, log,
        history=list(ckpt["history"]) if ckpt else [],
        state=LoopState.from_dict(ckpt["state"]) if ckpt else LoopState(),
        resume_rng=(ckpt.get("rng"), ckpt.get("cuda_rng")) if ckpt else (None, None),
    )  # fmt: skip


def model_and_train_loader(
    cfg: Config, device: torch.device
) -> tuple[torch.nn.Module, DeviceLoader]:
    """``cfg``'s seeded model and its shuffled, augmented train loader, built as ``set_up`` builds them but
    without a run directory (the LR range test, ``vislab.training.lr_find``, steps on them)."""
    splits, stats = prepare_data(cfg.data, cfg.train.seed, crop_size=cfg.augment.crop.size)
    shape = model_input_shape(cfg.augment, splits.sample_shape)
    model, _ = _build_model(cfg, shape, splits.num_classes, None, device, None)
    hooks = hooks_of(model)
    if hooks.trained_by != "fit_arrays":
        check_output(model, cfg.model.name, shape, splits.num_classes, device)
    channels_last = _channels_last(cfg, model, shape)
    train, _, _ = _build_loaders(cfg, splits, stats, device, Distributed(), hooks, channels_last)
    return model, train


def _build_model(
    cfg: Config,
    shape: tuple[int, ...],
    num_classes: int,
    ckpt: dict | None,
    device: torch.device,
    build_as: str | None,
):
    """The seeded model for inputs of ``shape`` on ``device`` (with the checkpoint's weights when
    resuming) and its size."""
    torch.manual_seed(cfg.train.seed)  # model init
    name = build_as or cfg.model.name
    with skip_pretrained() if ckpt else contextlib.nullcontext():  # last.pt holds the weights
        model = build_model(name, shape, num_classes, **cfg.model.kwargs())
        model = model.to(device)
    if ckpt:
        model.load_state_dict(ckpt["state_dict"])
    n_params = sum(p.numel() for p in model.parameters())
    if n_params == 0:  # fitted baselines: their size is what they store
        n_params = sum(b.numel() for b in model.buffers())
    if _channels_last(cfg, model, shape):
        model = model.to(memory_format=torch.channels_last)
    return model, n_params


def check_output(
    model: torch.nn.Module,
    name: str,
    shape: tuple[int, ...],
    num_classes: int,
    device: torch.device,
) -> None:
    """One dummy batch (zeros, batch 2, eval mode, no grad): UserCodeError unless the model maps it to
    logits [2, num_classes]; an exception in a user model's forward shows the user's traceback."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.zeros(2, *shape, device=device))
    except Exception as e:
        if not is_user_reference(name):
            raise
        raise code_failed(name, e, "on a dummy batch of zeros", _user_files(model)) from None
    finally:
        model.train(was_training)
    got = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
    if got != [2, num_classes]:
        shape_text = "×".join(map(str, shape))
        raise UserCodeError(
            f"model '{name}': forward(x) on a batch of 2 inputs of shape {shape_text} returned {got}, "
            f"expected logits of shape [2, {num_classes}] ([batch, num_classes]). Make forward return "
            f"one row of {num_classes} class scores per input (e.g. end with "
            f"nn.Linear(..., num_classes))."
        )


def _user_files(model: torch.nn.Module) -> list[Path]:
    code = getattr(model, "vislab_code", None) or {}
    return [Path(code["path"])] if code.get("path") else []


def _channels_last(cfg: Config, model: torch.nn.Module, sample_shape: tuple) -> bool:
    # NHWC suits oneDNN (CPU) and tensor cores (CUDA) alike: ~25 % off a CNN step on 2 CPU cores
    is_conv = any(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    return cfg.train.channels_last and len(sample_shape) == 3 and is_conv


def _build_loaders(cfg, splits, stats, device, dist, hooks, channels_last):
    """Train (shuffled, augmented, this rank's share), val and test loaders on ``device``."""
    tc = cfg.train
    nbytes = sum(s.x.nbytes for _, s in splits.items())
    storage = resolve_data_device(cfg.data.device, device, nbytes)
    augment = build_augment(cfg.augment, splits.sample_shape)
    size = (
        cfg.augment.crop.size
    )  # the model's input: what is not cropped at random is centre-cropped
    train = DeviceLoader(
        splits.train, stats, tc.batch_size, device, shuffle=True, drop_last=True,
        augment=augment, seed=tc.seed, rank=dist.rank, world=dist.world, storage=storage, size=size,
    )  # fmt: skip
    val = DeviceLoader(splits.val, stats, tc.eval_batch_size, device, storage=storage, size=size)
    test = DeviceLoader(splits.test, stats, tc.eval_batch_size, device, storage=storage, size=size)
    for loader in (train, val, test):
        loader.channels_last = channels_last
    train.alternate_flip = hooks.flip_policy == "alternate"
    if len(train) == 0:
        raise UserError(
            f"train.batch_size={tc.batch_size} is larger than the train split "
            f"({len(splits.train)} samples per process) and drop_last leaves no batch. "
            f"Use a smaller batch size."
        )
    return train, val, test


def start_tracking(s: Setup, ckpt: dict | None) -> StepTracker:
    """The step-loss and gradient-norm sums (rank 0 only: the other ranks track nothing)."""
    tc, main = s.cfg.train, s.dist.is_main
    grads = tc.track_grad_norm and main
    if grads and s.hooks.trained_by != "optimizer":
        s.log.line("train.track_grad_norm: this model makes its own updates: no gradients to see")
        grads = False
    tracker = StepTracker(s.model, s.device, tc.log_every if main else 0, grads)
    tracker.load_state_dict(ckpt.get("step_tracking") if ckpt else None)
    return tracker
