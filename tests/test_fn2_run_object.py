"""A beginner's Run object in a notebook: its figures (a boundary asked of an image run, the step losses of
its curves, ``fig.show()``), the curves of several runs on one figure, a Ctrl-C and an import it stopped."""

from __future__ import annotations

import builtins
import os
import signal
import subprocess
import sys
import traceback
import types

import IPython.display
import pytest

import vislab
from conftest import DROP, notebook_cell, tiny_base
from vislab.errors import Note, TrainingInterrupted, UserError
from vislab.models import unregister_model
from vislab.training.state import Callback


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two tiny runs of an lr study, each logging its loss every 2 steps (steps.jsonl)."""
    folder = tmp_path_factory.mktemp("fn2") / "study"
    return [
        vislab.train(
            tiny_base(optim__lr=lr, train__log_every=2, train__epochs=2),
            out=folder / f"lr{lr}",
        )
        for lr in (0.1, 0.01)
    ]


def _legend(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]


NET = """
class NetFN2(nn.Module):
    def __init__(self, num_classes, input_shape):
        super().__init__()
        self.fc = nn.Linear(input_shape[0] * input_shape[1] * input_shape[2], num_classes)

    def forward(self, x):
        return self.fc(x.flatten(1))
"""


def test_a_boundary_of_an_image_run_says_why_before_it_needs_the_model(notebook, tmp_path):
    notebook_cell(notebook, NET, "fn2_cell1")
    run = vislab.train(tiny_base(model=DROP), model=notebook["NetFN2"], out=tmp_path / "net")
    unregister_model(
        "user-NetFN2"
    )  # as in a new process, where the notebook's class is not defined
    with pytest.raises(UserError, match=r"shape \(1, 8, 8\): a decision boundary needs 2-D"):
        vislab.load_run(run.path).plot("boundary")


class CtrlCAtFirstEpochEnd(Callback):
    def on_epoch_end(self, row):
        os.kill(os.getpid(), signal.SIGINT)  # the trainer's handler takes it, saves, then raises


def test_a_ctrl_c_in_train_shows_the_callers_line_then_the_message(tmp_path):
    with pytest.raises(TrainingInterrupted) as stopped:
        vislab.train(tiny_base(), out=tmp_path / "int", callbacks=[CtrlCAtFirstEpochEnd()])
    assert isinstance(stopped.value, KeyboardInterrupt)  # a notebook's loop of runs still stops
    shown = traceback.extract_tb(stopped.value.__traceback__)
    assert [(f.filename, f.name) for f in shown] == [(__file__, sys._getframe().f_code.co_name)]
    assert "resume=True" in str(stopped.value)


INTERRUPTED_IMPORT = """
import importlib.abc, sys

class CtrlCInYaml(importlib.abc.MetaPathFinder):  # the Ctrl-C comes as the first call imports yaml
    def find_spec(self, name, path=None, target=None):
        if name == "yaml.cyaml" and not sys.modules.get("stopped"):
            sys.modules["stopped"] = sys
            raise KeyboardInterrupt

sys.meta_path.insert(0, CtrlCInYaml())
import vislab
try:
    getattr(vislab, sys.argv[2])
except KeyboardInterrupt:
    print("interrupted")
print(vislab.load_run(sys.argv[1]).config.optim.lr)
"""


@pytest.mark.parametrize("first", ["train", "load_config"])  # vislab.api's; another module's
def test_a_ctrl_c_during_the_first_calls_imports_leaves_later_calls_working(runs, first):
    out = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_IMPORT, str(runs[0].path), first],
        check=False,
        capture_output=True,
        text=True,
    )
    assert out.stdout.split() == ["interrupted", "0.1"], out.stderr[-2000:]


def test_fig_show_displays_it_in_a_notebook_and_says_what_to_do_elsewhere(runs, monkeypatch):
    fig = runs[0].plot("curves")
    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    kernel = types.SimpleNamespace(kernel=object())  # a notebook's shell has a kernel
    monkeypatch.setattr(builtins, "get_ipython", lambda: kernel, raising=False)
    fig.show()
    assert shown == [fig]
    monkeypatch.delattr(builtins, "get_ipython")  # a script
    with pytest.warns(Note, match=r"notebook only.*fig\.savefig\('figure\.png'\)"):
        fig.show()
    assert shown == [fig]


def test_run_plot_curves_draws_the_step_losses_as_the_runs_own_curves_png(runs):
    assert "train (steps)" in _legend(runs[0].plot("curves"))


def test_plot_curves_draws_several_runs_on_one_figure(runs):
    fig = vislab.plot_curves([runs[0], runs[1].path])
    assert fig.axes[0].get_ylabel() == "loss" and fig.axes[1].get_ylabel() == "accuracy"
    assert {"lr0.1", "lr0.01"} <= set(_legend(fig))
    folder = runs[0].path.parent  # the folder holding them: the same runs
    assert {"lr0.1", "lr0.01"} <= set(_legend(vislab.plot_curves(folder)))


def test_write_report_of_several_runs_says_what_to_do(runs):
    with pytest.raises(UserError) as refused:
        vislab.write_report([r.path for r in runs], log=None)
    said = str(refused.value)
    assert "takes one folder, not 2" in said
    assert f"vislab.write_report({str(runs[0].path.parent)!r})" in said
    assert "vislab.plot_curves([" in said and "vislab.compare([" in said
