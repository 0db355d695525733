"""A Ctrl-C during training stops a notebook's loop of runs: TrainingInterrupted is a KeyboardInterrupt, as
the signal that caused it, so ``except Exception`` around each run (going on past a failed one) lets it by."""

from __future__ import annotations

import os
import signal

import pytest

import vislab
from conftest import DROP, notebook_cell, tiny_base
from vislab.errors import TrainingInterrupted
from vislab.training.state import Callback


class CtrlCAtFirstEpochEnd(Callback):
    def on_epoch_end(self, row):
        os.kill(os.getpid(), signal.SIGINT)  # the trainer's handler takes it, saves, then raises


def test_except_exception_in_a_loop_of_runs_lets_the_interruption_through(tmp_path):
    started = []
    with pytest.raises(TrainingInterrupted) as stopped:
        for lr in (1e-3, 1e-2, 1e-1):
            started.append(lr)
            try:
                vislab.train(
                    tiny_base(optim__lr=lr),
                    out=tmp_path / f"lr{lr}",
                    callbacks=[CtrlCAtFirstEpochEnd()],
                )
            except Exception:  # noqa: BLE001 - the student's "skip a run that fails"
                continue
    assert started == [1e-3]  # the loop stopped at the first run
    assert isinstance(stopped.value, KeyboardInterrupt)
    assert "resume" in str(stopped.value).lower()
    assert (tmp_path / "lr0.001" / "checkpoints" / "last.pt").is_file()  # nothing computed lost


NET = """
class NetInterrupted(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        return self.fc(x.flatten(1))
"""


def test_a_notebook_models_interruption_says_to_resume_from_python_only(notebook, tmp_path):
    notebook_cell(notebook, NET, "interrupted_cell1")
    with pytest.raises(TrainingInterrupted) as stopped:
        vislab.train(
            tiny_base(model=DROP), model=notebook["NetInterrupted"], out=tmp_path / "nb",
            callbacks=[CtrlCAtFirstEpochEnd()],
        )  # fmt: skip
    said = str(stopped.value)
    assert f"vislab.train(out={str(tmp_path / 'nb')!r}, resume=True)" in said
    assert "vislab train --resume" not in said  # a new process cannot build the notebook's class
    resumed = vislab.train(out=tmp_path / "nb", resume=True)  # as the message says
    assert resumed.summary["status"] == "complete"
