"""A suite meeting the user's mistakes: data that is not there stops it once with the data's own error
(exit 2) instead of failing every run; a run's own damaged checkpoint does not. The Python API's suites
and sweeps print nothing in a script unless asked."""

import json
from pathlib import Path

import pytest
import yaml

import vislab
from conftest import cli, one_line, tiny_base

BASE = tiny_base()
NOT_FOUND = "CIFAR-10 data not found under"


def write_suite(path: Path, runs: dict, base: dict = BASE) -> Path:
    path.write_text(
        yaml.safe_dump({"description": "test suite", "base": base, "runs": runs}, sort_keys=False)
    )
    return path


def no_cifar(tmp_path: Path) -> dict:
    """Overrides that point a run at CIFAR-10 in a folder that exists and holds nothing (no network)."""
    (tmp_path / "empty").mkdir(exist_ok=True)
    return {"data.name": "cifar10", "data.root": str(tmp_path / "empty"), "data.download": False}


def test_data_every_run_lacks_stops_the_suite_once_with_the_data_error(tmp_path, capsys, train_spy):
    spec = write_suite(
        tmp_path / "s.yaml",
        {"majority": {"model.name": "majority"}, "mlp": {}, "mlp-lr": {"optim.lr": 0.1}},
        base={**BASE, "data": {"name": "digits"}},
    )
    out = tmp_path / "out"
    code, text = cli(capsys, "suite", spec, "--out", out, "-q", *_sets(no_cifar(tmp_path)))
    assert code == 2  # a user error, as the same data in one `vislab train`
    assert train_spy == [("majority", False)]  # the others would meet the same error
    assert text.count(NOT_FOUND) == 1, text  # said once, as the error
    flat = one_line(text)
    assert "stopped at run majority" in flat and "not started" in flat and "mlp, mlp-lr" in flat
    assert "re-run the same `vislab suite` command" in flat
    # no table or report of nothing
    assert not (out / "results.md").exists() and not (out / "report.html").exists()
    assert not (out / "results.csv").exists()


def test_data_one_run_lacks_keeps_the_finished_runs_of_other_data(tmp_path, capsys, train_spy):
    spec = write_suite(
        tmp_path / "s.yaml",
        {"mlp": {}, "mlp-cifar": no_cifar(tmp_path), "majority": {"model.name": "majority"}},
    )
    out = tmp_path / "out"
    code, text = cli(capsys, "suite", spec, "--out", out, "-q", "--no-report")
    assert code == 2 and text.count(NOT_FOUND) == 1, text
    assert [name for name, _ in train_spy] == ["mlp", "mlp-cifar"]
    assert "Finished: mlp" in text and "not started" in one_line(text)
    md = (out / "results.md").read_text()  # the finished run is kept in the table
    assert "| mlp |" in md and "mlp-cifar" in md
    state = json.loads((out / "suite.json").read_text())
    assert state["runs"]["mlp"]["status"] == "complete" and "majority" not in state["runs"]

    # with the data there (here: the run moved to digits), the same command trains what is left
    write_suite(spec, {"mlp": {}, "mlp-cifar": {}, "majority": {"model.name": "majority"}})
    train_spy.clear()
    assert cli(capsys, "suite", spec, "--out", out, "-q", "--no-report")[0] == 0
    assert [name for name, _ in train_spy] == ["mlp-cifar", "majority"]


def test_data_lacking_in_spawned_workers_is_said_once(tmp_path, capsys):
    spec = write_suite(
        tmp_path / "s.yaml",
        {f"maj-{i}": {"model.name": "majority", **no_cifar(tmp_path)} for i in range(4)},
    )
    out = tmp_path / "out"
    code, text = cli(capsys, "suite", spec, "--out", out, "-q", "--jobs", "2")
    assert code == 2 and text.count(NOT_FOUND) == 1, text
    tried = json.loads((out / "suite.json").read_text())["runs"]
    assert len(tried) <= 2 and all(r["data_error"] for r in tried.values())  # two at most started
    assert "not started" in one_line(text) and not (out / "results.md").exists()


def test_a_runs_own_damaged_checkpoint_fails_that_run_only(tmp_path, capsys, train_spy):
    """A DataError that is not the data's (a corrupt checkpoints/last.pt to resume) is one run's failure:
    the suite goes on (exit 1, SuiteFailed)."""
    spec = write_suite(tmp_path / "s.yaml", {"mlp": {}})
    out = tmp_path / "out"
    assert cli(capsys, "suite", spec, "--out", out, "-q", "--no-report")[0] == 0
    (out / "mlp" / "summary.json").unlink()  # as if killed after its last checkpoint ...
    (out / "mlp" / "checkpoints" / "last.pt").write_bytes(b"not a checkpoint")  # ... then damaged
    write_suite(spec, {"mlp": {}, "majority": {"model.name": "majority"}})
    train_spy.clear()
    code, text = cli(capsys, "suite", spec, "--out", out, "-q", "--no-report")
    assert code == 1 and "1 of 2 runs" in text, text
    assert train_spy == [("mlp", True), ("majority", False)]
    assert "| majority |" in (out / "results.md").read_text()


def _sets(overrides: dict) -> list[str]:
    return [a for k, v in overrides.items() for a in ("--set", f"{k}={str(v).lower()}")]


# ------------------------------------------------------------------- the Python API in a script
def test_run_suite_in_a_script_prints_only_when_asked(tmp_path, capsys):
    spec = write_suite(tmp_path / "s.yaml", {"majority": {"model.name": "majority"}})
    vislab.run_suite(spec, out=tmp_path / "a")  # quiet=None outside a notebook: nothing
    assert capsys.readouterr() == ("", "")
    vislab.run_suite(spec, out=tmp_path / "b", quiet=True)
    assert capsys.readouterr() == ("", "")
    vislab.run_suite(spec, out=tmp_path / "c", quiet=False)
    shown = capsys.readouterr().out
    assert "suite s: 1 runs" in shown and "majority: starting" in shown and "results:" in shown
    lines = []  # a log of the caller's own gets the lines, whatever quiet
    vislab.run_suite(spec, out=tmp_path / "d", quiet=True, log=lines.append)
    assert capsys.readouterr() == ("", "")
    assert any(line.startswith("majority: done") for line in lines)


def test_sweep_in_a_script_prints_only_when_asked(tmp_path, capsys):
    spec = {
        "name": "quiet",
        "base": {**BASE, "model": {"name": "majority"}},
        "space": {"data.limit": {"type": "int", "low": 50, "high": 200}},
        "sampler": "random",
    }
    vislab.sweep(spec, out=tmp_path / "a", trials=1)
    assert capsys.readouterr() == ("", "")
    vislab.sweep(spec, out=tmp_path / "b", trials=1, quiet=False)
    assert "trial 0" in capsys.readouterr().out
    lines = []
    vislab.sweep(spec, out=tmp_path / "c", trials=1, quiet=True, log=lines.append)
    assert capsys.readouterr() == ("", "") and any("trial 0" in line for line in lines)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing lands in the checkout, whatever a default folder


def test_config_mistakes_in_a_suite_file_stop_it_before_any_run_trains(tmp_path, capsys, train_spy):
    spec = write_suite(
        tmp_path / "s.yaml",
        {"mlp": {}, "typo-model": {"model.hiden": [8]}, "typo-optim": {"optim.lrr": 0.1}},
    )
    out = tmp_path / "out"
    code, text = cli(capsys, "suite", spec, "--out", out, "-q")
    msg = one_line(text)
    assert code == 2 and train_spy == [] and not out.exists(), text
    assert "2 of 3 runs of suite 's' have an invalid config, so nothing was trained" in msg
    assert "typo-model: model 'mlp' has no option 'model.hiden'" in msg
    assert "Did you mean 'model.hidden'?" in msg
    assert "typo-optim: Invalid config" in msg and "unknown config key 'optim.lrr'" in msg


def test_a_misspelt_suite_name_gets_the_closest_built_in_one(capsys):
    code, text = cli(capsys, "suite", "quikstart")
    assert code == 2 and "Did you mean 'quickstart'?" in one_line(text)


def test_suite_list_lists_the_built_in_suites_as_sweep_list_does(tmp_path, capsys):
    code, text = cli(capsys, "suite", "list")
    assert code == 0 and "cnn-ladder" in text and "quickstart" in text, text
    assert "files in" in text and "does not exist" not in text
    write_suite(tmp_path / "list", {"majority": {"model.name": "majority"}})  # a suite file 'list'
    code, text = cli(capsys, "suite", "list")
    assert code == 0 and "cnn-ladder" in text and "vislab suite ./list" in one_line(text)
