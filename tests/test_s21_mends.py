"""Leftovers mended in the twenty-first session: a notebook cell resumed without a setting it trained with."""

from __future__ import annotations

import json

import pytest

import vislab
from conftest import DROP, one_line, tiny_base
from test_fn1_train_calls import Net
from vislab.errors import UserError

CFG = tiny_base(train__seed=0, model=DROP, train__epochs=DROP)


def test_a_resumed_cell_missing_a_setting_is_told_the_argument_that_keeps_the_runs_value(tmp_path):
    out = tmp_path / "run"
    vislab.train(CFG, model=Net, out=out, epochs=1, optim__lr=0.1, optim__weight_decay=0.01)
    # the cell edited: both settings removed; optim__momentum given anew (the user's own change)
    with pytest.raises(UserError) as e:
        vislab.train(CFG, model=Net, out=out, epochs=2, resume=True, optim__momentum=0.5)
    said = one_line(str(e.value))
    assert "optim__lr=0.1, optim__weight_decay=0.01 keeps the run's values." in said, said
    assert "optim__momentum=" not in said.split("change it:")[1].split("keeps")[0], said
    # the fix, tried: the cell with them resumes the run to 2 epochs
    vislab.train(
        CFG, model=Net, out=out, epochs=2, resume=True, optim__lr=0.1, optim__weight_decay=0.01
    )
    assert json.loads((out / "summary.json").read_text())["epochs_run"] == 2
