"""``train.compile`` says what happened: a compiler that fails at the first step (torch compiles there,
not when asked) leaves the run eager with one note naming the cause and the fix, recorded in
summary.json, and no torch log; on a CPU a note says what compiling costs; a wrong value is one line.
The compiler's failure is a failing torch.compile backend, and a working one dynamo's "eager" backend:
no C++ compile in these tests."""

from __future__ import annotations

import json
import logging

import pytest
import torch

from conftest import cli, one_line, tiny_config
from vislab.errors import ConfigError, Note
from vislab.training.compiling import compile_summary, forward_net
from vislab.training.runtime import Distributed
from vislab.training.trainer import train

CPU = torch.device("cpu")


def _no_cxx(*args, **kwargs):
    from torch._inductor.exc import InvalidCxxCompiler

    raise InvalidCxxCompiler()


@pytest.fixture
def compile_with(monkeypatch):
    """Make vislab's torch.compile use ``backend`` (keeping the mode it asks for)."""
    real = torch.compile

    def use(backend) -> None:
        def compiled(model, mode=None, **kwargs):
            return real(model, backend=backend, **kwargs)

        monkeypatch.setattr(torch, "compile", compiled)

    return use


def test_a_compiler_failing_at_the_first_step_leaves_the_run_eager_with_one_note(
    tmp_path, compile_with, monkeypatch, capfd
):
    import torch._inductor.config  # noqa: F401 - reads CXX once, at import: not the one set here

    compile_with(_no_cxx)
    monkeypatch.setenv("CXX", "/nonexistent/g++")
    cfg = tiny_config("train.epochs=1", "train.compile=true")
    summary = train(cfg, tmp_path / "run", quiet=True)
    written = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert written["compiled"].startswith("eager (compile failed: no C++ compiler")
    notes = [one_line(n) for n in written["notes_given"] if "compiling failed" in n]
    assert notes == [
        "train.compile: compiling failed (no C++ compiler: CXX=/nonexistent/g++ not found), so this "
        "run trains eagerly (uncompiled). To compile, install a C++ compiler (e.g. g++) or point CXX "
        "at one, or leave compiling off: --set train.compile=false / train__compile=False."
    ]
    assert summary.complete and summary.epochs_run == 1
    err = capfd.readouterr().err
    assert "WON'T CONVERT" not in err and "Traceback" not in err


def test_summary_says_what_ran_forward(compile_with):
    x = torch.randn(4, 8)
    eager = torch.nn.Linear(8, 3)
    assert compile_summary(forward_net(eager, False, Distributed(), CPU)[0]) == {}
    compile_with("eager")  # dynamo's backend that compiles nothing: fast
    net, graphs = forward_net(eager, True, Distributed(), CPU)
    assert torch.equal(net(x), eager(x)) and torch.equal(net(x), eager(x))  # first call, then later
    assert compile_summary(net) == {"compiled": "compiled"} and graphs is False
    net, _ = forward_net(torch.nn.Linear(8, 3), "graphs", Distributed(), CPU)
    net(x)
    assert compile_summary(net) == {"compiled": "compiled"}  # a CPU has no CUDA graphs to replay
    compile_with(_no_cxx)
    net, _ = forward_net(torch.nn.Linear(8, 3), True, Distributed(), CPU)
    with pytest.warns(Note, match="compiling failed"):
        net(x)
    assert compile_summary(net)["compiled"].startswith("eager (compile failed: no C++ compiler")


def test_the_models_own_error_is_raised_as_it_is_not_taken_for_the_compilers(compile_with):
    class Broken(torch.nn.Module):
        def forward(self, x):
            raise ValueError("the model's own mistake")

    compile_with(_no_cxx)
    net, _ = forward_net(Broken(), True, Distributed(), CPU)
    with pytest.raises(ValueError, match="the model's own mistake"):
        net(torch.randn(2, 3))


def test_on_a_cpu_a_note_says_what_compiling_costs_and_torch_says_nothing_of_cuda(
    compile_with, caplog
):
    compile_with("eager")
    with pytest.warns(Note) as shown:
        forward_net(torch.nn.Linear(8, 3), True, Distributed(), CPU)
    said = one_line(str(shown[0].message))
    assert said.startswith("train.compile on a CPU: the first steps compile the model, which takes")
    assert "train_time_s" in said and "--set train.compile=false / train__compile=False" in said
    with caplog.at_level(logging.WARNING):
        logging.getLogger("torch.utils.cpp_extension").warning(
            "No CUDA runtime is found, using CUDA_HOME='%s'", "/usr/local"
        )
    assert "CUDA_HOME" not in caplog.text


def test_a_wrong_compile_value_is_one_line_with_both_spellings(capsys):
    with pytest.raises(ConfigError) as raised:
        tiny_config("train.compile=max-autotune")
    problems = str(raised.value).splitlines()[1:]
    assert [one_line(p) for p in problems] == [
        "config value 'train.compile' = 'max-autotune' is invalid: train.compile is true, false or "
        "'graphs', not 'max-autotune': --set train.compile=true / train__compile=True (torch.compile's "
        "default mode), or --set train.compile=graphs / train__compile='graphs' (its "
        "'reduce-overhead', with CUDA graphs)."
    ]
    assert tiny_config("train.compile=yes").train.compile is True
    code, text = cli(capsys, "train", "--set", "data.name=digits", "--set", "train.compile=fastest")
    assert code != 0 and "train.compile is true, false or 'graphs', not 'fastest'" in one_line(text)


def test_a_model_making_its_own_step_is_not_compiled_and_summary_says_so(tmp_path, compile_with):
    compile_with("eager")
    cfg = tiny_config("model.name=mlp-scratch", "train.epochs=1", "train.compile=true")
    with pytest.warns(Note) as shown:
        train(cfg, tmp_path / "run", quiet=True)
    written = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert written["compiled"] == "eager (nothing compiled: its own step)"
    said = [one_line(str(w.message)) for w in shown if "train.compile" in str(w.message)]
    assert said == [
        "train.compile: this model makes its own step (manual_step), which torch.compile does not "
        "compile, so this run trains eagerly (uncompiled); leave compiling off for it: --set "
        "train.compile=false / train__compile=False."
    ]  # and no note that the first steps compile


def test_a_first_call_that_compiles_no_graph_is_recorded_as_eager(compile_with):
    class Skipped(torch.nn.Linear):
        @torch._dynamo.disable  # torch runs this forward as it is: no graph
        def forward(self, x):
            return super().forward(x)

    compile_with("eager")
    x = torch.randn(4, 8)
    net, _ = forward_net(Skipped(8, 3), True, Distributed(), torch.device("cuda"))
    with pytest.warns(Note, match="torch compiled no graph of the model's forward") as shown:
        out = net(x)
    assert "TORCH_LOGS=graph_breaks" in str(shown[0].message)
    assert torch.equal(out, net._orig_mod(x)) and torch.equal(net(x), out)
    assert compile_summary(net) == {"compiled": "eager (nothing compiled: no graph)"}
    # another instance of a class compiled before reuses its graph (torch counts no new one): compiled
    net, _ = forward_net(torch.nn.Linear(8, 3), True, Distributed(), torch.device("cuda"))
    net(x)
    net, _ = forward_net(torch.nn.Linear(8, 3), True, Distributed(), torch.device("cuda"))
    net(x)
    assert compile_summary(net) == {"compiled": "compiled"}


class _TwoProcesses(Distributed):
    """A Distributed that wraps the model as DistributedDataParallel would, without processes."""

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        return torch.nn.Sequential(model)


def test_a_data_parallel_net_is_not_compiled_and_summary_says_so(compile_with):
    compile_with("eager")
    with pytest.warns(Note) as shown:
        net, graphs = forward_net(torch.nn.Linear(8, 3), "graphs", _TwoProcesses(), CPU)
    assert compile_summary(net) == {"compiled": "eager (nothing compiled: DistributedDataParallel)"}
    assert graphs is False and not hasattr(net, "_orig_mod")
    assert [one_line(str(w.message)) for w in shown] == [
        "train.compile: torch.compile compiles no graph of a DistributedDataParallel-wrapped model "
        "here (--nproc), so this run trains eagerly (uncompiled); train in one process to compile, or "
        "leave compiling off: --set train.compile=false / train__compile=False."
    ]


def test_a_resume_that_compiled_otherwise_keeps_the_first_parts_record(tmp_path, compile_with):
    """epoch 1 eager (its compiler failed), resumed for epoch 2 with a working one: summary.json says
    both, in order, as threads and threads_resumed do."""
    run = tmp_path / "run"
    compile_with(_no_cxx)
    with pytest.warns(Note, match="compiling failed"):
        train(tiny_config("train.epochs=1", "train.compile=true"), run, quiet=True)
    compile_with("eager")
    train(None, run, resume=True, quiet=True, epochs=2)
    written = json.loads((run / "summary.json").read_text())
    assert written["epochs_run"] == 2
    assert written["compiled"].startswith("eager (compile failed: no C++ compiler")
    assert written["compiled_resumed"] == ["compiled"]


@pytest.mark.parametrize("first, then", [(True, False), (False, True)])
def test_a_resume_that_turns_compile_on_or_off_records_each_part(
    tmp_path, compile_with, first, then
):
    """train.compile may change on a resume (it changes no result): summary.json says what each part ran,
    and nothing of compiling only where no part compiled."""
    compile_with("eager")
    run = tmp_path / "run"
    train(tiny_config("train.epochs=1", f"train.compile={str(first).lower()}"), run, quiet=True)
    resumed = tiny_config("train.epochs=1", f"train.compile={str(then).lower()}")
    train(resumed, run, resume=True, quiet=True, epochs=2)
    written = json.loads((run / "summary.json").read_text())
    parts = [written["compiled"], *written["compiled_resumed"]]
    assert parts == (
        ["compiled", "eager (train.compile off)"]
        if first
        else ["eager (train.compile off)", "compiled"]
    )


def test_a_run_never_compiled_has_no_compiled_record(tmp_path):
    run = tmp_path / "run"
    train(tiny_config("train.epochs=1"), run, quiet=True)
    train(None, run, resume=True, quiet=True, epochs=2)
    written = json.loads((run / "summary.json").read_text())
    assert "compiled" not in written and "compiled_resumed" not in written
