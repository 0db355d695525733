"""What a teacher re-evaluating students' runs found: vislab eval (Run.evaluate) says where the run's
summary.json records another score than its checkpoint gets on the same split of the same data (a
hand-edited summary), and refuses --set model.name before it rebuilds the model (a notebook class's run
elsewhere: the setting is said, not left behind an unknown model's error)."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import vislab
from conftest import DROP, cli, notebook_cell, one_line, tiny_base
from test_ft3_eval_checks import TINY_NET
from vislab.errors import Note
from vislab.models import unregister_model


def notes(run: Path, split: str = "test", **settings: str) -> list[str]:
    """The notes ``vislab.load_run(run).evaluate(split, **settings)`` warns."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vislab.load_run(run).evaluate(split, **settings)
    return [one_line(str(w.message)) for w in caught if issubclass(w.category, Note)]


def test_eval_says_where_summary_json_records_another_score(trained, tmp_path, capsys):
    run = tmp_path / "s11"
    shutil.copytree(trained, run)
    assert notes(run) == [] and notes(run, "val") == []  # as trained: nothing to say
    summary = json.loads((run / "summary.json").read_text())
    real = summary["test_acc"]
    summary.update(test_acc=0.99, val_acc=0.97)  # a student's hand-edited summary
    (run / "summary.json").write_text(json.dumps(summary))
    (note,) = notes(run, "val")
    assert f"'{run / 'summary.json'}' records val_acc 0.9700 for these weights" in note, note
    code, text = cli(capsys, "eval", run, "--out", tmp_path / "ev", "--mistakes", "0")
    text = one_line(text)
    assert code == 0 and "records test_acc 0.9900 for these weights, which get " in text, text
    assert f"get {real:.4f} now, on the same test split of the same data" in text, text
    assert f"test: acc {real:.4f}" in text, text
    # other samples than the run's test split: no score of them to compare
    assert notes(run, data__limit_eval=20) == []


def test_eval_refuses_set_model_name_before_rebuilding_a_notebook_class_it_cannot_find(
    notebook, tmp_path, capsys
):
    notebook_cell(notebook, TINY_NET, "cell1")
    run = vislab.train(
        tiny_base(train__seed=0, model=DROP), model=notebook["TinyNet"], out=tmp_path / "run"
    )
    unregister_model("user-TinyNet")  # what another process sees: no such model
    code, text = cli(capsys, "eval", run.path, "--set", "model.name=tinynet.py:TinyNet")
    text = one_line(text)
    assert code == 2 and "setting 'model.name=tinynet.py:TinyNet'" in text, text
    assert "unknown model" not in text and "vislab.register_model('user-TinyNet')" in text, text
