"""`mlp-scratch`: the RDFIA 1-ab network, with its backward pass written by hand.

    x ──linear──▶ h̃₁ ──tanh──▶ h₁ ── … ──linear──▶ ỹ ──softmax──▶ ŷ,   loss ℓ = cross-entropy(ŷ, y)

Images are flattened, so x is a row vector of n_x numbers and a batch X is N × n_x. With one hidden
layer (the homework's network) the forward pass is (RDFIA 1-ab, Q7):

    H̃ = X Wₕᵀ + bₕ        H = tanh(H̃)        Ỹ = H Wᵧᵀ + bᵧ        Ŷ = SoftMax(Ỹ)   (row-wise)

and, with Y the one-hot labels, the backward pass is (Q15–Q17):

    ∇Ỹ = Ŷ − Y                      (softmax + cross-entropy: the simple gradient of Q14/Q15)
    ∇Wᵧ = ∇Ỹᵀ H     ∇bᵧ = Σₙ ∇Ỹ
    ∇H̃ = (1 − H²) ⊙ (∇Ỹ Wᵧ)        (tanh' = 1 − tanh²)
    ∇Wₕ = ∇H̃ᵀ X     ∇bₕ = Σₙ ∇H̃

More hidden layers repeat the middle lines. The loss is the *mean* over the batch (as
``F.cross_entropy``), so every gradient carries a 1/N.

``impl`` picks one of the homework's four implementation levels; all share the same weights (same
state-dict keys, same initialisation), so they give the same first step on the same batch:

- ``manual``   forward and backward above on plain tensors, hand-written SGD (no autograd at all); the
  forward still calls each layer as its module (``Linear(h, by_hand=True)``: h Wᵀ + b by hand), so
  that ``vislab model info`` sees its shapes and MACs;
- ``autograd`` the same hand-written forward, gradients from ``loss.backward()``, hand-written SGD;
- ``module``   ``nn.Sequential`` of ``nn.Linear``/``nn.Tanh`` + ``nn.CrossEntropyLoss``, hand-written SGD;
- ``optim``    the same modules trained by the trainer with ``torch.optim`` (no ``manual_step``).

Trainer hooks (``vislab.models.hooks``): the first three levels declare ``trained_by =
"manual_step"``, so the trainer calls ``manual_step(x, y, lr) -> (loss, logits)`` instead of autograd +
``torch.optim``: plain SGD at the scheduled lr, its gradients left in each parameter's ``.grad`` (which
``train.track_grad_norm`` reads), so a run that sets what that step ignores (momentum,
weight decay, label smoothing, grad clipping, ...) is refused (``training/checks.py`` ``check_own_step``);
``optim`` declares ``trained_by = "optimizer"`` (``ScratchMLP.built_as`` picks the class by ``impl``, for the
builder and for a suite's dry run alike; a subclass is built as itself). Every level declares the family's
levels that step by plain SGD (``plain_sgd``, which the trainer's messages name), its hand-written gradients
(``hand_written_gradients``, which ``vislab model gradcheck`` compares with autograd through ``net``) and its
head, ``net``'s last Linear (``head_modules``).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, get_args

import torch
import torch.nn as nn
import torch.nn.functional as F
from pydantic import Field

from vislab.models.hooks import HandWrittenGradients, ModelHooks, PlainSGDLevels
from vislab.models.options import Size, described
from vislab.models.registry import register_model

Impl = Literal["manual", "autograd", "module", "optim"]
NAME = "mlp-scratch"
LEVELS = PlainSGDLevels(
    option="impl",
    by_optim="optim",
    by_hand=tuple(i for i in get_args(Impl) if i != "optim"),
    course=f"RDFIA 1-ab trains {NAME} at optim.lr=0.03 with train.batch_size=10 (vislab suite mlp-basics)",
)


# --------------------------------------------------------------------- the maths, on plain tensors
def softmax(logits: torch.Tensor) -> torch.Tensor:
    """Row-wise SoftMax(ỹ)ᵢ = exp(ỹᵢ) / Σⱼ exp(ỹⱼ); the row maximum is subtracted first (same value, no overflow)."""
    z = logits - logits.max(dim=1, keepdim=True).values
    e = z.exp()
    return e / e.sum(dim=1, keepdim=True)


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ℓ = −ỹ_c + log Σᵢ exp(ỹᵢ) (Q14: cross-entropy of the softmax, c = true class)."""
    m = logits.max(dim=1, keepdim=True).values
    log_sum_exp = (logits - m).exp().sum(dim=1).log() + m.squeeze(1)
    return (log_sum_exp - logits.gather(1, y[:, None]).squeeze(1)).mean()


class Linear(nn.Linear):
    """``nn.Linear``, whose affine map the hand-written levels compute by hand instead (``by_hand=True``).

    Every level calls its layers as modules, so forward hooks see each layer's output and cost whichever
    maths runs (``vislab model info``'s layer table); the hand-written line is the one below."""

    def forward(self, h: torch.Tensor, by_hand: bool = False) -> torch.Tensor:
        if not by_hand:
            return super().forward(h)  # torch's F.linear
        return h @ self.weight.T + self.bias  # h̃ = h Wᵀ + b   (N × n_out)


class ScratchMLP(ModelHooks, nn.Module):
    """x → [linear → tanh] × len(hidden) → linear (logits); see the module docstring for the maths."""

    trained_by = "manual_step"
    plain_sgd = LEVELS

    @classmethod
    def built_as(cls, options: dict[str, Any]) -> type[ScratchMLP]:
        """The level's class: ``impl: optim``'s trained by ``torch.optim``, the others' by ``manual_step``;
        a subclass (a user's, which declares its own hooks) is built as itself."""
        if cls not in (ScratchMLP, OptimScratchMLP):
            return cls
        return OptimScratchMLP if options.get("impl") == LEVELS.by_optim else ScratchMLP

    def __init__(
        self, in_features: int, hidden: list[int], num_classes: int, impl: Impl, init_std: float
    ):
        super().__init__()
        self.impl = impl
        sizes = [in_features, *hidden, num_classes]
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Linear(n_in, n_out))
            if i < len(sizes) - 2:
                layers.append(nn.Tanh())
        # the parameters of every level live here (one state-dict layout)
        self.net = nn.Sequential(*layers)
        # the homework's init: every weight and bias ~ N(0, init_std²), drawn in order
        with torch.no_grad():
            for p in self.parameters():
                p.normal_(0.0, init_std)

    def linears(self) -> list[nn.Linear]:
        return [m for m in self.net if isinstance(m, nn.Linear)]

    # --------------------------------------------------------------------------------- forward
    def forward_manual(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Hand-written forward: logits ỹ and the activations [x, h₁, …, h_L] that backward needs.

        Each layer is called as its module, so that forward hooks see it (see ``Linear``)."""
        acts = [x]
        h = x
        *hidden, last = self.linears()
        for layer, tanh in zip(hidden, self.net[1::2]):
            h_tilde = layer(h, by_hand=True)  # h̃ = h Wᵀ + b   (N × n_out)
            h = tanh(h_tilde)  # h = tanh(h̃)
            acts.append(h)
        logits = last(h, by_hand=True)  # ỹ = h Wᵧᵀ + bᵧ
        return logits, acts

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        if self.impl in ("manual", "autograd"):
            return self.forward_manual(x)[0]
        return self.net(x)

    # -------------------------------------------------------------------------------- backward
    def backward_manual(
        self, acts: list[torch.Tensor], probs: torch.Tensor, y: torch.Tensor
    ) -> list[torch.Tensor]:
        """Gradients of the mean cross-entropy w.r.t. every parameter, in ``self.parameters()`` order."""
        n = len(y)
        one_hot = torch.zeros_like(probs).scatter_(1, y[:, None], 1.0)
        delta = (probs - one_hot) / n  # ∇ỹ = (ŷ − y) / N   (the 1/N of the batch mean)
        grads: list[torch.Tensor] = []
        layers = self.linears()
        for k in range(len(layers) - 1, -1, -1):  # from the output layer back to the first
            h_in = acts[k]  # the input of layer k (x for k = 0)
            grads[:0] = [delta.T @ h_in, delta.sum(0)]  # ∇W = ∇ỹᵀ h_in,   ∇b = Σₙ ∇ỹ
            if k > 0:  # through layer k to its input, then through the tanh that produced it
                delta = (1 - h_in**2) * (delta @ layers[k].weight)  # ∇h̃ = (1 − h²) ⊙ (∇ỹ W)
        return grads

    def manual_gradients(
        self, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """(loss, logits, gradients) by the hand-written forward and backward passes (no autograd)."""
        with torch.no_grad():
            logits, acts = self.forward_manual(x.flatten(1))
            loss = cross_entropy(logits, y)
            return loss, logits, self.backward_manual(acts, softmax(logits), y)

    def hand_written_gradients(self, x: torch.Tensor, y: torch.Tensor) -> HandWrittenGradients:
        """``manual_gradients``' gradients, checked against autograd through ``net``'s torch.nn layers (a
        ModelHooks hook, read by ``vislab model gradcheck``): the same weights at every ``impl``; named
        by the homework's symbols (``symbols``)."""
        _, _, grads = self.manual_gradients(x, y)
        return HandWrittenGradients(grads, self.net(x.flatten(1)), self.symbols())

    def symbols(self) -> list[str]:
        """The homework's names of the parameters, in ``parameters()`` order: W_h, b_h, W_y, b_y (hidden
        layers numbered from 1 when there are several: W_h1, b_h1, W_h2, b_h2, W_y, b_y)."""
        n_hidden = len(self.linears()) - 1
        layers = [f"h{i}" for i in range(1, n_hidden + 1)] if n_hidden > 1 else ["h"] * n_hidden
        return [f"{kind}_{layer}" for layer in [*layers, "y"] for kind in ("W", "b")]

    def head_modules(self) -> list[str]:
        """``net``'s last Linear, to the logits (a ModelHooks hook: ``optim.head_lr``, ``impl: optim``)."""
        return [f"net.{len(self.net) - 1}"]

    # ---------------------------------------------------------------------- one training step
    def manual_step(
        self, x: torch.Tensor, y: torch.Tensor, lr: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One SGD step, w ← w − η ∇w ℓ, with the gradients of this ``impl``, which each parameter's
        ``.grad`` holds after it (``train.track_grad_norm`` reads them); returns (loss, logits)."""
        y = y.long()
        if self.impl == "manual":
            loss, logits, grads = self.manual_gradients(x, y)
            for p, g in zip(self.parameters(), grads):  # left in .grad, as backward leaves them
                p.grad = g
        else:
            for p in self.parameters():
                p.grad = None
            # hand-written forward and loss, torch computes the gradients
            if self.impl == "autograd":
                logits = self.forward_manual(x.flatten(1))[0]
                loss = cross_entropy(logits, y)
            else:  # "module": torch.nn layers and loss
                logits = self.net(x.flatten(1))
                loss = F.cross_entropy(logits, y)
            loss.backward()
            grads = [p.grad for p in self.parameters()]
        with torch.no_grad():
            for p, g in zip(self.parameters(), grads):
                p -= lr * g
        return loss.detach(), logits.detach()


class OptimScratchMLP(ScratchMLP):
    """``impl: optim``: the same ``nn`` modules, trained by the trainer with ``torch.optim``."""

    trained_by = "optimizer"


@register_model(NAME)
@described(
    {
        "hidden": "widths of the tanh hidden layers",
        "impl": "the homework's level: manual (no autograd), autograd (its backward), module (nn "
        "layers, hand-written SGD) or optim (torch.optim)",
    }
)
def mlp_scratch(
    input_shape: tuple[int, ...],
    num_classes: int,
    hidden: list[Size] = [10],  # noqa: B006 (validated and copied by the registry)
    impl: Impl = "manual",
    init_std: Annotated[float, Field(gt=0, description="the homework uses 0.3")] = 0.3,
) -> ScratchMLP:
    """The RDFIA 1-ab MLP (tanh hidden layers, softmax + cross-entropy) at one of four implementation levels.

    ``init_std``: weights and biases ~ N(0, init_std²) as in the homework (0.3); for wide inputs such as
    28×28 images a smaller value (e.g. 0.05) keeps the tanh units out of saturation.
    """
    cls = ScratchMLP.built_as({"impl": impl})
    return cls(math.prod(input_shape), list(hidden), num_classes, impl, init_std)
