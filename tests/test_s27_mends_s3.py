"""Notes that give a fix that works: the EMA note's smaller decay for a long run, a run with no source of
its class refused rather than reopened with another class of that name, the advice for a model object's
run reopened elsewhere (the command line's way first), and a quickstart cut short as its tables were
written naming `vislab quickstart`."""

from __future__ import annotations

import re

import pytest

import vislab
from conftest import cli, notebook_cell, one_line, tiny_config
from notebook_cells import MY_NET, TINY
from vislab.config.notes import ema_note
from vislab.errors import ConfigError
from vislab.models import unregister_model
from vislab.models.unknown_names import unknown_model


def test_a_long_runs_ema_note_gives_a_decay_below_the_given_one_that_the_config_takes():
    sets = ("train.ema.decay=0.9999", "train.ema.warmup=false", "train.epochs=60")
    note = one_line(ema_note(tiny_config(*sets), "optimizer", 390) or "")  # 23,400 steps
    assert "this run takes 23400" in note
    given = re.search(r"--set train\.ema\.decay=(\S+) / train__ema__decay=(\S+) ", note)
    assert given is not None, note
    assert given.group(1) == given.group(2) == "0.99957"  # 1 − 10/23400, not rounded up to 1
    assert tiny_config(*sets, f"train.ema.decay={given.group(1)}").train.ema.decay < 0.9999


def test_a_run_that_recorded_no_source_of_its_class_is_not_reopened_with_another(
    notebook, tmp_path
):
    # python -c or a plain python prompt: Python cannot find the class's source
    exec(compile(MY_NET, "<string>", "exec"), notebook)  # noqa: S102 - the test's own code
    out = tmp_path / "pc"
    vislab.train(model=notebook["MyNet"], out=out, train__epochs=1, **TINY)
    unregister_model("user-MyNet")  # a new process ...
    notebook_cell(notebook, MY_NET.replace("relu()", "tanh()"), "other")  # ... another MyNet
    with pytest.raises(ConfigError) as e:
        vislab.load_run(out).evaluate("test")
    said = one_line(str(e.value))
    assert "Python cannot find the run's source of MyNet" in said, said
    assert "cannot be checked to be the one trained, so it is not used" in said
    assert "vislab.register_model('user-MyNet') on MyNet" in said
    assert "model.name=path/to/file.py:MyNet" in said


def test_a_model_objects_run_reopened_elsewhere_is_told_the_command_lines_way_first(
    notebook, tmp_path, capsys
):
    notebook_cell(notebook, MY_NET, "cell")
    out = tmp_path / "mine"
    vislab.train(model=notebook["MyNet"], out=out, train__epochs=1, **TINY)
    unregister_model("user-MyNet")  # `vislab eval` in a new process: no MyNet there
    del notebook["MyNet"]
    code, text = cli(capsys, "eval", out)
    said = one_line(text)
    assert code == 2 and "Traceback" not in text, text
    first = said.index(
        "from the command line, train it again with model.name=path/to/file.py:MyNet"
    )
    assert first < said.index("in Python, run the definition of MyNet again")
    assert "reopen the run with vislab.load_run(...)" in said


def test_a_nested_class_is_told_to_register_it_not_to_run_its_cell_again():
    said = unknown_model("user-make.Net", ["mlp"], ["timm"], "__main__.make.<locals>.Net")
    assert "from the command line, train it again with model.name=path/to/file.py:Net" in said
    assert (
        "in Python, register it again first: vislab.register_model('user-make.Net') on Net" in said
    )
    assert "run the definition" not in said and "cell" not in said


def test_a_quickstart_cut_short_as_its_tables_are_written_names_quickstart(
    tmp_path, capsys, monkeypatch
):
    import vislab.experiments.suites.runner as runner

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "results_of", ctrl_c)
    out = tmp_path / "qs"
    code, text = cli(capsys, "quickstart", "--out", out, "--epochs", "1", "-q")
    said = one_line(text)
    assert code == 130, text
    assert f"Write them: vislab report {out}" in said
    assert f"or run `vislab quickstart --out {out} --epochs 1` again, which skips" in said
    assert "vislab suite" not in said and "run_suite" not in said
    assert said.count("vislab quickstart") == 1
