"""Defects a second explorer's session found in the training vocabulary's tools: lr-find on a short test
suggested the learning rate of the loss minimum itself; explain lacked --checkpoint."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import vislab
from conftest import cli
from vislab.config import build_config
from vislab.config.notes import config_notes
from vislab.errors import UserError
from vislab.training.lr_curve import suggest


def test_a_short_tests_steepest_last_step_into_the_minimum_is_not_suggested():
    """Five steps: the loss falls most on the step into its minimum (1.8 → 1.0). The minimum's lr (the
    edge of divergence) was suggested; now the steepest point before it is."""
    lrs = list(np.logspace(-3, 1, 5))
    smoothed = [2.0, 1.9, 1.8, 1.0, 3.0]
    assert suggest(lrs, smoothed) == lrs[2]
    assert suggest(lrs, smoothed) < lrs[int(np.argmin(smoothed))]


@pytest.mark.skipif(importlib.util.find_spec("captum") is None, reason="captum not installed")
def test_explain_takes_checkpoint_last_as_eval_predict_and_export_do(
    capsys, trained, digit_png, tmp_path
):
    """`vislab explain RUN IMG --checkpoint last` draws from last.pt, named so (it was "No such
    option": only RUN/checkpoints/last.pt worked)."""
    out = tmp_path / "maps"
    code, text = cli(
        capsys,
        "explain",
        trained,
        digit_png,
        "--method",
        "saliency",
        "--checkpoint",
        "last",
        "--out",
        out,
    )
    assert code == 0, text
    assert (out / "seven_saliency_last.png").is_file(), sorted(p.name for p in out.iterdir())


@pytest.mark.parametrize(
    ("sets", "said"),
    [
        (
            ["train.eval_every=5", "train.epochs=2"],
            "the run's 1 evaluation (train.epochs=2, train.eval_every=5)",
        ),
        (["train.epochs=3"], "the run's 3 evaluations (train.epochs=3)"),
    ],
)
def test_an_early_stop_that_cannot_come_is_noted(sets, said):
    """train.early_stop=2 stops at evaluation 3 at the earliest; with 1 (or 3: the last) there is nothing
    left to save — as schedule.patience gets its note, early_stop now does."""
    notes = config_notes(build_config({}, ["train.early_stop=2", *sets]))
    assert any(n.startswith(f"train.early_stop=2 does nothing with {said}: ") for n in notes), notes
    assert not config_notes(build_config({}, ["train.early_stop=2", "train.epochs=4"]))


@pytest.mark.parametrize("name", ["timm:foo", "examples/x.py:Net", "my net", ""])
def test_register_model_refuses_a_name_that_would_hide_another_kind_of_model(name):
    """ "timm:foo" registered a class that vislab.train(model="timm:foo") then trained in timm's place."""
    with pytest.raises(UserError, match="a model's name is one word without ':'"):
        vislab.register_model(name)
