"""How busy the device is while a model trains: per epoch, the time the device spends in kernels over
the epoch's wall time (``gpu.py --profile``).

Each epoch runs inside its own ``torch.profiler`` session that records device activity only (CUDA: the
kernels, through CUPTI; the host's operators are not recorded, so the wall time is barely slowed), and
the epoch's wall time is taken inside the session between two device synchronisations. A share near 1
means the GPU never waits for the host; a share well below 1 means launch overhead or host work leaves
it idle. Without CUDA the same measure is taken on the host: the time inside PyTorch operators (the
union of their intervals) over the wall time — a smoke test of the code path, not a GPU figure.

vislab's epochs are measured by wrapping ``vislab.training.trainer.train_one_epoch`` for the duration
of the run (:func:`profiled_vislab_epochs`); the trainer itself is unchanged.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile

from vislab.training import trainer

COPIES = ("Memcpy", "Memset")  # device activity that is not a kernel (CUPTI names)


@dataclass
class EpochProfiles:
    """Wall and busy seconds of each profiled epoch on ``device``."""

    device: torch.device
    wall_s: list[float] = field(default_factory=list)
    busy_s: list[float] = field(default_factory=list)
    copy_s: list[float] = field(default_factory=list)

    def measure(self, run_epoch: Callable[[], Any]) -> Any:
        """Run one epoch under the profiler; record its wall and busy time; return its result."""
        on_cuda = self.device.type == "cuda"
        activity = ProfilerActivity.CUDA if on_cuda else ProfilerActivity.CPU
        with profile(activities=[activity]) as prof:
            _sync(self.device)
            t0 = time.perf_counter()
            result = run_epoch()
            _sync(self.device)
            self.wall_s.append(time.perf_counter() - t0)
        events = prof.profiler.kineto_results.events()
        busy, copies = device_seconds(events) if on_cuda else (host_op_seconds(events), 0.0)
        self.busy_s.append(busy)
        self.copy_s.append(copies)
        return result

    def summary(self) -> dict:
        """Per-epoch shares, and the share over every epoch after the first (warm-up) when there are more."""
        skip = 1 if len(self.wall_s) > 1 else 0
        wall, busy = sum(self.wall_s[skip:]), sum(self.busy_s[skip:])
        on_cuda = self.device.type == "cuda"
        return dict(
            busy_share=round(busy / wall, 4),
            busy_of="CUDA kernel time" if on_cuda else "host time in torch ops (no CUDA)",
            epochs_counted=len(self.wall_s) - skip,
            wall_s=[round(t, 3) for t in self.wall_s],
            busy_s=[round(t, 3) for t in self.busy_s],
            copy_s=[round(t, 4) for t in self.copy_s],
        )


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _is_annotation(event: Any) -> bool:
    return bool(event.is_user_annotation())


def device_seconds(events: list[Any]) -> tuple[float, float]:
    """(kernel seconds, memcpy/memset seconds) of the CUDA activity in ``events``."""
    kernels = copies = 0
    for e in events:
        if e.device_type() != torch.autograd.DeviceType.CUDA or _is_annotation(e):
            continue
        if e.name().startswith(COPIES):
            copies += e.duration_ns()
        else:
            kernels += e.duration_ns()
    return kernels / 1e9, copies / 1e9


def host_op_seconds(events: list[Any]) -> float:
    """Seconds covered by at least one host-side torch operator (nested operators counted once)."""
    spans = sorted(
        (e.start_ns(), e.end_ns())
        for e in events
        if e.device_type() == torch.autograd.DeviceType.CPU
        and not _is_annotation(e)
        and not e.is_python_function()
    )
    covered, end = 0, None
    for start, stop in spans:
        if end is None or start > end:
            covered += stop - start
            end = stop
        elif stop > end:
            covered += stop - end
            end = stop
    return covered / 1e9


@contextlib.contextmanager
def profiled_vislab_epochs(profiles: EpochProfiles) -> Iterator[None]:
    """While open, every epoch vislab's trainer runs is measured into ``profiles``."""
    original = trainer.train_one_epoch

    def measured(*args: Any, **kwargs: Any) -> dict:
        return profiles.measure(lambda: original(*args, **kwargs))

    trainer.train_one_epoch = measured
    try:
        yield
    finally:
        trainer.train_one_epoch = original
