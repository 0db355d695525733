"""Bad input found by explorer e40: a Ctrl-C during an export that torch's exporter wraps, a damaged
predictions_<split>.npz, `--resume` of a suite folder, a misspelt model option, a write blocked by a
folder, and a call's own argument taken for a misspelt config key. Each ends with a message naming the
culprit and the fix, a non-zero exit and no traceback."""

import builtins
import errno
import os
import shutil

import pytest
import torch

import vislab
from conftest import cli, one_line
from figures_skipped import skip_report_figures
from vislab import interrupts
from vislab.errors import ConfigError, UserError, WriteFailed
from vislab.files import atomic_write_text


def _ctrl_c_then(error: Exception):
    """A stand-in for torch's exporter: a Ctrl-C arrives (the command line records it), torch wraps it."""

    def export(*args, **kwargs):
        try:
            interrupts._interrupt(2, None)  # what SIGINT does under `vislab`
        except KeyboardInterrupt:
            raise error from None  # torch's wrapper drops the KeyboardInterrupt from the chain

    return export


def test_ctrl_c_in_onnx_export_is_an_interruption_not_a_model_bug(
    trained, capsys, monkeypatch, tmp_path
):
    pytest.importorskip("onnxscript")
    wrapped = AttributeError("module 'torch._dynamo' has no attribute 'exc'")
    monkeypatch.setattr(torch.onnx, "export", _ctrl_c_then(wrapped))
    code, out = cli(capsys, "export", trained, "-f", "onnx", "-o", tmp_path / "onnx")
    assert code == 130 and "interrupted." in out, out
    assert "could not be exported" not in out and not list(tmp_path.glob("onnx/*"))


def test_ctrl_c_while_importing_onnx_is_an_interruption_not_a_missing_package(
    trained, capsys, monkeypatch, tmp_path
):
    real = builtins.__import__

    def interrupted_import(name, *args, **kwargs):
        if (
            name == "onnxscript"
        ):  # a half-imported module fails later with an ImportError of no name
            _ctrl_c_then(ImportError("cannot import name 'ir' from partially initialized module"))()
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", interrupted_import)
    code, out = cli(capsys, "export", trained, "-f", "onnx", "-o", tmp_path / "onnx")
    assert code == 130 and "interrupted." in out, out
    assert "needs the ONNX packages" not in out


def test_torchscript_tracer_wrapping_a_ctrl_c_is_an_interruption(
    trained, capsys, monkeypatch, tmp_path
):
    monkeypatch.setattr(torch.jit, "trace", _ctrl_c_then(RuntimeError("tracer failed")))
    code, out = cli(capsys, "export", trained, "-f", "torchscript", "-o", tmp_path / "ts")
    assert code == 130 and "interrupted." in out and "could not be traced" not in out, out


# ------------------------------------------------------------------ a damaged predictions_test.npz
@pytest.fixture
def cut_predictions(trained, tmp_path):
    """A copy of the tiny run whose predictions_test.npz was cut short (a full disk, a copy stopped)."""
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    npz = run / "predictions_test.npz"
    npz.write_bytes(npz.read_bytes()[:300])
    return run


@pytest.mark.parametrize("kind", ["confusion", "per-class", "roc"])
def test_plot_of_a_damaged_predictions_file_names_it_and_the_fix(cut_predictions, kind):
    with pytest.raises(UserError) as e:
        vislab.load_run(cut_predictions).plot(kind)
    said = one_line(str(e.value))
    assert f"'{cut_predictions / 'predictions_test.npz'}' cannot be read" in said, said
    assert f"vislab eval {cut_predictions}" in said, said


def test_report_says_on_the_terminal_which_predictions_file_is_damaged(cut_predictions, capsys):
    code, out = cli(capsys, "report", cut_predictions)
    said = one_line(out)
    assert code == 0 and f"'{cut_predictions / 'predictions_test.npz'}' cannot be read" in said, out
    assert f"vislab eval {cut_predictions}" in said and "BadZipFile" in said, out
    page = one_line((cut_predictions / "report.html").read_text())
    assert "predictions_test.npz&#39; cannot be read" in page and "vislab eval" in page


def test_eval_writes_a_damaged_predictions_file_again(cut_predictions, capsys):
    code, out = cli(capsys, "eval", cut_predictions)
    assert code == 0 and "predictions_test.npz again" in out, out
    assert vislab.load_run(cut_predictions).plot("confusion") is not None
    code, out = cli(capsys, "report", cut_predictions)
    assert code == 0 and "cannot be read" not in out, out


# ------------------------------------------------------------------ --resume of a suite's folder
@pytest.fixture
def suite_folder(trained, tmp_path):
    """A suite's folder (its suite.json) holding one finished run, 'cnn'."""
    folder = tmp_path / "qs"
    shutil.copytree(trained, folder / "cnn")
    (folder / "suite.json").write_text("{}")
    return folder


def test_resume_of_a_suite_folder_names_one_of_its_runs(suite_folder, capsys):
    code, out = cli(capsys, "train", "--resume", suite_folder)
    said = one_line(out)
    assert code == 2 and f"'{suite_folder}' is a suite folder, not a run" in said, out
    assert f"give one of its runs, e.g. '{suite_folder / 'cnn'}'" in said, out
    assert "nothing to resume" not in said and "--out" not in said


def test_python_resume_of_a_suite_folder_names_one_of_its_runs(suite_folder):
    with pytest.raises(UserError, match="is a suite folder, not a run: give one of its runs"):
        vislab.train(out=suite_folder, resume=True)


# ------------------------------------------------------------------ a misspelt model key
def test_misspelt_model_name_key_suggests_model_name(capsys, tmp_path):
    out_dir = tmp_path / "run"
    code, out = cli(
        capsys, "train", "--set", "data.name=digits", "--set", "model.nmae=mlp", "--out", out_dir
    )
    said = one_line(out)
    assert code == 2 and "unknown config key 'model.nmae'. Did you mean 'model.name'?" in said, out
    assert (
        "Valid keys: name, " not in said and not out_dir.exists()
    )  # not the default cnn's options


# ------------------------------------------------------------------ a write blocked
def test_a_folder_in_the_way_is_named_not_a_full_disk(trained, capsys, tmp_path, monkeypatch):
    skip_report_figures(monkeypatch)  # the page's own write is the one read here
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    (run / "report.html").mkdir()
    code, out = cli(capsys, "report", run)
    said = one_line(out)
    assert code != 0 and f"'{run / 'report.html'}': a folder of that name is in the way" in said, (
        out
    )
    assert "Free space" not in said and "previous file" not in said


def test_a_full_disk_says_the_previous_file_is_intact_only_when_there_was_one(
    monkeypatch, tmp_path
):
    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(WriteFailed) as new:
        atomic_write_text(tmp_path / "results.md", "table")
    (tmp_path / "old.md").write_text("old table")
    with pytest.raises(WriteFailed) as old:
        atomic_write_text(tmp_path / "old.md", "table")
    assert "the disk is full. Free space" in str(new.value)
    assert "previous file" not in str(new.value) and not (tmp_path / "results.md").exists()
    assert "the previous file there is intact" in str(old.value)
    assert (tmp_path / "old.md").read_text() == "old table"


# ------------------------------------------------------------------ a call's own argument
def test_lr_find_epochs_points_to_steps_not_to_itself():
    with pytest.raises(ConfigError) as e:
        vislab.lr_find(model="mlp", data="digits", epochs=1)
    said = one_line(str(e.value))
    assert "vislab.lr_find takes no epochs argument" in said and "give steps=N" in said, said
    assert "did you mean epochs=1" not in said


def test_lr_find_out_points_to_saving_its_figure():
    with pytest.raises(
        ConfigError, match=r"vislab.lr_find takes no out argument.*\.plot\(\)\.savefig"
    ):
        vislab.lr_find(model="mlp", data="digits", out="lr")


def test_lr_find_lr_points_to_its_range_not_to_a_setting_it_ignores():
    """E41: lr=0.1 got "did you mean optim__lr=0.1?", which the range test never reads."""
    with pytest.raises(ConfigError) as e:
        vislab.lr_find(model="mlp", data="digits", lr=0.1)
    said = one_line(str(e.value))
    assert "start_lr= and end_lr=" in said and "did you mean optim__lr" not in said, said
    with pytest.raises(ConfigError, match="vislab.preview_data takes no steps argument"):
        vislab.preview_data("digits", steps=3)


# ------------------------------------------------------------------ --resume of what holds no run (E41)
def test_resume_of_a_paper_folder_or_a_file_says_it_holds_no_run(trained, tmp_path, capsys):
    """Before: a paper folder got "no checkpoints/last.pt ... Start it again: its command with --out",
    advice that is refused; a file got "does not exist"."""
    paper = tmp_path / "paper"
    paper.mkdir()
    (paper / "main.tex").write_text("\\documentclass{article}")
    code, out = cli(capsys, "train", "--resume", paper)
    assert code != 0 and "no vislab run's folder (no config.yaml; it holds main.tex)" in out, out
    assert "Start it again" not in out
    spec = tmp_path / "mys.yaml"
    spec.write_text("train: {epochs: 1}\n")
    code, out = cli(capsys, "train", "--resume", spec)
    assert code != 0 and "is a file, not a run's folder" in out and "does not exist" not in out, out
    code, out = cli(capsys, "train", "--resume", trained / "checkpoints" / "last.pt")
    assert code != 0 and f"is a file of run '{trained}'" in out, out
