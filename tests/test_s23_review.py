"""A review's findings on this session's changes: a swept model or seed is one column, a run of arrays
is told to train again from Python, eval names a file in the way of figures/, --config given a
checkpoint or a user's file in a run folder, lr-find's threads check."""

import warnings

import numpy as np
import pytest
import yaml

import vislab
from conftest import TINY_DIGITS, cli, one_line, tiny_base
from vislab.errors import Note
from vislab.experiments.sweeps.runner import run_sweep
from vislab.experiments.sweeps.spec import load_sweep


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return vislab.train(**TINY_DIGITS, out=tmp_path_factory.mktemp("r") / "run", quiet=True).path


def test_a_swept_model_name_is_the_model_column_alone(tmp_path):
    spec = {"name": "models", "base": tiny_base(), "sampler": "grid", "metric": "val_acc",
            "space": {"model.name": {"type": "categorical", "choices": ["majority", "mlp"]}}}  # fmt: skip
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    run_sweep(load_sweep(tmp_path / "s.yaml"), tmp_path / "sw", trials=2, log=lambda _: 0)
    frame = vislab.compare(tmp_path / "sw")
    assert "model.name" not in frame.columns and list(frame.columns[:3]) == ["run", "model", "seed"]
    assert sorted(frame["model"]) == ["majority", "mlp"]


def test_a_run_of_arrays_without_weights_is_told_to_train_again_from_python(tmp_path, capsys):
    x = np.random.default_rng(0).random((60, 1, 8, 8), dtype=np.float32)
    y = np.arange(60) % 2
    kw = {k: v for k, v in TINY_DIGITS.items() if not k.startswith("data")}
    done = vislab.train(**kw, data=(x, y), out=tmp_path / "mem", quiet=True).path
    for name in ("best.pt", "last.pt"):
        (done / "checkpoints" / name).write_bytes(b"cut")
    code, text = cli(capsys, "eval", done)
    said = one_line(text)
    assert code == 2 and "run your vislab.train call again with out=NEW_FOLDER" in said, said
    assert "vislab train --config" not in said


def test_eval_names_a_file_in_the_way_of_figures(run, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    shutil.rmtree(copy / "figures", ignore_errors=True)
    (copy / "figures").write_text("mine")
    code, text = cli(capsys, "eval", copy)
    said = one_line(text)
    assert code == 2 and f"'{copy / 'figures'}', which is a file, not a folder" in said, said
    assert "nothing was scored" in said and "--out DIR" in said


def test_config_given_a_checkpoint_names_the_runs_config(run, capsys):
    code, text = cli(capsys, "train", "--config", run / "checkpoints" / "best.pt", "--out", "x")
    said = one_line(text)
    assert code == 2 and f"give --config {run / 'config.yaml'}" in said, said
    assert "not valid YAML" not in said


def test_a_users_own_config_file_in_a_run_folder_is_read(run, tmp_path, capsys):
    mine = run / "my.conf"
    mine.write_text((run / "config.yaml").read_text())
    try:
        code, text = cli(capsys, "config", "show", "--config", mine)
    finally:
        mine.unlink()
    assert code == 0, text


def test_lr_find_notes_threads_beyond_the_cores(monkeypatch):
    monkeypatch.setattr("vislab.training.runtime.usable_cores", lambda: 1)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        vislab.lr_find(model="mlp", data="digits", steps=10, train__threads=2, data__limit=100)
    said = [str(w.message) for w in seen if issubclass(w.category, Note)]
    assert [s for s in said if s.startswith("train.threads=2 asks for 2 CPU threads")], said


def test_lr_find_drives_the_terminals_bar_step_by_step():
    """A student sees the test go (about 20 updates over its steps), not one header line for minutes."""
    from test_terminal import RecordedDisplay
    from vislab.reporting import use_display

    shown = RecordedDisplay()
    with use_display(shown):
        vislab.lr_find(model="mlp", data="digits", steps=40, data__limit=200)
    calls = shown.bar.calls
    assert calls[0] == ("start", "LR range test", 40) and calls[-1] == ("stop",), calls
    updates = [c for c in calls if c[0] == "update"]
    assert len(updates) >= 10 and updates[0][2].startswith("lr ") and " loss " in updates[0][2]
    assert [c[1] for c in updates] == sorted(c[1] for c in updates)  # steps in order
