"""What `model info`, `config show`, `data info`/`preview`, `eval` and `model gradcheck` say, and refuse,
when a name is also a folder, an option is bad or a folder is not a run."""

from __future__ import annotations

import shutil
import sys
import types

from conftest import cli
from vislab.cli import main

USER_MODEL = """
import torch.nn as nn

class Net(nn.Module):
    def __init__(self, input_shape, num_classes, scale=1.0):
        super().__init__()
        self.scale = scale
        self.fc = nn.Linear(input_shape[0], num_classes)

    def forward(self, x):
        return self.fc(x) * float(self.scale)
"""


def test_a_run_folder_named_like_a_model_is_the_model_given_input(
    capsys, trained, tmp_path, monkeypatch
):
    shutil.copytree(trained, tmp_path / "mlp")
    monkeypatch.chdir(tmp_path)
    code, out = cli(capsys, "model", "info", "mlp", "--input", "1x28x28")
    assert code == 0, out
    assert "mlp: input 1×28×28" in out
    assert "'mlp' is a model name and a run folder here: showing the model" in out


def test_a_run_folder_named_like_a_model_is_the_run_without_options(
    capsys, trained, tmp_path, monkeypatch
):
    shutil.copytree(trained, tmp_path / "mlp")
    monkeypatch.chdir(tmp_path)
    code, out = cli(capsys, "model", "info", "mlp")
    assert code == 0, out
    assert "mlp (mlp): input 1×8×8" in out  # the run's own input: digits
    assert "showing the run folder; for the model give --input" in out


def test_an_empty_folder_named_like_a_model_does_not_hide_it(capsys, tmp_path, monkeypatch):
    (tmp_path / "mlp").mkdir()
    monkeypatch.chdir(tmp_path)
    code, out = cli(capsys, "model", "info", "mlp")
    assert code == 0, out
    assert "mlp: input 3×32×32" in out


def test_model_info_refuses_an_option_the_forward_cannot_use(capsys, tmp_path, monkeypatch):
    (tmp_path / "net.py").write_text(USER_MODEL)
    monkeypatch.chdir(tmp_path)
    # main, not cli: the message shows the user's own traceback (cli refuses any)
    code = main(["model", "info", "net.py:Net", "--input", "4", "--set", "scale=abc"])
    out = capsys.readouterr().err
    assert code == 2, out
    assert "ValueError: could not convert string to float: 'abc'" in out
    assert "no forward pass" not in out


def test_config_show_checks_the_model_as_train_does(capsys):
    code, out = cli(capsys, "config", "show", "--set", "model.name=cnn", "--set", "model.widht=3")
    assert code == 2
    assert "model 'cnn' has no option 'model.widht'. Did you mean 'model.widths'?" in out
    code, out = cli(capsys, "config", "show", "--set", "model.name=nosuch")
    assert code == 2
    assert "unknown model 'nosuch'" in out


def test_config_show_lists_the_models_default_options(capsys):
    code, out = cli(
        capsys, "config", "show", "--set", "model.name=mlp", "--set", "model.dropout=0.5"
    )
    assert code == 0, out
    assert "  name: mlp\n  hidden:\n  - 256\n  activation: relu\n  dropout: 0.5\n" in out


def test_a_suite_folder_given_as_a_run_names_its_runs(capsys, tmp_path, monkeypatch):
    (tmp_path / "s1" / "cnn").mkdir(parents=True)
    (tmp_path / "s1" / "suite.json").write_text("{}")
    (tmp_path / "s1" / "cnn" / "config.yaml").write_text("{}")
    monkeypatch.chdir(tmp_path)
    for args in (("eval", "s1"), ("model", "info", "s1")):
        code, out = cli(capsys, *args)
        assert code == 2, out
        assert "'s1' is a suite folder, not a run: give one of its runs, e.g. 's1/cnn'" in out


def test_data_commands_refuse_a_second_data_name(capsys, tmp_path):
    for command in ("info", "preview"):
        args = ("data", command, "digits", "--set", "data.name=circles")
        code, out = cli(
            capsys, *args, *(("--out", tmp_path / "p.png") if command == "preview" else ())
        )
        assert code == 2, out
        assert "NAME digits and --set data.name=circles both set data.name" in out


def test_a_timm_name_left_out_is_asked_for_with_a_timm_example(capsys):
    code, out = cli(capsys, "model", "info", "timm:")
    assert code == 2
    assert "e.g. model.name=timm:resnet18" in out


def test_an_unknown_timm_name_suggests_close_ones(capsys, monkeypatch):
    names = ["resnet18", "resnet34", "vit_tiny_patch16_224"]
    fake = types.SimpleNamespace(
        is_model=lambda n: n in names,
        list_models=lambda pattern="*": [
            n for n in names if __import__("fnmatch").fnmatch(n, pattern)
        ],
    )
    monkeypatch.setitem(sys.modules, "timm", fake)
    code, out = cli(capsys, "model", "info", "timm:ResNet18")
    assert code == 2
    assert "Did you mean timm:resnet18?" in out
    code, out = cli(capsys, "model", "info", "timm:zzzz")
    assert code == 2
    assert "'*vit*'" not in out


def test_gradcheck_refuses_a_tolerance_no_error_can_meet(capsys):
    for tol in ("-1", "0", "nan"):
        code, out = cli(capsys, "model", "gradcheck", "--tol", tol)
        assert code == 2, out
        assert "give a positive tolerance" in out


def test_lr_find_help_names_every_figure_type_it_writes(capsys):
    code, out = cli(capsys, "lr-find", "--help")
    assert code == 0
    assert "PNG, JPG, SVG or PDF" in " ".join(out.replace("│", " ").split())
