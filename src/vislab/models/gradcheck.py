"""Gradient check: a model's hand-written backward pass (its ``hand_written_gradients`` hook: vislab's
`mlp-scratch`, or a model of your own) against torch.autograd, in float64.

The reference is autograd through the *library* path (for `mlp-scratch`: ``nn.Linear``/``nn.Tanh`` +
``F.cross_entropy``), so the check covers the hand-written forward, softmax, loss and backward at once. The error of one
parameter tensor is ‖g_manual − g_autograd‖ / max(‖g_manual‖, ‖g_autograd‖); float64 round-off gives
~1e-15, a wrong formula gives ~1. A hand-written gradient that holds NaN (inf) gets the error NaN (inf), and
the check fails naming it; one of another shape than its parameter is refused (a UserError), as a wrong
number of gradients is.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from vislab.errors import UserError
from vislab.models.hooks import ModelHooks, hooks_of
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


@dataclass
class GradCheck:
    """What ``vislab.gradcheck`` returns and ``vislab model gradcheck`` prints: each parameter's relative
    error (``relative_errors``, or ``table``, a DataFrame) and whether the largest is within ``tol``."""

    model: str
    relative_errors: dict[str, float]  # parameter name → ‖g_manual − g_autograd‖ / max of the norms
    tol: float = TOLERANCE

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
        """One row per parameter: parameter, relative_error."""
        import pandas as pd  # on use: the CLI formats ``relative_errors`` without pandas (~1 s to import)

        items = self.relative_errors.items()
        return pd.DataFrame(items, columns=["parameter", "relative_error"])

    def verdict(self) -> str:
        """'max relative error 3.1e-16 <= 1e-06: OK' (or '> ...: FAILED'; a gradient that holds NaN/inf:
        'hand-written gradient of l1.bias holds NaN: FAILED')."""
        if bad := self.not_finite:
            held = ", ".join(f"{name} holds {what}" for name, what in bad.items())
            return f"hand-written gradient of {held}: FAILED"
        ok = self.passed
        word = "OK" if ok else "FAILED"
        return f"max relative error {self.max_error:.2e} {'<=' if ok else '>'} {self.tol:g}: {word}"

    def __repr__(self) -> str:
        return f"<GradCheck {self.model}: {self.verdict()}>"

    def _repr_html_(self) -> str:
        """The notebook view: the errors per parameter, then the verdict."""
        table = self.table.to_html(index=False, float_format="{:.2e}".format)
        title = f"<b>{html.escape(self.model)}</b>: hand-written gradients vs autograd (float64)"
        return f"<div>{title}{table}<p>{html.escape(self.verdict())}</p></div>"


def gradcheck(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, name: str | None = None
) -> dict[str, float]:
    """Relative error of the model's ``hand_written_gradients`` (a ModelHooks hook) vs autograd through
    its reference logits, for each parameter (name → error). ``name``: the model's, for messages
    (default: its class's)."""
    who = f"model '{name}'" if name else type(model).__name__
    check = hooks_of(model).hand_written_gradients(x, y)
    if check is None:
        raise UserError(
            f"{who} has no hand-written gradients to check: it declares no "
            f"hand_written_gradients hook (vislab.models.hooks.ModelHooks), as {HAND_WRITTEN} does."
        )
    names = [n for n, _ in model.named_parameters()]
    params = list(model.parameters())
    if len(check.gradients) != len(params):
        raise UserError(
            f"{who}: its hand_written_gradients hook gives {len(check.gradients)} "
            f"gradients for its {len(params)} parameters ({', '.join(names)}): give one per parameter, "
            f"in parameters() order."
        )
    _check_shapes(who, names, params, check.gradients)
    loss = F.cross_entropy(check.reference_logits, y)  # autograd reference through torch.nn
    auto = torch.autograd.grad(loss, params)
    return {
        name: _relative_error(who, name, gm, ga)
        for name, gm, ga in zip(names, check.gradients, auto)
    }


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
    **kwargs,
) -> dict[str, float]:
    """Build model ``name`` (``kwargs`` as in ``model.*``) in float64 on random data and run
    :func:`gradcheck`. A model that takes images, asked for feature vectors (the default input shape):
    UserError saying it has no hand-written gradients when it declares none, else naming the input
    shape to give."""
    gen = torch.Generator().manual_seed(seed)
    try:
        model = _built(name, input_shape, num_classes, seed, kwargs)
    except UserError as e:  # your code's NeedsImages comes wrapped in a UserCodeError
        if not (isinstance(e, NeedsImages) or isinstance(e.__context__, NeedsImages)):
            raise
        model, input_shape = _built_for_images(name, input_shape, num_classes, seed, kwargs), IMAGES
    x = torch.randn(batch, *input_shape, generator=gen, dtype=torch.float64)
    y = torch.randint(0, num_classes, (batch,), generator=gen)
    return gradcheck(model, x, y, name)


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
