"""``vislab.compare`` is ``vislab compare --csv``'s table as a DataFrame (one implementation: runs that
share a folder name, folders of runs, unfinished runs listed); ``vislab.train`` without ``out=`` never
reuses a folder; ``load_run`` of a checkpoint file names its run; every ``Run`` method that uses a model
takes ``checkpoint="best"|"last"``."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import vislab
import vislab.api
import vislab.api.runs as api_runs
from conftest import TINY_DIGITS, TINY_RUN, cli, one_line, table_run
from vislab.errors import CheckpointNote, Note, UserError

CIRCLES = dict(TINY_RUN, data="circles", data__n_samples=100)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """runs/a/cnn, runs/b/cnn (another optim.lr) and runs/c/cnn (a copy of a's): three finished runs
    sharing one folder name."""
    root = tmp_path_factory.mktemp("compare") / "runs"
    vislab.train(out=root / "a" / "cnn", **CIRCLES)
    vislab.train(out=root / "b" / "cnn", optim__lr=0.01, **CIRCLES)
    shutil.copytree(root / "a" / "cnn", root / "c" / "cnn")
    return root


def interrupted(run: Path) -> None:
    """The run's summary.json as a run stopped by Ctrl-C leaves it."""
    summary = json.loads((run / "summary.json").read_text())
    summary.update(status="interrupted", message="stopped by Ctrl-C")
    (run / "summary.json").write_text(json.dumps(summary))


def cli_csv(capsys, tmp_path: Path, *args) -> pd.DataFrame:
    """``vislab compare ARGS --csv FILE``'s table."""
    out = tmp_path / f"cli-{len(list(tmp_path.glob('cli-*')))}.csv"
    code, text = cli(capsys, "compare", *args, "--csv", out)
    assert code == 0, text
    return pd.read_csv(out)


# ------------------------------------------------------------------------------------------ compare
def test_runs_sharing_a_folder_name_are_each_a_row_named_as_the_command_names_them(
    root, tmp_path, capsys
):
    runs = [root / d / "cnn" for d in "abc"]
    table = vislab.compare(runs)
    assert table["run"].tolist() == ["a/cnn", "b/cnn", "c/cnn"]  # before: one row, "cnn"
    assert table["optim.lr"].tolist() == [0.001, 0.01, 0.001]
    csv = cli_csv(capsys, tmp_path, *runs)
    assert list(table.columns) == list(csv.columns)
    assert table["run"].tolist() == csv["run"].tolist()
    assert table["test_acc"].tolist() == pytest.approx(csv["test_acc"].tolist())


def test_a_folder_of_runs_gives_the_commands_rows_and_lists_the_unfinished_ones(
    root, tmp_path, capsys
):
    suite = tmp_path / "qs"
    for name, d in (("slow", "a"), ("fast", "b"), ("stopped", "c")):
        shutil.copytree(root / d / "cnn", suite / name)
    interrupted(suite / "stopped")
    order = ["fast", "slow", "stopped"]
    (suite / "suite.json").write_text(json.dumps({"name": "mine", "order": order, "runs": {}}))
    with pytest.warns(Note, match="stopped: not finished"):
        table = vislab.compare(suite)  # before: "not a vislab run directory"
    assert table["run"].tolist() == ["fast", "slow"]
    resume = f"vislab.train(out={str(suite / 'stopped')!r}, resume=True)"
    assert table.attrs["left_out"] == {
        "stopped": "not finished (status interrupted: stopped by Ctrl-C; continue it from its last "
        f"checkpoint: vislab train --resume {suite / 'stopped'} (Python: {resume}))"
    }
    csv = cli_csv(capsys, tmp_path, suite)
    assert list(table.columns) == list(csv.columns)
    assert table["run"].tolist() == csv["run"].tolist()
    # sort: the command's order (best first for an accuracy or loss, else ascending)
    with pytest.warns(Note):
        by_lr = vislab.compare([suite], sort="optim.lr")
    assert (
        by_lr["run"].tolist()
        == cli_csv(capsys, tmp_path, suite, "--sort", "optim.lr")["run"].tolist()
    )
    assert by_lr["run"].tolist() == ["slow", "fast"]


def test_an_unfinished_run_given_is_left_out_not_an_error(root, tmp_path):
    stopped = tmp_path / "stopped"
    shutil.copytree(root / "a" / "cnn", stopped)
    interrupted(stopped)
    with pytest.warns(Note, match="left out of the table: stopped: not finished"):
        table = vislab.compare({"mine": root / "b" / "cnn", "stopped": stopped})
    assert table["run"].tolist() == ["mine"]  # before: UserError "has not finished"
    assert list(table.attrs["left_out"]) == ["stopped"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # all finished: no note
        assert vislab.compare(root / "a" / "cnn").attrs["left_out"] == {}
    with pytest.raises(UserError, match="no finished run to compare"):
        vislab.compare([stopped])


def test_a_mapping_names_the_runs_of_a_folder_by_its_key(root):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = vislab.compare({"first": root / "a", "second": vislab.load_run(root / "b" / "cnn")})
    assert table["run"].tolist() == ["first/cnn", "second"]


# ------------------------------------------------------------------------------------ default out
def test_runs_trained_without_out_in_one_second_each_get_their_own_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(api_runs, "time", SimpleNamespace(strftime=lambda fmt: "20261205-144923"))
    runs = [vislab.train(**{**CIRCLES, "model__hidden": w}) for w in ([4], [8], [16])]
    base = "runs/mlp-circles-20261205-144923"
    assert [r.path.as_posix() for r in runs] == [base, f"{base}-2", f"{base}-3"]
    assert [r.config.to_dict()["model"]["hidden"] for r in runs] == [[4], [8], [16]]
    with pytest.raises(UserError, match="is not a folder"):  # a run that fails before it starts
        vislab.train(**{**TINY_RUN, "data": "folder", "data__root": str(tmp_path / "none")})
    assert sorted(p.as_posix() for p in Path("runs").iterdir()) == [r.path.as_posix() for r in runs]


def test_the_default_folder_is_taken_when_it_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = vislab.api.make_config(model="mlp", data="circles")
    first, second = api_runs.default_run_dir(cfg), api_runs.default_run_dir(cfg)
    assert first != second and first.is_dir() and second.is_dir()
    assert not any(first.iterdir())  # an empty folder: a new run starts there


# ----------------------------------------------------------------------------- load_run, checkpoint
def test_load_run_of_a_checkpoint_file_names_its_run_and_checkpoint_last(root):
    run = root / "a" / "cnn"
    with pytest.raises(UserError) as e:
        vislab.load_run(run / "checkpoints" / "last.pt")
    said = one_line(str(e.value))
    assert f"checkpoint file of run '{run.as_posix()}'" in said
    assert f"vislab.load_run('{run.as_posix()}')" in said and "checkpoint='last'" in said
    assert "holds no config.yaml" not in said


@pytest.fixture(scope="module")
def swapped(tmp_path_factory):
    """(run, other): ``run``'s last.pt holds ``other``'s weights (another learning rate), its best.pt
    its own: what each method's ``checkpoint=`` picks shows in its results."""
    root = tmp_path_factory.mktemp("swapped")
    run = vislab.train(out=root / "x" / "run", **TINY_DIGITS).path
    other = vislab.train(out=root / "y" / "run", optim__lr=0.05, **TINY_DIGITS).path
    shutil.copy(other / "checkpoints" / "last.pt", run / "checkpoints" / "last.pt")
    return vislab.load_run(run), vislab.load_run(other)


def test_each_run_method_takes_checkpoint_last(swapped, digit_png):
    run, other = swapped
    image = np.asarray(Image.open(digit_png))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the file asked for: no note
        last = run.predict(image, top_k=10, checkpoint="last")
    assert last == other.predict(image, top_k=10) != run.predict(image, top_k=10)
    files = run.predict_files(digit_png, checkpoint="last")
    assert files["probability"].tolist() == other.predict_files(digit_png)["probability"].tolist()
    pd.testing.assert_frame_equal(run.mistakes(checkpoint="last"), other.mistakes())
    drawn = run.plot("confusion", "val", checkpoint="last").axes[0].images[0].get_array()
    assert np.array_equal(drawn, other.plot("confusion", "val").axes[0].images[0].get_array())
    figure = run.explain([digit_png], method="saliency", checkpoint="last")
    titles = [t.get_text() for f in (figure, *figure.subfigs) for t in f.texts]  # a row's suptitle
    assert titles and all(t.endswith("| last.pt") for t in titles)
    with pytest.raises(UserError, match="best or last, not 'newest'"):
        run.predict(image, checkpoint="newest")


def test_checkpoint_best_falls_back_to_last_with_a_note(swapped, tmp_path, digit_png):
    run = tmp_path / "early"
    shutil.copytree(swapped[0].path, run)
    (run / "checkpoints" / "best.pt").unlink()  # stopped before its first evaluation
    with pytest.warns(CheckpointNote, match="last.pt"):
        table = vislab.load_run(run).predict_files(digit_png, checkpoint="best")
    assert (
        table["probability"].tolist() == swapped[1].predict_files(digit_png)["probability"].tolist()
    )


def test_a_run_whose_summary_cannot_be_read_is_named_in_one_sentence(tmp_path):
    run = table_run(tmp_path, "r")
    (run / "summary.json").write_text("[1, 2]")
    with pytest.raises(UserError) as e:
        vislab.compare([run])
    said = str(e.value)
    assert "summary.json' cannot be read (it holds a JSON list" in said and ".." not in said
