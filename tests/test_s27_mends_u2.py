"""Small CLI truths: a model name like cat.py:Cat printed as typed (no emoji), a folder of runs named as
one by gradcheck and model info (trailing slash or not), --checkpoint with a .pt that is no file, and a
failed gradcheck's verdict naming the worst parameter."""

import shutil
import textwrap

import pytest

import vislab
from conftest import cli, one_line

CAT = textwrap.dedent(
    """
    import torch, torch.nn as nn
    import torch.nn.functional as F
    from vislab.models.hooks import ModelHooks, HandWrittenGradients

    class Cat(ModelHooks, nn.Module):
        def __init__(self, input_shape, num_classes, bug=False):
            super().__init__()
            self.l1, self.l2 = nn.Linear(input_shape[0], 3), nn.Linear(3, num_classes)
            self.bug = bug

        def forward(self, x):
            return self.l2(torch.tanh(self.l1(x)))

        def hand_written_gradients(self, x, y):
            h = torch.tanh(self.l1(x))
            d = (self.l2(h).softmax(1) - F.one_hot(y, self.l2.out_features)) / len(x)
            dpre = (d @ self.l2.weight) * (1 - h**2)
            db = 2 * d.sum(0) if self.bug else d.sum(0)
            grads = [dpre.T @ x, dpre.sum(0), d.T @ h, db]
            return HandWrittenGradients(grads, self(x), symbols=["W_h", "b_h", "W_y", "b_y"])
    """
)


@pytest.fixture
def cat(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cat.py").write_text(CAT)
    return "cat.py:Cat"


def test_a_model_name_with_a_colon_is_printed_as_typed_not_as_an_emoji(capsys, cat):
    code, text = cli(capsys, "model", "gradcheck", cat, "--input", "4")
    assert code == 0, text
    assert "cat.py:Cat: hand-written" in text and "🐱" not in text, text
    code, text = cli(capsys, "model", "info", cat, "--input", "2")
    assert code == 0, text
    assert "cat.py:Cat: input 2" in text and "🐱" not in text, text


@pytest.fixture
def runs_folder(trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(trained, tmp_path / "mruns" / "cnn")
    return "mruns"


@pytest.mark.parametrize("typed", ["mruns", "mruns/"])
def test_a_folder_of_runs_is_named_as_one_by_gradcheck_and_model_info(capsys, runs_folder, typed):
    code, text = cli(capsys, "model", "gradcheck", typed)
    assert code == 2, text
    said = one_line(text)
    assert "'mruns' is a folder of runs, e.g. 'mruns/cnn'" in said, said
    assert "`vislab model info mruns/cnn` / vislab.model_info('mruns/cnn') names" in said, said
    assert "unknown model" not in said and "is a run," not in said, said
    code, text = cli(capsys, "model", "info", typed)
    assert code != 0, text
    assert (
        "'mruns' is a folder of runs, not a run: give one of its runs, e.g. 'mruns/cnn'"
        in one_line(text)
    ), text
    code, text = cli(capsys, "model", "info", "mruns/cnn")  # the fix both give
    assert code == 0, text
    assert "mruns/cnn (mlp)" in text, text


def test_a_checkpoint_named_that_is_no_file_is_said_to_be_none(
    capsys, trained, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    code, text = cli(capsys, "eval", trained, "--checkpoint", "nonexist.pt")
    assert code == 2, text
    said = one_line(text)
    assert (
        "--checkpoint takes best or last; 'nonexist.pt' is no file (a checkpoint file is given as "
        "the TARGET)"
        in said.replace("Invalid value for '--checkpoint': it takes", "--checkpoint takes")
    ), said
    assert "is a checkpoint file" not in said, said


def test_a_failed_gradcheck_names_its_worst_parameter_and_symbol(capsys, cat):
    check = vislab.gradcheck(cat, (4,), bug=True)
    error = check.relative_errors["l2.bias"]
    assert error == check.max_error
    assert check.verdict() == f"max relative error {error:.2e} (l2.bias, b_y) > 1e-06: FAILED"
    code, text = cli(capsys, "model", "gradcheck", cat, "--input", "4", "--set", "bug=true")
    assert code == 1, text
    assert f"max relative error {error:.2e} (l2.bias, b_y) > 1e-06: FAILED" in one_line(text), text
    assert vislab.gradcheck(cat, (4,)).verdict().endswith("<= 1e-06: OK")


def test_a_tables_title_and_cells_of_the_users_names_are_printed_as_typed(capsys):
    from vislab.cli.terminal import print_table
    from vislab.experiments.results.table import TextTable

    title = "study my:cat: best 1 by val_acc (maximize)"
    print_table(TextTable(["trial", "model"], ["left", "left"], [["a:dog:", "cat.py:Cat:"]], title))
    text = capsys.readouterr().out
    assert title in text and "a:dog:" in text and "cat.py:Cat:" in text, text


def test_a_plain_folder_named_like_a_model_leaves_it_a_model_name(tmp_path, monkeypatch, capsys):
    """A folder that is no vislab folder and holds no run is not taken for a run: the registry's
    suggestion stands."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "resnet99").mkdir()
    code, text = cli(capsys, "model", "info", "resnet99")
    assert code == 2 and "Did you mean 'resnet18'?" in one_line(text), text
