"""What a notebook user of the Python API found: a mistake (a vislab UserError) shows the user's own
frames and the message, not vislab's frames, while a bug keeps its whole traceback; gradcheck takes a
notebook's class as train and model_info do, and refuses a run in Python's words; a comment or a
docstring added to a notebook's class does not lock its runs; a taken name in register_model is a
UserError saying how to go on; captum's "IProgress not found" warning is not shown; run.plot's figure
says how to show and save it."""

import shutil
import traceback
from pathlib import Path

import numpy as np
import pytest

import vislab
from conftest import DROP, notebook_cell, tiny_base
from vislab.errors import UserCodeError, UserError

QUICK = tiny_base(train__seed=0, model=DROP)
VISLAB = str(Path(vislab.__file__).parent)


def _cell(namespace: dict, source: str, number: int) -> None:
    notebook_cell(namespace, source, f"xn_cell{number}")


def _files(error: BaseException) -> list[str]:
    """The files of the frames a traceback of ``error`` shows (as a notebook or a terminal would)."""
    shown = traceback.format_exception(type(error), error, error.__traceback__)
    return [line.split('"')[1] for line in shown if line.startswith('  File "')]


def _my_cell_calls(fn, *args, **kwargs):
    return fn(*args, **kwargs)  # the user's own frame, above vislab's


def test_a_user_error_shows_the_users_frames_not_vislabs(tmp_path):
    with pytest.raises(UserError, match="give a positive tolerance") as refused:
        _my_cell_calls(vislab.gradcheck, tol=-1)
    files = _files(refused.value)
    assert __file__ in files and not [f for f in files if f.startswith(VISLAB)]
    # a mistake found deep inside vislab.train (the run exists): the same
    (tmp_path / "r" / "checkpoints").mkdir(parents=True)
    (tmp_path / "r" / "checkpoints" / "last.pt").write_bytes(b"")
    with pytest.raises(UserError, match="already holds a run") as refused:
        _my_cell_calls(vislab.train, QUICK, out=tmp_path / "r")
    assert not [f for f in _files(refused.value) if f.startswith(VISLAB)]


def test_a_runs_properties_and_register_arrays_show_the_users_frames_too(trained, tmp_path):
    """Run.summary/config/history and register_arrays go through the same boundary as the functions."""
    shutil.copytree(trained, tmp_path / "run")
    run = vislab.Run(tmp_path / "run")
    (tmp_path / "run" / "summary.json").write_text("{cut short")
    with pytest.raises(UserError, match="summary.json") as refused:
        _my_cell_calls(lambda: run.summary)
    assert not [f for f in _files(refused.value) if f.startswith(VISLAB)]
    with pytest.raises(UserError) as refused:
        _my_cell_calls(vislab.register_arrays, np.zeros((3, 8, 8)), np.zeros(4))
    assert not [f for f in _files(refused.value) if f.startswith(VISLAB)], _files(refused.value)


def test_the_users_own_frames_inside_vislabs_stay(tmp_path):
    class Reopen(vislab.Callback):  # the user's code, called by vislab.train, makes the mistake
        def on_epoch_end(self, row: dict) -> None:
            vislab.load_run(tmp_path / "no-run")

    with pytest.raises(UserError, match="give the folder a run was trained into") as refused:
        _my_cell_calls(vislab.train, QUICK, out=tmp_path / "r", callbacks=[Reopen()])
    shown = traceback.extract_tb(refused.value.__traceback__)
    assert [f.name for f in shown] == [
        "test_the_users_own_frames_inside_vislabs_stay",
        "_my_cell_calls",
        "on_epoch_end",
    ]


def test_a_bug_of_vislabs_keeps_its_whole_traceback(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("vislab.api.models.gradcheck_model", broken)
    with pytest.raises(RuntimeError, match="a bug") as failed:
        _my_cell_calls(vislab.gradcheck)
    assert str(Path(VISLAB) / "api" / "models.py") in _files(failed.value)


def test_register_model_refuses_a_taken_name_as_a_user_error_saying_how_to_go_on(notebook):
    with pytest.raises(UserError, match="one of vislab's models") as refused:
        _cell(notebook, '@vislab.register_model("cnn")\nclass MyCNN(nn.Module): pass\n', 1)
    assert "@vislab.register_model('mycnn')" in str(refused.value)
    assert isinstance(refused.value, ValueError)  # what it was before: still caught as such
    assert not [f for f in _files(refused.value) if f.startswith(VISLAB)]
    _cell(notebook, '@vislab.register_model("tiny-xn")\nclass TinyXN(nn.Module): pass\n', 2)
    with pytest.raises(UserError) as refused:  # the cell run again, its class renamed
        _cell(notebook, '@vislab.register_model("tiny-xn")\nclass TinyXNet(nn.Module): pass\n', 3)
    said = str(refused.value)
    assert "already registered by __main__.TinyXN" in said and "'tinyxnet'" in said
    assert "name it TinyXN again" in said and "restart the kernel" in said
    _cell(notebook, '@vislab.register_model("tinyxnet")\nclass TinyXNet(nn.Module): pass\n', 4)
    _cell(notebook, '@vislab.register_model("tiny-xn")\nclass TinyXN(nn.Module): x = 1\n', 5)


HAND = """
from vislab.models.scratch import ScratchMLP


class HandXN(ScratchMLP):
    def __init__(self, num_classes, input_shape, hidden: int = 8):
        super().__init__(int(np.prod(input_shape)), [hidden], num_classes, "manual", 0.3)
"""


def test_gradcheck_takes_a_notebooks_class_and_refuses_a_run_in_pythons_words(notebook, tmp_path):
    notebook["np"] = np
    _cell(notebook, HAND, 1)
    check = vislab.gradcheck(notebook["HandXN"], hidden=4)
    assert check.passed and check.model == "user-HandXN"
    (tmp_path / "r" / "checkpoints").mkdir(parents=True)
    (tmp_path / "r" / "checkpoints" / "last.pt").write_bytes(b"")
    with pytest.raises(UserError) as refused:
        vislab.gradcheck(tmp_path / "r")
    said = str(refused.value)
    assert f"'{tmp_path / 'r'}' is a folder" in said and "not a run's weights" in said
    assert "vislab model info" not in said and "vislab.gradcheck(Net)" in said


FLAT = """
class FlatXN(nn.Module):{doc}
    def __init__(self, num_classes, input_shape):
        super().__init__()
        self.fc = nn.Linear(int(np.prod(input_shape)), num_classes{bias}){comment}

    def forward(self, x):
        return self.fc(x.flatten(1))
"""


def test_a_comment_or_docstring_added_to_a_notebooks_class_does_not_lock_its_runs(
    notebook, tmp_path
):
    notebook["np"] = np
    _cell(notebook, FLAT.format(doc="", bias="", comment=""), 1)
    run = vislab.train(QUICK, model=notebook["FlatXN"], out=tmp_path / "r")
    edited = FLAT.format(doc='\n    """My flat model."""', bias="", comment="  # a comment")
    _cell(notebook, edited, 2)
    assert len(run.predict([np.zeros((8, 8))])[0]) == 3  # was: UserCodeError, redefined since
    assert vislab.train(out=tmp_path / "r", resume=True, epochs=2).summary["epochs_run"] == 2
    _cell(notebook, FLAT.format(doc="", bias=", bias=False", comment=""), 3)  # the code changed
    with pytest.raises(UserCodeError, match="redefined since"):
        run.predict([np.zeros((8, 8))])
