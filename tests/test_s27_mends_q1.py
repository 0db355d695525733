"""Session 27, mend Q1: a folder given for one run names only the runs the command can use (not one
assembled by hand: a summary.json without its config.yaml), and a last.pt standing in for a missing
best.pt is read once from Python too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import vislab
from conftest import cli, one_line, table_run
from vislab.errors import UserError
from vislab.not_a_run import runs_below


def _hand_made(folder: Path) -> Path:
    """A run assembled by hand in ``folder``: its summary.json alone."""
    folder.mkdir(parents=True)
    summary = dict(status="complete", model="mlp", seed=0, test_acc=0.5, data="digits")
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


@pytest.fixture
def mixed(tmp_path) -> Path:
    """A folder holding a run assembled by hand in ``a`` and a usable run in ``deep/b``."""
    folder = tmp_path / "hm"
    _hand_made(folder / "a")
    (folder / "deep").mkdir(parents=True)
    table_run(folder / "deep", "b")
    return folder


def test_load_run_of_a_folder_of_runs_names_only_the_runs_it_can_open(mixed):
    with pytest.raises(UserError) as e:
        vislab.load_run(mixed)
    said = one_line(str(e.value))
    b = (mixed / "deep" / "b").as_posix()
    assert f"but a folder of runs: '{b}'. Open one, vislab.load_run('{b}')" in said
    assert f"'{(mixed / 'a').as_posix()}'" not in said
    assert vislab.load_run(b).summary["status"] == "complete"  # the run it names opens


def test_compare_still_lists_the_run_assembled_by_hand(mixed, capsys):
    assert sorted(runs_below(mixed)) == ["a", "deep/b"]
    assert sorted(runs_below(mixed, hand_made=False)) == ["deep/b"]
    code, text = cli(capsys, "compare", mixed)
    assert code == 0, text
    assert "| a |" in text and "| deep/b |" in text


def test_a_folder_of_runs_assembled_by_hand_only_suggests_none_of_them(tmp_path, capsys):
    folder = tmp_path / "hm"
    _hand_made(folder / "a")
    code, text = cli(capsys, "eval", folder)
    assert code == 2, text
    said = one_line(text)
    assert f"'{folder / 'a'}'" not in said and "e.g." not in said, text
    with pytest.raises(UserError) as e:
        vislab.load_run(folder)
    assert f"'{(folder / 'a').as_posix()}'" not in str(e.value)


def test_a_suite_folder_names_a_run_it_holds_not_one_assembled_by_hand(tmp_path):
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "suite.json").write_text("{}")
    _hand_made(suite / "a")
    table_run(suite, "b")
    with pytest.raises(UserError) as e:
        vislab.load_run(suite)
    said = one_line(str(e.value))
    assert "a suite folder (it holds suite.json)" in said
    assert f"vislab.load_run('{(suite / 'b').as_posix()}')" in said
