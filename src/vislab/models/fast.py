"""`fast`: a compact conv net for small images in the spirit of the CIFAR-10 speed records (airbench).

What makes it learn quickly (the rest of the recipe — label smoothing, translate and alternating flip
augmentation, Nesterov SGD with a short schedule — is in the ``fast`` config preset):

- a first layer of k×k *patch-whitening* filters, set once from the training images
  (``init_from_data``) and then frozen: the network starts from decorrelated, unit-variance inputs;
- three conv stages (conv → max-pool → BN → GELU → conv → BN → GELU), a global max-pool and a
  linear head whose logits are scaled down (a calmer start for a large learning rate);
- an exponential moving average (EMA) of the weights, updated after every training step (the
  ``after_step`` hook) and used for evaluation: ``ema``, a copy of the network whose tensors are
  buffers (in the state dict and checkpoints, not parameters), run as it is in eval mode — so the eval
  forward is plain tensor operations, which ``vislab export`` traces;
- test-time augmentation in eval mode: the mean of the logits of the image and of its mirror image.

The model reads everything it needs from its input; it stays an ordinary registry model. What its eval
forward adds (``eval_tta``, ``eval_weight_average``) it declares, for the export's description.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Annotated, Literal

import torch
import torch.nn as nn
import torch.nn.functional as F
from pydantic import Field

from vislab.errors import UserError
from vislab.models.hooks import ModelHooks, rectified_features
from vislab.models.options import Size, Widths, described, require_image_input
from vislab.models.registry import register_model


class Whitening(nn.Conv2d):
    """k×k conv whose filters whiten image patches; filled by ``fit`` from data, weight then frozen.

    With P the N×D matrix of training patches (D = C·k·k), mean μ and covariance Σ = U diag(λ) Uᵀ,
    the filters W = diag(λ + ε)^-½ Uᵀ map a patch p to W(p − μ), whose covariance is ≈ the identity.
    Each filter also appears negated, so the GELU that follows keeps both signs of every component:
    2·D output channels. The bias starts at −Wμ (centring) and stays trainable.
    """

    def __init__(self, channels: int, kernel_size: int, eps: float):
        d = channels * kernel_size * kernel_size
        super().__init__(channels, 2 * d, kernel_size, padding=0, bias=True)
        self.eps = eps
        self.weight.requires_grad_(False)

    @torch.no_grad()
    def fit(self, x: torch.Tensor, max_patches: int = 200_000) -> None:
        k = self.kernel_size[0]
        # (N·L)×D
        patches = F.unfold(x.float(), k).transpose(1, 2).reshape(-1, self.in_channels * k * k)
        if len(patches) > max_patches:  # an even subsample is plenty for a D×D covariance
            patches = patches[
                torch.linspace(0, len(patches) - 1, max_patches, device=x.device).long()
            ]
        p = patches.double()
        mean = p.mean(0)
        cov = torch.cov(p.T)
        eigval, eigvec = torch.linalg.eigh(cov)  # ascending eigenvalues, eigenvectors in columns
        w = eigvec.T / (eigval.clamp_min(0) + self.eps).sqrt()[:, None]  # rows: whitening filters
        w = torch.cat([w, -w])  # 2D × D
        self.weight.copy_(w.reshape(self.weight.shape).to(self.weight.dtype))
        self.bias.copy_((-(w @ mean)).to(self.bias.dtype))


def _stage(c_in: int, c_out: int) -> nn.Sequential:
    """conv 3×3 → max-pool 2 → BN → GELU → conv 3×3 → BN → GELU (pool early: 4× less work after it)."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.MaxPool2d(2),
        nn.BatchNorm2d(c_out),
        nn.GELU(),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.GELU(),
    )


class FastNet(ModelHooks, nn.Module):
    """Whitening conv → GELU → stages → global max-pool → scaled linear head; EMA weights and flip TTA in eval."""

    def __init__(
        self,
        channels: int,
        num_classes: int,
        widths: list[int],
        whiten_kernel: int,
        whiten_eps: float,
        scale: float,
        ema_decay: float,
        tta: Literal["none", "flip"],
        alternate_flip: bool,
    ):
        super().__init__()
        self.whiten = Whitening(channels, whiten_kernel, whiten_eps)
        layers: list[nn.Module] = [self.whiten, nn.GELU()]
        c = self.whiten.out_channels
        for w in widths:
            layers.append(_stage(c, w))
            c = w
        layers += [nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(c, num_classes, bias=False)]
        self.net = nn.Sequential(*layers)
        self.scale, self.tta, self.ema_decay = scale, tta, ema_decay
        self.flip_policy = "alternate" if alternate_flip else "random"  # a ModelHooks field
        self.ema = _average_of(self.net)
        self.register_buffer("ema_steps", torch.zeros((), dtype=torch.long))
        self._slots: list[tuple[dict, dict, str]] | None = None  # see _tracked

    # ------------------------------------------------------------------ what eval adds (export reads it)
    @property
    def eval_tta(self) -> str:
        """The test-time augmentation the eval forward does itself, as a ``train.tta`` mode."""
        return self.tta

    @property
    def eval_weight_average(self) -> bool:
        """Whether the eval forward uses the weight average (``ema``) rather than the trained weights."""
        return self.ema_decay > 0

    @property
    def weight_average_option(self) -> tuple[str, float]:
        """``model.ema_decay`` and its value: the option that sets (or at 0 turns off) the eval average."""
        return ("ema_decay", self.ema_decay)

    def gradcam_layer(self) -> nn.Module | None:
        """The last stage's GELU (a ModelHooks hook): ``net``'s, shared with ``ema``, so it runs in eval."""
        return rectified_features(self.net)

    def head_modules(self) -> list[str]:
        """``net``'s linear head (a ModelHooks hook, for ``optim.head_lr``): ``ema``'s copy of it, registered
        later, holds buffers, no parameters."""
        return [f"net.{len(self.net) - 1}"]

    def measured_network(self) -> nn.Module:
        """``net``, the network trained (a ModelHooks hook): what ``vislab model info`` counts, once —
        the eval forward runs the averaged copy twice, on each image and its mirror."""
        return self.net

    # ------------------------------------------------------------------ data-dependent init
    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> None:
        """Fit the whitening filters on (normalised, un-augmented) training images N×C×H×W."""
        self.whiten.fit(x.to(self.whiten.weight.device))
        live, average = self._tracked()
        torch._foreach_copy_(average, live)

    # ------------------------------------------------------------------ EMA
    def _tracked(self) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """The float tensors the EMA follows (every parameter and BN running statistic of ``net``) and
        their averages in ``ema``, in the same order. Where each lives is listed once (its module's
        parameter or buffer dict, and name) and looked up there at each call: what ``.to()``, a copy or
        ``load_state_dict(..., assign=True)`` puts in place is what is followed."""
        if self._slots is None:
            nets, averages = dict(self.net.named_modules()), dict(self.ema.named_modules())
            self._slots = [
                (getattr(nets[path], kind), averages[path]._buffers, leaf)
                for kind, named in (("_parameters", self.net.named_parameters()),
                                    ("_buffers", self.net.named_buffers()))
                for name, t in named
                if t.is_floating_point()
                for path, _, leaf in [name.rpartition(".")]
            ]  # fmt: skip
        return [w[leaf] for w, _, leaf in self._slots], [a[leaf] for _, a, leaf in self._slots]

    @torch.no_grad()
    def after_step(self) -> None:
        """Fold the weights the optimizer step just produced into the average (a ModelHooks hook, called
        once per optimizer step: ``ema_steps`` counts them)."""
        # ema ← d·ema + (1 − d)·w with d = min(decay, (1 + t)/(10 + t)): early steps follow w closely.
        # Everything stays a device tensor: no host sync, nothing for torch.compile to specialise on.
        t = self.ema_steps.add_(1).double()
        d = torch.clamp((1 + t) / (10 + t), max=self.ema_decay).float()
        live, shadow = self._tracked()
        torch._foreach_mul_(shadow, d)
        torch._foreach_add_(shadow, torch._foreach_mul(live, 1 - d))

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Training: the trained weights. Eval: the average (``ema``), over the image and its mirror
        when ``tta="flip"``."""
        net = self.net if self.training else self.ema
        out = net(x) * self.scale
        if not self.training and self.tta == "flip":  # the mean logits of the image and its mirror
            out = 0.5 * (out + net(x.flip(-1)) * self.scale)
        return out


def _average_of(net: nn.Module) -> nn.Module:
    """A copy of ``net`` to hold its weight average: its parameters become buffers (no gradients, not
    the optimizer's, not counted as parameters); its layers without tensors (GELU, pooling) are
    ``net``'s own, shared, so a hook on them (Grad-CAM's) sees the eval forward too. Its state dict keeps
    the flat keys of earlier versions (float tensors only, 'a.b.c' as 'a__b__c'), so their checkpoints
    load and ``train.init_from`` matches them."""
    stateless = [m for m in net.modules() if not any(m.children()) and not m.state_dict()]
    average = deepcopy(net, memo={id(m): m for m in stateless})
    for module in average.modules():
        for name, p in list(module.named_parameters(recurse=False)):
            delattr(module, name)
            module.register_buffer(name, p.detach())
    average.register_state_dict_post_hook(_flat_keys)
    average.register_load_state_dict_pre_hook(_nested_keys)
    return average


def _flat_keys(module: nn.Module, state: dict, prefix: str, _metadata: dict) -> None:
    """State-dict post-hook: the average's float tensors under 'PREFIXa__b__c' (its BN step counts,
    never read in eval, are left out)."""
    for key in [k for k in state if k.startswith(prefix)]:
        value = state.pop(key)
        if value.is_floating_point():
            state[prefix + key.removeprefix(prefix).replace(".", "__")] = value


def _nested_keys(module: nn.Module, state: dict, prefix: str, *_: object) -> None:
    """Load pre-hook: 'PREFIXa__b__c' back to the copy's 'PREFIXa.b.c'; its BN step counts kept."""
    for key in [k for k in state if k.startswith(prefix)]:
        state[prefix + key.removeprefix(prefix).replace("__", ".")] = state.pop(key)
    for name, t in module.named_buffers():
        if not t.is_floating_point():
            state.setdefault(prefix + name, t)


@register_model("fast")
@described(
    {
        "whiten_kernel": "side of the first conv's patches, whose filters whiten the train images' "
        "patches (fitted from the data, then frozen but for their bias)",
        "whiten_eps": "added to the patch covariance's eigenvalues before they are inverted",
        "scale": "the logits' multiplier (airbench's 1/9)",
        "tta": "the eval forward's own test-time augmentation (flip: the image and its mirror averaged)",
        "alternate_flip": "each image mirrored every other epoch, in turn (false: at random)",
    }
)
def fast(
    input_shape: tuple[int, ...],
    num_classes: int,
    widths: Widths = [64, 256, 256],  # noqa: B006 (validated and copied by the registry)
    whiten_kernel: Size = 2,
    whiten_eps: float = 5e-4,
    scale: float = 1 / 9,
    ema_decay: Annotated[float, Field(ge=0, lt=1, description="0 = no averaging")] = 0.98,
    tta: Literal["none", "flip"] = "flip",
    alternate_flip: bool = True,
) -> nn.Module:
    c, h, w = require_image_input("fast", input_shape)
    side = min(h, w) - whiten_kernel + 1
    if side >> len(widths) < 1:
        raise UserError(
            f"images of {h}×{w} are too small for the fast model: after the {whiten_kernel}×{whiten_kernel} "
            f"whitening layer, {len(widths)} stages halve {side} px to nothing. Use fewer model.widths or "
            f"data.resize=32."
        )
    return FastNet(
        c,
        num_classes,
        list(widths),
        whiten_kernel,
        whiten_eps,
        scale,
        ema_decay,
        tta,
        alternate_flip,
    )
