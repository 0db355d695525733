"""What a run's set-up checks before it trains: a resumed run finds the data it started on; the model maps
a dummy batch to logits; the user's own model code, when it raises, is shown by its own frames; the
settings a model's own update step would ignore are refused, and those that do nothing here are noted."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from vislab.config import Config, augmentations_on, beyond_plain_sgd, config_notes, given
from vislab.data.augment import colour_note, crop_note
from vislab.data.download import is_default_root
from vislab.data.split import limit_note
from vislab.data.types import Splits
from vislab.errors import ConfigError, DataError, UserCodeError, VislabError
from vislab.models.code_errors import code_failed, raised_in, raising_layer
from vislab.models.hooks import unread_setting
from vislab.models.objects import code_files, is_users_code
from vislab.models.user import is_user_reference
from vislab.training.record import Checkpoint

if TYPE_CHECKING:  # the set-up's records (training/parts.py builds them, then calls these checks)
    from vislab.training.parts import Network, RunData


def split_sizes(splits: Splits) -> dict[str, int]:
    """The number of samples in each split (a resumed run's are checked against these)."""
    return {name: len(split) for name, split in splits.items()}


def check_same_data(cfg: Config, splits: Splits, ckpt: Checkpoint) -> None:
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
        root = "" if is_default_root(Path(cfg.data.root)) else f" in {cfg.data.root}"
        raise DataError(
            f"the data ({cfg.data.name}{root}) is not what this run started on: {'; '.join(changes)}. "
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


def check_output(
    model: torch.nn.Module,
    name: str,
    shape: tuple[int, ...],
    num_classes: int,
    device: torch.device,
    train_mode: bool = True,
) -> None:
    """One dummy batch (zeros, batch 2, no grad) in eval mode and, with ``train_mode`` (a model trained by
    its forward), in train mode too: UserCodeError unless the model maps it to logits [2, num_classes] in
    each (a model may return a tuple, e.g. an auxiliary head's outputs, in train mode only). An exception in
    the eval-mode forward of the user's own model (``file.py:Net`` or a model object given to
    ``vislab.train``) shows the user's traceback and the data's input shape. The model's mode is kept."""
    was_training = model.training
    model.eval()
    try:
        _check_logits(_eval_output(model, name, shape, device), name, shape, num_classes, False)
        out = _train_mode_output(model, shape, device) if train_mode else None
        if out is not None:
            _check_logits(out, name, shape, num_classes, True)
    finally:
        model.train(was_training)


def _eval_output(
    model: torch.nn.Module, name: str, shape: tuple[int, ...], device: torch.device
) -> object:
    """What ``model`` (in eval mode) returns for 2 inputs of zeros; its exception, if it is the user's
    code, a UserCodeError."""
    try:
        with torch.no_grad():
            return model(torch.zeros(2, *shape, device=device))
    except Exception as e:
        if not is_users_code(name):
            raise
        when = f"on a dummy batch of zeros (2 inputs of the data's shape, {_text(shape)})"
        then = (  # torch's words for layers sized for other inputs
            f"Size the layers from input_shape={tuple(shape)}: a class gets it when its __init__ "
            f"names an input_shape parameter, a builder as its first argument."
            if ("shape" in str(e) or "size" in str(e)) and not name.startswith("timm:")
            else ""
        )
        raise code_failed(name, e, when, code_files(name, model), then, model=model) from None


def _train_mode_output(
    model: torch.nn.Module, shape: tuple[int, ...], device: torch.device
) -> object | None:
    """What ``model`` returns for 2 inputs of zeros in train mode, its buffers (batch norm's running
    statistics) and the RNG (dropout's) left as they were. None where it raises: the training step meets
    that exception again and says when it came and what was kept (``stopping.users_model``)."""
    model.train()
    kept = {n: b.clone() for n, b in model.named_buffers()}
    cuda = []  # fork_rng keeps the CPU's RNG state, and these GPUs'
    if device.type == "cuda":
        cuda = [torch.cuda.current_device() if device.index is None else device.index]
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=cuda):
            return model(torch.zeros(2, *shape, device=device))
    except Exception:
        return None
    finally:
        with torch.no_grad():
            for n, b in model.named_buffers():
                if n in kept and kept[n].shape == b.shape:
                    b.copy_(kept[n])


def _check_logits(out: object, name: str, shape: tuple[int, ...], k: int, train: bool) -> None:
    """UserCodeError unless ``out``, the model's output for 2 inputs, is logits [2, k]."""
    if isinstance(out, torch.Tensor) and list(out.shape) == [2, k]:
        return
    what = f"forward(x) on a batch of 2 inputs of shape {_text(shape)}"
    if not train:
        got = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise UserCodeError(
            f"model '{name}': {what} returned {got}, expected logits of shape [2, {k}] ([batch, "
            f"num_classes]). Make forward return one row of {k} class scores per input (e.g. end with "
            f"nn.Linear(..., {k}))."
        )
    raise UserCodeError(
        f"model '{name}': in train mode (model.train(), as training calls it), {what} returned "
        f"{_described(out)}, not the logits tensor of shape [2, {k}] ([batch, num_classes]) it returns "
        f"in eval mode. Make forward return that one tensor in train mode too: training's loss is the "
        f"cross-entropy of those logits alone (it has no use for an auxiliary head's outputs)."
    )


def _described(out: object) -> str:
    """A model's output in words: a tensor's shape, a tuple's or list's items, else its type."""
    if isinstance(out, torch.Tensor):
        return f"a tensor of shape {list(out.shape)}"
    if isinstance(out, (tuple, list)):
        items = ", ".join(_described(o) for o in out[:4]) + (", ..." if len(out) > 4 else "")
        return f"a {type(out).__name__} of {len(out)} ({items})"
    return f"a {type(out).__name__}"


def _text(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))


def check_trainable(cfg: Config, network: Network) -> None:
    """For a model trained by an optimizer: UserError unless it has a parameter to train — naming why it
    has none (no layer with weights, ``train.freeze`` froze them all, requires_grad off everywhere)."""
    model, name = network.model, cfg.model.name
    if network.hooks.trained_by != "optimizer":
        return
    params = list(model.named_parameters())
    if any(p.requires_grad for _, p in params):
        return
    nothing = "an optimizer would have nothing to update"
    if not params:
        raise UserCodeError(
            f"model '{name}' has no parameters to train (no layer with weights): {nothing}. Give it "
            f"layers with weights, e.g. end forward with nn.Linear(..., {network.num_classes})."
        )
    last = ", ".join(n for n, _ in params[-2:])  # a head's weight and bias
    if cfg.train.freeze:
        raise ConfigError(
            f"train.freeze={list(cfg.train.freeze)} freezes every parameter of model '{name}' "
            f"({len(params)} tensors): {nothing}. Leave the layers to train out of the patterns — its "
            f"last parameters, usually the head, are {last} (`vislab model info {name}` / "
            f"vislab.model_info({name!r}) lists its layers)."
        )
    raise UserCodeError(
        f"model '{name}' has {len(params)} parameter tensors, none trainable (requires_grad=False on "
        f"each): {nothing}. Leave requires_grad=True on the layers to train (its last parameters, "
        f"usually the head: {last})."
    )


@contextlib.contextmanager
def user_code(
    name: str, model: torch.nn.Module, when: str, then: Callable[[], str] | None = None
) -> Iterator[None]:
    """Within: an exception raised in the user's own model ``name`` (``file.py:Net``) — a frame of its file
    in the traceback, or the forward of one of ``model``'s layers (a builder's ``nn.Sequential`` of torch
    modules has no frame in the user's file) — becomes a UserCodeError showing the user's frames only (or
    the layer that raised), its paragraph ending with ``then()`` (called first: what was kept, how to go
    on). Anything else passes unchanged: vislab's own errors, and any other exception — a built-in
    model's, or one outside the user's model — is a bug."""
    try:
        yield
    except Exception as e:
        files = code_files(name, model)
        if isinstance(e, VislabError) or not is_user_reference(name):
            raise
        if not (raised_in(e, files) or raising_layer(e, model) is not None):
            raise
        raise code_failed(name, e, when, files, then() if then else "", model=model) from None


def run_notes(cfg: Config, data: RunData, network: Network) -> list[str]:
    """The settings of this run that do nothing or that another defeats: the config's own
    (``config_notes``), augmentations of feature vectors, colour jitter of grey images, a crop padding of
    more than a quarter of the image, mirrored digits, an optimizer a model's own step ignores, and
    test-time flips of a model never trained on mirrored images."""
    notes = config_notes(cfg)
    on = augmentations_on(cfg)
    if on and not data.spec.is_image:
        notes.append(
            f"{', '.join(on)}: augmentation applies to images only, and {cfg.data.name} holds "
            f"{data.spec.input_shape[0]}-D feature vectors: nothing is augmented."
        )
    if network.hooks.trained_by == "manual_step" and not given(cfg.optim, "name"):
        notes.append(
            f"{_own_step(cfg, network)}: optim.name={cfg.optim.name} (the default) is not used."
            f"{_lr_hint(cfg)}"
        )
    if note := limit_note(data.splits, cfg.data.limit):  # data.limit left a class without images
        notes.append(note)
    if note := colour_note(cfg.augment, data.splits.sample_shape):  # saturation, hue of grey images
        notes.append(note)
    notes += _augment_notes(cfg, data.splits.sample_shape, network)
    return notes


DIGITS = ("digits", "mnist")  # the built-in sources of handwritten digits, which no mirror keeps


def _augment_notes(cfg: Config, sample_shape: tuple[int, ...], network: Network) -> list[str]:
    """Augmentation that hurts these images: a crop padding of more than a quarter of their side (half an
    8×8 digit), mirrored digits, test-time flips of a model never trained on mirrored images — for a model
    fitted on the train split as it is (``trained_by="fit_arrays"``), which sees no augmentation, only
    the last."""
    fitted = unread_setting("augment.hflip", network.hooks.trained_by)
    notes = [] if fitted else [crop_note(cfg.augment, sample_shape), _mirrored_digits_note(cfg)]
    return [n for n in (*notes, _tta_flip_note(cfg, fitted)) if n]


def _mirrored_digits_note(cfg: Config) -> str:
    """For ``augment.hflip`` on handwritten digits (:data:`DIGITS`): a mirrored digit is none; else ''."""
    if cfg.data.name not in DIGITS or "augment.hflip.p" not in augmentations_on(cfg):
        return ""
    return (
        f"augment.hflip.p={cfg.augment.hflip.p:g} mirrors the {cfg.data.name} images, and a mirrored digit "
        f"is another shape or none (a mirrored 2, 3, 4, 7 is no digit): the model learns from images "
        f"its test split never holds. Leave the flip out: --set augment.hflip.p=0 / augment__hflip__p=0."
    )


def _tta_flip_note(cfg: Config, fitted: bool) -> str:
    """For ``train.tta`` (each mode averages the logits over the image and its mirror) on a model trained
    on no mirrored image (``augment.hflip.p`` 0, or idle at ``augment.p=0``, or ``fitted`` on the
    unaugmented train split): why, and how to score without the mirror or train with it; else ''."""
    tta, aug = cfg.train.tta, cfg.augment
    if tta == "none" or "augment.hflip.p" in augmentations_on(cfg):
        return ""
    if fitted:
        why, fix = f"{cfg.model.name} is fitted on the train split as it is (not augmented)", ""
    elif aug.hflip.p > 0:  # augment.p=0 keeps it from mirroring
        why = f"training never mirrors images (augment.hflip.p={aug.hflip.p:g} with augment.p=0)"
        fix = "; or train on mirrored images: --set augment.p=1 / augment__p=1"
    else:
        why = "training never mirrors images (augment.hflip.p=0)"
        fix = "; or train on mirrored images: --set augment.hflip.p=0.5 / augment__hflip__p=0.5"
    if (
        cfg.data.name in DIGITS
    ):  # a digit is not to be mirrored: scoring without the mirror is the fix
        fix = ""
    views = "its mirror" + ("" if tta == "flip" else ", each also shifted by one pixel")
    return (
        f"train.tta={tta} scores each image by the mean of the model's logits for it and {views}, but "
        f"{why}: the model never saw a mirrored image. For digits and text a mirrored image is another "
        f"shape, and the mean can cost much accuracy. Score without the mirror (every train.tta mode "
        f"includes it): --set train.tta=none / train__tta='none'{fix}."
    )


def unused_settings(cfg: Config, network: Network) -> dict[str, str]:
    """Config section → what of it this run does not use, and why (config.yaml says so beside it): a model
    that updates its own weights reads optim.lr alone; one fitted on arrays no optimizer, no schedule, no
    augmentation."""
    how = network.hooks.trained_by
    if how == "manual_step":
        return {"optim": f"only optim.lr is used, since {_own_step(cfg, network)}"}
    if how == "fit_arrays":
        why = f"not used: {cfg.model.name} is fitted once on the whole train split (no optimizer steps)"
        as_is = (
            f"not used: {cfg.model.name} is fitted once on the train split as it is (not augmented)"
        )
        return {"optim": why, "schedule": why, "augment": as_is}
    return {}


SCRATCH = "mlp-scratch"  # the built-in model that updates its own weights (vislab.models.scratch)


def check_own_step(cfg: Config, network: Network) -> None:
    """ConfigError naming each setting that a model updating its own weights (``trained_by="manual_step"``)
    would ignore: its ``manual_step(x, y, lr)`` gets the scheduled learning rate and nothing else."""
    ignored = beyond_plain_sgd(cfg) if network.hooks.trained_by == "manual_step" else []
    if not ignored:
        return
    one = len(ignored) == 1
    optim = " — or train the same network by torch.optim: --set model.impl=optim"
    raise ConfigError(
        f"{_own_step(cfg, network)}, so {'this setting' if one else 'these settings'} would change "
        f"nothing: {', '.join(f'{key}={value}' for key, value, _ in ignored)}. Leave "
        f"{'it' if one else 'them'} out or set what plain SGD does: "
        f"{', '.join(f'{key}={plain}' for key, _, plain in ignored)}"
        f"{optim if cfg.model.name == SCRATCH else ''}.{_lr_hint(cfg)}"
    )


def _own_step(cfg: Config, network: Network) -> str:
    """How a model that updates its own weights does it, in words."""
    cls = type(network.model)
    what = "plain SGD" if cfg.model.name == SCRATCH else "its own update"
    return (
        f"{cfg.model.name} updates its weights by hand: {what} at optim.lr, as the schedule sets it "
        f"({cls.__module__}.{cls.__qualname__}.manual_step)"
    )


def _lr_hint(cfg: Config) -> str:
    """For mlp-scratch at the default optim.lr (Adam's 1e-3): the learning rate RDFIA 1-ab uses."""
    if cfg.model.name != SCRATCH or given(cfg.optim, "lr"):
        return ""
    return (
        f" optim.lr={cfg.optim.lr:g} is Adam's default: RDFIA 1-ab trains {SCRATCH} at optim.lr=0.03 "
        f"with train.batch_size=10 (vislab suite mlp-basics)."
    )
