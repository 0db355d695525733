"""Missing or exhausted compute: CUDA asked for but absent (exit 2), a batch that runs out of GPU or host memory
(exit 1, suggesting a smaller train.batch_size), with no lock or half-written checkpoint left behind.
"""

from __future__ import annotations

import pytest
import torch

from conftest import cli, one_line, tiny_sets


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present")
def test_cuda_asked_for_but_absent(capsys, tmp_path):
    code, out = cli(capsys, "train", *tiny_sets("train.device=cuda"), "--out", tmp_path / "a", "-q")
    assert code == 2 and "train.device=cuda but no CUDA GPU" in one_line(out), out
    code, out = cli(capsys, "train", *tiny_sets("data.device=cuda"), "--out", tmp_path / "b", "-q")
    assert code == 2 and "data.device=cuda needs training on a CUDA GPU" in one_line(out), out


@pytest.mark.parametrize(
    "error, fragment",
    [
        (
            lambda: torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB"),
            "the GPU ran out of memory",
        ),
        (
            lambda: RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"),
            "the GPU ran out of memory",
        ),
        (
            lambda: RuntimeError(
                "[enforce fail at alloc_cpu.cpp:117] . DefaultCPUAllocator: can't allocate memory: you "
                "tried to allocate 85899345920 bytes. Error code 12"
            ),
            "out of host memory",
        ),
        (lambda: MemoryError(), "out of host memory"),
    ],
    ids=["OutOfMemoryError", "cuda-RuntimeError", "cpu-allocator", "MemoryError"],
)
def test_out_of_memory_batch(capsys, tmp_path, monkeypatch, error, fragment):
    def forward(self, x):
        raise error()

    monkeypatch.setattr(torch.nn.Linear, "forward", forward)
    run = tmp_path / "run"
    code, out = cli(capsys, "train", *tiny_sets(), "--out", run, "-q")
    assert code == 1 and fragment in out and "train.batch_size" in out, out
    assert not (run / ".lock").exists() and not (run / "checkpoints" / "last.pt").exists()
