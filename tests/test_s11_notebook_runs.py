"""What a student who writes models in a notebook found: the error of a model class of theirs mid-training
left no record (no summary.json) and said nothing of what was kept — it now ends the run "failed", keeps
what was trained and re-raises the user's own exception with a note saying so and how to go on; and a cell
run again with ``resume=True`` added was refused for giving its model and data — the run's own are now
accepted, anything else refused naming what differs."""

import pytest
import torch

import vislab
from conftest import DROP, notebook_cell, tiny_base
from vislab.errors import UserError
from vislab.models.hooks import ModelHooks

# 200 digits in batches of 32: 6 steps an epoch (the set-up's check of train mode counts 1 step more)
QUICK = tiny_base(train__seed=0, model=DROP)

LATE = """
{decorator}
class LateN2(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.fc = nn.Linear(64, num_classes)
        self.steps = 0

    def forward(self, x):
        if self.training:
            self.steps += 1
        {bug}
        return self.fc(x.flatten(1))
"""
STEP_BUG = "if self.training and self.steps > 10: raise ValueError('my bug at step 11')"  # epoch 2
EVAL_BUG = "if not self.training and self.steps > 10: raise ValueError('my bug in evaluation')"


def _cell(namespace: dict, source: str, number: int) -> None:
    notebook_cell(namespace, source, f"n2_cell{number}")


@pytest.mark.parametrize(
    ("decorator", "model", "given"),
    [
        ("", None, "model=LateN2"),
        ('@vislab.register_model("late-n2")', "late-n2", "model='late-n2'"),
    ],
)
def test_a_notebook_models_error_ends_the_run_failed_and_notes_what_was_kept(
    notebook, tmp_path, decorator, model, given
):
    _cell(notebook, LATE.format(decorator=decorator, bug=STEP_BUG), 1)
    out = tmp_path / "r"
    with pytest.raises(ValueError, match="my bug at step 11") as raised:  # the user's own exception
        vislab.train(QUICK, model=model or notebook["LateN2"], out=out, epochs=4)
    note = "\n".join(getattr(raised.value, "__notes__", []))
    run = vislab.load_run(out)
    assert run.summary["status"] == "failed" and run.summary["epochs_run"] == 1  # was: {}
    assert (
        f"its last checkpoint, {out / 'checkpoints' / 'last.pt'} (after epoch 1), is kept" in note
    )
    assert f"vislab.train({given}, ..., out={str(out)!r}, overwrite=True)" in note
    _cell(notebook, LATE.format(decorator=decorator, bug="pass"), 2)  # the bug fixed
    with pytest.raises(UserError, match="redefined since"):  # as the note says: no resume
        vislab.train(QUICK, model=model or notebook["LateN2"], out=out, epochs=4, resume=True)
    fixed = vislab.train(QUICK, model=model or notebook["LateN2"], out=out, overwrite=True)
    assert fixed.summary["status"] == "complete"


def test_an_error_in_the_evaluation_keeps_the_epochs_training_steps(notebook, tmp_path):
    _cell(notebook, LATE.format(decorator="", bug=EVAL_BUG), 1)
    with pytest.raises(ValueError, match="my bug in evaluation") as raised:
        vislab.train(QUICK, model=notebook["LateN2"], out=tmp_path / "r", epochs=3)
    note = "\n".join(getattr(raised.value, "__notes__", []))
    assert "in the evaluation after training epoch 2" in note
    assert "epoch 2's training steps are saved in" in note and "resuming evaluates them" in note
    summary = vislab.load_run(tmp_path / "r").summary
    assert summary["status"] == "failed" and summary["epochs_run"] == 1 and summary["step"] > 0


def test_an_error_before_the_first_checkpoint_says_to_run_the_cell_again(notebook, tmp_path):
    _cell(notebook, LATE.format(decorator="", bug=STEP_BUG.replace("10", "3")), 1)  # in epoch 1
    with pytest.raises(ValueError, match="my bug at step 11") as raised:
        vislab.train(QUICK, model=notebook["LateN2"], out=tmp_path / "r")
    note = "\n".join(getattr(raised.value, "__notes__", []))
    assert "before its first checkpoint" in note
    assert f"run vislab.train(model=LateN2, ..., out={str(tmp_path / 'r')!r})" in note
    assert vislab.load_run(tmp_path / "r").summary["status"] == "failed"
    _cell(notebook, LATE.format(decorator="", bug="pass"), 2)  # fixed: the same call trains it
    fixed = vislab.train(QUICK, model=notebook["LateN2"], out=tmp_path / "r")
    assert fixed.summary["status"] == "complete"


FITTED = """
class FittedN2(ModelHooks, nn.Module):
    trained_by = "fit_arrays"

    def __init__(self, num_classes):
        super().__init__()
        self.fc = nn.Linear(64, num_classes)
        self.scored = None

    def fit_arrays(self, x, y):
        self.scored = 0

    def forward(self, x):
        if self.scored is not None:
            self.scored += 1
            if self.scored > 2:  # the fit's 2 splits scored: the final evaluation's first
                raise ValueError("my bug after the fit")
        return self.fc(x.flatten(1))
"""


def test_a_fitted_models_error_after_its_fit_ends_the_run_failed_with_one_note(notebook, tmp_path):
    notebook["ModelHooks"] = ModelHooks
    _cell(notebook, FITTED, 1)
    with pytest.raises(ValueError, match="my bug after the fit") as raised:
        vislab.train(QUICK, model=notebook["FittedN2"], out=tmp_path / "r")
    notes = getattr(raised.value, "__notes__", [])
    assert len(notes) == 1 and "raised this while fitting it on the train split" in notes[0], notes
    assert f"its last checkpoint, {tmp_path / 'r' / 'checkpoints' / 'last.pt'}, is kept" in notes[0]
    assert vislab.load_run(tmp_path / "r").summary["status"] == "failed"


def test_a_built_in_models_exception_gets_no_note(tmp_path, monkeypatch):
    real = torch.nn.Sequential.forward  # the mlp is one

    def broken(self, x):
        if self.training:
            raise ValueError("a bug in a built-in model")
        return real(self, x)

    monkeypatch.setattr(torch.nn.Sequential, "forward", broken)
    with pytest.raises(ValueError, match="a bug in a built-in model") as raised:
        vislab.train(QUICK, model="mlp", out=tmp_path / "r")
    assert not getattr(raised.value, "__notes__", None)


@pytest.mark.parametrize("model", ["mlp", "notebook"])
def test_a_cell_run_again_with_resume_true_continues_its_run(notebook, tmp_path, model):
    _cell(notebook, LATE.format(decorator="", bug="pass"), 1)
    cell = dict(model=notebook["LateN2"] if model == "notebook" else model, data="digits")
    cell |= dict(out=tmp_path / "r", train__device="cpu", train__figures=False, data__limit=200)
    vislab.train(train__epochs=1, **cell)
    run = vislab.train(
        train__epochs=1, resume=True, **cell
    )  # was: "give out=... and no model, data"
    assert run.summary["status"] == "complete" and run.summary["epochs_run"] == 1
    run = vislab.train(epochs=2, resume=True, **cell)  # trained on to 2 epochs
    assert run.summary["epochs_run"] == 2


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"model": "cnn"}, "model.name: 'user-LateN2' → 'cnn'"),
        ({"data": "iris"}, "data.name: 'digits' → 'iris'"),
        ({"optim__lr": 0.5}, "optim.lr: 0.001 → 0.5"),
        ({"train__epochs": 3}, "train.epochs: 1 → 3. To train it on to 3 epochs, give epochs=3"),
    ],
)
def test_a_resume_given_other_arguments_than_the_runs_is_refused_naming_them(
    notebook, tmp_path, change, named
):
    _cell(notebook, LATE.format(decorator="", bug="pass"), 1)
    cell = dict(model=notebook["LateN2"], data="digits", out=tmp_path / "r", train__epochs=1)
    vislab.train(QUICK, **cell)
    with pytest.raises(UserError, match="the arguments given change it") as refused:
        vislab.train(QUICK, resume=True, **(cell | change))
    assert named in str(refused.value)
    assert vislab.load_run(tmp_path / "r").summary["epochs_run"] == 1  # nothing trained on
