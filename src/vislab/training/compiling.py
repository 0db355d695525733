"""The net a run's steps call: the model DDP-wrapped across processes and compiled with ``train.compile``
(torch.compile, or with CUDA graphs), eager where the compiler fails.

torch.compile compiles at the net's first call, not when asked: that call (the first step's forward) is
made here with torch's own fallback off, so that a failure (no C++ compiler, no Triton, ...) raises
there; the net then runs eagerly, one note names the cause and the fix, and summary.json's ``compiled``
(:func:`compile_summary`) says what ran. Once compiled, torch's fallback is on again for the graphs it
compiles later (another batch shape)."""

from __future__ import annotations

import logging
import os
import shutil
import weakref
from collections.abc import Callable
from typing import Any

import torch

from vislab.errors import show_note
from vislab.training.runtime import Distributed

#: what train.compile made of each compiled net: summary.json's ``compiled``
_RAN: weakref.WeakKeyDictionary[torch.nn.Module, str] = weakref.WeakKeyDictionary()

_OFF = "--set train.compile=false / train__compile=False"


def forward_net(
    model: torch.nn.Module, compile: bool | str, dist: Distributed, device: torch.device
) -> tuple[torch.nn.Module, bool]:
    """The net that runs forward — ``model`` DDP-wrapped, and compiled with ``train.compile`` on
    ``device`` — and whether it replays CUDA graphs (``compile="graphs"``, compiled: each step must be
    marked)."""
    net = dist.wrap(model)
    if not compile:
        return net, False
    mode = "reduce-overhead" if compile == "graphs" else None
    if device.type == "cpu" and dist.is_main:
        show_note(
            "train.compile on a CPU: the first steps compile the model, which takes minutes with a cold "
            "cache (torch keeps it for later runs), counted in the first epoch's time and summary.json's "
            f"train_time_s; compiling pays on a GPU or in long runs ({_OFF} trains eagerly)."
        )
    _quiet_cuda_home()
    try:
        compiled = torch.compile(net, mode=mode)
    except Exception as e:  # an unsupported platform, Python version, ...
        _fell_back(net, e, dist)
        return net, False
    _RAN[compiled] = (
        "graphs" if mode and device.type == "cuda" else "compiled"
    )  # a CPU has no graphs
    compiled.forward = _FirstCall(compiled, dist)
    return compiled, mode is not None


def compile_summary(net: torch.nn.Module | None) -> dict[str, Any]:
    """summary.json's ``compiled`` for a run whose steps called ``net``: "compiled", "graphs" (compiled
    with CUDA graphs, on a GPU), or "eager (compile failed: <cause>)"; nothing where train.compile was
    off."""
    ran = _RAN.get(net) if net is not None else None
    return {"compiled": ran} if ran is not None else {}


class _FirstCall:
    """``compiled``'s forward for its first call: compiles (torch's fallback off) and runs it; where
    compiling fails, runs the model eagerly, from then on. Either way it then hands the forward over."""

    def __init__(self, compiled: torch.nn.Module, dist: Distributed) -> None:
        self.compiled, self.dist = compiled, dist
        self.forward: Callable[..., Any] = compiled.forward

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        eager = self.compiled._orig_mod
        try:
            with torch._dynamo.config.patch(suppress_errors=False):
                out = self.forward(*args, **kwargs)
        except Exception as e:
            # the model's own error, if any, raises here as it does eagerly: not taken for the compiler's
            out = eager(*args, **kwargs)
            self.compiled.forward = eager.__call__
            _fell_back(self.compiled, e, self.dist)
            return out
        self.compiled.forward = self.forward
        # a later graph that fails to compile (another batch shape): torch runs that one eagerly
        torch._dynamo.config.suppress_errors = True
        return out


def _fell_back(net: torch.nn.Module, error: Exception, dist: Distributed) -> None:
    """``net`` runs eagerly: recorded for summary.json, and the note saying why and what to do."""
    cause, fix = _cause_and_fix(error)
    _RAN[net] = f"eager (compile failed: {cause})"
    if dist.is_main:
        show_note(
            f"train.compile: compiling failed ({cause}), so this run trains eagerly (uncompiled). "
            f"{fix}, or leave compiling off: {_OFF}."
        )


def _cause_and_fix(error: Exception) -> tuple[str, str]:
    """What failed, in a few words (the C++ compiler by name, else torch's first line), and the fix."""
    inner = getattr(error, "inner_exception", None) or error
    if type(inner).__name__ == "InvalidCxxCompiler":
        cxx = os.environ.get("CXX")
        said = "not found" if cxx and shutil.which(cxx) is None else "does not work"
        cause = (
            f"no C++ compiler: CXX={cxx} {said}" if cxx else "no C++ compiler found (g++, clang++)"
        )
        return cause, "To compile, install a C++ compiler (e.g. g++) or point CXX at one"
    first = (str(inner).strip().splitlines() or [""])[0].rstrip(".")[:150]
    cause = f"{type(inner).__name__}: {first}" if first else type(inner).__name__
    return cause, "To compile, fix the cause above (TORCHDYNAMO_VERBOSE=1 shows torch's trace)"


class _NoCudaHome(logging.Filter):
    """Drops torch's "No CUDA runtime is found, using CUDA_HOME=..." warning: said on a machine without a
    GPU, where vislab compiles for the CPU."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("No CUDA runtime is found")


def _quiet_cuda_home() -> None:
    torch_log = logging.getLogger("torch.utils.cpp_extension")
    if not any(isinstance(f, _NoCudaHome) for f in torch_log.filters):
        torch_log.addFilter(_NoCudaHome())
