"""What a model may ask of the trainer: every hook it honours, declared once.

A vislab model is any ``nn.Module`` whose ``forward(x)`` maps a batch N×C×H×W (or N×D) to logits N×K.
That is all a plain model needs: the trainer builds an optimizer and takes gradient steps on it.

A model that needs more subclasses ``ModelHooks`` beside ``nn.Module`` and overrides what it uses::

    class MyNet(ModelHooks, nn.Module):
        def after_step(self) -> None:          # e.g. keep an average of the weights
            ...

The trainer reads the hooks through ``hooks_of(model)`` and calls each at the moment its docstring
names; it never looks for other attributes. Every hook's default does nothing special.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn as nn

TrainedBy = Literal["optimizer", "fit_arrays", "manual_step"]
FlipPolicy = Literal["random", "alternate"]


class ModelHooks:
    """The trainer's side of a model: how it is trained, and the moments it may act."""

    #: How the model learns. ``"optimizer"``: epochs of gradient steps by a ``torch.optim`` optimizer
    #: (``optim.*``, ``schedule.*``, AMP and ``train.grad_clip`` apply). ``"fit_arrays"``: fitted once
    #: on the whole train split by ``fit_arrays`` (no epochs; e.g. the majority baseline, an SVM).
    #: ``"manual_step"``: epochs in which ``manual_step`` updates the weights itself (no optimizer,
    #: no AMP, no grad clip; the schedule still sets its learning rate).
    trained_by: TrainedBy = "optimizer"

    #: How ``augment.hflip`` mirrors training images. ``"random"``: each image with probability p, drawn
    #: anew every epoch. ``"alternate"``: a fixed random half of the images in even epochs and the other
    #: half in odd ones (derandomised flips, as in the CIFAR-10 speed records).
    flip_policy: FlipPolicy = "random"

    def fit_arrays(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Fit on the whole train split at once: ``x`` normalised inputs N×…, ``y`` labels N.

        Called once, instead of epochs, when ``trained_by == "fit_arrays"``.
        """
        raise NotImplementedError(f"{type(self).__name__} declares trained_by='fit_arrays'")

    def init_from_data(self, x: torch.Tensor) -> None:
        """Set data-dependent weights (e.g. whitening filters) from training images.

        Called once before the first step of a new run, never on resume (the checkpoint holds the
        weights), with up to 10,000 normalised, un-augmented images of the train split.
        """

    def manual_step(
        self, x: torch.Tensor, y: torch.Tensor, lr: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Update the weights on one batch with learning rate ``lr``; return (loss, logits), detached.

        Called for every batch instead of forward/backward/optimizer step when
        ``trained_by == "manual_step"``.
        """
        raise NotImplementedError(f"{type(self).__name__} declares trained_by='manual_step'")

    def after_step(self) -> None:
        """Called after every training step (optimizer or manual), in training mode.

        The place for a running average of the weights (EMA). Keep it on the device: no ``.item()``.
        """


_PLAIN = ModelHooks()


def hooks_of(model: nn.Module) -> ModelHooks:
    """The hooks the trainer calls for ``model``: its own if it subclasses ``ModelHooks``, else defaults."""
    return model if isinstance(model, ModelHooks) else _PLAIN
