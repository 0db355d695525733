"""``--set key.N=value`` sets item N of a list the config holds, as a sweep's ``model.widths.0`` does; a
list the config does not hold (a model's preset fills it) is refused with the fix, never turned into a
mapping that the model then rejects."""

from __future__ import annotations

import pytest

from conftest import cli
from vislab.config import build_config, set_dotted
from vislab.errors import ConfigError

BASE = {"data": {"name": "digits"}, "model": {"name": "cnn", "widths": [32, 64]}}


def test_an_item_of_a_list_is_set_by_its_number():
    cfg = build_config(BASE, ["model.widths.0=16"])
    assert cfg.model.kwargs()["widths"] == [16, 64]


def test_the_number_after_the_last_item_adds_one():
    cfg = build_config(BASE, ["model.widths.2=128"])
    assert cfg.model.kwargs()["widths"] == [32, 64, 128]


def test_the_callers_list_is_left_as_it_was():
    build_config(BASE, ["model.widths.0=16"])
    assert BASE["model"]["widths"] == [32, 64]  # a suite's base serves its next run unchanged


@pytest.mark.parametrize("key", ["model.widths.3", "model.widths.first"])
def test_an_item_past_the_end_names_the_numbers_it_may_take(key):
    with pytest.raises(ConfigError) as e:
        build_config(BASE, [f"{key}=8"])
    assert "'model.widths' is a list of 2 item(s) ([32, 64])" in str(e.value)
    assert "0 to 2" in str(e.value)


def test_an_item_of_a_list_the_config_does_not_hold_says_to_give_the_whole_list():
    with pytest.raises(ConfigError) as e:
        build_config({"data": {"name": "digits"}, "model": {"name": "cnn"}}, ["model.widths.0=16"])
    assert "'model.widths' is not set in this config" in str(e.value)
    assert "model.widths=[...]" in str(e.value)


def test_an_item_inside_a_list_of_sections():
    tree = {"runs": [{"lr": 0.1}, {"lr": 0.2}]}
    set_dotted(tree, "runs.1.lr", 0.5)
    assert tree == {"runs": [{"lr": 0.1}, {"lr": 0.5}]}


def test_the_command_line_refuses_an_item_of_an_unset_list_without_a_traceback(capsys, tmp_path):
    code, out = cli(
        capsys, "train", "--set", "data.name=digits", "--set", "model.name=cnn",
        "--set", "model.widths.0=16", "--out", str(tmp_path / "run"),
    )  # fmt: skip
    assert code == 2
    assert "model.widths=[...]" in out and "Traceback" not in out
    assert not (tmp_path / "run" / "summary.json").exists()
