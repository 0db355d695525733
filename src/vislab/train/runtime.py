"""Where training runs: device choice, and data-parallel processes under torchrun (DDP)."""

from __future__ import annotations

import os

import torch
import torch.distributed as tdist

from vislab.errors import UserError


def resolve_device(name: str) -> torch.device:
    """'auto' → CUDA when present, else CPU; 'cuda' without a GPU is a user error."""
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("train.device=cuda but no CUDA GPU is visible to PyTorch (check nvidia-smi, "
                        "CUDA_VISIBLE_DEVICES, and that a CUDA build of torch is installed), or use train.device=cpu.")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class Distributed:
    """Single process by default; under torchrun (RANK/WORLD_SIZE set) one DDP rank per process."""

    def __init__(self, device_name: str = "auto"):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.device: torch.device | None = None
        if self.world > 1:
            dev = resolve_device(device_name)
            if dev.type == "cuda":
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
        from torch.nn.parallel import DistributedDataParallel as DDP

        return DDP(model, device_ids=[self.local_rank] if self.device and self.device.type == "cuda" else None)

    def all_reduce(self, t: torch.Tensor) -> torch.Tensor:
        """Sum over ranks (in place)."""
        if self.world > 1:
            tdist.all_reduce(t)
        return t

    def barrier(self) -> None:
        if self.world > 1:
            tdist.barrier()

    def close(self) -> None:
        if self.world > 1 and tdist.is_initialized():
            tdist.destroy_process_group()
