"""A Ctrl-C during training stops a notebook's loop of runs: TrainingInterrupted is a KeyboardInterrupt, as
the signal that caused it, so ``except Exception`` around each run (going on past a failed one) lets it by."""

from __future__ import annotations

import os
import signal

import pytest

import vislab
from conftest import tiny_base
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
