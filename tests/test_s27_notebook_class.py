"""A notebook's own class and cell: a cell resumed with its own train__epochs and epochs=, a class's option
defaults in config.yaml, a run reopened after a restart by running the class's cell again, and
`vislab.paper` in a notebook without ipywidgets saying nothing of tqdm's progress bars."""

from __future__ import annotations

import pytest
import yaml

import vislab
from conftest import one_line, table_run
from notebook_cells import MY_NET, TINY, notebook_stderr
from vislab.errors import ConfigError, UserCodeError, UserError
from vislab.models import objects, unregister_model


def test_a_cell_resumed_with_its_own_train_epochs_and_epochs_trains_on_to_epochs(tmp_path):
    cell = dict(model="mlp", model__hidden=[16], out=tmp_path / "m", train__epochs=1, **TINY)
    vislab.train(**cell)
    run = vislab.train(resume=True, epochs=2, **cell)  # epochs=: how far; the cell's 1: as it was
    assert len(run.history) == 2 and run.config.train.epochs == 2
    again = vislab.train(resume=True, epochs=2, **cell)  # the cell run again: nothing more to train
    assert len(again.history) == 2


def test_a_cell_whose_train_epochs_is_longer_than_the_run_is_told_both_as_given(tmp_path):
    cell = dict(model="mlp", model__hidden=[16], out=tmp_path / "m", **TINY)
    vislab.train(train__epochs=1, **cell)
    with pytest.raises(UserError) as e:
        vislab.train(resume=True, epochs=2, train__epochs=3, **cell)
    text = one_line(str(e.value))
    assert "train.epochs: 1 → 3." in text, text
    assert "epochs=2 says how far to train it on: leave out train__epochs=3." in text, text


def _defaults_off(monkeypatch) -> None:
    """Runs trained from here on record no defaults of a notebook class: an older vislab's."""
    monkeypatch.setattr(objects, "with_defaults", lambda section: section)


def test_a_notebook_classs_defaults_are_in_config_yaml_and_the_tables_after_a_restart(
    notebook, tmp_path, capsys
):
    from vislab.cli import main

    notebook_cell = _cell(notebook)
    notebook_cell(MY_NET)
    net = notebook["MyNet"]
    vislab.train(model=net, out=tmp_path / "runs" / "mine", train__epochs=1, **TINY)
    vislab.train(model=net, out=tmp_path / "runs" / "w8", model__width=8, train__epochs=1, **TINY)
    model = yaml.safe_load((tmp_path / "runs" / "mine" / "config.yaml").read_text())["model"]
    assert model == {"name": "user-MyNet", "width": 16}
    unregister_model("user-MyNet")  # a new process: the class is known no more
    table = vislab.compare(tmp_path / "runs").set_index("run")
    assert table["model.width"].to_dict() == {"mine": 16, "w8": 8}
    assert main(["compare", str(tmp_path / "runs")]) == 0
    assert "| mine | user-MyNet | 0 | 16 |" in capsys.readouterr().out


def test_a_run_from_before_the_defaults_were_recorded_resumes_and_reopens(
    notebook, tmp_path, monkeypatch
):
    _cell(notebook)(MY_NET)
    net, out = notebook["MyNet"], tmp_path / "old"
    with monkeypatch.context() as m:
        _defaults_off(m)
        vislab.train(model=net, out=out, train__epochs=1, **TINY)
    assert "width" not in yaml.safe_load((out / "config.yaml").read_text())["model"]
    run = vislab.train(model=net, out=out, resume=True, epochs=2, train__epochs=1, **TINY)
    assert len(run.history) == 2
    assert 0 <= vislab.load_run(out).evaluate("test")["acc"] <= 1


def test_a_run_reopens_after_a_restart_once_the_classs_cell_ran_again(
    notebook, tmp_path, monkeypatch
):
    cell = _cell(notebook)
    cell(MY_NET)
    out = tmp_path / "mine"
    vislab.train(model=notebook["MyNet"], out=out, train__epochs=1, **TINY)
    unregister_model("user-MyNet")  # the kernel restarted ...
    del notebook["MyNet"]
    with pytest.raises(ConfigError, match="unknown model 'user-MyNet'"):
        vislab.load_run(out).evaluate("test")
    cell(MY_NET.replace("relu()", "tanh()"))  # ... and the class defined again, other code
    with pytest.raises(UserCodeError, match="MyNet has been redefined since"):
        vislab.load_run(out).evaluate("test")
    unregister_model("user-MyNet")
    cell(MY_NET)  # its cell as it was: the run reopens, as train(model=MyNet, resume=True) does
    assert 0 <= vislab.load_run(out).evaluate("test")["acc"] <= 1


def _cell(notebook: dict):
    """Run a cell's source in ``notebook`` (conftest's ``notebook_cell``), each under one file name."""
    from conftest import notebook_cell

    return lambda source: notebook_cell(notebook, source, "class_cell")


# a notebook without ipywidgets, as tqdm.autonotebook tells one: ipykernel's shell is loaded


def test_vislab_paper_in_a_notebook_without_ipywidgets_prints_no_tqdm_warning(tmp_path):
    assert "IProgress not found" in notebook_stderr(
        tmp_path, "import optuna"
    )  # what a notebook would show
    (tmp_path / "runs").mkdir()
    table_run(tmp_path / "runs", "mlp")
    table_run(tmp_path / "runs", "mlp2", "optim.lr=0.01")
    paper = f"vislab.paper({str(tmp_path / 'runs')!r}, out={str(tmp_path / 'p')!r}, figures=False)"
    text = notebook_stderr(tmp_path, f"import sys, vislab\n{paper}\nassert 'optuna' in sys.modules")
    assert "IProgress" not in text, text
