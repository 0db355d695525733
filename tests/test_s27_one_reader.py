"""One reader each: a run's config.yaml read as every other config file is (a file that is no UTF-8, or
that gives a key twice, is named, never a traceback), the runs below a folder found as `vislab compare`
finds them by the commands that need one run (which name only the runs they can use, not one assembled
by hand), and the metrics that select a run's best epoch declared once."""

import json
import shutil
from pathlib import Path

import pytest

import vislab
from conftest import cli, one_line
from figures_skipped import skip_report_figures
from vislab.errors import ConfigError
from vislab.experiments.sweeps.spec import load_sweep

NOT_UTF8 = b"\xff\xfe train: {}\n"


@pytest.fixture
def broken(trained, tmp_path) -> Path:
    """A copy of the trained run whose config.yaml is no UTF-8 text."""
    run = tmp_path / "broken"
    shutil.copytree(trained, run)
    (run / "config.yaml").write_bytes(NOT_UTF8)
    return run


def test_resume_of_a_run_whose_config_yaml_is_no_utf8_writes_it_again(broken, capsys):
    code, text = cli(capsys, "train", "--resume", broken)
    assert code == 0, text
    assert "name: digits" in (broken / "config.yaml").read_text(encoding="utf-8")


def test_compare_names_a_config_yaml_that_is_no_utf8(broken, trained, capsys):
    code, text = cli(capsys, "compare", broken, trained)
    assert code == 0, text
    said = one_line(text)
    assert f"Run config file '{broken / 'config.yaml'}' is not valid YAML" in said
    assert "can't decode byte 0xff" in said


def test_compare_names_a_config_yaml_giving_a_key_twice(broken, trained, capsys):
    config = (trained / "config.yaml").read_text()
    (broken / "config.yaml").write_text(config + "train:\n  select_metric: val_loss\n")
    code, text = cli(capsys, "compare", broken, trained)
    assert code == 0, text
    said = one_line(text)
    assert "found the key 'train' a second time" in said
    assert "best val_loss" not in said  # not the last of the two keys, as YAML alone would read it


def test_report_of_a_run_whose_config_yaml_is_no_utf8_names_it_and_the_fix(
    broken, capsys, monkeypatch
):
    skip_report_figures(monkeypatch)
    code, text = cli(capsys, "report", broken)
    assert code == 0, text
    said = one_line(text)
    assert f"'{broken / 'config.yaml'}' is not valid YAML" in said
    assert f"vislab train --resume {broken}" in said


def test_eval_of_a_run_whose_config_yaml_is_no_utf8_scores_its_checkpoint(broken, capsys):
    code, text = cli(capsys, "eval", broken)
    assert code == 0, text
    assert "test: acc" in text


@pytest.fixture
def holder(trained, tmp_path) -> Path:
    """A folder holding a run assembled by hand (its summary.json alone) in ``a``, a trained run in
    ``deep/b`` and one in a hidden folder."""
    folder = tmp_path / "hm"
    (folder / "a").mkdir(parents=True)
    shutil.copy(trained / "summary.json", folder / "a")
    shutil.copytree(trained, folder / "deep" / "b")
    shutil.copytree(trained, folder / ".hidden" / "c")
    return folder


@pytest.mark.parametrize(
    "args",
    [
        ("eval", "DIR"),
        ("predict", "DIR", "IMG"),
        ("export", "DIR", "-f", "onnx"),
        ("train", "--resume", "DIR"),
    ],
)
def test_a_folder_of_runs_given_for_one_run_names_its_runs(holder, args, digit_png, capsys):
    code, text = cli(capsys, *({"DIR": holder, "IMG": digit_png}.get(a, a) for a in args))
    assert code == 2, text
    said = one_line(text)
    assert f"'{holder}' is a folder of runs, not a run" in said
    assert (
        f"e.g. '{holder / 'deep' / 'b'}'." in said
    )  # not the run assembled by hand, which it refuses
    assert f"'{holder / 'a'}'" not in said and ".hidden" not in said


def test_compare_lists_the_runs_of_that_folder(holder, capsys):
    code, text = cli(capsys, "compare", holder)
    assert code == 0, text
    assert "| a |" in text and "| deep/b |" in text and "| c |" not in text


def test_a_sweep_refuses_a_metric_with_the_choices_train_select_metric_has(tmp_path):
    spec = tmp_path / "sweep.yaml"
    spec.write_text(json.dumps({"base": {}, "space": {"optim.lr": [0.1]}, "metric": "test_acc"}))
    with pytest.raises(ConfigError) as sweep_error:
        load_sweep(spec)
    with pytest.raises(ConfigError) as config_error:
        vislab.load_config(train__select_metric="test_acc")
    for metric in ("val_pacc", "val_acc", "val_loss"):
        assert metric in str(sweep_error.value) and metric in str(config_error.value)
