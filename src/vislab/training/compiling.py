"""The net a run's steps call: the model DDP-wrapped across processes and compiled with ``train.compile``
(torch.compile, or with CUDA graphs), eager where the compiler fails or compiles nothing.

torch.compile compiles at the net's first call, not when asked: that call (the first step's forward) is
made here with torch's own fallback off, so that a failure (no C++ compiler, no Triton, ...) raises
there; the net then runs eagerly, one note names the cause and the fix, and summary.json's ``compiled``
(:func:`compile_summary`) says what ran. A first call that compiled no graph (torch skipped the forward)
is recorded and noted as eager too, and so are the nets not compiled at all: a model fitted once
(``fit_arrays``: no steps), one that makes its own step (``manual_step``: its forward is not what trains)
and a DistributedDataParallel-wrapped one (torch compiles no graph of it here). Once compiled, torch's
fallback is on again for the graphs it compiles later (another batch shape)."""

from __future__ import annotations

import logging
import os
import shutil
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from vislab.errors import show_note
from vislab.training.runtime import Distributed

if TYPE_CHECKING:  # annotations only
    from vislab.training.state import LoopState

#: what train.compile made of each compiled net: summary.json's ``compiled``
_RAN: weakref.WeakKeyDictionary[torch.nn.Module, str] = weakref.WeakKeyDictionary()

#: the model classes whose first compiled call made a graph in this process
_GRAPHED: set[type] = set()

_OFF = "--set train.compile=false / train__compile=False"
#: why a net is not compiled: (summary.json's words, the note's, the fix)
_OWN_STEP = (
    "its own step",
    "this model makes its own step (manual_step), which torch.compile does not compile",
    f"leave compiling off for it: {_OFF}",
)
_DDP = (
    "DistributedDataParallel",
    "torch.compile compiles no graph of a DistributedDataParallel-wrapped model here (--nproc)",
    f"train in one process to compile, or leave compiling off: {_OFF}",
)
_NO_GRAPH = (
    "no graph",
    "torch compiled no graph of the model's forward",
    f"TORCH_LOGS=graph_breaks shows why; or leave compiling off: {_OFF}",
)


def forward_net(
    model: torch.nn.Module,
    compile: bool | str,
    dist: Distributed,
    device: torch.device,
    trained_by: str = "optimizer",
    name: str = "this model",
) -> tuple[torch.nn.Module, bool]:
    """The net that runs forward — ``model`` DDP-wrapped, and compiled with ``train.compile`` on
    ``device`` — and whether it replays CUDA graphs (``compile="graphs"``, compiled: each step must be
    marked). How the model trains (``trained_by``, its hooks'): one fitted once (``fit_arrays``, model
    ``name``) is neither wrapped nor compiled, nor one that makes its own step (``manual_step``)."""
    if trained_by == "fit_arrays":
        if compile:
            _fitted(model, name, dist)
        return model, False
    net = dist.wrap(model)
    if not compile:
        return net, False
    if trained_by == "manual_step" or net is not model:
        why = _OWN_STEP if trained_by == "manual_step" else _DDP
        _uncompiled(net, why, dist)
        return net, False
    mode = "reduce-overhead" if compile == "graphs" else None
    if device.type == "cpu" and dist.is_main:
        show_note(
            "train.compile on a CPU: the first steps compile the model, which takes minutes with a cold "
            "cache (torch keeps it for later runs), counted in the time of the first epoch this process "
            "trains and in summary.json's train_time_s (the compiler's imports, seconds more, in "
            f"setup_s); compiling pays on a GPU or in long runs ({_OFF} trains eagerly)."
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


#: ``loop.compiled``'s entry of a part trained without train.compile (a resume may turn it on or off), and
#: of the parts a last.pt older than the record trained
COMPILE_OFF = "eager (train.compile off)"
BEFORE_RECORD = "unknown (its last.pt is older than this record)"


def note_compiled(net: torch.nn.Module | None, loop: LoopState) -> None:
    """Add what ran forward in this process (:func:`compile_summary`'s, or :data:`COMPILE_OFF`) to
    ``loop.compiled``, which last.pt keeps, where it differs from the run's last part: a resume that
    compiled otherwise adds its own."""
    ran = compile_summary(net).get("compiled", COMPILE_OFF)
    if loop.compiled[-1:] != [ran]:
        loop.compiled.append(ran)


def compiled_record(loop: LoopState) -> dict[str, Any]:
    """summary.json's ``compiled`` (the run's first part's) and ``compiled_resumed`` (what its resumes
    changed to, in order) from ``loop.compiled`` (:func:`note_compiled`); nothing where no part was
    trained with train.compile."""
    if all(ran in (COMPILE_OFF, BEFORE_RECORD) for ran in loop.compiled):
        return {}
    first, *later = loop.compiled
    return {"compiled": first, "compiled_resumed": later or None}


def compile_summary(net: torch.nn.Module | None) -> dict[str, Any]:
    """summary.json's ``compiled`` for a run whose steps called ``net``: "compiled", "graphs" (compiled
    with CUDA graphs, on a GPU), "eager (compile failed: <cause>)" or "eager (nothing compiled: <why>)";
    nothing where train.compile was off."""
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
        before = _graphs_made()
        try:
            with torch._dynamo.config.patch(suppress_errors=False):
                out = self.forward(*args, **kwargs)
        except Exception as e:
            # the model's own error, if any, raises here as it does eagerly: not taken for the compiler's
            out = eager(*args, **kwargs)
            self.compiled.forward = eager.__call__
            _fell_back(self.compiled, e, self.dist)
            return out
        # another instance of a class compiled earlier in this process reuses its graph: none is new
        if _graphs_made() == before and type(eager) not in _GRAPHED:
            self.compiled.forward = eager.__call__
            _uncompiled(self.compiled, _NO_GRAPH, self.dist)
            return out
        _GRAPHED.add(type(eager))
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


def _uncompiled(net: torch.nn.Module, why: tuple[str, str, str], dist: Distributed) -> None:
    """``net`` runs eagerly though compiling was asked for: recorded, and noted ``why``."""
    said, told, fix = why
    _RAN[net] = f"eager (nothing compiled: {said})"
    if dist.is_main:
        show_note(f"train.compile: {told}, so this run trains eagerly (uncompiled); {fix}.")


def _fitted(model: torch.nn.Module, name: str, dist: Distributed) -> None:
    """``model``, fitted once, is not compiled: recorded, and noted."""
    _RAN[model] = "eager (nothing compiled: fitted once)"
    if dist.is_main:
        show_note(
            f"train.compile does nothing for {name}: it is fitted once, with no steps to compile. "
            f"Leave it off: {_OFF}."
        )


def _graphs_made() -> int:
    """The graphs torch has compiled in this process so far."""
    from torch._dynamo.utils import counters

    return counters["stats"]["unique_graphs"]


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
