"""A run another process is still training: scoring it (eval, run.evaluate, predict) says that its
checkpoints are of the epochs so far, and a Python caller told to choose another folder is told ``out=``."""

from __future__ import annotations

import os
import shutil
import socket
import warnings

import pytest

import vislab
from conftest import TINY_RUN, cli, one_line


@pytest.fixture
def live(trained, tmp_path):
    """A copy of a finished run whose lock a live process of this host holds (pytest's parent)."""
    run = tmp_path / "live"
    shutil.copytree(trained, run)
    (run / ".lock").write_text(f"{os.getppid()} {socket.gethostname()}")
    return run


def _notes(call) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [one_line(str(w.message)) for w in caught if "still training" in str(w.message)]


def test_scoring_a_run_still_training_says_so_and_a_finished_one_does_not(live, trained):
    (note,) = _notes(lambda: vislab.load_run(live).evaluate())
    assert f"run '{live}' is still training (vislab process {os.getppid()})" in note, note
    assert "not the run's final result" in note, note
    assert not _notes(lambda: vislab.load_run(trained).evaluate())
    (live / ".lock").unlink()  # it finished
    assert not _notes(lambda: vislab.load_run(live).evaluate())


def test_the_eval_command_says_it_too(live, capsys):
    code, text = cli(capsys, "eval", live)
    assert code == 0, text
    assert f"run '{live}' is still training" in one_line(text), text


def test_resuming_a_run_in_use_from_python_names_out(live):
    with pytest.raises(vislab.UserError) as e:
        vislab.train(data="digits", out=live, overwrite=True, **TINY_RUN)
    assert "choose another --out (Python: out=)" in one_line(str(e.value)), e.value
