"""`fast`: a compact conv net for small images in the spirit of the CIFAR-10 speed records (airbench).

What makes it learn quickly (the rest of the recipe — label smoothing, translate and alternating flip
augmentation, Nesterov SGD with a short schedule — is in the ``fast`` config preset):

- a first layer of k×k *patch-whitening* filters, set once from the training images
  (``init_from_data``) and then frozen: the network starts from decorrelated, unit-variance inputs;
- three conv stages (conv → max-pool → BN → GELU → conv → BN → GELU), a global max-pool and a
  linear head whose logits are scaled down (a calmer start for a large learning rate);
- an exponential moving average (EMA) of the weights, updated after every training step (the
  ``after_step`` hook) and used for evaluation — the EMA tensors are buffers, so they live in the
  state dict and in checkpoints;
- test-time augmentation in eval mode: the mean of the logits of the image and of its mirror image.

The model reads everything it needs from its input; it stays an ordinary registry model.
"""

from __future__ import annotations

from typing import Annotated, Literal

import torch
import torch.nn as nn
import torch.nn.functional as F
from pydantic import Field
from torch.func import functional_call

from vislab.errors import UserError
from vislab.models.hooks import ModelHooks
from vislab.models.options import Size, require_image_input
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
        self.ema = _Shadow(self._tracked())
        self.register_buffer("ema_steps", torch.zeros((), dtype=torch.long))

    # ------------------------------------------------------------------ data-dependent init
    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> None:
        """Fit the whitening filters on (normalised, un-augmented) training images N×C×H×W."""
        self.whiten.fit(x.to(self.whiten.weight.device))
        self.ema.copy_from(self._tracked())

    # ------------------------------------------------------------------ EMA
    def _tracked(self) -> dict[str, torch.Tensor]:
        """The float tensors the EMA follows: every parameter and the BN running statistics."""
        state = dict(self.net.named_parameters())
        state.update((k, b) for k, b in self.net.named_buffers() if b.is_floating_point())
        return state

    @torch.no_grad()
    def after_step(self) -> None:
        """Fold the weights the optimizer step just produced into the average (a ModelHooks hook)."""
        # ema ← d·ema + (1 − d)·w with d = min(decay, (1 + t)/(10 + t)): early steps follow w closely.
        # Everything stays a device tensor: no host sync, nothing for torch.compile to specialise on.
        t = self.ema_steps.add_(1).double()
        d = torch.clamp((1 + t) / (10 + t), max=self.ema_decay).float()
        live = [v.detach() for v in self._tracked().values()]
        shadow = self.ema.tensors()
        torch._foreach_mul_(shadow, d)
        torch._foreach_add_(shadow, torch._foreach_mul(live, 1 - d))

    # ------------------------------------------------------------------ forward
    def logits(
        self, x: torch.Tensor, weights: dict[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        out = self.net(x) if weights is None else functional_call(self.net, weights, (x,))
        return out * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return self.logits(x)
        weights = self.ema.as_dict()
        out = self.logits(x, weights)
        if self.tta == "flip":  # mean logits of the image and its mirror image
            out = 0.5 * (out + self.logits(x.flip(-1), weights))
        return out


class _Shadow(nn.Module):
    """Buffers mirroring a dict of named tensors ('a.b.c' stored as 'a__b__c'), kept in the state dict."""

    def __init__(self, tensors: dict[str, torch.Tensor]):
        super().__init__()
        self.names = list(tensors)
        for name, t in tensors.items():
            self.register_buffer(name.replace(".", "__"), t.detach().clone())

    def tensors(self) -> list[torch.Tensor]:
        return [getattr(self, n.replace(".", "__")) for n in self.names]

    def as_dict(self) -> dict[str, torch.Tensor]:
        return dict(zip(self.names, self.tensors()))

    @torch.no_grad()
    def copy_from(self, tensors: dict[str, torch.Tensor]) -> None:
        for name, t in tensors.items():
            getattr(self, name.replace(".", "__")).copy_(t)


@register_model("fast")
def fast(
    input_shape: tuple[int, ...],
    num_classes: int,
    widths: list[Size] = [64, 256, 256],  # noqa: B006 (validated and copied by the registry)
    whiten_kernel: Size = 2,
    whiten_eps: float = 5e-4,
    scale: float = 1 / 9,
    ema_decay: Annotated[float, Field(ge=0, lt=1, description="0 = no averaging")] = 0.98,
    tta: Literal["none", "flip"] = "flip",
    alternate_flip: bool = True,
) -> nn.Module:
    c, h, w = require_image_input("fast", input_shape)
    side = min(h, w) - whiten_kernel + 1
    if not widths or side >> len(widths) < 1:
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
