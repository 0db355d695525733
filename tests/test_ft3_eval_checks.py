"""What a teacher re-evaluating students' runs found: vislab eval (Run.evaluate) of a run's data elsewhere
(--set data.root=OTHER) whose images are not the ones the run trained on says so, as it does of the run's
own data changed since; --set model.name on a run of a notebook's class names how to score it in Python."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import vislab
from conftest import DROP, TINY_RUN, cli, notebook_cell, one_line, tiny_base
from fixtures import MNIST_FILES, write_idx, write_mnist
from vislab.errors import Note
from vislab.models import unregister_model


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny run on MNIST-format files (1 epoch of a 16-unit MLP), and the folder of its data."""
    root = tmp_path_factory.mktemp("mnist") / "mnist"
    write_mnist(root, n_train=100, n_test=40)
    run = vislab.train(
        data="mnist",
        data__root=str(root),
        train__batch_size=45,
        out=root.parent / "run",
        quiet=True,
        **TINY_RUN,
    )
    return run.path, root


def copied(to: Path, invert: bool) -> Path:
    """The run's MNIST files (:func:`write_mnist`, seed 0) written again into ``to``, their pixels
    inverted where ``invert``: the same labels, other images."""
    data = write_mnist(to, n_train=100, n_test=40)
    for key, (x, _) in data.items() if invert else ():
        write_idx(to / f"{MNIST_FILES[key][0]}.gz", 255 - x)
    return to


def data_notes(run: Path, **settings: str) -> list[str]:
    """The notes ``vislab.load_run(run).evaluate(**settings)`` warns."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vislab.load_run(run).evaluate(**settings)
    return [one_line(str(w.message)) for w in caught if issubclass(w.category, Note)]


def test_eval_notes_a_data_root_whose_images_are_not_the_ones_the_run_trained_on(
    mnist_run, tmp_path, capsys
):
    run, root = mnist_run
    same = copied(tmp_path / "same", invert=False)
    assert data_notes(run, data__root=str(same)) == []  # a copy of the same images: nothing to say
    other = tmp_path / "other"  # other data (10 more test images): no copy of the run's to note
    write_mnist(other, n_train=100, n_test=50, seed=3)
    assert not any("holds as many" in n for n in data_notes(run, data__root=str(other)))
    inverted = copied(tmp_path / "inverted", invert=True)
    (note,) = data_notes(run, data__root=str(inverted))
    assert f"data.root '{inverted}' holds as many samples of each class" in note, note
    assert "(images replaced by others of the same labels" in note, note
    assert "test split there is not the one the run held out" in note, note
    code, text = cli(
        capsys, "eval", run, "--set", f"data.root={inverted}", "--out", tmp_path / "ev",
        "--mistakes", "0",
    )  # fmt: skip
    assert code == 0 and "note: data.root" in text and "images replaced by others" in text, text


TINY_NET = """
import torch.nn as nn


class TinyNet(nn.Module):
    def __init__(self, num_classes: int, input_shape: tuple):
        super().__init__()
        c, h, w = input_shape
        self.fc = nn.Linear(c * h * w, num_classes)

    def forward(self, x):
        return self.fc(x.flatten(1))
"""


def test_eval_set_model_name_on_a_run_of_a_notebook_class_names_how_to_score_it(
    notebook, tmp_path, capsys
):
    notebook_cell(notebook, TINY_NET, "cell1")
    run = vislab.train(
        tiny_base(train__seed=0, model=DROP), model=notebook["TinyNet"], out=tmp_path / "run"
    )
    assert run.summary["model"] == "user-TinyNet"
    code, text = cli(capsys, "eval", run.path, "--set", "model.name=tinynet.py:TinyNet")
    text = one_line(text)
    assert code == 2 and "setting 'model.name=tinynet.py:TinyNet'" in text, text
    fix = f"vislab.register_model('user-TinyNet')(TinyNet), then vislab.load_run('{run.path}')"
    assert fix in text, text
    # the fix it names works where the class is defined but not registered (another process)
    unregister_model("user-TinyNet")
    vislab.register_model("user-TinyNet")(notebook["TinyNet"])
    assert vislab.load_run(run.path).evaluate()["acc"] == pytest.approx(run.summary["test_acc"])
