"""The net a run's steps call: the model DDP-wrapped across processes and compiled with ``train.compile``
(torch.compile, or with CUDA graphs), eager where the compiler is unavailable."""

from __future__ import annotations

import torch

from vislab.training.progress import Progress
from vislab.training.runtime import Distributed


def forward_net(
    model: torch.nn.Module, compile: bool | str, dist: Distributed, log: Progress
) -> tuple[torch.nn.Module, bool]:
    """The net that runs forward — ``model`` DDP-wrapped, and compiled with ``train.compile`` — and whether
    it replays CUDA graphs (``compile="graphs"``, compiled: each step must be marked)."""
    net = dist.wrap(model)
    if not compile:
        return net, False
    mode = "reduce-overhead" if compile == "graphs" else None
    compiled = _try_compile(net, log, mode)
    return compiled, mode is not None and compiled is not net


def _try_compile(net: torch.nn.Module, log: Progress, mode: str | None) -> torch.nn.Module:
    try:
        # compiling happens at the first call: where it fails there, run eagerly
        torch._dynamo.config.suppress_errors = True
        return torch.compile(net, mode=mode)
    except Exception as e:  # no compiler toolchain, unsupported platform, ...
        log.line(
            f"train.compile: torch.compile is unavailable here ({type(e).__name__}: {e}); running eagerly."
        )
        return net
