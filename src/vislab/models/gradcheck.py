"""Gradient check: a model's hand-written backward pass (its ``hand_written_gradients`` hook: vislab's
`mlp-scratch`, or a model of your own) against torch.autograd, in float64.

The reference is autograd through the *library* path (for `mlp-scratch`: ``nn.Linear``/``nn.Tanh`` +
``F.cross_entropy``), so the check covers the hand-written forward, softmax, loss and backward at once. The error of one
parameter tensor is ‖g_manual − g_autograd‖ / max(‖g_manual‖, ‖g_autograd‖); float64 round-off gives
~1e-15, a wrong formula gives ~1. A hand-written gradient that holds NaN (inf) gets the error NaN (inf), and
the check fails naming it; one of another shape than its parameter is refused (a UserError), as a wrong
number of gradients (or of symbols) is, a hook that returns something else than ``HandWrittenGradients`` of
tensors, and reference logits without autograd's graph. An exception the user's own hook raises is its caller's to
show (the ``guard`` that :func:`vislab.gradcheck` passes: the user's frames only, as ``vislab train``
shows them).
"""

from __future__ import annotations

import contextlib
import html
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from vislab.errors import UserError
from vislab.models.hooks import HandWrittenGradients, ModelHooks, hooks_of
from vislab.models.options import NeedsImages, images_not_features, input_given
from vislab.models.registry import build_model

if TYPE_CHECKING:  # pandas is imported on use (GradCheck.table)
    import pandas as pd

TOLERANCE = 1e-6
# the built-in model with hand-written gradients (its ``hand_written_gradients`` hook, models/scratch.py),
# named in messages; any model that declares the hook is checked
HAND_WRITTEN = "mlp-scratch"
# the input shape a model that takes images is built at when asked for feature vectors (gradcheck_model)
IMAGES = (3, 32, 32)
# what runs the user's hook: (model, when) → a context manager in which an exception of the user's own
# code becomes the error to show (the API's: training/model_checks.user_code); none: it passes unchanged
Guard = Callable[[torch.nn.Module, str], contextlib.AbstractContextManager]


@dataclass
class GradCheck:
    """What ``vislab.gradcheck`` returns and ``vislab model gradcheck`` prints: each parameter's relative
    error (``relative_errors``, or ``table``, a DataFrame) and whether the largest is within ``tol``;
    ``symbols``: each parameter's name in the model's notes (``W_h``), when its hook gives them."""

    model: str
    relative_errors: dict[str, float]  # parameter name → ‖g_manual − g_autograd‖ / max of the norms
    tol: float = TOLERANCE
    symbols: dict[str, str] | None = None  # parameter name → symbol (HandWrittenGradients.symbols)

    @property
    def max_error(self) -> float:
        """The largest error; NaN if any is NaN (a gradient that holds NaN), as ``max`` would not say."""
        errors = self.relative_errors.values()
        return math.nan if any(math.isnan(e) for e in errors) else max(errors)

    @property
    def passed(self) -> bool:
        return self.max_error <= self.tol  # NaN: False

    @property
    def not_finite(self) -> dict[str, str]:
        """Parameter name → 'NaN' or 'inf', for each hand-written gradient that holds one (its error)."""
        errors = self.relative_errors.items()
        return {n: "NaN" if math.isnan(e) else "inf" for n, e in errors if not math.isfinite(e)}

    @property
    def table(self) -> pd.DataFrame:
        """One row per parameter: parameter, symbol (when the hook gives symbols), relative_error."""
        import pandas as pd  # on use: the CLI formats ``relative_errors`` without pandas (~1 s to import)

        table = pd.DataFrame(self.relative_errors.items(), columns=["parameter", "relative_error"])
        if self.symbols:
            table.insert(1, "symbol", [self.symbols[name] for name in self.relative_errors])
        return table

    def named(self, parameter: str) -> str:
        """A parameter as messages name it: 'net.0.bias (b_h)' with its symbol, else 'net.0.bias'."""
        symbol = (self.symbols or {}).get(parameter)
        return f"{parameter} ({symbol})" if symbol else parameter

    def verdict(self) -> str:
        """'max relative error 3.1e-16 <= 1e-06: OK'; failed, naming the worst parameter: 'max relative
        error 9.1e-02 (l2.bias, b_y) > 1e-06: FAILED' (a gradient that holds NaN/inf: 'hand-written
        gradient of l1.bias holds NaN: FAILED')."""
        if bad := self.not_finite:
            held = ", ".join(f"{self.named(name)} holds {what}" for name, what in bad.items())
            return f"hand-written gradient of {held}: FAILED"
        if self.passed:
            return f"max relative error {self.max_error:.2e} <= {self.tol:g}: OK"
        worst = max(self.relative_errors, key=self.relative_errors.__getitem__)
        symbol = (self.symbols or {}).get(worst)
        which = f"{worst}, {symbol}" if symbol else worst
        return f"max relative error {self.max_error:.2e} ({which}) > {self.tol:g}: FAILED"

    def __repr__(self) -> str:
        return f"<GradCheck {self.model}: {self.verdict()}>"

    def _repr_html_(self) -> str:
        """The notebook view: the errors per parameter, then the verdict."""
        table = self.table.to_html(index=False, float_format="{:.2e}".format)
        title = f"<b>{html.escape(self.model)}</b>: hand-written gradients vs autograd (float64)"
        return f"<div>{title}{table}<p>{html.escape(self.verdict())}</p></div>"


def gradcheck(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    name: str | None = None,
    guard: Guard | None = None,
    tol: float = TOLERANCE,
) -> GradCheck:
    """Relative error of the model's ``hand_written_gradients`` (a ModelHooks hook) vs autograd through
    its reference logits, for each parameter, with the hook's symbols, judged by ``tol``. ``name``: the
    model's, for messages (default: its class's); ``guard``: what the hook runs within (:data:`Guard`)."""
    who = f"model '{name}'" if name else type(model).__name__
    when = f"in its hand_written_gradients hook (on gradcheck's random batch x of shape {list(x.shape)})"
    with guard(model, when) if guard else contextlib.nullcontext():
        check = hooks_of(model).hand_written_gradients(x, y)
    if check is None:
        raise UserError(
            f"{who} has no hand-written gradients to check: it declares no "
            f"hand_written_gradients hook (vislab.models.hooks.ModelHooks), as {HAND_WRITTEN} does."
        )
    names = [n for n, _ in model.named_parameters()]
    params = list(model.parameters())
    _check_returned(who, check)
    if len(check.gradients) != len(params):
        raise UserError(
            f"{who}: its hand_written_gradients hook gives {len(check.gradients)} "
            f"gradients for its {len(params)} parameters ({', '.join(names)}): give one per parameter, "
            f"in parameters() order."
        )
    _check_shapes(who, names, params, check.gradients)
    symbols = _symbols(who, names, check.symbols)
    _check_reference(who, check.reference_logits, len(y))
    loss = F.cross_entropy(check.reference_logits, y)  # autograd reference through torch.nn
    auto = torch.autograd.grad(loss, params)
    errors = {n: _relative_error(who, n, gm, ga) for n, gm, ga in zip(names, check.gradients, auto)}
    return GradCheck(name or type(model).__name__, errors, tol, symbols)


# the hook's contract (models/hooks.py), as the messages below name it
CONTRACT = (
    "HandWrittenGradients(gradients, reference_logits) (vislab.models.hooks): gradients a list of torch "
    "tensors, one per parameter in parameters() order; reference_logits the batch's logits with "
    "autograd's graph (e.g. self(x)); symbols, optional, a name for each gradient (e.g. 'W_h')"
)


def _check_returned(who: str, check: object) -> None:
    """UserError unless the hook returned ``HandWrittenGradients`` whose gradients are a list (or tuple)
    of tensors and whose reference logits are a tensor, naming what it returned instead."""
    said = f"{who}: its hand_written_gradients hook returned"
    if not isinstance(check, HandWrittenGradients):
        raise UserError(f"{said} {_described(check)}, not HandWrittenGradients: return {CONTRACT}.")
    grads, logits = check.gradients, check.reference_logits
    if not isinstance(grads, (list, tuple)) or not all(isinstance(g, torch.Tensor) for g in grads):
        raise UserError(
            f"{said} gradients as {_described(grads)}, not a list of torch tensors: give each as a "
            f"tensor of its parameter's shape, one per parameter in parameters() order "
            f"(torch.from_numpy(a) for a numpy array a, or leave out .numpy())."
        )
    if not isinstance(logits, torch.Tensor):
        raise UserError(
            f"{said} reference_logits as {_described(logits)}, not a tensor: return {CONTRACT}."
        )


def _symbols(who: str, names: list[str], symbols: object) -> dict[str, str] | None:
    """Parameter name → the hook's symbol for it; None when it gives none. UserError unless the symbols
    are strings, one per gradient."""
    if symbols is None:
        return None
    said = f"{who}: its hand_written_gradients hook gives"
    fix = "give one per gradient, in parameters() order, or leave symbols out (symbols=None)"
    if not isinstance(symbols, (list, tuple)) or not all(isinstance(s, str) for s in symbols):
        raise UserError(
            f"{said} symbols as {_described(symbols)}, not a list of strings: {fix}, e.g. "
            f"symbols=['W_h', 'b_h', 'W_y', 'b_y']."
        )
    if len(symbols) != len(names):
        raise UserError(
            f"{said} {len(symbols)} symbols ({', '.join(symbols)}) for its {len(names)} gradients "
            f"({', '.join(names)}): {fix}."
        )
    return dict(zip(names, symbols))


def _described(value: object) -> str:
    """A value in words: a tuple's or list's items' types (the first 4), else its type."""
    kind = type(value)
    what = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
    if isinstance(value, (tuple, list)):
        items = ", ".join(_described(v) for v in value[:4]) + (", ..." if len(value) > 4 else "")
        return f"a {what} of {len(value)} ({items})"
    return f"a {what}"


def _check_reference(who: str, logits: torch.Tensor, batch: int) -> None:
    """UserError unless the reference logits are [batch, classes] floats with autograd's graph (computed
    outside ``torch.no_grad()``, not detached), which autograd differentiates for the comparison."""
    if logits.dim() != 2 or len(logits) != batch or not logits.is_floating_point():
        raise UserError(
            f"{who}: its hand_written_gradients hook gives reference_logits of shape "
            f"{list(logits.shape)} ({logits.dtype}): give the batch's logits, [{batch}, num_classes] "
            f"floats, e.g. self(x)."
        )
    if not logits.requires_grad:
        raise UserError(
            f"{who}: its hand_written_gradients hook gives reference_logits without autograd's graph "
            f"(requires_grad=False), so autograd has nothing to check the gradients by: compute them "
            f"outside torch.no_grad() and without .detach() (e.g. self(x) after the no_grad block)."
        )


def _check_shapes(who: str, names: list[str], params: list, gradients: list) -> None:
    """UserError naming the first hand-written gradient whose shape is not its parameter's (a transposed
    weight gradient, a bias gradient not summed over the batch), which would fail or broadcast."""
    for name, param, grad in zip(names, params, gradients):
        if tuple(grad.shape) != tuple(param.shape):
            raise UserError(
                f"{who}: its hand_written_gradients hook gives a gradient of shape {_shape(grad)} for "
                f"parameter {name} of shape {_shape(param)}: give each gradient its parameter's shape, "
                f"in parameters() order (summed over the batch; a Linear weight's is d_out.T @ x)."
            )


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(d) for d in t.shape) + ("," if t.dim() == 1 else "") + ")"


def _relative_error(who: str, name: str, gm: torch.Tensor, ga: torch.Tensor) -> float:
    """‖gm − ga‖ / max(‖gm‖, ‖ga‖) (0 when both are 0); NaN (inf) when the hand-written ``gm`` holds NaN
    (inf), which the norms would hide or turn into NaN. UserError when autograd's ``ga`` is not finite."""
    if not torch.isfinite(ga).all():
        raise UserError(
            f"{who}: autograd's gradient of {name} is not finite on this random batch (its reference "
            f"logits overflow): check the forward pass, or try another --seed / seed=."
        )
    if torch.isnan(gm).any():
        return math.nan
    if torch.isinf(gm).any():
        return math.inf
    scale = max(gm.norm().item(), ga.norm().item())
    return (gm - ga).norm().item() / scale if scale > 0 else 0.0


def gradcheck_model(
    name: str = HAND_WRITTEN,
    input_shape: tuple[int, ...] = (2,),
    num_classes: int = 3,
    batch: int = 16,
    seed: int = 0,
    *,
    guard: Guard | None = None,
    tol: float = TOLERANCE,
    **kwargs,
) -> GradCheck:
    """Build model ``name`` (``kwargs`` as in ``model.*``) in float64 on random data and run
    :func:`gradcheck` (its hook within ``guard``, judged by ``tol``). A model that takes images, asked
    for feature vectors (the default input shape): UserError saying it has no hand-written gradients
    when it declares none, else naming the input shape to give."""
    gen = torch.Generator().manual_seed(seed)
    try:
        model = _built(name, input_shape, num_classes, seed, kwargs)
    except UserError as e:  # your code's NeedsImages comes wrapped in a UserCodeError
        if not (isinstance(e, NeedsImages) or isinstance(e.__context__, NeedsImages)):
            raise
        model, input_shape = _built_for_images(name, input_shape, num_classes, seed, kwargs), IMAGES
    x = torch.randn(batch, *input_shape, generator=gen, dtype=torch.float64)
    y = torch.randint(0, num_classes, (batch,), generator=gen)
    return gradcheck(model, x, y, name, guard, tol)


def _built_for_images(
    name: str, given: tuple[int, ...], num_classes: int, seed: int, kwargs: dict
) -> torch.nn.Module:
    """Model ``name``, which takes images, at :data:`IMAGES` when it declares no hand-written gradients
    (:func:`gradcheck` then says so); else a UserError naming the input shape to give for it."""
    try:
        model = _built(name, IMAGES, num_classes, seed, kwargs)
    except UserError:  # sized for other images: its gradients are not known either
        model = None
    if model is not None and not _declares_gradients(model):
        return model
    raise images_not_features(name, given)


def _built(
    name: str, input_shape: tuple[int, ...], num_classes: int, seed: int, kwargs: dict
) -> torch.nn.Module:
    """Model ``name`` built in float64 with torch's seed ``seed``, the global generator left as it was; its
    size hints name ``--input`` / ``input_shape`` (the shape is given by hand, not by data)."""
    with torch.random.fork_rng(devices=[]), input_given():
        torch.manual_seed(seed)
        return build_model(name, tuple(input_shape), num_classes, **kwargs).double()


def _declares_gradients(model: torch.nn.Module) -> bool:
    """Whether ``model``'s hooks override ``hand_written_gradients`` (the default gives none)."""
    own = type(hooks_of(model)).hand_written_gradients
    return own is not ModelHooks.hand_written_gradients
