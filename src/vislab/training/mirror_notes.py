"""The set-up's notes on mirrored images: digits and characters mirrored in training (``augment.hflip``, or a
model's own alternating flip, ``fast``'s ``model.alternate_flip``) or at test time (the model's own flip,
``model.tta``), and ``train.tta``'s flips of a model never trained on mirrored images."""

from __future__ import annotations

from vislab.config import Config, augmentations_on
from vislab.models import model_kwargs
from vislab.models.hooks import ModelHooks

# The sources whose classes a mirror changes (handwritten or printed digits, letters, characters): what
# each image shows. Fashion-MNIST, CIFAR and other pictures of objects are left out (a mirrored shirt is a shirt).
MIRROR_CHANGES = {
    **dict.fromkeys(("digits", "mnist"), "digit"),
    **{f"torchvision:{n}": "digit" for n in ("MNIST", "QMNIST", "USPS", "SEMEION", "SVHN")},
    **{f"torchvision:{n}": "character" for n in ("EMNIST", "KMNIST")},
}


def mirror_notes(cfg: Config, hooks: ModelHooks, fitted: bool) -> list[str]:
    """The notes on mirrors that hurt this run: mirrored digits in training (``augment.hflip``, the model's
    alternating flip) and its own test-time flip, then ``train.tta``'s flips of a model never trained on
    mirrored images — for a model ``fitted`` on the train split as it is (``trained_by="fit_arrays"``),
    which sees no augmentation, the test-time ones only."""
    notes = [
        "" if fitted else _mirrored_digits_note(cfg),
        _model_flip_note(cfg, hooks, fitted),
        _tta_flip_note(cfg, fitted, hooks.flip_policy == "alternate"),
    ]
    return [n for n in notes if n]


def _example(what: str) -> str:
    return "a mirrored 2, 3, 4, 7 is no digit" if what == "digit" else "a mirrored b is a d"


def _mirrored_digits_note(cfg: Config) -> str:
    """For ``augment.hflip`` on digits or characters (:data:`MIRROR_CHANGES`): a mirrored one is another
    or none; else ''."""
    what = MIRROR_CHANGES.get(cfg.data.name)
    if what is None or "augment.hflip.p" not in augmentations_on(cfg):
        return ""
    return (
        f"augment.hflip.p={cfg.augment.hflip.p:g} mirrors the {cfg.data.name} images, and a mirrored {what} "
        f"is another shape or none ({_example(what)}): the model learns from images "
        f"its test split never holds. Leave the flip out: --set augment.hflip.p=0 / augment__hflip__p=0."
    )


def _model_flip_note(cfg: Config, hooks: ModelHooks, fitted: bool) -> str:
    """For a model that mirrors digits or characters itself: half the training images in every epoch (its
    ``flip_policy`` "alternate", ``fast``'s ``model.alternate_flip``), or each test image beside its mirror
    (its own test-time flip, ``model.tta``); what it costs and the options that turn it off; else ''."""
    what = MIRROR_CHANGES.get(cfg.data.name)
    alternate = hooks.flip_policy == "alternate" and not fitted
    if what is None or not (alternate or hooks.eval_tta != "none"):
        return ""
    options, name = model_kwargs(cfg.model.name), cfg.model.name
    done, cli, python = [], [], []
    if alternate:
        done.append("mirrors half the training images in every epoch (its alternating flip)")
        if "alternate_flip" in options:
            cli.append("--set model.alternate_flip=false")
            python.append("model__alternate_flip=False")
    if hooks.eval_tta != "none":
        done.append("scores each test image by the mean of its logits for it and its mirror")
        if "tta" in options:
            cli.append("--set model.tta=none")
            python.append("model__tta='none'")
    tta = ""  # train.tta's mirror too where _tta_flip_note is silent: the model mirrors itself
    if cfg.train.tta != "none" and alternate:
        tta = f", and train.tta={cfg.train.tta} adds each test image's mirror"
        cli.append("--set train.tta=none")
        python.append("train__tta='none'")
    fix = f"{' '.join(cli)} / {', '.join(python)}" if cli else f"leave those flips out of {name}"
    return (
        f"model '{name}' {' and '.join(done)}{tta}, but data.name={cfg.data.name} holds {what}s, and a "
        f"mirrored {what} is another shape or none ({_example(what)}): mirrored images, unlike any of its "
        f"test split, can cost much accuracy. Turn the mirror off: {fix}."
    )


def _tta_flip_note(cfg: Config, fitted: bool, alternate: bool = False) -> str:
    """For ``train.tta`` (each mode averages the logits over the image and its mirror) on a model trained
    on no mirrored image (``augment.hflip.p`` 0, or idle at ``augment.p=0``, or ``fitted`` on the
    unaugmented train split; not a model that mirrors itself, its flip policy ``alternate``): why, and how
    to score without the mirror or train with it; else ''."""
    tta, aug = cfg.train.tta, cfg.augment
    if tta == "none" or "augment.hflip.p" in augmentations_on(cfg) or (alternate and not fitted):
        return ""
    if fitted:
        why, fix = f"{cfg.model.name} is fitted on the train split as it is (not augmented)", ""
    elif aug.hflip.p > 0:  # augment.p=0 keeps it from mirroring
        why = f"training never mirrors images (augment.hflip.p={aug.hflip.p:g} with augment.p=0)"
        fix = "; or train on mirrored images: --set augment.p=1 / augment__p=1"
    else:
        why = "training never mirrors images (augment.hflip.p=0)"
        fix = "; or train on mirrored images: --set augment.hflip.p=0.5 / augment__hflip__p=0.5"
    if cfg.data.name in MIRROR_CHANGES:  # not to be mirrored: scoring without the mirror is the fix
        fix = ""
    views = "its mirror" + ("" if tta == "flip" else ", each also shifted by one pixel")
    return (
        f"train.tta={tta} scores each image by the mean of the model's logits for it and {views}, but "
        f"{why}: the model never saw a mirrored image. For digits and text a mirrored image is another "
        f"shape, and the mean can cost much accuracy. Score without the mirror (every train.tta mode "
        f"includes it): --set train.tta=none / train__tta='none'{fix}."
    )
