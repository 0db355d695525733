"""Which settings a run reads: the one declaration of settings that others can make do nothing (pure
functions of a config's values, no torch; those a model not trained by an optimizer never reads are
``config/unread.py``'s).

- ``READS``: for each data, optimizer, schedule and augmentation setting that others can make do nothing,
  when it is read (``optim.momentum`` with adam, a step schedule whose step_size outlasts the run, an
  augmentation with ``augment.p=0``, ``data.val_fraction`` beside ``data.split`` or a source's own val set:
  ``OWN_SETS_BY_NAME``), which :func:`idle_settings` applies to a config's values. The run's
  ``note:`` lines (``config/notes.py``) and the comparison tables (``experiments/results/settings.py``)
  both read it;
- :func:`augment_switch`, :func:`augment_on`: the setting that turns an augmentation on, and whether it is;
- :func:`get_dotted`: a config's setting by its dotted key.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from vislab.config.augmentation import AugmentConfig

Value = Callable[[str], Any]  # a config's setting by dotted key: optim.lr → 0.001


def get_dotted(cfg: BaseModel, key: str) -> Any:
    """The setting at dotted ``key`` of ``cfg`` (a config or a section of it): optim.lr → 0.001."""
    node: Any = cfg
    for part in key.split("."):
        node = getattr(node, part)
    return node


# the augmentations: the sections of augment.* (augment.p gates the image ones: all but mixup and cutmix,
# which mix pairs of a batch and their labels)
AUGMENTATIONS = tuple(name for name in AugmentConfig.model_fields if name != "p")
IMAGE_OPS = tuple(name for name in AUGMENTATIONS if name not in ("mixup", "cutmix"))


def augment_switch(name: str) -> str:
    """The setting that turns augmentation ``name`` on: ``augment.<name>.p``, RandAugment's ``num_ops``."""
    return f"augment.{name}.{'num_ops' if name == 'randaugment' else 'p'}"


def augment_on(value: Value, name: str) -> bool:
    """Whether augmentation ``name`` is switched on (its :func:`augment_switch` above 0) in the config whose
    settings ``value`` reads — whatever ``augment.p`` makes of it."""
    return value(augment_switch(name)) > 0


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


def init_from_given(value: Value) -> Idle | None:
    """None where train.init_from names a run to load (train.init_head says what of it the head takes)."""
    if value("train.init_from"):
        return None
    return Idle(
        "train.init_from=null",
        "{it} says whether train.init_from loads the head, and nothing is loaded",
    )


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


def early_stop_can_come(value: Value) -> Idle | None:
    """None where ``train.early_stop`` (off: null or 0) can end the run before its last epoch: it stops at
    the evaluation after ``early_stop`` in a row that did not improve on the first's value at the earliest,
    and nothing trains after the last (training/state.py, the trainer's evaluation)."""
    patience = value("train.early_stop")
    n = len(_evaluations(value))
    if not patience or n - 1 > patience:
        return None
    every = (
        f", train.eval_every={value('train.eval_every')}" if value("train.eval_every") > 1 else ""
    )
    return Idle(
        f"the run's {n} evaluation{'' if n == 1 else 's'} (train.epochs={value('train.epochs')}{every})",
        f"early stopping ends a run at evaluation {patience + 1} at the earliest (the first sets the value "
        f"to beat), and nothing trains after the last, so {{it}} never stops it early",
    )


_EARLY_STOP_OFF = Idle(
    "train.early_stop=null", "{it} chooses the metric early stopping watches, and it is off"
)


def penalised(value: Value) -> Idle | None:
    """None where a weight penalty is on (optim.weight_decay or optim.l1 above 0), whose weights
    optim.decay_bias_norm chooses."""
    if value("optim.weight_decay") > 0 or value("optim.l1") > 0:
        return None
    return Idle(
        "optim.weight_decay=0 and optim.l1=0",
        "{it} chooses the weights that decay or optim.l1 penalises, and neither is on",
    )


def _evaluations(value: Value) -> list[int]:
    """The epochs after which a run evaluates: every train.eval_every epochs, and the last."""
    epochs, every = value("train.epochs"), value("train.eval_every")
    return [e for e in range(1, epochs + 1) if e % every == 0 or e == epochs]


def _counted(value: Value) -> int:
    """The evaluations plateau can count towards a cut (training/plateau.py): not the first, which sets the
    value to beat, nor those before the warm-up's end."""
    return sum(e >= value("schedule.warmup_epochs") for e in _evaluations(value)[1:])


def image_ops_on(value: Value) -> Idle | None:
    """None where an image augmentation is on (what ``augment.p`` gates)."""
    if any(augment_on(value, name) for name in IMAGE_OPS):
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
    reads: dict[str, tuple[Gate, ...]] = {}
    for name in AUGMENTATIONS:
        switch = augment_switch(name)
        gated = (AUGMENTED,) if name in IMAGE_OPS else ()
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


def reads_files(value: Value) -> Idle | None:
    """None where the data source reads files under data.root; digits come with scikit-learn, circles
    are drawn, ``memory:`` arrays are given from Python."""
    name = value("data.name")
    where = {"digits": "come with scikit-learn", "circles": "are drawn at random"}.get(name)
    if where is None and str(name).startswith("memory:"):
        where = "are the arrays given from Python"
    if where is None:
        return None
    return Idle(f"data.name={name}", f"its samples {where}, not read from files under {{it}}")


# the sources whose official sets the name alone tells (data/sources: cifar.py, idx.py, circles.py), each
# with those it has beside train — a folder's or memory: arrays' depend on what is given, so are never told
OWN_SETS_BY_NAME: dict[str, tuple[str, ...]] = {
    "cifar10": ("val", "test"),
    "cifar100": ("test",),
    "mnist": ("test",),
    "fashion-mnist": ("test",),
    "circles": ("test",),
    "digits": (),  # scikit-learn's 1,797 images: every split carved
}


def official_val_of_source(value: Value) -> Idle | None:
    """None unless the data source's name says it has no official val set (digits, mnist, …: not
    cifar10; a folder's or arrays' sets depend on what is given), which data.official_val would keep."""
    name = value("data.name")
    if "val" in OWN_SETS_BY_NAME.get(name, ("val",)):
        return None
    return Idle(
        f"data.name={name}", "its data has no official val set for {it} to keep or join to train"
    )


def sized(value: Value) -> Idle | None:
    """None unless ``data.split`` gives the three splits' sizes, which carve them instead of fractions."""
    if value("data.split") is None:
        return None
    sizes = ", ".join(map(str, value("data.split")))
    return Idle(f"data.split=[{sizes}]", "its sizes carve train, val and test, not fractions")


def carved(split: str) -> Gate:
    """Read only where ``split`` (val, test) is carved from train: a source with its own ``split`` set
    loaded (with data.use; val where data.official_val is true) gives it instead (data/split.py)."""
    instead = {
        "val": "data.official_val=false carves val from train with {it} instead",
        "test": "data.use=[train] carves test from train with {it} instead",
    }[split]

    def gate(value: Value) -> Idle | None:
        name = value("data.name")
        loaded = "train" in value("data.use") if split == "val" else "test" in value("data.use")
        own = split in OWN_SETS_BY_NAME.get(name, ()) and loaded
        if not own or (split == "val" and not value("data.official_val")):
            return None
        return Idle(
            f"data.name={name}", f"its official {split} set is the {split} split ({instead})"
        )

    return gate


_BY_SGD = read_by("optim.name", "sgd", kind="optimizer")
# setting → the conditions for it to be read, in the order a note gives them: it does nothing where one fails
_BY_PLATEAU = read_by("schedule.name", "plateau", kind="schedule")
_BY_CIRCLES = read_by("data.name", "circles", kind="data source")


def draws_samples(value: Value) -> Idle | None:
    """None where a split or a sample of one is drawn at random (data.split's sizes, a limit, val or test
    carved from train), which data.split_seed would seed; not where the official sets are the splits."""
    limits = ("data.split", "data.limit", "data.limit_per_class", "data.limit_eval")
    if any(value(k) is not None for k in limits) or None in (
        carved(s)(value) for s in ("val", "test")
    ):
        return None
    return Idle(
        f"data.name={value('data.name')}",
        "its official train, val and test sets are the splits, whole: nothing is drawn with {it}",
    )


READS: dict[str, tuple[Gate, ...]] = {
    "optim.momentum": (_BY_SGD,),
    "optim.nesterov": (
        _BY_SGD,
        when_on("optim.momentum", "Nesterov momentum is a kind of momentum, which is off"),
    ),
    "optim.betas": (read_by("optim.name", "adam", "adamw", kind="optimizer"),),
    "optim.decay_bias_norm": (penalised,),
    "data.official_val": (official_val_of_source,),
    "schedule.name": (lr_moves,),
    "schedule.gamma": (read_by("schedule.name", "exponential", "step", kind="schedule"), lr_moves),
    "schedule.step_size": (read_by("schedule.name", "step", kind="schedule"), lr_moves),
    "schedule.min_lr": (read_by("schedule.name", "cosine", "plateau", kind="schedule"), lr_moves),
    "schedule.factor": (_BY_PLATEAU, lr_moves),
    "schedule.patience": (_BY_PLATEAU, lr_moves),
    "train.early_stop": (early_stop_can_come,),
    "train.early_stop_metric": (
        lambda value: None if value("train.early_stop") else _EARLY_STOP_OFF,
        early_stop_can_come,
    ),
    "train.init_head": (init_from_given,),
    "data.val_fraction": (sized, carved("val")),
    "data.test_fraction": (sized, carved("test")),
    "data.split_seed": (draws_samples,),
    "data.root": (reads_files,),
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


def idle_settings(value: Value, varied: Collection[str] = ()) -> dict[str, Idle]:
    """Each setting of :data:`READS` that does nothing given the others (read by ``value``), and why: its
    first condition that fails among those reading none of the keys ``varied`` (a sweep's space: its
    trials set them, so a condition on them may hold for some)."""
    idle = {}
    for key, gates in READS.items():
        for gate in gates:
            read: set[str] = set()
            why = gate(lambda k, read=read: read.add(k) or value(k))
            if why is not None and not read & set(varied):
                idle[key] = why
                break
    return idle
