"""A run's parts, each built once: the data (``RunData``: splits, input spec, loaders), the model
(``Network``), how steps update it (``Optimisation``) and the run's record — the one recipe that training
(:mod:`vislab.training.setup`) and the LR range test (``vislab lr-find``) build with."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from vislab.config import (
    Config,
)
from vislab.data import prepare_data
from vislab.data.augment import build_augment
from vislab.data.input_spec import InputSpec
from vislab.data.loader import DeviceLoader
from vislab.data.mix import build_mix
from vislab.data.types import Splits
from vislab.errors import UserCodeError, UserError
from vislab.models import build_model, skip_pretrained
from vislab.models.hooks import ModelHooks, hooks_of, model_size
from vislab.models.objects import check_unchanged
from vislab.models.options import cropped_input
from vislab.models.registry import code_of
from vislab.training.checks import check_same_data
from vislab.training.class_weights import class_weights, soft_cross_entropy, uses_soft_loss
from vislab.training.ema import WeightEMA
from vislab.training.finetune import (
    Start,
    head_names,
    init_from_run,
    param_groups,
    start_summary,
    transfer_notes,
)
from vislab.training.freezing import Frozen, freeze
from vislab.training.model_checks import (
    check_finite_output,
    check_not_meta,
    check_output,
    check_params_to_train,
    user_code,
)
from vislab.training.optim import (
    build_optimizer,
    decay_groups,
    l1_params,
    optimizer_steps,
    scheduled_lr,
)
from vislab.training.plateau import Plateau
from vislab.training.precision import Precision, choose_precision
from vislab.training.record import Checkpoint
from vislab.training.rundir import RunDir
from vislab.training.runtime import (
    Distributed,
    resolve_data_device,
)
from vislab.training.saved_weights import load_weights
from vislab.training.state import LoopState
from vislab.training.summary import stopped_summary


@dataclass
class RunData:
    """A run's data: the splits, the input spec (evaluation's crop and normalisation) and the loaders."""

    splits: Splits
    spec: InputSpec
    train: DeviceLoader  # shuffled, augmented, this rank's share
    val: DeviceLoader
    test: DeviceLoader
    class_weights: list[float] | None = None  # train.class_weights: the training loss's


@dataclass
class Network:
    """The model (weights, checkpoints, hooks), what runs forward (``net``: DDP-wrapped and/or compiled,
    set by ``set_up``: training/compiling.py), its hooks and size, and the record of the user's code it
    is built from (``registry.code_of``: checkpoints' model_code, the files of its tracebacks)."""

    model: torch.nn.Module
    hooks: ModelHooks
    n_params: int
    num_classes: int
    code: dict | None  # None: vislab's own model
    net: torch.nn.Module | None = None
    graphs: bool = False  # compiled with CUDA graphs: each step must be marked (torch.compiler)
    channels_last: bool = False  # NHWC weights, so the loaders deliver NHWC batches
    start: Start | None = None  # train.init_from: what came from the other run
    frozen: Frozen | None = None  # train.freeze: what it froze

    @property
    def forward(self) -> torch.nn.Module:
        return self.net if self.net is not None else self.model

    def start_notes(self) -> list[str]:
        """Its first lines' notes: what train.init_from loaded and left new, what train.freeze froze."""
        return [r.line() for r in (self.start, self.frozen) if r is not None]

    def start_summary(self, earlier: dict[str, Any] | None = None) -> dict[str, Any]:
        """summary.json's ``trainable_params`` and ``init`` (:func:`start_summary`; ``earlier``: a resumed
        run's ``init.init_from``, as its summary.json recorded it)."""
        fitted = self.hooks.trained_by == "fit_arrays"
        return start_summary(self.model, self.start, self.frozen, fitted, earlier)


@dataclass
class Optimisation:
    """How a step updates the weights: the optimizer (None for models that update themselves), the
    learning rate at each optimizer step, precision, the loss's options, gradient accumulation (one
    optimizer step every ``accumulate`` batches: ``steps_per_epoch`` of them), the weight average and
    the plateau rule (``schedule.name=plateau``: cuts the lr after evaluations)."""

    opt: torch.optim.Optimizer | None
    # the lr at an optimizer step of the group starting at a base lr (left out: optim.lr), cuts included
    lr_at: Callable[..., float]
    precision: Precision  # train.amp: bf16, fp16 with loss scaling (``scaler``), or float32
    label_smoothing: float = 0.0
    class_weights: torch.Tensor | None = None  # train.class_weights on the device: weight=
    grad_clip: float | None = None
    accumulate: int = 1
    steps_per_epoch: int = 1
    ema: WeightEMA | None = None
    scaler: torch.amp.GradScaler | None = None
    plateau: Plateau | None = None
    head_lr: float | None = None  # optim.head_lr: the head's groups follow the schedule from it
    l1: float = 0.0  # optim.l1: the training loss's λ·Σ|w| over ``l1_weights``
    l1_weights: list[torch.Tensor] = field(default_factory=list)

    def autocast(self) -> contextlib.AbstractContextManager:
        return self.precision.autocast()

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """A training batch's loss: cross-entropy at the run's class weights and label smoothing (mixup's
        soft targets weighted as hard labels are: :func:`soft_cross_entropy`), plus optim.l1's penalty
        λ·Σ|w|, in float32 — the loss minimised, which the train loss reports (val and test: plain
        cross-entropy)."""
        ce = soft_cross_entropy if uses_soft_loss(targets, self.class_weights) else F.cross_entropy
        loss = ce(
            logits.float(), targets, weight=self.class_weights, label_smoothing=self.label_smoothing
        )
        if not self.l1_weights:
            return loss
        # Σ|w| as one fused L1 norm per tensor (no Python loop over the weights)
        return loss + self.l1 * torch.stack(torch._foreach_norm(self.l1_weights, 1)).sum()

    def scale_groups(self, step: int) -> None:
        """At optimizer ``step``, the head's groups (``optim.head_lr``) at their own scheduled lr, as a
        multiple (``lr_scale``) of the others': each group runs its own schedule from its own lr to the
        same absolute floor (``schedule.min_lr``), as torch's schedulers treat parameter groups."""
        if self.head_lr is None or self.opt is None:
            return
        base = self.lr_at(step)
        for group in self.opt.param_groups:
            if "lr_scale" in group and base > 0:
                group["lr_scale"] = self.lr_at(step, self.head_lr) / base


def build_parts(
    cfg: Config,
    device: torch.device,
    dist: Distributed,
    ckpt: Checkpoint | None = None,
    build_as: str | None = None,
    run: str = "the run",
) -> tuple[RunData, Network]:
    """Data (statistics fitted on train, or the checkpoint's), the seeded model checked on a dummy batch
    (with the checkpoint's weights when resuming), and the loaders.

    ``build_as``: the model name to build with instead of ``cfg.model.name`` (a resumed run's user code
    found at the path its checkpoint recorded, see ``vislab.models.trust.recorded_code``); ``run``: the
    resumed run, as its messages name it."""
    stats = ckpt.record.inputs.stats if ckpt else None
    # a resumed run's images decoded to its own channels, as eval does (how a folder is decoded may change)
    shape = ckpt.record.inputs.input_shape if ckpt else ()
    channels = shape[0] if len(shape) == 3 else None
    splits, stats = prepare_data(cfg.data, cfg.train.seed, stats, cfg.augment.crop.size, channels)
    if ckpt is not None:
        check_same_data(cfg.data, splits, ckpt)
    spec = InputSpec.build(cfg.augment, splits.sample_shape, stats, cfg.train.tta)
    network = _build_network(cfg, spec, splits.num_classes, ckpt, device, build_as, run)
    if cfg.train.init_from and ckpt is None:  # a resumed run's weights are its own
        names, head = list(splits.class_names), cfg.train.init_head
        network.start = init_from_run(network.model, cfg.train.init_from, names, head, cfg.data)
    if ckpt is None:
        transfer_notes(cfg, network.start)
    if cfg.train.freeze:
        network.frozen = freeze(network.model, cfg.train.freeze, cfg.model.name)
    check_params_to_train(network, cfg.model.name, cfg.train.freeze)
    loaders = _build_loaders(cfg, splits, spec, device, dist, network)
    own_loss = network.hooks.trained_by == "optimizer"  # not a fitted model's, a manual step's
    weights = class_weights(cfg.train.class_weights, splits, own_loss, cfg.data.limit)
    return RunData(splits, spec, *loaders, class_weights=weights), network


def build_optimisation(
    cfg: Config,
    network: Network,
    device: torch.device,
    batches_per_epoch: int,
    loop: LoopState | None = None,
    class_weights: list[float] | None = None,
) -> Optimisation:
    """The optimizer over the trainable weights (models trained by an optimizer), the schedule (in
    optimizer steps; times ``loop.lr_drop``, plateau's cuts), AMP, the weight average (``train.ema``)
    of the model as it is now, and the loss's ``class_weights`` (``RunData.class_weights``) and L1
    penalty (``optim.l1``, on the weights weight decay applies to)."""
    tc, model, oc = cfg.train, network.model, cfg.optim
    opt, l1_weights = None, []
    if network.hooks.trained_by == "optimizer":
        reinit = network.start.reinitialised if network.start else []
        head = head_names(model, network.num_classes, reinit) if oc.head_lr else []
        groups = param_groups(model, head, oc.head_lr, oc.lr)
        spared = network.hooks.no_weight_decay()
        opt = build_optimizer(decay_groups(model, groups, oc, spared), oc)
        l1_weights = l1_params(model, oc, spared)
    per_epoch, loop = optimizer_steps(batches_per_epoch, tc.accumulate), loop or LoopState()
    # plateau cuts down to the lowest group's floor (min_lr / the largest base lr); each group stops at its own
    plateau = Plateau.of(cfg.schedule, max(oc.lr, oc.head_lr or oc.lr), per_epoch)

    def lr_at(step: int, base_lr: float | None = None) -> float:
        base = base_lr or oc.lr
        drop = max(loop.lr_drop, min(1.0, cfg.schedule.min_lr / base)) if plateau else loop.lr_drop
        return scheduled_lr(cfg, step, per_epoch, base) * drop

    precision = choose_precision(device, tc.amp)
    trained = network.hooks.trained_by != "fit_arrays"
    ema = (
        WeightEMA(network.model, tc.ema.decay, tc.ema.warmup) if tc.ema.decay and trained else None
    )
    scaler = precision.scaler() if opt is not None else None
    weight = torch.tensor(class_weights, device=device) if class_weights is not None else None
    return Optimisation(
        opt, lr_at, precision, tc.label_smoothing, weight, tc.grad_clip, tc.accumulate, per_epoch, ema,
        scaler, plateau, oc.head_lr if opt is not None else None, oc.l1, l1_weights,
    )  # fmt: skip


def init_from_data(network: Network, train: DeviceLoader) -> None:
    """A new run's data-dependent init (e.g. `fast`'s whitening) from up to 10,000 train images: all of
    them, or 10,000 drawn at random with ``train.seed`` (a split keeps its source's order, often sorted
    by class: its first 10,000 may miss classes) by a generator of its own (the global RNGs untouched)."""
    n = len(train.y)
    picked = torch.arange(n)
    if n > 10_000:
        g = torch.Generator().manual_seed(train.seed)
        picked = torch.randperm(n, generator=g)[:10_000].sort().values
    network.hooks.init_from_data(train.batch(picked, augment=False)[0])


def first_start_init(
    name: str, run: RunDir, dist: Distributed, network: Network, train: DeviceLoader
) -> None:
    """``init_from_data``, where the user's own model raising is a UserCodeError naming the hook (its
    frames only), then the initialised model's output on the run's first inputs checked finite
    (``check_finite_output``); summary.json then says the run failed before its first step."""

    def stopped() -> str:
        if dist.is_main:
            run.write_summary(stopped_summary("failed", LoopState(), None))
        return (
            "Nothing was trained: after fixing your code, run it again (the same command, or the same "
            "vislab.train call)."
        )

    when = "in its init_from_data hook (before training)"
    with user_code(name, network.model, when, stopped, code=network.code):
        init_from_data(network, train)
    first = train.batch(torch.arange(min(8, len(train.y))), augment=False)[0]
    try:  # initialised: its output for the run's own inputs, before any step
        check_finite_output(network, name, first)
    except UserCodeError:
        stopped()
        raise


def _build_network(
    cfg: Config,
    spec: InputSpec,
    num_classes: int,
    ckpt: Checkpoint | None,
    device: torch.device,
    build_as: str | None,
    run: str,
) -> Network:
    """The seeded model for inputs of ``spec.input_shape`` on ``device`` (the checkpoint's weights when
    resuming run ``run``: :func:`load_weights`), checked on a dummy batch, its hooks and size."""
    torch.manual_seed(cfg.train.seed)  # model init
    name = build_as or cfg.model.name
    if ckpt:  # resuming: a notebook's class redefined since would build another model
        check_unchanged(name, ckpt.record.model.code, cfg.model.name)
    skip = skip_pretrained() if ckpt else contextlib.nullcontext()  # last.pt holds the weights
    with skip, cropped_input(spec.crop_size, min(spec.sample_shape[-2:])):  # hints name a crop
        model = build_model(name, spec.input_shape, num_classes, **cfg.model.kwargs())
        check_not_meta(model, cfg.model.name)  # before .to(device), which cannot copy them
        model = model.to(device)
    if ckpt:
        load_weights(model, ckpt.state_dict, cfg.model.name, run, ckpt.record.vislab_version)
    code = code_of(name)  # the user's code just built (a resumed run's: where its checkpoint says)
    # also gives lazy layers (nn.LazyLinear, ...) their shapes before anything counts them
    check_output(model, cfg.model.name, spec.input_shape, num_classes, device, code=code)
    hooks = hooks_of(model)
    n_params = model_size(model, hooks)  # a fitted model's: counted again once fitted (fit_once)
    nhwc = channels_last(cfg.train.channels_last, model, spec.input_shape)
    if nhwc:
        model = model.to(memory_format=torch.channels_last)
    return Network(model, hooks, n_params, num_classes, code, channels_last=nhwc)


def parameters(n: int) -> str:
    """``n`` parameters as the run's lines say it: "1 parameter", "16,710 parameters"."""
    return f"{n:,} parameter{'' if n == 1 else 's'}"


def channels_last(wanted: bool, model: torch.nn.Module, input_shape: tuple) -> bool:
    """Whether a run with ``train.channels_last`` (``wanted``) trains and evaluates ``model`` in NHWC:
    a conv model of image inputs. eval scores it so too, as the run did: the same numbers."""
    # NHWC suits oneDNN (CPU) and tensor cores (CUDA) alike: ~25 % off a CNN step on 2 CPU cores
    is_conv = any(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    return wanted and len(input_shape) == 3 and is_conv


def no_batch_message(batch_size: int, n_train: int, world: int) -> str:
    """Why the train loader of each of ``world`` processes holds no batch of ``batch_size`` from a train
    split of ``n_train`` samples (drop_last), and the fix: a smaller batch, or — where a process's share
    holds no sample at all — fewer processes or more data."""
    share = n_train // world
    if world > 1 and share == 0:
        return (
            f"the train split has {n_train} sample{'s' if n_train != 1 else ''}, fewer than the "
            f"{world} processes of --nproc {world}: each process trains on its own share, and theirs "
            f"are empty. Use fewer processes (--nproc {max(n_train, 1)} at most) or more data (a "
            f"larger data.limit, or another dataset)."
        )
    where = (
        f"{share} samples in each of its {world} processes' shares; train.batch_size is per process"
        if world > 1
        else f"{n_train} samples"
    )
    return (
        f"train.batch_size={batch_size} is larger than the train split ({where}) and drop_last "
        f"leaves no batch. Use a smaller batch size (train.batch_size={max(share, 1)} at most)."
    )


def _build_loaders(
    cfg: Config,
    splits: Splits,
    spec: InputSpec,
    device: torch.device,
    dist: Distributed,
    network: Network,
) -> tuple[DeviceLoader, DeviceLoader, DeviceLoader]:
    """Train (shuffled, augmented, this rank's share), val and test loaders on ``device``; what is not
    cropped at random is centre-cropped to the spec's input (evaluation's transform)."""
    tc = cfg.train
    nbytes = sum(s.x.nbytes for _, s in splits.items())
    storage = resolve_data_device(cfg.data.device, device, nbytes)
    augment = build_augment(cfg.augment, splits.sample_shape)
    mix = build_mix(cfg.augment, splits.sample_shape, splits.num_classes)
    stats, size = spec.stats, spec.crop_size
    train = DeviceLoader(
        splits.train, stats, tc.batch_size, device, shuffle=True, drop_last=True, augment=augment,
        seed=tc.seed, rank=dist.rank, world=dist.world, storage=storage, size=size, mix=mix,
    )  # fmt: skip
    val = DeviceLoader(splits.val, stats, tc.eval_batch_size, device, storage=storage, size=size)
    test = DeviceLoader(splits.test, stats, tc.eval_batch_size, device, storage=storage, size=size)
    channels_last = network.channels_last
    for loader in (train, val, test):
        loader.channels_last = channels_last
    train.alternate_flip = network.hooks.flip_policy == "alternate"
    train.balanced = tc.sampler == "balanced"
    if (
        len(train) == 0 and network.hooks.trained_by != "fit_arrays"
    ):  # a fitted model takes it whole
        raise UserError(no_batch_message(tc.batch_size, len(splits.train), dist.world))
    return train, val, test
