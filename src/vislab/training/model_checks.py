"""What a run checks of its model before it trains: it holds values (no parameter on 'meta'), a dummy
batch maps to logits (in eval and, for a model its optimizer trains, train mode), the user's own model
gives the same output twice in eval mode, its output for the run's own images is finite (and not
probabilities: a note), some parameter trains; and the user's own model code, when it raises, is shown
by its own frames."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterator
from typing import TYPE_CHECKING

import torch

from vislab.errors import ConfigError, UserCodeError, UserError, VislabError, show_note
from vislab.models.code_errors import channels_hint, code_failed, raised_in, raising_layer
from vislab.models.hooks import hooks_of
from vislab.models.objects import code_files, is_registered_users, is_users_code
from vislab.models.options import inputs_of
from vislab.models.registry import MODEL_PREFIXES, model_kwargs
from vislab.models.user import is_user_reference
from vislab.training.too_small import shrinks_too_much, too_small
from vislab.words import first_few

if TYPE_CHECKING:  # the set-up's records (training/parts.py builds them, then calls these checks)
    from vislab.training.parts import Network


def check_output(
    model: torch.nn.Module,
    name: str,
    shape: tuple[int, ...],
    num_classes: int,
    device: torch.device,
    *,
    code: dict | None,
) -> None:
    """The trainer's check of a model before it trains (and of a suite's runs, and ``model_info``'s), as
    its hooks declare how it learns: none for a model fitted on arrays (it predicts nothing before its
    fit); else one dummy batch (zeros, batch 2, no grad) in eval mode and, for a model trained by an
    optimizer (whose forward the steps call), in train mode too: UserCodeError unless the model maps it
    to logits [2, num_classes] in each (a model may return a tuple, e.g. an auxiliary head's outputs, in
    train mode only). An exception in the eval-mode forward of the user's own model (``file.py:Net`` or a
    model object given to ``vislab.train``) shows the user's traceback (the files of ``code``, its
    ``registry.code_of`` record) and the input shape (the data's, or one given by hand:
    ``options.input_given``); the user's model, when its output differs between two calls on the same
    input in eval mode, gets a note (:func:`_note_random_eval`). The model's mode is kept."""
    check_not_meta(model, name)
    trained_by = hooks_of(model).trained_by
    if trained_by == "fit_arrays":
        return
    was_training = model.training
    model.eval()
    try:
        out = _eval_output(model, name, shape, device, code)
        _check_logits(out, name, shape, num_classes, False)
        if is_users_code(name):
            _note_random_eval(model, name, shape, device)
        out = _train_mode_output(model, shape, device) if trained_by == "optimizer" else None
        if out is not None:
            _check_logits(out, name, shape, num_classes, True)
    finally:
        model.train(was_training)


def check_finite_output(network: Network, name: str, inputs: torch.Tensor) -> None:
    """UserCodeError when a new model its optimizer trains, once initialised (its ``init_from_data``
    hook run), maps ``inputs`` — the run's first training images or samples as training feeds them,
    finite — to NaN/inf in eval mode: its loss would be NaN from the first step, whatever the learning
    rate. A note when a new model that steps (by an optimizer or its own ``manual_step``) maps them to
    probabilities (:func:`_note_probabilities`). An exception here is the training step's to tell."""
    if network.hooks.trained_by == "fit_arrays" or not inputs.isfinite().all():
        return  # non-finite inputs: data.normalize's doing, not the model's
    model, was_training = network.model, network.model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(inputs)
    except Exception:  # noqa: BLE001 - the training step meets it again and says what was kept
        return
    finally:
        model.train(was_training)
    if not (isinstance(out, torch.Tensor) and out.is_floating_point()):
        return
    if out.isfinite().all():
        _note_probabilities(out, name)
    elif network.hooks.trained_by == "optimizer":
        what = "images" if inputs.ndim == 4 else "samples"
        raise UserCodeError(
            f"model '{name}': its output for the run's first {len(inputs)} training {what} (as "
            f"training feeds them, after its init_from_data hook) holds NaN/inf before any training step, "
            f"so the loss would be NaN from the first step whatever optim.lr. Check its forward (and the "
            f"layers it builds): a division by zero, the log or square root of a negative number, a NaN "
            f"constant."
        )


def _note_probabilities(out: torch.Tensor, name: str) -> None:
    """A note when ``out``, model ``name``'s output for the run's first training inputs (finite), looks like
    probabilities — each row of ≥ 2 class scores non-negative and summing to 1: a softmax at the end of
    forward, which the cross-entropy applies again, so it trains on squashed scores and its loss and
    confidences are wrong."""
    if out.ndim != 2 or out.shape[1] < 2 or (out < 0).any():
        return
    sums = out.double().sum(1)
    if not torch.allclose(sums, torch.ones_like(sums), rtol=0, atol=1e-3):
        return
    show_note(
        f"model '{name}': its outputs look like probabilities (rows sum to 1): return logits; "
        f"cross-entropy applies the softmax itself. End forward with the last layer's output (no "
        f"softmax, F.softmax or nn.Softmax after it): on probabilities, the loss and the predicted "
        f"confidences come out wrong."
    )


def _eval_output(
    model: torch.nn.Module,
    name: str,
    shape: tuple[int, ...],
    device: torch.device,
    code: dict | None,
) -> object:
    """What ``model`` (in eval mode) returns for 2 inputs of zeros; its exception, if it is the user's
    code, a UserCodeError."""
    try:
        with torch.no_grad():
            return model(torch.zeros(2, *shape, device=device))
    except Exception as e:
        if not is_users_code(name):
            raise
        when = f"on a dummy batch of zeros (2 inputs {inputs_of(shape)})"
        if name.partition(":")[0] in MODEL_PREFIXES and shrinks_too_much(e):
            raise too_small(model, name, shape, device, e, when) from None
        then = (  # torch's words for layers sized for other inputs
            channels_hint(e, shape, _options_of(name))
            or f"Size the layers from input_shape={tuple(shape)}: a class gets it when its __init__ "
            f"names an input_shape parameter, a builder as its first argument."
            if ("shape" in str(e) or "size" in str(e) or "channels" in str(e))
            and not name.startswith("timm:")
            else ""
        )
        raise code_failed(name, e, when, code_files(name, code), then, model=model) from None


def _options_of(name: str) -> Collection[str]:
    """The options of model ``name`` (its class's or builder's keyword arguments); none where unknown."""
    try:
        return model_kwargs(name)
    except VislabError:
        return ()


def _train_mode_output(
    model: torch.nn.Module, shape: tuple[int, ...], device: torch.device
) -> object | None:
    """What ``model`` returns for 2 inputs of zeros in train mode, its buffers and the RNG left as they
    were (:func:`_untouched`). None where it raises: the training step meets that exception again and
    says when it came and what was kept (``stopping.users_model``)."""
    model.train()
    try:
        with _untouched(model, device):
            return model(torch.zeros(2, *shape, device=device))
    except Exception:
        return None


def _note_random_eval(
    model: torch.nn.Module, name: str, shape: tuple[int, ...], device: torch.device
) -> None:
    """A note when ``model`` (in eval mode) maps the same 2 inputs (normal noise) to different outputs
    in two calls — dropout left on in eval, so every evaluation scores differently; its buffers and the
    RNG left as they were. Nothing where it raises or returns something else than one tensor."""
    x = torch.randn(2, *shape, generator=torch.Generator().manual_seed(0)).to(device)
    try:
        with _untouched(model, device):
            first, second = model(x), model(x)
    except Exception:  # noqa: BLE001 - the zeros' forward passed: training meets it again
        return
    if not (isinstance(first, torch.Tensor) and isinstance(second, torch.Tensor)):
        return
    if first.shape == second.shape and torch.allclose(
        first.float(), second.float(), rtol=1e-3, atol=1e-5, equal_nan=True
    ):
        return
    show_note(
        f"model '{name}' gives different outputs for the same inputs in eval mode (two calls of "
        f"forward after model.eval()), so its test and val scores change on every evaluation. Likely "
        f"cause: F.dropout(x, p) in forward, which drops in eval mode too (its training=True default) "
        f"— write F.dropout(x, p, training=self.training), or use an nn.Dropout(p) layer; or other "
        f"randomness in forward (torch.rand*, noise) to turn off when not self.training."
    )


@contextlib.contextmanager
def _untouched(model: torch.nn.Module, device: torch.device) -> Iterator[None]:
    """Within, no grad; after, ``model``'s buffers (batch norm's running statistics) and the RNG
    (dropout's: the CPU's and ``device``'s GPU's) as they were before."""
    kept = {n: b.clone() for n, b in model.named_buffers()}
    cuda = []  # fork_rng keeps the CPU's RNG state, and these GPUs'
    if device.type == "cuda":
        cuda = [torch.cuda.current_device() if device.index is None else device.index]
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=cuda):
            yield
    finally:
        with torch.no_grad():
            for n, b in model.named_buffers():
                if n in kept and kept[n].shape == b.shape:
                    b.copy_(kept[n])


def check_not_meta(model: torch.nn.Module, name: str) -> None:
    """UserCodeError when parameters or buffers of ``model`` are on the 'meta' device (shapes without
    values: nothing can compute with them, or move them), naming them and the fix."""
    on_meta = [n for n, t in (*model.named_parameters(), *model.named_buffers()) if t.is_meta]
    if not on_meta:
        return
    raise UserCodeError(
        f"model '{name}': {first_few(on_meta, 4)} {'is' if len(on_meta) == 1 else 'are'} on the 'meta' device "
        f"(shapes without values: built with device='meta' or under torch.device('meta')), so the model "
        f"cannot compute or be moved to the run's device. Build it on the CPU (leave out device='meta'; "
        f"the run moves it to its device), or end __init__ with self.to_empty(device='cpu') and "
        f"initialise its weights (e.g. each layer's reset_parameters())."
    )


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


def check_params_to_train(network: Network, name: str, freeze: list[str]) -> None:
    """For a model trained by an optimizer: UserError unless it has a parameter to train — naming why
    model ``name`` has none (no layer with weights, ``train.freeze`` = ``freeze`` froze them all,
    requires_grad off everywhere)."""
    model = network.model
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
    if freeze:
        raise ConfigError(
            f"train.freeze={list(freeze)} freezes every parameter of model '{name}' "
            f"({len(params)} tensors): {nothing}. Leave the layers to train out of the patterns — its "
            f"last parameters, usually the head, are {last} (`vislab model info {name}` / "
            f"vislab.model_info({name!r}) lists its layers)."
        )
    raise UserCodeError(
        f"model '{name}' has {len(params)} parameter tensors, none trainable (requires_grad=False on "
        f"each): {nothing}. Leave requires_grad=True on the layers to train (its last parameters, "
        f"usually the head: {last})."
    )


NOTE = "vislab:"  # how the note added to the exception of a model of this process begins


class GradlessOutput(UserCodeError):
    """A training step's loss has no gradient: the model's output does not depend on a trainable weight
    (``stopping.users_model`` names the model and records the run as failed)."""


def check_loss_has_grad(loss: torch.Tensor, model: torch.nn.Module) -> None:
    """GradlessOutput when a training step's ``loss`` has no gradient (where torch's backward would raise
    "element 0 of tensors does not require grad"); reading the flag costs nothing."""
    if loss.requires_grad or not torch.is_grad_enabled():
        return
    raise GradlessOutput(gradless_output(type(model).__name__))


def gradless_output(name: str) -> str:
    """Why model ``name`` cannot train (:class:`GradlessOutput`), and the fix."""
    return (
        f"model '{name}': its output has no gradient (the loss does not depend on any trainable weight), "
        f"so training cannot update it. In its forward, look for a .detach(), a torch.no_grad() block, "
        f"or layers frozen (requires_grad=False) that the output alone comes from, and return the output "
        f"of the trainable layers as it is."
    )


@contextlib.contextmanager
def user_code(
    name: str,
    model: torch.nn.Module,
    when: str,
    then: Callable[[], str] | None = None,
    *,
    code: dict | None,
) -> Iterator[None]:
    """Within: an exception raised in the user's own model ``name`` — a frame of its code (a file named by
    ``code``, its ``registry.code_of`` record; the source of a model object) in the traceback, or the
    forward of one of ``model``'s layers (a builder's ``nn.Sequential`` of torch modules has no frame in
    the user's code) — calls ``then()`` (what was kept, how to go on). A reference's (``file.py:Net``)
    becomes a UserCodeError showing the user's frames only (or the layer that raised), its paragraph
    ending with those words; a model registered in this process (:func:`raises_its_own`) re-raises the
    user's exception unchanged, those words added as a note. Anything else passes unchanged: vislab's own
    errors, and any other exception — a built-in model's, or one outside the user's model — is a bug."""
    try:
        yield
    except Exception as e:
        files = code_files(name, code)
        noted = any(n.startswith(NOTE) for n in getattr(e, "__notes__", ()))  # an inner block's
        if isinstance(e, VislabError) or noted or not is_users_code(name):
            raise
        if not (raised_in(e, files) or raising_layer(e, model) is not None):
            raise
        said = then() if then else ""
        if raises_its_own(
            name
        ):  # a Python caller gets Python's exception, with vislab's words added
            e.add_note(f"{NOTE} model '{name}' raised this {when}.{' ' if said else ''}{said}")
            raise
        raise code_failed(name, e, when, files, said, model=model) from None


def raises_its_own(name: str) -> bool:
    """Whether an exception of model ``name``'s code reaches its caller unchanged (with a note): a model
    object (``vislab.train(model=Net)``) or a class registered with ``@vislab.register_model`` in this
    Python process, whose caller gets Python's exception; not a ``file.py:Net`` reference, whose errors
    are UserCodeErrors (the command shows no traceback)."""
    return is_registered_users(name) and not is_user_reference(name)


def resumed_in_python(call: str) -> str:
    """How a run of a model defined in Python (:func:`raises_its_own`) is resumed: the Python ``call``
    alone, as no command can build that model."""
    return (
        f"{call}, in this Python process or one that defines the model as it was (the command line "
        f"cannot build a model defined in Python)"
    )


#: the models an optimizer trains, as the LR range test names them
OPTIMIZER_MODELS = "mlp, cnn, vit, resnet18, fast, timm:<name>"


def check_optimizer_trained(model: torch.nn.Module, name: str) -> None:
    """UserError unless ``model`` is trained by a torch optimizer (the LR range test sweeps its learning
    rate)."""
    hooks = hooks_of(model)
    how = hooks.trained_by
    if how == "fit_arrays":
        raise UserError(
            f"model '{name}' is fitted in one go on the whole train split (no steps, no learning rate): "
            f"there is no learning rate to find. The LR range test works on models trained by an "
            f"optimizer: {OPTIMIZER_MODELS}, or mlp-scratch with model.impl=optim (--set "
            f"model.impl=optim / model__impl='optim')."
        )
    if how == "manual_step":
        sgd = hooks.plain_sgd  # hand-written levels that step by plain SGD: the same SGD swept
        same = (
            f"the same network trained by torch.optim's SGD, as its manual_step steps "
            f"({' / '.join(sgd.sgd_sets())})"
            if sgd is not None
            else "the same network trained by an optimizer (its class without trained_by="
            "'manual_step', vislab's default)"
        )
        raise UserError(
            f"model '{name}' updates its own weights (its manual_step), not through a torch optimizer, "
            f"so the LR range test cannot drive it. Use {same}, or another model trained by an "
            f"optimizer: {OPTIMIZER_MODELS}."
        )
