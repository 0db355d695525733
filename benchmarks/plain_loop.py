"""A plain PyTorch training loop, written the way a careful engineer would for speed: the baseline that
``gpu.py --vs-plain`` measures vislab's trainer against.

The whole uint8 training set lives on the device; each epoch draws one permutation there and slices
it; each batch is gathered, turned into floats and standardised (per-channel train mean/std) in one
scale-and-shift, put in ``channels_last`` for conv models, run under bf16 autocast on CUDA, and
updated by a fused SGD step. Nothing is read back to the host inside an epoch. No augmentation, no
metrics, no evaluation: what is left when a trainer's services are taken away.
"""

from __future__ import annotations

import contextlib
import time

import torch
import torch.nn.functional as F


def is_conv(model: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.Conv2d) for m in model.modules())


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class PlainLoop:
    """SGD on ``model`` over uint8 N×C×H×W images ``x`` and labels ``y``, ``steps`` batches per epoch."""

    def __init__(
        self,
        model: torch.nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        batch: int,
        steps: int,
        lr: float = 0.05,
        momentum: float = 0.9,
    ) -> None:
        self.device = x.device
        self.channels_last = is_conv(model)
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        self.model = model.to(self.device, memory_format=fmt)
        self.x, self.y, self.batch, self.steps = x, y, batch, steps
        as_float = x.float()
        mean = as_float.mean(dim=(0, 2, 3), keepdim=True)
        std = as_float.std(dim=(0, 2, 3), keepdim=True)
        self.scale, self.shift = 1 / std, -mean / std
        self.opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, fused=True)
        on_cuda = self.device.type == "cuda"
        self.autocast = (
            (lambda: torch.autocast("cuda", dtype=torch.bfloat16))
            if on_cuda
            else contextlib.nullcontext
        )

    def step(self, idx: torch.Tensor) -> None:
        """One update on the images at ``idx``."""
        xb = self.x[idx].float().mul_(self.scale).add_(self.shift)
        if self.channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with self.autocast():
            loss = F.cross_entropy(self.model(xb).float(), self.y[idx])
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()

    def epoch(self) -> float:
        """One epoch of ``steps`` updates; its wall time in seconds (device synchronised at both ends)."""
        self.model.train()
        sync(self.device)
        t0 = time.perf_counter()
        order = torch.randperm(len(self.y), device=self.device)
        for i in range(self.steps):
            self.step(order[i * self.batch : (i + 1) * self.batch])
        sync(self.device)
        return time.perf_counter() - t0
