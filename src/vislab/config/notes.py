"""What a config's settings do not do, told from the config alone (pure functions: a config in, text out).

- ``config_notes``: settings accepted that do nothing (``config/reads.py``: ``READS``, applied by
  ``idle_settings``), or that another defeats — one sentence each, which a run prints as a ``note:`` line
  at its start (never an error: suites and sweeps combine settings, and a quick ``--epochs 1`` check of a
  warm-up config must still run); the comparison tables leave the same settings out
  (``experiments/results/settings.py``);
- ``warmup_note``: a warm-up of at most one optimizer step, which is none (the trainer asks: the steps per
  epoch come with the data);
- ``eval_size_note``: a ``data.limit`` far below the val split's size, ``data.limit_eval`` not given (the
  trainer asks: the split sizes come with the data);
- ``dropped_batch_note``: a last partial training batch (dropped) that leaves out ≥ 10 % of the train
  images each epoch (the trainer asks, as above);
- ``norm_steps_note``: a run of fewer training batches in all than its batch norm needs for running
  statistics of the train data (the trainer asks: the batches come with the data, the norm with the model);
- ``ema_note``: a weight average (``train.ema``) of a model fitted once, which has no steps to average, or
  one without warm-up whose horizon leaves the untrained weights a share of it at the run's end (the
  trainer asks: the steps come with the data, how the model trains with the model);
- ``beyond_plain_sgd``: the settings that plain SGD at ``optim.lr`` — the hand-written step of a model that
  updates its own weights (``trained_by="manual_step"``, e.g. ``mlp-scratch``) — does not apply;
- ``augmentations_on``: the augment keys that turn an augmentation on (images only: the trainer decides).
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Any

from vislab.config.former_defaults import former_default
from vislab.config.overrides import as_set
from vislab.config.reads import (
    AUGMENTATIONS,
    Idle,
    augment_on,
    augment_switch,
    get_dotted,
    idle_settings,
)
from vislab.config.schema import Config, DataConfig
from vislab.config.sections import given
from vislab.words import and_list

# what plain SGD at the scheduled optim.lr amounts to, for each setting that would change a step
PLAIN_SGD: dict[str, Any] = {
    "optim.momentum": 0.0,
    "optim.weight_decay": 0.0,
    "optim.l1": 0.0,
    "optim.head_lr": None,
    "train.label_smoothing": 0.0,
    "train.class_weights": None,
    "train.grad_clip": None,
    "train.accumulate": 1,
    "train.freeze": [],
    "augment.mixup.p": 0.0,
    "augment.cutmix.p": 0.0,
}


def config_notes(cfg: Config) -> list[str]:
    """One sentence per group of settings of ``cfg`` that do nothing for one reason (:func:`idle_settings`:
    a setting away from its default only), or that another defeats (a warm-up as long as the run); and
    for adamw at weight_decay 0, that it is Adam."""
    notes = _idle_notes(cfg)
    s = cfg.schedule
    if s.warmup_epochs >= cfg.train.epochs:
        notes.append(_warmup_run_note(cfg))
    same_metric = cfg.train.early_stop_metric in (None, cfg.train.select_metric)
    if (
        s.name == "plateau"
        and (stop := cfg.train.early_stop)
        and stop <= s.patience
        and same_metric
    ):
        notes.append(
            f"train.early_stop={stop} ≤ schedule.patience={s.patience}: the run stops before it trains at "
            f"a lower lr (both count the evaluations that do not improve; the stop comes first, or with "
            f"the cut). Give a larger train.early_stop or a smaller schedule.patience."
        )
    if cfg.optim.name == "adamw" and cfg.optim.weight_decay == 0:
        notes.append(
            "optim.name=adamw with optim.weight_decay=0 is Adam: AdamW differs from it only by its "
            "decoupled weight decay (torch's AdamW defaults to 0.01, vislab's optim.weight_decay to 0). "
            "Give optim.weight_decay (e.g. 0.01), or optim.name=adam."
        )
    return notes


def _warmup_run_note(cfg: Config) -> str:
    """The note for a warm-up at least as long as the run: the lr it reaches at its last step, the
    fraction train.epochs / warmup_epochs of optim.lr (to the rounding of the steps), and the schedule
    that never starts."""
    s, epochs, lr = cfg.schedule, cfg.train.epochs, cfg.optim.lr
    share = epochs / s.warmup_epochs
    reach = (
        "reaching it at the last step"
        if share == 1
        else f"reaching about {lr * share:.2g} at the last step, {100 * share:.2g} % of optim.lr"
    )
    then = "" if s.name == "none" else f"; schedule.name={s.name} never starts"
    return (
        f"schedule.warmup_epochs={s.warmup_epochs:g} ≥ train.epochs={epochs}: the whole run is "
        f"warm-up — the lr rises towards optim.lr={lr:g}, {reach}{then}. Give fewer warm-up epochs or "
        f"more epochs."
    )


def warmup_note(warm: float, steps: int, steps_per_epoch: int) -> str | None:
    """The note for a warm-up of ``warm`` epochs (``schedule.warmup_epochs``) that is ``steps`` ≤ 1
    optimizer step of the run's ``steps_per_epoch``
    (the data decides them: the trainer asks, beside the others): its one step is at optim.lr, as without
    a warm-up. None for any other."""
    if not warm or steps > 1:
        return None
    return (
        f"schedule.warmup_epochs={warm:g} does nothing with {steps_per_epoch} optimizer "
        f"step{'' if steps_per_epoch == 1 else 's'} per epoch: it rounds to "
        f"{'1 warm-up step, which is at optim.lr' if steps else '0 warm-up steps'}, so the lr is "
        f"optim.lr from the first step, as with schedule.warmup_epochs=0. Give schedule.warmup_epochs="
        f"{2 / steps_per_epoch:.2g} or more (2 steps) for a warm-up."
    )


def eval_size_note(data: DataConfig, n_train: int, n_val: int, n_test: int) -> str | None:
    """The note for a ``data.limit`` (of ``data``) that keeps ``n_train`` train images while val (``n_val``; ``n_test``
    test) stays more than twice as large, ``data.limit_eval`` not given: each evaluation then scores more
    images than an epoch trains on (the split sizes come with the data: the trainer asks). None else."""
    limit = data.limit
    if limit is None or data.limit_eval is not None or n_val <= 2 * n_train:
        return None
    return (
        f"data.limit={limit} keeps {n_train} train images, but val ({n_val}) and test ({n_test}) stay "
        f"whole (data.limit limits train only): each evaluation scores {n_val / n_train:.0f}× as many "
        f"val images as an epoch trains on, and may take longer than the epoch. For a quick run, also "
        f"give data.limit_eval=N (e.g. --set data.limit_eval={n_train}): N val and N test images, "
        f"stratified (the test figures are then of a sample)."
    )


def dropped_batch_note(n: int, batch_size: int, world: int = 1) -> str | None:
    """The note for a last partial training batch (``drop_last``: a tiny last batch is a noisy step and
    breaks batch norm) that leaves out at least 10 % of the ``n`` train images a process has each epoch
    (``world`` processes: ``n`` is each one's share, ``batch_size`` per process), with a batch size to give:
    a divisor of ``n`` from half ``batch_size`` up, else the largest smaller size leaving under 10 % out
    (``n`` itself where that is below half and ``n`` one batch). None else."""
    left = n % batch_size
    if n < batch_size or left < 0.1 * n:  # no batch at all: refused where the loaders are built
        return None
    fits = [d for d in range(batch_size - 1, batch_size // 2 - 1, -1) if n % d == 0]
    each = f" of each of the {world} processes' shares" if world > 1 else ""
    if fits:
        give = f"that divides {n} (e.g. {fits[0]})"
    else:  # a prime n, say: the largest smaller size leaving under 10 % out (1 leaves none), or n
        d = next(d for d in range(batch_size - 1, 0, -1) if n % d < 0.1 * n)
        e_g = (
            f"{n}: one batch of all {n}"
            if d < batch_size // 2 and n < 2 * batch_size
            else f"{d}: {n - n % d} an epoch"
        )
        give = f"that leaves under 10 % out (e.g. {e_g})"
    return (
        f"train.batch_size={batch_size}: each epoch trains on {n - left} of the {n} train images{each} "
        f"({left / n:.0%} left out): the last partial batch is dropped, a different one each epoch (the "
        f"order is shuffled), since a tiny last batch is a noisy step and upsets batch norm. Give a "
        f"train.batch_size {give}, or more data."
    )


def norm_steps_note(
    model: str, n: int, batch_size: int, epochs: int, needed: int, momentum: float
) -> str | None:
    """The note for a run whose ``epochs`` × (``n`` train images // ``batch_size``) training batches are
    fewer than the ``needed`` ones after which the running statistics of the model's batch norm (updated
    once a batch at ``momentum``), which evaluation uses, hold less than 5 % of their starting values
    (mean 0, variance 1). None else."""
    per_epoch = n // batch_size
    total = per_epoch * epochs
    if total >= needed or per_epoch == 0:  # no batch at all: refused where the loaders are built
        return None
    fits = n // -(-needed // epochs)  # the largest batch size giving `needed` batches in `epochs`
    smaller = f" (at most {fits})" if 0 < fits < batch_size else ""
    return (
        f"{model} uses batch norm, whose running statistics (what evaluation normalises with) move "
        f"{momentum:g} of the way to each training batch's: they are the train data's only after "
        f"{needed} batches, but this run trains {total} in all ({per_epoch} an epoch: {n} train images "
        f"in batches of train.batch_size={batch_size}, {epochs} epoch{'' if epochs == 1 else 's'}): "
        f"{(1 - momentum) ** total:.0%} of them is still their starting values then, so its evaluations "
        f"may score well below what its weights can do. Give a smaller train.batch_size{smaller}, more "
        f"train.epochs, or more data."
    )


def ema_note(cfg: Config, trained_by: str, per_epoch: int) -> str | None:
    """The note for ``cfg``'s ``train.ema`` where it does nothing or little good: a model fitted once
    (``trained_by="fit_arrays"``) has no steps to average; without warm-up, a decay whose starting (untrained)
    weights still hold 5 % or more of the average after the run's ``per_epoch`` × train.epochs optimizer
    steps (decay^steps: a horizon 1/(1 − decay) beyond a third of the steps) — which evaluation, best.pt,
    eval, predict and export use. None else: with warm-up the decay (1 + t)/(10 + t) keeps the horizon
    near a ninth of the steps taken."""
    ema, epochs = cfg.train.ema, cfg.train.epochs
    if not ema.decay:
        return None
    if trained_by == "fit_arrays":
        return (
            f"train.ema does nothing for {cfg.model.name}: it is fitted once, with no steps to "
            f"average. Leave it off: --set train.ema.decay=0 / train__ema__decay=0."
        )
    steps = per_epoch * epochs
    kept = ema.decay**steps
    if ema.warmup or kept < 0.05:
        return None
    # a horizon of a tenth of the run's steps, 1 − decay to two significant digits: printed in full
    # (0.99957, never rounded up to 1, which is no smaller decay)
    smaller = 1 - Decimal(f"{10 / steps:.2g}")
    give = (
        f"a smaller decay, e.g. --set train.ema.decay={smaller} / train__ema__decay={smaller} "
        f"(a horizon of about {steps / 10:.0f} steps, 10 % of the run's), or "
        if smaller >= Decimal("0.5")
        else ""
    )
    return (
        f"train.ema.decay={ema.decay:g} with train.ema.warmup=false averages the weights over about "
        f"{1 / (1 - ema.decay):,.0f} optimizer steps (1/(1 − decay)), but this run takes {steps} "
        f"({per_epoch} an epoch, {epochs} epoch{'' if epochs == 1 else 's'}): at its end "
        f"{100 * kept:.3g} % of the average is still the untrained starting weights "
        f"({ema.decay:g}^{steps}), and its evaluations, best.pt, eval, predict and export use that "
        f"average. Give {give}the average's warm-up: --set train.ema.warmup=true / "
        f"train__ema__warmup=True."
    )


def _idle_notes(cfg: Config) -> list[str]:
    """A sentence per reason, naming the settings away from their default that it makes do nothing; one
    whose value was vislab's default before (``former_defaults``: schedule.gamma=0.95, which an older
    run's config.yaml records though its user never set it) says so, not to be taken for a choice."""
    value = partial(get_dotted, cfg)
    groups: dict[Idle, list[str]] = {}
    former: dict[Idle, list[str]] = {}
    for key, idle in idle_settings(value).items():
        section, _, leaf = key.rpartition(".")
        if given(value(section), leaf):
            setting = f"{key}={as_set(value(key))}"
            groups.setdefault(idle, []).append(setting)
            if (was := former_default(key, value(key))) is not None:
                former.setdefault(idle, []).append(
                    f"{setting} was vislab's default before {was.changed_in}"
                )
    return [
        f"{and_list(keys)} {'does' if len(keys) == 1 else 'do'} nothing with {idle.cause}: "
        f"{idle.why.format(it='it' if len(keys) == 1 else 'them')}."
        + (
            f" ({and_list(former[idle])}: an older run's config.yaml records it)"
            if idle in former
            else ""
        )
        for idle, keys in groups.items()
    ]


def beyond_plain_sgd(cfg: Config) -> list[tuple[str, str, str]]:
    """(key, its value, what plain SGD amounts to), as ``--set`` writes values, for each setting of ``cfg``
    that plain SGD at optim.lr does not apply: an optim.name other than sgd and the default adam (which the
    run notes instead: a plain ``--set model.name=mlp-scratch`` trains), and each of ``PLAIN_SGD`` away
    from its plain value."""
    name = cfg.optim.name
    out = [("optim.name", name, "sgd")] if given(cfg.optim, "name") and name != "sgd" else []
    for key, plain in PLAIN_SGD.items():
        value = get_dotted(cfg, key)
        if value != plain:
            out.append((key, as_set(value), as_set(plain)))
    return out


def augmentations_on(cfg: Config) -> list[str]:
    """The augment keys of ``cfg`` that turn an augmentation on (:func:`augment_switch`: each op's ``p`` > 0,
    RandAugment's ``num_ops``) — but those that do nothing (:func:`idle_settings`: an image op with
    ``augment.p=0``). RandAugment's ``num_ops`` comes last, the others in the schema's order."""
    value = partial(get_dotted, cfg)
    idle = idle_settings(value)
    on = [augment_switch(name) for name in AUGMENTATIONS if augment_on(value, name)]
    on.sort(
        key=lambda key: key == augment_switch("randaugment")
    )  # a stable sort: the rest keep order
    return [key for key in on if key not in idle]
