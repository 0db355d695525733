"""The values a run uses where a preset or a schedule fills them: shown by `config show`, `model list` and
`model info` (with what each option does), the notes `config show` shares with `train`, and model_info's
Python spelling of an unknown option."""

from __future__ import annotations

import pytest
import yaml

import vislab
from conftest import cli
from vislab.errors import UserError


def test_config_show_prints_the_presets_values_marked(capsys):
    code, out = cli(
        capsys, "config", "show", "--set", "model.name=cnn", "--set", "model.preset=simple"
    )
    assert code == 0, out
    assert "  dropout: 0.5  # preset simple\n" in out
    assert "  widths: [32, 64]  # preset simple\n" in out
    assert "  batchnorm: false  # preset simple\n" in out
    assert yaml.safe_load(out)["model"]["dropout"] == 0.5  # still YAML a config can be read from


def test_config_show_prints_the_vit_builders_defaults_and_what_was_set_unmarked(capsys):
    code, out = cli(capsys, "config", "show", "--set", "model.name=vit", "--set", "model.depth=2")
    assert code == 0, out
    assert "  embed_dim: 64  # vit's default\n" in out
    assert "  pos_embed: learned  # vit's default\n" in out
    assert "  depth: 2\n" in out  # given: no comment
    code, out = cli(
        capsys, "config", "show", "--set", "model.name=vit", "--set", "model.preset=deep"
    )
    assert "  residual: false  # preset deep\n" in out


@pytest.mark.parametrize("name, gamma", [("exponential", 0.95), ("step", 0.1)])
def test_config_show_prints_the_schedules_own_gamma(capsys, name, gamma):
    code, out = cli(capsys, "config", "show", "--set", f"schedule.name={name}")
    assert code == 0, out
    assert f"  gamma: {gamma}  # the {name} schedule's own\n" in out
    code, out = cli(
        capsys, "config", "show", "--set", f"schedule.name={name}", "--set", "schedule.gamma=0.5"
    )
    assert "  gamma: 0.5\n" in out


def test_config_show_prints_the_notes_train_prints(capsys):
    code, out = cli(capsys, "config", "show", "--set", "schedule.gamma=0.5")
    assert code == 0, out
    assert "note: schedule.gamma=0.5 does nothing with schedule.name=none" in out


def test_the_warm_up_note_says_the_lr_the_run_reaches(capsys):
    code, out = cli(
        capsys, "config", "show", "--set", "schedule.warmup_epochs=50", "--set", "train.epochs=1"
    )
    assert code == 0, out
    assert "reaching about 2e-05 at the last step, 2 % of optim.lr" in out


def test_model_list_shows_the_values_options_take_when_unset(capsys):
    code, out = cli(capsys, "model", "list")
    assert code == 0, out
    assert "embed_dim=64" in out and "depth=4" in out and "embed_dim=None" not in out


def test_model_info_prints_each_option_with_its_value_allowed_values_and_use(capsys):
    code, out = cli(
        capsys,
        "model",
        "info",
        "vit",
        "-i",
        "1x28x28",
        "--set",
        "spt=true",
        "--set",
        "patch_size=7",
    )
    assert code == 0, out
    lines = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") == 5}
    assert "cls | mean" in lines["pool"] and "class token" in lines["pool"]
    assert "Shifted Patch Tokenization" in lines["spt"] and "true" in lines["spt"]
    assert "64 (vit's default)" in lines["embed_dim"]
    assert "tokens: 17 = 4×4 patches of 7×7 + 1 class token" in out
    code, out = cli(capsys, "model", "info", "cnn", "-i", "1x28x28", "--set", "preset=deep")
    assert "0.5 (preset deep)" in out and "[0, 1)" in out


def test_model_info_in_python_names_the_keyword():
    with pytest.raises(UserError, match=r"Did you mean pool= \(--set model.pool=...\)\?") as e:
        vislab.model_info("vit", (1, 28, 28), pooling="mean")
    assert str(e.value).index("pool=") < str(e.value).index("model.pool")  # Python's spelling first
