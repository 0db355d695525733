"""``train.compile``: true (torch.compile) and "graphs" (compiled with CUDA graphs, mode
"reduce-overhead") train to the eager result within floating-point tolerance, and summary.json says they
compiled (a compile falling back to eager fails them); a wrong value is a config error. The CUDA test
skips cleanly without a GPU."""

from __future__ import annotations

import pytest
import torch

from conftest import tiny_config
from vislab.config import config_differences
from vislab.errors import ConfigError
from vislab.training.runtime import set_cudnn_benchmark
from vislab.training.trainer import train

RESULTS = ("train_loss", "val_loss", "test_loss")


def _run(tmp_path, name: str, *over: str) -> dict:
    """One epoch; no figures (drawn from the uncompiled model after training, ~0.5 s a run here)."""
    cfg = tiny_config("train.epochs=1", "train.figures=false", *over)
    return train(cfg, tmp_path / name, quiet=True).to_json()


def test_compile_accepts_true_and_graphs_and_names_the_choices():
    assert tiny_config("train.compile=graphs").train.compile == "graphs"
    assert tiny_config("train.compile=true").train.compile is True
    with pytest.raises(ConfigError, match="train.compile"):
        tiny_config("train.compile=fastest")


@pytest.fixture(scope="module")
def eager(tmp_path_factory) -> dict:
    """The eager run both CPU modes are compared with (its results, read only)."""
    return _run(tmp_path_factory.mktemp("compile"), "eager")


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["true", "graphs"])
def test_compiled_training_matches_eager_on_the_cpu(tmp_path, mode, eager, monkeypatch):
    from torch._inductor import config as inductor

    modes, real = [], torch.compile

    def spy(model, **kwargs):  # the mode each value asks torch.compile for
        modes.append(kwargs.get("mode"))
        return real(model, **kwargs)

    monkeypatch.setattr(torch, "compile", spy)
    # inductor's C++ kernels without SIMD: with it, a cold cache (a fresh CI machine) first compiles ATen's
    # vector headers once per instruction set to probe the CPU, then each kernel with them (32 s of
    # compiling instead of 5 s on a busy 2-core machine); the model is still compiled to C++ by inductor
    # and trained through it
    with inductor.patch({"cpp.vec_isa_ok": False}):
        compiled = _run(tmp_path, mode, f"train.compile={mode}")
    assert modes == [{"true": None, "graphs": "reduce-overhead"}[mode]]
    assert compiled["compiled"] == "compiled"  # not quietly eager (a CPU has no CUDA graphs)
    for key in RESULTS:  # inductor reorders float sums: equal up to rounding, not bit for bit
        assert compiled[key] == pytest.approx(eager[key], rel=1e-3, abs=1e-4), key
    assert compiled["epochs_run"] == eager["epochs_run"] == 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("model", ["cnn", "fast"])
def test_cuda_graphs_match_eager_within_bf16_tolerance(tmp_path, model):
    over = ["train.device=cuda", f"model.name={model}", "data.resize=32", "train.batch_size=64"]
    eager = _run(tmp_path, "eager", *over)
    graphs = _run(tmp_path, "graphs", *over, "train.compile=graphs")
    assert graphs["compiled"] == "graphs"  # compiled with CUDA graphs, not quietly eager
    for key in RESULTS:  # bf16 autocast: a few parts in a thousand
        assert graphs[key] == pytest.approx(eager[key], rel=2e-2, abs=2e-2), key


def test_cudnn_benchmark_switches_cudnn_for_cuda_runs_and_is_not_a_new_experiment():
    """``train.cudnn_benchmark`` sets cuDNN's process-wide switch for a CUDA run (each CUDA run sets it
    to its own value, so one run's choice never leaks into the next) and leaves CPU runs alone; a run
    resumed or joined with another value is the same experiment."""
    before = torch.backends.cudnn.benchmark
    try:
        set_cudnn_benchmark(torch.device("cuda"), True)
        assert torch.backends.cudnn.benchmark is True
        set_cudnn_benchmark(torch.device("cpu"), False)
        assert torch.backends.cudnn.benchmark is True  # a CPU run does not touch it
        set_cudnn_benchmark(torch.device("cuda"), False)
        assert torch.backends.cudnn.benchmark is False
    finally:
        torch.backends.cudnn.benchmark = before
    on = tiny_config("train.cudnn_benchmark=true")
    assert on.train.cudnn_benchmark is True and tiny_config().train.cudnn_benchmark is False
    assert config_differences(tiny_config().to_dict(), on.to_dict()) == []
