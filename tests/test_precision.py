"""Mixed precision (``train.amp``): bf16 on a GPU that computes in it, fp16 with loss scaling on one that
does not (Colab's T4), float32 on a CPU. The fp16 path is exercised on the CPU by forcing its choice:
torch autocasts to fp16 and scales losses there too."""

from __future__ import annotations

import json

import pytest
import torch

import vislab.training.parts as parts_mod
from conftest import tiny_config
from test_resume import RESULT_KEYS, raw_checkpoint, run_result, sigterm_at_step
from vislab.errors import TrainingInterrupted
from vislab.training.precision import Precision, choose_precision
from vislab.training.trainer import train


@pytest.mark.parametrize(
    ("native_bf16", "amp", "device", "expected"),
    [
        (True, True, "cuda", "bf16"),  # A100, H100, RTX 30xx/40xx
        (False, True, "cuda", "fp16"),  # T4, V100, P100: bf16 only emulated
        (True, False, "cuda", "fp32"),  # train.amp=false
        (True, True, "cpu", "fp32"),
    ],
)
def test_precision_follows_what_the_gpu_computes_in(
    monkeypatch, native_bf16, amp, device, expected
):
    def is_bf16_supported(including_emulation: bool = True) -> bool:
        return native_bf16 or including_emulation  # a T4 answers True unless emulation is excluded

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    chosen = choose_precision(torch.device(device), amp)
    assert chosen.name == expected
    assert chosen.scales_loss == (expected == "fp16")


# a cnn (convolutions under fp16 autocast) small enough to train in a second on the CPU, where fp16 convolutions
# run without fast kernels (the default widths [32,64,64]: 5 s a run); batch norm makes it learn in two epochs.
# The figures are not what is checked here.
FP16_RUN = (
    "model.name=cnn",
    "model.widths=[8,16,16]",
    "model.batchnorm=true",
    "train.grad_clip=1.0",
    "train.figures=false",
)


@pytest.fixture
def fp16_on_cpu(monkeypatch):
    monkeypatch.setattr(
        parts_mod, "choose_precision", lambda device, amp: Precision("cpu", torch.float16)
    )


def test_fp16_training_scales_the_loss_and_resumes_exactly(tmp_path, monkeypatch, fp16_on_cpu):
    ref = train(tiny_config(*FP16_RUN), tmp_path / "ref", quiet=True).to_json()
    summary = json.loads((tmp_path / "ref" / "summary.json").read_text())
    assert summary["precision"] == "fp16" and summary["status"] == "complete"
    assert ref["val_acc"] > 0.3  # it learns (10 classes)
    scaler = raw_checkpoint(tmp_path / "ref" / "checkpoints" / "last.pt")["scaler"]
    assert scaler["scale"] > 0 and scaler["_growth_tracker"] > 0  # the scaler's state is saved

    with sigterm_at_step(monkeypatch, lambda n: n // 2), pytest.raises(TrainingInterrupted):
        train(tiny_config(*FP16_RUN), tmp_path / "cut", quiet=True)
    got = train(tiny_config(), tmp_path / "cut", resume=True, quiet=True).to_json()
    assert {k: got[k] for k in RESULT_KEYS} == {k: ref[k] for k in RESULT_KEYS}
    assert run_result(tmp_path / "cut") == run_result(tmp_path / "ref")
    # the scale and its growth count went on from where they were, not from a new scaler's
    assert raw_checkpoint(tmp_path / "cut" / "checkpoints" / "last.pt")["scaler"] == scaler


def test_a_cpu_run_trains_in_float32_and_says_so(trained):
    """``trained`` (conftest): the tiny run on the CPU, trained once for the session."""
    assert json.loads((trained / "summary.json").read_text())["precision"] == "fp32"
    assert raw_checkpoint(trained / "checkpoints" / "last.pt")["scaler"] is None
