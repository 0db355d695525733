"""What a run's set-up checks of its data and settings before it trains: a resumed run finds the data it
started on; the settings a model's own update step would ignore are refused, and those that do nothing
here are noted. (What it checks of the model itself: ``model_checks``.)"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from vislab.config import (
    Config,
    DataConfig,
    augmentations_on,
    beyond_plain_sgd,
    config_notes,
    given,
)
from vislab.config.notes import dropped_batch_note, eval_size_note, norm_steps_note, warmup_note
from vislab.config.unread import UNREAD_SECTIONS, unread_setting
from vislab.data.augment_words import colour_note, crop_note
from vislab.data.download import is_default_root
from vislab.data.limit_notes import limit_note
from vislab.data.types import Splits
from vislab.errors import ConfigError, DataError, VislabError
from vislab.models import model_kwargs
from vislab.models.hooks import BoundHooks, ModelHooks
from vislab.models.objects import is_users_code
from vislab.models.registry import copies_weights
from vislab.models.user import is_user_reference, parse_reference
from vislab.training.class_weights import balanced_twice_note
from vislab.training.mirror_notes import mirror_notes
from vislab.training.optim import warmup_steps
from vislab.training.record import Checkpoint
from vislab.training.too_small import one_pixel_note
from vislab.words import and_list

if TYPE_CHECKING:  # the set-up's records (training/parts.py builds them, then calls these checks)
    from vislab.data.loader import DeviceLoader
    from vislab.training.parts import Network, RunData


def split_sizes(splits: Splits) -> dict[str, int]:
    """The number of samples in each split (a resumed run's are checked against these)."""
    return {name: len(split) for name, split in splits.items()}


def check_same_data(data: DataConfig, splits: Splits, ckpt: Checkpoint) -> None:
    """DataError unless a resumed run finds the data it started on: the classes its checkpoint names
    and, where the checkpoint recorded them (last.pt files before vislab recorded them do not), the
    split sizes."""
    changes = _class_changes(ckpt.record.model.class_names, list(splits.class_names))
    sizes = ckpt.resume.split_sizes if ckpt.resume else None
    changes += [
        f"{name} {sizes[name]} → {n} samples"
        for name, n in split_sizes(splits).items()
        if sizes and name in sizes and sizes[name] != n
    ]
    if changes:
        root = "" if is_default_root(Path(data.root)) else f" in {data.root}"
        raise DataError(
            f"the data ({data.name}{root}) is not what this run started on: {'; '.join(changes)}. "
            f"A resumed run continues on the data it began with: restore that data and resume, or "
            f"start a new run (a new --out) on the data as it is now."
        )


def _class_changes(was: list[str], now: list[str]) -> list[str]:
    """``classes added: …``, ``class removed: …`` (or the new order) from class list ``was`` to ``now``."""
    if now == was:
        return []
    added, removed = [c for c in now if c not in was], [c for c in was if c not in now]
    if not (added or removed):
        return [f"classes reordered: {', '.join(was)} → {', '.join(now)}"]
    return [
        f"class{'es' if len(names) > 1 else ''} {how}: {', '.join(names)}"
        for how, names in (("added", added), ("removed", removed))
        if names
    ]


def run_notes(cfg: Config, data: RunData, network: Network) -> list[str]:
    """The settings of this run that do nothing or that another defeats: the config's own
    (``config_notes``), augmentations of feature vectors, colour jitter of grey images, a crop padding of
    more than a quarter of the image, mirrored digits, an optimizer a model's own step ignores (and a
    level trained by torch.optim at Adam beside hand-written levels that step by SGD: mlp-scratch's),
    test-time flips of a model never trained on mirrored images, the class imbalance corrected twice
    (``class_weights.balanced_twice_note``), batch norm trained on too few batches, and a library CNN
    that shrinks the images to one pixel (``too_small.one_pixel_note``)."""
    notes = config_notes(cfg)
    on = augmentations_on(cfg)
    if on and not data.spec.is_image:
        notes.append(
            f"{', '.join(on)}: augmentation applies to images only, and {cfg.data.name} holds "
            f"{data.spec.input_shape[0]}-D feature vectors: nothing is augmented."
        )
    if network.hooks.trained_by == "manual_step" and not given(cfg.optim, "name"):
        notes.append(
            f"{_own_step(cfg.model.name, network.hooks)}: optim.name={cfg.optim.name} (the default) is "
            f"not used.{_lr_hint(cfg, network.hooks)}"
        )
    if note := _optim_level_note(cfg, network):
        notes.append(note)
    if note := limit_note(data.splits, cfg.data.limit):  # data.limit left a class without images
        notes.append(note)
    if note := colour_note(cfg.augment, data.splits.sample_shape):  # saturation, hue of grey images
        notes.append(note)
    notes += _augment_notes(cfg, data.splits.sample_shape, network)
    if note := _two_averages_note(cfg, network):
        notes.append(note)
    if note := balanced_twice_note(cfg.train.sampler, cfg.train.class_weights, data.class_weights):
        notes.append(note)
    if note := _norm_steps_note(cfg, data, network):
        notes.append(note)
    if note := _unread_hooks_note(cfg.model.name, network):
        notes.append(note)
    if note := one_pixel_note(network.model, cfg.model.name, data.spec.input_shape):
        notes.append(note)
    return notes


def _optim_level_note(cfg: Config, network: Network) -> str:
    """For the level of a family that ``torch.optim`` trains beside hand-written levels stepping by plain
    SGD (its hooks' ``plain_sgd``: mlp-scratch's model.impl=optim), at the default optimizer (Adam): that
    optim.name=sgd compares it with them like for like; else ''."""
    levels = network.hooks.plain_sgd
    if levels is None or network.hooks.trained_by != "optimizer" or given(cfg.optim, "name"):
        return ""
    by_hand = ", ".join(levels.by_hand)
    sets, python = levels.sgd_sets(by_optim=False)
    return (
        f"{cfg.model.name} with model.{levels.option}={levels.by_optim} trains with "
        f"optim.name={cfg.optim.name} (the default), while its hand-written levels (model.{levels.option} "
        f"{by_hand}) step by plain SGD: to compare them like for like, train it with {sets} / {python}."
    )


def _unread_hooks_note(name: str, network: Network) -> str:
    """For the user's own model (``file.py:Net``, a class given to ``vislab.train``) that defines members
    of ``ModelHooks`` (``trained_by``, ``manual_step``, ``gradcam_layer``, ...) without subclassing it, and
    so gets vislab's default hooks: vislab reads those only from a ``ModelHooks``, so none is used; else
    ''. Not for a model whose library's hooks read them (a ``timm:<name>`` model: ``TimmHooks``)."""
    model = network.model
    if type(network.hooks) is not BoundHooks or not is_users_code(name):
        return ""
    found = sorted(n for n in vars(ModelHooks) if not n.startswith("_") and hasattr(type(model), n))
    if not found:
        return ""
    cls = type(model).__name__
    return (
        f"model '{name}' defines {and_list(found)}, which vislab reads only from a class that "
        f"subclasses vislab.models.hooks.ModelHooks: as {cls} is, none of them is used (it is trained "
        f"by optim.name, as any nn.Module). Declare class {cls}(ModelHooks, nn.Module) to use them."
    )


# Batch norm's running statistics, which evaluation normalises with, are an exponential average: each
# training batch moves them a fraction `momentum` (torch's default 0.1) toward its own, so their starting
# values (mean 0, variance 1) keep a weight of (1 - momentum)^k after k batches. Once that is under 5 %, the
# statistics are the train data's in all but a rounding: k >= 29 at 0.1. A run of fewer batches in all
# evaluates with statistics still weighted toward the starting values, and may score far below what its
# weights can do (fast on 8x8 digits at its preset batch of 512: 2 batches an epoch, 20 in 10 epochs, scored
# at chance). Without batch norm, with statistics copied in (by the options a family declares, as
# registry.copies_weights reads them: resnet18's and timm's model.pretrained, model.weights; by the layers
# train.init_from loads: whatever values the file holds), or frozen by train.freeze (held in eval mode,
# never updated): no note. A user's model's options copy nothing in, whatever they are named.
START_WEIGHT_LEFT = 0.05


def _norm_steps_note(cfg: Config, data: RunData, network: Network) -> str | None:
    """``config.notes.norm_steps_note`` for a model with batch norm whose statistics start at their initial
    values and train (neither copied in from weights nor frozen by ``train.freeze``), trained by steps on
    too few batches in all; None else."""
    copied = _copied_in(cfg, network)
    momenta = [
        m.momentum
        for name, m in network.model.named_modules()
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
        and m.track_running_stats
        and m.momentum  # None: a cumulative average, the data's after one batch
        and not (m.affine and not m.weight.requires_grad)  # frozen whole: held in eval mode
        and not copied(f"{name}.running_mean" if name else "running_mean")
        and _at_start(m)
    ]
    if not momenta or network.hooks.trained_by == "fit_arrays":
        return None
    slowest = min(momenta)
    needed = 1 if slowest >= 1 else math.ceil(math.log(START_WEIGHT_LEFT) / math.log(1 - slowest))
    train, tc = data.train, cfg.train
    return norm_steps_note(
        cfg.model.name, train.n_samples, train.batch_size, tc.epochs, needed, slowest
    )


def _copied_in(cfg: Config, network: Network) -> Callable[[str], bool]:
    """Whether the model's tensor of that (state dict) name started from trained weights: every one where
    its builder loads them (:func:`~vislab.models.registry.copies_weights`: resnet18's and timm's
    ``model.pretrained``, ``model.weights``), those ``train.init_from`` took from its source (not those it
    re-initialised or that the source lacks); none else."""
    if copies_weights(cfg.model.name, cfg.model.kwargs()):
        return lambda name: True
    start = network.start
    if start is None:
        return lambda name: False
    left = {*start.reinitialised, *start.new}
    return lambda name: name in start.ours and name not in left


def _at_start(norm: torch.nn.modules.batchnorm._BatchNorm) -> bool:
    """Whether ``norm``'s running statistics are still their starting values (mean 0, variance 1)."""
    return bool((norm.running_mean == 0).all() and (norm.running_var == 1).all())


def _two_averages_note(cfg: Config, network: Network) -> str:
    """For ``train.ema.decay`` > 0 on a model that evaluates on a weight average it keeps itself
    (``eval_weight_average``; the option it declares sets it, ``weight_average_option``: e.g. `fast`'s
    ``model.ema_decay``): train.ema then averages the model, its average included — an average of an
    average; else ''."""
    decay, hooks = cfg.train.ema.decay, network.hooks
    if not decay or not hooks.eval_weight_average:
        return ""
    option = _own_option(cfg.model.name, hooks.weight_average_option)
    own = f" (model.{option[0]}={option[1]:g})" if option else ""
    off = f"--set model.{option[0]}=0" if option else "the model's own setting"
    return (
        f"train.ema.decay={decay:g} with model.name={cfg.model.name}, which already evaluates on a running "
        f"average of its weights{own}: train.ema averages the whole model, that average included, so "
        f"evaluation sees an average of an average, which lags the training further. Keep one: "
        f"--set train.ema.decay=0 (the model's own), or turn the model's off: {off}."
    )


def _own_option(name: str, option: tuple[str, float] | None) -> tuple[str, float] | None:
    """The model option that sets the model's own weight average (its hooks' ``weight_average_option``),
    where model ``name``'s builder takes it by that name — a user's builder on top of `fast` may not."""
    try:
        takes = model_kwargs(name)
    except VislabError:  # a model that cannot be looked up here: its option is not named
        return None
    return option if option is not None and option[0] in takes else None


def loop_notes(
    cfg: Config, steps_per_epoch: int, splits: Splits, train: DeviceLoader, resumed: bool
) -> list[str]:
    """The notes the config alone cannot tell, for a run about to train epochs: a warm-up of at most one
    optimizer step (``config.notes.warmup_note``: the steps per epoch come with the data), and a val split
    much larger than what ``data.limit`` trains on (``config.notes.eval_size_note``: the split sizes come
    with the data; not on a resume, which keeps its data: data.limit_eval cannot change), and a last
    partial batch, dropped, that leaves out ≥ 10 % of the train images each epoch
    (``config.notes.dropped_batch_note``)."""
    warmup = warmup_steps(cfg.schedule, steps_per_epoch)
    notes = [
        warmup_note(cfg.schedule.warmup_epochs, warmup, steps_per_epoch),
        dropped_batch_note(train.n_samples, train.batch_size, train.world),
    ]
    if not resumed:
        notes.append(eval_size_note(cfg.data, len(splits.train), len(splits.val), len(splits.test)))
    return [note for note in notes if note]


def _augment_notes(cfg: Config, sample_shape: tuple[int, ...], network: Network) -> list[str]:
    """Augmentation that hurts these images: a crop padding of more than a quarter of their side (half an
    8×8 digit), and mirrors (:func:`~vislab.training.mirror_notes.mirror_notes`)."""
    fitted = unread_setting("augment.hflip", network.hooks.trained_by)
    crop = "" if fitted else crop_note(cfg.augment, sample_shape)
    return [n for n in (crop, *mirror_notes(cfg, network.hooks, fitted)) if n]


def unused_settings(cfg: Config, network: Network) -> dict[str, str]:
    """Config section → what of it this run does not use, and why (config.yaml says so beside it), as
    ``config.unread.UNREAD_SECTIONS`` declares for the model's ``trained_by``: a model that updates its own
    weights reads optim.lr alone; one fitted on arrays no optimizer, no schedule, no augmentation, and of
    train.* only what scores, seeds and places the fit."""
    how = network.hooks.trained_by
    unused = {}
    for section, kept in UNREAD_SECTIONS.get(how, {}).items():
        keys = [f"{section}.{k}" for k in type(getattr(cfg, section)).model_fields]
        unread = [k for k in keys if unread_setting(k, how)]
        why = _why_unread(cfg, network, section)
        if len(unread) == len(keys):
            unused[section] = f"not used: {why}"
        elif len(kept) == 1:
            unused[section] = f"only {section}.{kept[0]} is used, since {why}"
        elif unread:
            unused[section] = f"not used: {', '.join(unread)}, since {why}"
    return unused


def _why_unread(cfg: Config, network: Network, section: str) -> str:
    """Why a model not trained by an optimizer leaves (part of) config ``section`` unread, in words."""
    if network.hooks.trained_by == "manual_step":
        return _own_step(cfg.model.name, network.hooks)
    as_it_is = "the train split as it is (not augmented)" if section == "augment" else ""
    return (
        f"{cfg.model.name} is fitted once on "
        f"{as_it_is or 'the whole train split (no optimizer steps)'}"
    )


def check_own_step(cfg: Config, network: Network) -> None:
    """ConfigError where the run's model updates its own weights and ``cfg`` sets what that step ignores
    (:func:`own_step_refusal`)."""
    if why := own_step_refusal(cfg, network.hooks):
        raise ConfigError(why)


# a built model's hooks, or the class that a config's model is built as
Hooks = ModelHooks | type[ModelHooks]


def own_step_refusal(cfg: Config, hooks: Hooks) -> str:
    """What refuses ``cfg`` for a model whose ``hooks`` say it updates its own weights
    (``trained_by="manual_step"``): each setting its ``manual_step(x, y, lr)`` would ignore, as it gets the
    scheduled learning rate and nothing else; else ''. A suite's plan asks it of the class a run's model
    is built as (``hooks``: a class), before anything trains."""
    ignored = beyond_plain_sgd(cfg) if hooks.trained_by == "manual_step" else []
    if not ignored:
        return ""
    one = len(ignored) == 1
    given = ", ".join(f"{key}={value}" for key, value, _ in ignored)
    idle = ", ".join(f"{key}={plain}" for key, _, plain in ignored)
    if (levels := hooks.plain_sgd) is not None:
        fix = f"Leave {'it' if one else 'them'} out or set what plain SGD does: {idle}"
        # a subclass (a user's) is built as itself whatever its options: no level of torch.optim
        if hooks.built_as({levels.option: levels.by_optim}).trained_by != "manual_step":
            by_optim = f"--set model.{levels.option}={levels.by_optim}"
            fix += f" — or train the same network by torch.optim: {by_optim}"
    else:  # the update is the model's own: these settings reach no optimizer
        values = "a value that changes" if one else "values that change"
        fix = f"Leave {'it' if one else 'them'} out (or at {values} nothing: {idle})"
    return (
        f"{_own_step(cfg.model.name, hooks)}, so {'this setting' if one else 'these settings'} would "
        f"change nothing: {given}. {fix}.{_lr_hint(cfg, hooks)}"
    )


def _own_step(name: str, hooks: Hooks) -> str:
    """How model ``name``, which updates its own weights, does it, in words: by plain SGD where its hooks
    declare so (``plain_sgd``; naming its class's ``manual_step``); else by its own ``manual_step``."""
    if hooks.plain_sgd is None:
        return (
            f"{name} updates its weights by hand: its own manual_step makes each update, from the "
            f"learning rate alone (optim.lr, as the schedule sets it)"
        )
    cls = hooks if isinstance(hooks, type) else type(hooks)
    return (
        f"{name} updates its weights by hand: plain SGD at optim.lr, as the schedule sets it "
        f"({_class_named(name, cls)}.manual_step)"
    )


def _class_named(name: str, cls: type) -> str:
    """``cls`` as the user wrote it where model ``name`` references it (``sub.py:Sub``: not the module a
    file is loaded as), else by its module and qualified name."""
    ref = parse_reference(name) if is_user_reference(name) else None
    if ref is not None and ref.attr == cls.__qualname__:
        return name
    return f"{cls.__module__}.{cls.__qualname__}"


def _lr_hint(cfg: Config, hooks: Hooks) -> str:
    """For a model whose hooks name the learning rate a course trains it at (``plain_sgd.course``:
    mlp-scratch's RDFIA 1-ab), at the default optim.lr (Adam's 1e-3): that course's."""
    levels = hooks.plain_sgd
    if levels is None or not levels.course or given(cfg.optim, "lr"):
        return ""
    return f" optim.lr={cfg.optim.lr:g} is Adam's default: {levels.course}."
