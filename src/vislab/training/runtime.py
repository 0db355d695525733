"""Where training runs: device choice, and data-parallel processes under torchrun (DDP)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
import torch.distributed as tdist
from torch.nn.parallel import DistributedDataParallel as DDP

from vislab.errors import ConfigError, UserError
from vislab.words import counted

# What a collective raises in a rank whose peer is gone (its process ended, or the network to it failed):
# gloo names the connection ("Connection closed by peer", "... reset by peer", a write's "Broken pipe"),
# NCCL its remote error.
_PEER_GONE = (
    "closed by peer",
    "reset by peer",
    "broken pipe",
    "remote process exited",
    "ncclremoteerror",
)


def resolve_device(name: str) -> torch.device:
    """'auto' → CUDA when present, else CPU; 'cuda' without a GPU is a user error."""
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError(
            "train.device=cuda but no CUDA GPU is visible to PyTorch (check nvidia-smi, "
            "CUDA_VISIBLE_DEVICES, and that a CUDA build of torch is installed), or use train.device=cpu."
        )
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def set_cudnn_benchmark(device: torch.device, on: bool) -> None:
    """``train.cudnn_benchmark`` for a run on ``device`` (a process-wide switch, so set by every CUDA run)."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = on


def set_threads(threads: int | None) -> int:
    """Set ``train.threads`` (None: torch's count stays: one per core, or what the caller set, e.g. a
    suite's job, which divides the cores); the CPU threads training then uses, ``torch.get_num_threads()``.
    CPU ops sum floats in another order with another count: their results differ in the last bits."""
    if threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


#: train.threads beyond this many times the usable cores is refused, not only noted
_CROWDED = 4


def usable_cores() -> int:
    """The CPU cores this process may run on: its affinity where the system tells it, else all."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def threads_note(threads: int | None, device: torch.device) -> str | None:
    """A note for ``train.threads`` above the cores this process may use (:func:`usable_cores`), on the
    CPU: the threads take turns and training runs slower; ConfigError beyond :data:`_CROWDED` times the
    cores. None otherwise."""
    cores = usable_cores()
    if not threads or threads <= cores or device.type != "cpu":
        return None
    said = (
        f"train.threads={threads} asks for {threads} CPU threads, but this process may use "
        f"{counted(cores, 'core')}: the threads take turns on the cores and each step waits for the "
        f"slowest, so training runs slower, not faster (16 threads on 2 cores: about ten times slower)."
    )
    fix = (
        f"Leave train.threads out (one thread per core) or give at most {cores}: --set "
        f"train.threads={cores} / train__threads={cores}."
    )
    if threads > _CROWDED * cores:
        raise ConfigError(f"{said} {fix}")
    return f"{said} {fix}"


def threads_change(path: Path, threads: int | None, device: str, used: list[int]) -> str | None:
    """A note when a resume of run ``path`` on the CPU (``device``: train.device) trains with another
    thread count (``threads``: train.threads, else torch's) than the run so far (``used``: its last.pt's;
    empty, not recorded: no note): float sums round differently, so its numbers match an uninterrupted
    run's only to rounding."""
    now = threads or torch.get_num_threads()
    on_cpu = device == "cpu" or (device == "auto" and not torch.cuda.is_available())
    if not used or now == used[-1] or not on_cpu:
        return None
    return (
        f"'{path}' last trained with {counted(used[-1], 'CPU thread')}, this resume with {now} "
        f"(train.threads): float sums round differently, so its numbers match an uninterrupted run's "
        f"only to float rounding (the best epoch, an early stop may differ too). To go on as it trained, "
        f"resume with --set train.threads={used[-1]} (Python: train__threads={used[-1]})."
    )


def resolve_data_device(
    policy: str, device: torch.device, nbytes: int, fraction: float = 0.5
) -> torch.device:
    """Where the splits live (``data.device``): 'auto' keeps them on a CUDA training device when their
    ``nbytes`` fit in ``fraction`` of its free memory, else in host memory (batches are then streamed
    through pinned buffers); 'cpu' always on the host; 'cuda' on the GPU."""
    if device.type != "cuda":
        if policy == "cuda":
            raise UserError(
                "data.device=cuda needs training on a CUDA GPU, but training runs on "
                f"{device.type}. Use data.device=auto (or cpu), or train.device=cuda."
            )
        return torch.device("cpu")
    if policy == "cpu":
        return torch.device("cpu")
    if policy == "cuda":
        return device
    free, _ = torch.cuda.mem_get_info(device)
    return device if nbytes <= fraction * free else torch.device("cpu")


def unwrap(net: torch.nn.Module) -> torch.nn.Module:
    """The model inside ``net``'s torch.compile and DistributedDataParallel wrappers, which evaluation
    scores (eagerly: a compiled eval would compile a second graph, and CUDA graphs would reuse its output
    buffers batch after batch) and whose buffers it syncs; ``net`` itself when it has none (a model's own
    attribute named ``module`` is no wrapper)."""
    compiled = sys.modules.get(
        "torch._dynamo.eval_frame"
    )  # loaded by torch.compile (1.3 s to import)
    inner = net._orig_mod if compiled and isinstance(net, compiled.OptimizedModule) else net
    return inner.module if isinstance(inner, DDP) else inner


def lost_peer(error: BaseException) -> bool:
    """Whether ``error`` is torch.distributed's in a data-parallel rank whose peer is gone (killed, or ended
    on an error of its own): the rank can only stop, and the peer's end is what to report (``vislab train
    --nproc``'s launcher names it; plain torchrun's failure summary lists it)."""
    return isinstance(error, RuntimeError) and any(s in str(error).lower() for s in _PEER_GONE)


def world_size() -> int:
    """The processes of this process's training job: torchrun's WORLD_SIZE, else 1."""
    return int(os.environ.get("WORLD_SIZE", "1"))


class Distributed:
    """Single process by default; under torchrun (RANK/WORLD_SIZE set) one DDP rank per process."""

    def __init__(self, device_name: str = "auto"):
        self.world = world_size()
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.device: torch.device | None = None
        if self.world > 1:
            dev = resolve_device(device_name)
            if dev.type == "cuda":
                _check_gpu_of(self.local_rank, self.world)
                torch.cuda.set_device(self.local_rank)
                self.device = torch.device("cuda", self.local_rank)
            else:
                self.device = torch.device("cpu")
            if not tdist.is_initialized():
                tdist.init_process_group("nccl" if dev.type == "cuda" else "gloo")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        if self.world == 1 or not any(p.requires_grad for p in model.parameters()):
            return model
        return DDP(
            model,
            device_ids=[self.local_rank] if self.device and self.device.type == "cuda" else None,
        )

    def all_reduce(self, t: torch.Tensor) -> torch.Tensor:
        """Sum over ranks (in place)."""
        if self.world > 1:
            tdist.all_reduce(t)
        return t

    def sync_buffers(self, model: torch.nn.Module) -> None:
        """Average float buffers over ranks (e.g. BN running statistics, which each rank updates from its
        own batches) so that every rank holds — and evaluates — the same model."""
        if self.world == 1:
            return
        for b in model.buffers():
            if b.is_floating_point():
                tdist.all_reduce(b)
                b.div_(self.world)

    def from_main(self, obj):
        """Rank 0's ``obj`` on every rank (a picklable object: e.g. metrics that decide early stopping)."""
        if self.world == 1:
            return obj
        box = [obj]
        tdist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.world > 1:
            tdist.barrier()

    def close(self) -> None:
        """Leave the process group (a worker process then ends as ``vislab.cli.worker`` says)."""
        if self.world > 1 and tdist.is_initialized():
            tdist.destroy_process_group()


def _check_gpu_of(local_rank: int, world: int) -> None:
    """UserError when this rank's GPU (number LOCAL_RANK) is not there: torchrun started more processes per
    machine than it has GPUs (``vislab train --nproc`` refuses that before it starts any)."""
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise UserError(
            f"this process (LOCAL_RANK {local_rank} of {world}) trains on GPU {local_rank}, but this "
            f"machine has {count} GPU{'' if count == 1 else 's'}: start at most {count} processes per "
            f"machine (torchrun --nproc-per-node {count}), or train on the CPU: --set train.device=cpu."
        )
