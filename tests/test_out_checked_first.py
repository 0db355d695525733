"""explain's and eval's --out checked before any work (a folder that cannot be created: exit 2, named
with the system's reason, nothing computed), and eval's settings limited to data.* and
train.eval_batch_size."""

from __future__ import annotations

from pathlib import Path

import pytest

import vislab
from conftest import cli, one_line

PROC = pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
NOPE = "/proc/vislab-nope"  # /proc is there; nothing can be created in it, root included


@pytest.fixture
def a_file(tmp_path) -> Path:
    path = tmp_path / "taken"
    path.write_text("a file where --out wants a folder")
    return path


def test_explain_refuses_an_out_under_a_file_before_explaining(trained, digit_png, a_file, capsys):
    code, text = cli(capsys, "explain", trained, digit_png, "--out", a_file / "maps")
    text = one_line(text)
    assert code == 2, text
    assert f"'{a_file}' is a file, not a folder" in text and "nothing was explained" in text, text


@PROC
def test_explain_names_the_folder_proc_cannot_hold(trained, digit_png, capsys):
    code, text = cli(capsys, "explain", trained, digit_png, "--out", NOPE)
    text = one_line(text)
    assert code == 2, text
    assert f"cannot create '{NOPE}' (No such file or directory)" in text, text
    assert "'/proc' is not writable" not in text and "nothing was explained" in text, text


def test_eval_refuses_an_out_under_a_file_before_scoring(trained, a_file, capsys):
    code, text = cli(capsys, "eval", trained, "--out", a_file / "figs", "--mistakes", "0")
    text = one_line(text)
    assert code == 2, text
    assert f"'{a_file}' is a file, not a folder" in text and "nothing was scored" in text, text
    assert "acc" not in text  # no scores: the refusal came first


@PROC
def test_eval_refuses_an_out_that_cannot_be_created_before_scoring(trained, capsys):
    code, text = cli(capsys, "eval", trained, "--out", f"{NOPE}/figs", "--mistakes", "0")
    text = one_line(text)
    assert code == 2, text
    assert f"cannot create '{NOPE}' (No such file or directory)" in text, text
    assert "'/proc' is not writable" not in text and "acc" not in text, text


def test_eval_refuses_a_training_setting(trained, capsys):
    code, text = cli(capsys, "eval", trained, "--set", "train.epochs=5", "--mistakes", "0")
    text = one_line(text)
    assert code == 2 and "train.epochs=5" in text, text
    assert "Only data.* (and train.eval_batch_size) settings apply here" in text, text
    assert not list((trained / "figures").glob("*epochs*")), "the refused setting named figures"


def test_run_evaluate_refuses_a_training_setting_as_eval_does(trained):
    with pytest.raises(vislab.UserError, match=r"Only data\.\* \(and train\.eval_batch_size\)"):
        vislab.load_run(trained).evaluate(train__seed=3)
