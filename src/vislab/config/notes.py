"""What a config's settings do not do, told from the config alone (pure functions: a config in, text out).

- ``READS``: for each data, optimizer, schedule and augmentation setting that others can make do nothing, when
  it is read — the one declaration of settings that do nothing given the others (``optim.momentum`` with
  adam, a step schedule whose step_size outlasts the run, an augmentation with ``augment.p=0``), which
  :func:`idle_settings` applies to a config;
- ``config_notes``: settings accepted that do nothing, or that another defeats — one sentence each,
  which a run prints as a ``note:`` line at its start (never an error: suites and sweeps combine settings,
  and a quick ``--epochs 1`` check of a warm-up config must still run); the comparison tables leave the
  same settings out (``experiments/results/settings.py``);
- ``warmup_note``: a warm-up of at most one optimizer step, which is none (the trainer asks: the steps per
  epoch come with the data);
- ``eval_size_note``: a ``data.limit`` far below the val split's size, ``data.limit_eval`` not given (the
  trainer asks: the split sizes come with the data);
- ``beyond_plain_sgd``: the settings that plain SGD at ``optim.lr`` — the hand-written step of a model that
  updates its own weights (``trained_by="manual_step"``, e.g. ``mlp-scratch``) — does not apply;
- ``augmentations_on``: the augment keys that turn an augmentation on (images only: the trainer decides).
- ``unread_setting``: the settings a model not trained by an optimizer never reads (its hooks say how it
  is trained: ``models.hooks.ModelHooks.trained_by``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from pydantic import BaseModel

from vislab.config.schema import AugmentConfig, Config

Value = Callable[[str], Any]  # a config's setting by dotted key: optim.lr → 0.001


@dataclass(frozen=True)
class Idle:
    """Why a setting does nothing in a run: ``cause``, the settings that make it so, after "with"
    ("optim.name=adam"), and ``why``, the rule ("only the sgd optimizer reads {it}"; ``{it}``: "it", or
    "them" for the settings noted together)."""

    cause: str
    why: str


Gate = Callable[[Value], Idle | None]  # a condition for settings to be read: None where it holds


def read_by(key: str, *values: str, kind: str) -> Gate:
    """Read only where setting ``key`` is one of ``values`` (schedule.gamma: the exponential and step
    schedules); ``kind`` names them (schedule, optimizer)."""

    def gate(value: Value) -> Idle | None:
        if value(key) in values:
            return None
        read = "s read" if len(values) > 1 else " reads"
        return Idle(f"{key}={value(key)}", f"only the {' and '.join(values)} {kind}{read} {{it}}")

    return gate


def when_on(key: str, why: str) -> Gate:
    """Read only where setting ``key`` is above 0 (an augmentation's p, optim.momentum); ``why``: the rule."""
    return lambda value: None if value(key) > 0 else Idle(f"{key}=0", why)


def lr_moves(value: Value) -> Idle | None:
    """None where the schedule moves the lr; else why it keeps optim.lr all run (after any warm-up), as
    ``schedule.name=none`` does (training/optim.py ``lr_factor``: exponential and step count their epochs
    from the warm-up's end)."""
    name, epochs = value("schedule.name"), value("train.epochs")
    warm = value("schedule.warmup_epochs")
    gamma, step_size, min_lr = (value(f"schedule.{k}") for k in ("gamma", "step_size", "min_lr"))
    less = f" - schedule.warmup_epochs={warm:g}" if warm else ""
    if name in ("exponential", "step") and gamma == 1:
        cause, rule = "schedule.gamma=1", f"the {name} schedule multiplies the lr by 1"
    elif name == "exponential" and epochs - warm <= 1:
        cause = f"train.epochs={epochs}{less} ≤ 1" if warm else "train.epochs=1"
        when = "one epoch after the warm-up" if warm else "after one epoch"
        rule = f"the exponential schedule first lowers the lr {when}"
    elif name == "step" and step_size >= epochs - warm:
        cause = f"schedule.step_size={step_size} ≥ train.epochs={epochs}{less}"
        when = "step_size epochs after the warm-up" if warm else "after step_size epochs"
        rule = f"the step schedule first lowers the lr {when}"
    elif name in ("cosine", "plateau") and min_lr >= value("optim.lr"):
        cause = f"schedule.min_lr={min_lr:g} ≥ optim.lr={value('optim.lr'):g}"
        rule = f"the {name} schedule never goes below min_lr"
    elif name == "plateau" and (patience := value("schedule.patience")) >= _counted(value):
        cause = f"schedule.patience={patience} and the run's {len(_evaluations(value))} evaluations"
        if warm:
            cause += f" ({_counted(value)} counted after schedule.warmup_epochs={warm:g})"
            rule = "the plateau schedule counts neither the first evaluation nor those of the warm-up, "
        else:
            rule = "the plateau schedule first lowers the lr at evaluation patience + 1 at the earliest, "
        rule += "and nothing trains after the last"
    else:
        return None
    then = " after the warm-up" if warm else ""
    return Idle(cause, f"{rule}, so the lr stays at optim.lr{then}, as with schedule.name=none")


def _evaluations(value: Value) -> list[int]:
    """The epochs after which a run evaluates: every train.eval_every epochs, and the last."""
    epochs, every = value("train.epochs"), value("train.eval_every")
    return [e for e in range(1, epochs + 1) if e % every == 0 or e == epochs]


def _counted(value: Value) -> int:
    """The evaluations plateau can count towards a cut (training/plateau.py): not the first, which sets the
    value to beat, nor those before the warm-up's end."""
    return sum(e >= value("schedule.warmup_epochs") for e in _evaluations(value)[1:])


# image augmentation → the setting that turns it on (mixup and cutmix, which mix pairs, are not gated by augment.p)
_IMAGE_OPS = {
    name: f"augment.{name}.{'num_ops' if name == 'randaugment' else 'p'}"
    for name in AugmentConfig.model_fields
    if name not in ("p", "mixup", "cutmix")
}


def image_ops_on(value: Value) -> Idle | None:
    """None where an image augmentation is on (what ``augment.p`` gates)."""
    if any(value(key) > 0 for key in _IMAGE_OPS.values()):
        return None
    return Idle(
        "every image augmentation off", "{it} is the chance that an image goes through them"
    )


AUGMENTED = when_on(
    "augment.p",
    "augment.p is the chance that an image is augmented at all, so none is (mixup and cutmix have "
    "their own p)",
)


def _augment_reads() -> dict[str, tuple[Gate, ...]]:
    """Each image augmentation's settings are read where augment.p > 0 (:data:`AUGMENTED`), its other
    settings only while its own switch (its p, RandAugment's num_ops) is above 0 — but augment.crop.size,
    the model's input size, read at p = 0 too (the centre crop); mixup's and cutmix's settings (not gated
    by augment.p) while their own p is. A suite run turning off an augmentation of its base, as
    dlvc-compare's resnet18-noaug does, is noted for the base's settings it leaves unread: true, and the
    tables never list them for it."""
    switches = {**_IMAGE_OPS, "mixup": "augment.mixup.p", "cutmix": "augment.cutmix.p"}
    reads: dict[str, tuple[Gate, ...]] = {}
    for name, switch in switches.items():
        gated = (AUGMENTED,) if name in _IMAGE_OPS else ()
        own = when_on(switch, f"only the {name} augmentation reads {{it}}, and it is off")
        for leaf in type(getattr(AugmentConfig(), name)).model_fields:
            key = f"augment.{name}.{leaf}"
            if key == switch and gated:
                reads[key] = gated
            elif key != switch and key != "augment.crop.size":
                reads[key] = (*gated, own)
    return reads


def decoded_to_image_size(value: Value) -> Idle | None:
    """None where an image folder is decoded to data.image_size: no data.resize given, which it decodes
    to instead (data/sources/folder.py)."""
    if value("data.resize") is None:
        return None
    return Idle(
        f"data.resize={value('data.resize')}", "an image folder is decoded to data.resize instead"
    )


def images(value: Value) -> Idle | None:
    """None where the data source gives images (circles gives 2-D points, which nothing resizes)."""
    if value("data.name") != "circles":
        return None
    return Idle("data.name=circles", "its points are no images, and only images are resized")


_BY_SGD = read_by("optim.name", "sgd", kind="optimizer")
# setting → the conditions for it to be read, in the order a note gives them: it does nothing where one fails
_BY_PLATEAU = read_by("schedule.name", "plateau", kind="schedule")
_BY_CIRCLES = read_by("data.name", "circles", kind="data source")
READS: dict[str, tuple[Gate, ...]] = {
    "optim.momentum": (_BY_SGD,),
    "optim.nesterov": (
        _BY_SGD,
        when_on("optim.momentum", "Nesterov momentum is a kind of momentum, which is off"),
    ),
    "optim.betas": (read_by("optim.name", "adam", "adamw", kind="optimizer"),),
    "optim.decay_bias_norm": (
        when_on("optim.weight_decay", "{it} chooses the weights that decay, and none does"),
    ),
    "schedule.name": (lr_moves,),
    "schedule.gamma": (read_by("schedule.name", "exponential", "step", kind="schedule"), lr_moves),
    "schedule.step_size": (read_by("schedule.name", "step", kind="schedule"), lr_moves),
    "schedule.min_lr": (read_by("schedule.name", "cosine", "plateau", kind="schedule"), lr_moves),
    "schedule.factor": (_BY_PLATEAU, lr_moves),
    "schedule.patience": (_BY_PLATEAU, lr_moves),
    "data.image_size": (read_by("data.name", "folder", kind="data source"), decoded_to_image_size),
    "data.n_samples": (_BY_CIRCLES,),
    "data.noise": (_BY_CIRCLES,),
    "data.label_mode": (read_by("data.name", "cifar100", kind="data source"),),
    "data.zca_epsilon": (read_by("data.normalize", "zca", kind="normalisation"),),
    "data.resize": (images,),
    "augment.p": (image_ops_on,),
    **_augment_reads(),
}
# an idle setting that still says what its run did, compared in the tables as the value it amounts to
SAME_AS = {"schedule.name": "none"}


# what plain SGD at the scheduled optim.lr amounts to, for each setting that would change a step
PLAIN_SGD: dict[str, Any] = {
    "optim.momentum": 0.0,
    "optim.weight_decay": 0.0,
    "optim.head_lr": None,
    "train.label_smoothing": 0.0,
    "train.grad_clip": None,
    "train.accumulate": 1,
    "train.freeze": [],
    "augment.mixup.p": 0.0,
    "augment.cutmix.p": 0.0,
}


def given(section: BaseModel, key: str) -> bool:
    """Whether ``section.key`` is away from its default: a value the user chose. (A key set to its default
    value cannot be told from one left alone once a config is rebuilt from a whole dump — a run's
    config.yaml, a suite's run handed to its worker — so it never counts as given.)"""
    field = type(section).model_fields[key]
    return getattr(section, key) != field.get_default(call_default_factory=True)


def idle_settings(value: Value) -> dict[str, Idle]:
    """Each setting of :data:`READS` that does nothing given the others (read by ``value``), and why: its
    first condition that fails."""
    idle = {}
    for key, gates in READS.items():
        why = next((i for i in (gate(value) for gate in gates) if i is not None), None)
        if why is not None:
            idle[key] = why
    return idle


def config_notes(cfg: Config) -> list[str]:
    """One sentence per group of settings of ``cfg`` that do nothing for one reason (:func:`idle_settings`:
    a setting away from its default only), or that another defeats (a warm-up as long as the run); and
    for adamw at weight_decay 0, that it is Adam."""
    notes = _idle_notes(cfg)
    s = cfg.schedule
    if s.warmup_epochs >= cfg.train.epochs:
        then = "" if s.name == "none" else f" and schedule.name={s.name} never starts"
        notes.append(
            f"schedule.warmup_epochs={s.warmup_epochs:g} ≥ train.epochs={cfg.train.epochs}: the whole run "
            f"is warm-up — the lr rises towards optim.lr={cfg.optim.lr:g} until the last step{then}. "
            f"Give fewer warm-up epochs or more epochs."
        )
    if s.name == "plateau" and (stop := cfg.train.early_stop) and stop <= s.patience:
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


def warmup_note(cfg: Config, steps: int, steps_per_epoch: int) -> str | None:
    """The note for a warm-up given that is ``steps`` ≤ 1 optimizer step of the run's ``steps_per_epoch``
    (the data decides them: the trainer asks, beside the others): its one step is at optim.lr, as without
    a warm-up. None for any other."""
    warm = cfg.schedule.warmup_epochs
    if not warm or steps > 1:
        return None
    return (
        f"schedule.warmup_epochs={warm:g} does nothing with {steps_per_epoch} optimizer "
        f"step{'' if steps_per_epoch == 1 else 's'} per epoch: it rounds to "
        f"{'1 warm-up step, which is at optim.lr' if steps else '0 warm-up steps'}, so the lr is "
        f"optim.lr from the first step, as with schedule.warmup_epochs=0. Give schedule.warmup_epochs="
        f"{2 / steps_per_epoch:.2g} or more (2 steps) for a warm-up."
    )


def eval_size_note(cfg: Config, n_train: int, n_val: int, n_test: int) -> str | None:
    """The note for a ``data.limit`` that keeps ``n_train`` train images while val (``n_val``; ``n_test``
    test) stays more than twice as large, ``data.limit_eval`` not given: each evaluation then scores more
    images than an epoch trains on (the split sizes come with the data: the trainer asks). None else."""
    limit = cfg.data.limit
    if limit is None or cfg.data.limit_eval is not None or n_val <= 2 * n_train:
        return None
    return (
        f"data.limit={limit} keeps {n_train} train images, but val ({n_val}) and test ({n_test}) stay "
        f"whole (data.limit limits train only): each evaluation scores {n_val / n_train:.0f}× as many "
        f"val images as an epoch trains on, and may take longer than the epoch. For a quick run, also "
        f"give data.limit_eval=N (e.g. --set data.limit_eval={n_train}): N val and N test images, "
        f"stratified (the test figures are then of a sample)."
    )


def _idle_notes(cfg: Config) -> list[str]:
    """A sentence per reason, naming the settings away from their default that it makes do nothing."""
    value = partial(_at, cfg)
    groups: dict[Idle, list[str]] = {}
    for key, idle in idle_settings(value).items():
        section, _, leaf = key.rpartition(".")
        if given(value(section), leaf):
            groups.setdefault(idle, []).append(f"{key}={_as_set(value(key))}")
    return [
        f"{_and(keys)} {'does' if len(keys) == 1 else 'do'} nothing with {idle.cause}: "
        f"{idle.why.format(it='it' if len(keys) == 1 else 'them')}."
        for idle, keys in groups.items()
    ]


def _and(texts: list[str]) -> str:
    return texts[0] if len(texts) == 1 else f"{', '.join(texts[:-1])} and {texts[-1]}"


def beyond_plain_sgd(cfg: Config) -> list[tuple[str, str, str]]:
    """(key, its value, what plain SGD amounts to), as ``--set`` writes values, for each setting of ``cfg``
    that plain SGD at optim.lr does not apply: an optim.name other than sgd and the default adam (which the
    run notes instead: a plain ``--set model.name=mlp-scratch`` trains), and each of ``PLAIN_SGD`` away
    from its plain value."""
    name = cfg.optim.name
    out = [("optim.name", name, "sgd")] if given(cfg.optim, "name") and name != "sgd" else []
    for key, plain in PLAIN_SGD.items():
        value = _at(cfg, key)
        if value != plain:
            out.append((key, _as_set(value), _as_set(plain)))
    return out


def augmentations_on(cfg: Config) -> list[str]:
    """The augment keys of ``cfg`` that turn an augmentation on: each op's ``p`` > 0, RandAugment's
    ``num_ops`` — but those that do nothing (:func:`idle_settings`: an image op with ``augment.p=0``)."""
    idle = idle_settings(partial(_at, cfg))
    on = [
        f"augment.{name}.p"
        for name, op in cfg.augment
        if isinstance(op, BaseModel) and getattr(op, "p", 0) > 0
    ]
    on += ["augment.randaugment.num_ops"] if cfg.augment.randaugment.num_ops else []
    return [key for key in on if key not in idle]


def _as_set(value: Any) -> str:
    """``value`` as ``--set`` takes it (YAML): null, true, 0.9, [net.*]."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return f"[{', '.join(map(str, value))}]"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _at(cfg: Config, key: str) -> Any:
    node: Any = cfg
    for part in key.split("."):
        node = getattr(node, part)
    return node


TrainedBy = Literal["optimizer", "fit_arrays", "manual_step"]
# config section → the keys of it still read, for a model not trained by an optimizer: its own step reads
# the (scheduled) learning rate alone; a model fitted on arrays has no steps at all, and is fitted on the
# train split as it is (no augmentation), once: of train.*, it reads what scores, seeds and places the fit
# (training/trainer.py fit_once, evaluate.py finish_run) — no epochs, batches, steps, evaluation schedule,
# early stop or weight average. (A train key added to the schema is unread for it until listed here.)
UNREAD_SECTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "manual_step": {"optim": ("lr",)},
    "fit_arrays": {
        "optim": (),
        "schedule": (),
        "augment": (),
        "train": (
            "eval_batch_size",
            "seed",
            "device",
            "threads",
            "track_test",
            "amp",
            "channels_last",
            "cudnn_benchmark",
            "tta",
            "init_from",
            "freeze",
            "figures",
        ),  # fmt: skip
    },
}


def unread_setting(key: str, trained_by: str) -> bool:
    """Whether a model trained as ``trained_by`` never reads the dotted config ``key`` (``optim.momentum``
    for a model with its own step)."""
    section, _, leaf = key.partition(".")
    kept = UNREAD_SECTIONS.get(trained_by, {}).get(section)
    return kept is not None and leaf not in kept
