"""What a model may ask of the trainer, and what it offers figures: every hook, declared once.

A vislab model is any ``nn.Module`` whose ``forward(x)`` maps a batch N×C×H×W (or N×D) to logits N×K.
That is all a plain model needs: the trainer builds an optimizer and takes gradient steps on it.

A model that needs more subclasses ``ModelHooks`` beside ``nn.Module`` and overrides what it uses::

    class MyNet(ModelHooks, nn.Module):
        def after_step(self) -> None:          # e.g. keep an average of the weights
            ...

The trainer reads the hooks through ``hooks_of(model)`` and calls each at the moment its docstring
names; it never looks for other attributes. Every hook's default does nothing special.

The hooks, by what asks for them:

- how the model is trained: ``trained_by`` (with ``fit_arrays`` or ``manual_step``; ``built_as``: the class
  a family's options pick, known before it is built; ``plain_sgd``: hand-written levels that step by plain
  SGD), ``init_from_data``, ``after_step``, ``flip_policy``, ``no_weight_decay``, and ``head_modules``, the
  classifier head that ``optim.head_lr`` trains at its own learning rate (default: the last ``nn.Linear``
  to the classes, :func:`last_linear_to`);
- what it offers the figures (``vislab explain``, the report): the layer Grad-CAM weighs
  (``gradcam_layer``), a transformer's token grid, attention maps and position embedding. Their defaults
  fit a plain network: its last convolutional feature map after its activation for Grad-CAM
  (:func:`rectified_features`), no attention;
- what ``vislab model info``, ``vislab export`` and ``vislab model gradcheck`` describe:
  ``measured_network``, ``eval_tta``, ``eval_weight_average`` (with ``weight_average_option``, which the
  set-up's notes name too), and ``hand_written_gradients``, a backward pass written by hand that gradcheck
  compares with autograd (default: none);
- what the set-up says of images too small for the model: ``weights_input_size``, ``total_stride``.

A library's models, which cannot subclass ``ModelHooks``, get hooks bound to them by
``register_library_hooks`` (timm's, in :mod:`vislab.models.timm_zoo`). A transformer built on torch's
``nn.TransformerEncoder`` gets its attention maps from :func:`encoder_attention_maps`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import torch
import torch.nn as nn

# how a model may be trained, what each way leaves unread and what plain SGD amounts to are declared with
# the other settings read or not (config/unread.py), where the comparison tables read them without torch
from vislab.config.unread import TrainedBy
from vislab.models.hook_values import HandWrittenGradients, PlainSGDLevels, TokenGrid

FlipPolicy = Literal["random", "alternate"]


class ModelHooks:
    """The trainer's side of a model (how it is trained, the moments it may act, its classifier head) and
    what it offers figures (Grad-CAM layer, token grid, attention maps, position embedding)."""

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

    #: The test-time augmentation the model's own eval-mode forward does, as a ``train.tta`` mode
    #: ("none", "flip", "flip-translate"); the run's ``train.tta`` adds its views around it. ``vislab
    #: export`` describes the two together.
    eval_tta: str = "none"

    #: Whether the model's eval-mode forward runs on a running average of the weights that it keeps itself
    #: (e.g. an EMA updated in ``after_step``) rather than on the trained weights; ``vislab export`` says so.
    eval_weight_average: bool = False

    #: The ``model.*`` option that sets that average's decay, 0 turning it off, and its value in this model
    #: (e.g. `fast`'s ``("ema_decay", 0.98)``), for messages to name; None where no option of the model's
    #: does (the default).
    weight_average_option: tuple[str, float] | None = None

    #: For a family whose hand-written levels step by plain SGD beside a level ``torch.optim`` trains, what
    #: they are (:class:`PlainSGDLevels`: mlp-scratch's), declared by every level, for messages to name.
    #: None (default): no such levels, or a step of the model's own, which vislab does not describe.
    plain_sgd: PlainSGDLevels | None = None

    @classmethod
    def built_as(cls, options: dict[str, Any]) -> type[ModelHooks]:
        """The class the family builds with ``model.*`` ``options``, known before it is built (a suite's dry
        run reads its ``trained_by``): this class (default), or the one its options pick (mlp-scratch's)."""
        return cls

    def fit_arrays(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Fit on the whole train split at once: ``x`` normalised inputs N×…, ``y`` labels N.

        Called once, instead of epochs, when ``trained_by == "fit_arrays"``.
        """
        raise NotImplementedError(f"{type(self).__name__} declares trained_by='fit_arrays'")

    def init_from_data(self, x: torch.Tensor) -> None:
        """Set data-dependent weights (e.g. whitening filters) from training images.

        Called once before the first step of a new run, never on resume (the checkpoint holds the
        weights), with up to 10,000 normalised, un-augmented images of the train split. An exception it
        raises in your own model (``model.name=file.py:Net``) ends the run as a user error naming this
        hook, with your code's frames only (exit 2).
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
        """Called once per update of the weights, in training mode: after every optimizer step (with
        ``train.accumulate=k``, once per k batches, not after each batch) or manual step.

        The place for a running average of the weights (EMA). Keep it on the device: no ``.item()``.
        """

    def no_weight_decay(self) -> set[str]:
        """Names of parameters that ``optim.decay_bias_norm=false`` keeps out of weight decay besides the
        1-D ones (biases, normalisation scales): e.g. a ViT's position embedding and class token, which
        should not shrink towards 0 (timm's convention). Names that are no parameter are skipped.
        Default: none."""
        return set()

    def head_modules(self) -> list[str] | None:
        """Names of the modules (as ``named_modules()`` gives them) that form the classifier head, whose
        parameters ``optim.head_lr`` trains at their own learning rate. None (default): the last
        ``nn.Linear`` to the classes (:func:`last_linear_to`); a model without one, the tensors
        ``train.init_from`` re-initialised. Name the head when it is not that: a 1×1
        conv to the classes, an MLP head, a Linear with a copy registered after it (a weight average's)."""
        return None

    def hand_written_gradients(
        self, x: torch.Tensor, y: torch.Tensor
    ) -> HandWrittenGradients | None:
        """The gradients of the mean cross-entropy on the batch (``x``, labels ``y``) by the model's own
        backward pass, with the reference logits autograd checks them by (``vislab model gradcheck``,
        ``vislab.gradcheck``; see ``HandWrittenGradients``). None (default): no hand-written gradients."""
        return None

    def gradcam_layer(self) -> nn.Module | None:
        """The layer whose output feature map Grad-CAM weighs by its gradients, or None (no such map).

        Default: the module whose output is the model's last convolutional feature map after its
        activation (:func:`rectified_features`), so any convolutional network gets Grad-CAM; None for a
        network without an ``nn.Conv2d``, and for one whose only conv cuts the image into patches (a
        vision transformer's patch embedding, :func:`patch_embedding`: no feature map worth a CAM).
        """
        return default_gradcam_layer(self) if isinstance(self, nn.Module) else None

    # The figures' hooks (the three below, and gradcam_layer above) are called by ``vislab explain``,
    # ``vislab figure pos-embed --run`` and the report: an exception your own model raises in one is a
    # UserCodeError naming the hook (your frames only, exit 2), and what one returns is checked against
    # what its docstring asks (vislab.figure_hooks).

    def token_grid(self) -> TokenGrid | None:
        """How a transformer's tokens map to image patches (see ``TokenGrid``): e.g.
        ``TokenGrid(grid=(4, 4), class_token=True)`` for 1 + 16 tokens; None (default): the model has
        no tokens, hence no attention maps or position embedding to draw."""
        return None

    def attention_maps(self, x: torch.Tensor) -> list[torch.Tensor] | None:
        """Each block's attention weights for the normalised batch ``x``: a list of one tensor per
        block, each B × heads × T × T (the heads kept apart, not averaged), each row summing to 1 over
        the T tokens that ``token_grid`` lays out; None (default): no attention.

        Runs the model in eval mode without gradients and leaves it as it was.
        """
        return None

    def position_embedding(self) -> torch.Tensor | None:
        """The table added to the tokens, a tensor T × D: (n [+1]) rows, the class token's row first when
        it has one, then the n = rows × columns patches of ``token_grid`` row by row (a parameter stored
        as 1 × T × D may be returned as it is, or detached); None (default): none."""
        return None

    def measured_network(self) -> nn.Module | None:
        """The sub-module whose one forward pass ``vislab model info`` measures (layer rows, MACs), or None
        (default): the model itself. A model whose eval forward runs its network more than once (its own
        test-time augmentation) or runs a copy of it (a weight average it keeps) returns the network it
        trains, so that the table counts each layer once."""
        return None

    def weights_input_size(self) -> tuple[int, ...] | None:
        """The input shape (C, H, W) the model's pretrained weights were made for, which a refusal of
        images too small for its layers names; None (default): none known."""
        return None

    def total_stride(self) -> int | None:
        """How many times a CNN's strides and pools shrink the side of its input by the end of its last
        stage, which a note on images left as a 1×1 map reads; None (default): not known."""
        return None


# what follows a conv in a Sequential without changing its map's shape: its normalisation and activation
_NORMS = (nn.BatchNorm2d, nn.SyncBatchNorm, nn.GroupNorm, nn.InstanceNorm2d)
_ACTIVATIONS = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Hardswish,
)  # fmt: skip


def rectified_features(model: nn.Module) -> nn.Module | None:
    """The module whose output is ``model``'s last convolutional feature map after its activation (the
    rectified maps Grad-CAM weighs, as in Selvaraju et al.), or None without an ``nn.Conv2d``.

    From the last ``nn.Conv2d`` (registration order): a conv inside a block of a ``Sequential`` (a
    residual block, whose own forward ends in its activation) gives way to that block; then, in its
    ``Sequential``, to the last activation of the norm and activation layers right after it (conv → BN →
    ReLU: the ReLU). A conv with no such activation after it is its own answer."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        return None
    parents = {child: parent for parent in model.modules() for child in parent.children()}
    layer = convs[-1]
    block = parents.get(layer)
    if not isinstance(block, nn.Sequential) and isinstance(parents.get(block), nn.Sequential):
        layer = block
    sequence = parents.get(layer)
    if not isinstance(sequence, nn.Sequential):
        return layer
    after = list(sequence.children())
    for follower in after[after.index(layer) + 1 :]:
        if not isinstance(follower, (*_NORMS, *_ACTIVATIONS)):
            break
        if isinstance(follower, _ACTIVATIONS):
            layer = follower
    return layer


def last_linear_to(model: nn.Module, num_classes: int) -> str | None:
    """The name of ``model``'s last ``nn.Linear`` (registration order) with ``num_classes`` outputs, or None:
    the classifier head of a model whose ``head_modules`` hook names none."""
    linears = [
        name
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear) and m.out_features == num_classes
    ]
    return linears[-1] if linears else None


def model_size(model: nn.Module, hooks: ModelHooks | None = None) -> int:
    """A model's parameters, as a run's summary (``params``), the results tables and ``vislab model info``
    count them: a trained model's parameters (not its buffers: batch-norm statistics); a fitted one's
    (``trained_by="fit_arrays"``: majority, svm) — or one without parameters — what it stores, which it
    holds as buffers, known only once it is fitted (an unfitted svm holds just its gamma). ``hooks``: the
    model's (default ``hooks_of(model)``)."""
    n = sum(p.numel() for p in model.parameters())
    if stores_buffers(model, hooks):
        n += sum(b.numel() for b in model.buffers())
    return n


def stores_buffers(model: nn.Module, hooks: ModelHooks | None = None) -> bool:
    """Whether ``model_size`` counts ``model``'s buffers as its parameters: a fitted model, or one without
    parameters."""
    fitted = (hooks if hooks is not None else hooks_of(model)).trained_by == "fit_arrays"
    return fitted or not any(p.numel() for p in model.parameters())


def patch_embedding(model: nn.Module) -> nn.Conv2d | None:
    """``model``'s only ``nn.Conv2d`` when it cuts the image into patches (stride = kernel size > 1, no
    padding): a vision transformer's patch embedding; else None."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if len(convs) != 1:
        return None
    conv = convs[0]
    cuts = conv.stride == conv.kernel_size and max(conv.kernel_size) > 1
    return conv if cuts and conv.padding in ((0, 0), "valid") else None


def default_gradcam_layer(model: nn.Module) -> nn.Module | None:
    """The Grad-CAM layer of a model whose hooks name none (``ModelHooks.gradcam_layer``): its last conv
    feature map after its activation (:func:`rectified_features`), None without a conv or when its only
    conv is a patch embedding (:func:`patch_embedding`)."""
    return None if patch_embedding(model) is not None else rectified_features(model)


class BoundHooks(ModelHooks):
    """The default hooks of a module that does not subclass ``ModelHooks``, bound to that ``model``."""

    def __init__(self, model: nn.Module):
        self.model = model

    def gradcam_layer(self) -> nn.Module | None:
        """The last conv feature map after its activation, or None (``ModelHooks.gradcam_layer``)."""
        return default_gradcam_layer(self.model)


_LIBRARY_HOOKS: dict[str, Callable[[nn.Module], ModelHooks]] = {}


def register_library_hooks(package: str, bind: Callable[[nn.Module], ModelHooks]) -> None:
    """Hooks for the models of a library, whose classes cannot subclass ``ModelHooks``: ``bind(model)``
    for every model whose class is defined in top-level ``package`` (e.g. ``"timm"``)."""
    _LIBRARY_HOOKS[package] = bind


def encoder_attention_maps(
    encoder: nn.TransformerEncoder, tokens: torch.Tensor
) -> list[torch.Tensor]:
    """The attention weights of each layer of torch's ``encoder`` for its input ``tokens`` (B × T × D,
    T × B × D without ``batch_first``): a list of one tensor B × heads × T × T per layer, what
    ``ModelHooks.attention_maps`` returns. Its layers (``nn.TransformerEncoderLayer``) compute attention
    without keeping the weights; this runs each layer's ``self_attn`` again on that layer's input with
    ``need_weights=True``, in eval mode without gradients, and leaves the encoder as it was (no mask)."""
    was_training = encoder.training
    encoder.eval()
    maps, h = [], tokens
    try:
        with torch.no_grad():
            for layer in encoder.layers:
                q = layer.norm1(h) if layer.norm_first else h
                _, weights = layer.self_attn(q, q, q, need_weights=True, average_attn_weights=False)
                maps.append(weights)
                h = layer(h)
    finally:
        encoder.train(was_training)
    return maps


def hooks_of(model: nn.Module) -> ModelHooks:
    """``model``'s hooks: its own if it subclasses ``ModelHooks``, else its library's (see
    ``register_library_hooks``), else the defaults, bound to it."""
    if isinstance(model, ModelHooks):
        return model
    package = type(model).__module__.partition(".")[0]
    return _LIBRARY_HOOKS.get(package, BoundHooks)(model)
