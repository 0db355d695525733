"""A run whose training loss turned NaN/inf: stopped, its last good checkpoint kept and named, with what
is known of the cause (the user's model mapping train samples to NaN/inf, else the learning rate); and a
note at the first epoch whose loss blows up while still finite."""

from __future__ import annotations

import math

import numpy as np
import torch

from vislab.config.build import setting
from vislab.errors import TrainingDiverged, show_note
from vislab.models.hooks import PlainSGDLevels
from vislab.models.objects import is_users_forward
from vislab.training.checkpoint import load_checkpoint
from vislab.training.history import EpochRow
from vislab.training.setup import Training
from vislab.training.stopped_record import mark


def check_finite(t: Training, loss: float, lr: float) -> None:
    """Stop a run whose training loss became NaN/inf, keeping the last good checkpoint; the message says
    what is known of the cause (:func:`_bad_outputs`), checked once, here."""
    if math.isfinite(loss):
        return
    mark(t, "diverged")
    saved, last = t.last_saved, t.run.ckpt_dir / "last.pt"
    good = f"{last} ({saved})" if saved else "none (it diverged in the first epoch)"
    stopped = f"Training stopped; last good checkpoint: {good}."
    said = f"the training loss became NaN/inf in epoch {t.loop.epoch + 1} (lr {lr:.3g})"
    if bad := _bad_outputs(t):
        raise TrainingDiverged(
            f"{said}: with the weights of the last good checkpoint ({saved}), model "
            f"'{t.record.model.name}' already maps {bad} to NaN/inf, its inputs finite: its forward "
            f"gives NaN/inf for them (a division by zero, the log or square root of a negative number, "
            f"an overflow), so lowering optim.lr will not help. {stopped}"
        )
    said += f". {_remedy(t, 'or check data.normalize')}{_also_model(t)}. {stopped}"
    if saved:  # a resume keeps the settings that diverged: a new run starts from those weights
        said += (
            f" To keep its {saved.amount()}, start a new run from them with a lower "
            f"lr: --init-from {last} --set optim.lr={lr / 10:.3g} / train__init_from={str(last)!r}, "
            f"optim__lr={lr / 10:.3g}."
        )
    raise TrainingDiverged(said)


def _remedy(t: Training, also: str) -> str:
    """What may keep the loss from blowing up, for how the model trains (no full stop): for one an
    optimizer trains, a lower optim.lr (``vislab lr-find`` suggests one) or train.grad_clip, then ``also``
    ("or check data.normalize"); for one that makes its own step (``manual_step``), which reads optim.lr
    alone (train.grad_clip is refused, lr-find cannot drive it), a lower optim.lr — where its step is
    plain SGD (its hooks' ``plain_sgd``: mlp-scratch), lr-find finds one on the same network and SGD
    through torch.optim — then ``also``; a user's own step and forward are named as likely causes."""
    hooks = t.network.hooks
    if hooks.trained_by != "manual_step":
        return f"Lower optim.lr (vislab lr-find suggests one), set train.grad_clip, {also}"
    name = t.record.model.name
    if hooks.plain_sgd is not None:
        return (
            f"Lower optim.lr (its manual_step steps by plain SGD at optim.lr: "
            f"{_sgd_lr_find(t, hooks.plain_sgd)} suggests one for the same SGD), {also}"
        )
    return (
        f"Lower optim.lr (the one setting that the manual_step of model '{name}' reads) {also}; if it "
        f"happens at a low lr too, check the update its manual_step makes (its gradients, and their "
        f"scale: a mean over the batch) and its forward"
    )


def _sgd_lr_find(t: Training, levels: PlainSGDLevels) -> str:
    """The LR range test of this run's network, data and batch size stepped by torch's SGD (the level
    ``levels`` names: mlp-scratch's model.impl=optim, optim.name=sgd), as a command and a Python call, the
    run's other settings to be added; the call alone for data given from Python (the command cannot reach
    it)."""
    config, name = t.record.config or {}, t.record.model.name
    data, batch = setting(config, "data.name"), setting(config, "train.batch_size")
    sets, kwargs = levels.sgd_sets()
    arrays = str(data).startswith("memory:")
    python = (
        f"vislab.lr_find(model='{name}', data={'...' if arrays else repr(data)}, "
        f"train__batch_size={batch}, {kwargs})"
    )
    if arrays:
        return f"`{python}` with your data and your train call's other options"
    command = (
        f"--set model.name={name} --set data.name={data} --set train.batch_size={batch} {sets}"
    )
    return (
        f"`vislab lr-find {command}` with your train command's other --set options (Python: "
        f"`{python}`)"
    )


def _also_model(t: Training) -> str:
    """For the user's own model before its first last.pt (no good weights to check it with), that its forward
    may be the cause: only the first batch's output was checked before training; else ""."""
    name = t.record.model.name
    if t.last_saved is not None or not is_users_forward(name):
        return ""
    if t.network.hooks.trained_by == "manual_step":  # :func:`_remedy` names its step and forward
        return ""
    return (
        f"; if it happens at a low lr too, check the forward of model '{name}': its output was finite "
        f"for the first batch, but other inputs may make it NaN/inf"
    )


def _which(t: Training, rows: np.ndarray) -> str:
    """Rows ``rows`` (≥ 1) of the train split in words: how many of its samples, the first by its file, or
    by its index in the source's official set (``train[5]``: ``x[5]`` of ``data=(x, y)``)."""
    train = t.data.splits.train
    i = int(rows[0])
    named = train.names is not None
    first = f"'{train.names[i]}'" if named else train.sources(rows[:1])[0] or f"sample {i}"
    return f"{len(rows)} of the train split's {len(train.y)} samples (the first: {first})"


def _bad_outputs(t: Training) -> str | None:
    """For a user's own model with a last.pt (one process) whose loss never blew up, the train
    samples that the weights of ``last.pt`` map to NaN/inf, in eval mode or else in training mode, in
    words (None if none): a pass or two over the train split, no gradients. The model keeps those
    weights (its own have gone NaN; nothing saves them)."""
    last = t.run.ckpt_dir / "last.pt"
    if t.last_saved is None or t.dist.world > 1 or not last.is_file() or _exploded(t)[1]:
        return None
    if t.network.hooks.trained_by != "optimizer" or not is_users_forward(t.record.model.name):
        return None  # vislab's own models: NaN outputs come from the weights, i.e. the lr
    model, loader = t.network.model, t.data.train
    try:
        model.load_state_dict(load_checkpoint(last).state_dict)
        for mode, words in ((False, "in eval mode"), (True, "in training mode")):
            model.train(mode)
            with torch.no_grad():
                finite = [
                    model(x).reshape(len(x), -1).isfinite().all(1)
                    for x, _ in loader.unaugmented(loader.batch_size).epoch(0)
                ]
            bad = np.flatnonzero(~torch.cat(finite).cpu().numpy())
            if len(bad):
                return f"{_which(t, bad)} {words}"
    except Exception:  # noqa: BLE001 - a check for the message only: the divergence is what is said
        return None
    return None


EXPLODING = (
    10.0  # an epoch's train loss this many times that of guessing uniformly: the weights blew up
)


def note_exploding_loss(t: Training, row: EpochRow) -> None:
    """A note, at the first epoch whose mean train loss passes EXPLODING × ln K (the cross-entropy of a
    uniform guess over K classes): the loss stayed finite, so the run goes on, but steps that large
    mean the learning rate is too high — a run that ends "complete" at chance accuracy otherwise."""
    chance, exploded = _exploded(t)
    if exploded and exploded[0] is row and t.dist.is_main:
        show_note(
            f"the train loss of epoch {row.epoch} is {row.train_loss:.3g}, over "
            f"{EXPLODING:g}× that of guessing ({chance:.2f}): the weights are blowing up. "
            f"{_remedy(t, 'or check data.normalize')}."
        )


def _exploded(t: Training) -> tuple[float, list[EpochRow]]:
    """The cross-entropy of a uniform guess (ln K) and the epochs whose train loss passed EXPLODING × it."""
    chance = math.log(max(t.data.splits.num_classes, 2))
    return chance, [r for r in t.history if (r.train_loss or 0.0) > EXPLODING * chance]
