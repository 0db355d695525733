"""A model file's own helper modules (``model.py`` doing ``from blocks import Block``, a sibling file) are
part of the run's code: recorded with their sha256, and a run whose helper changed since is not reopened
or resumed; a timm model's exception is blamed on timm, not on the user's code."""

import hashlib
import json
import sys
from pathlib import Path

import pytest
import torch

import vislab
from conftest import TINY_DIGITS, cli, one_line
from vislab.errors import UserCodeError
from vislab.models import build_model
from vislab.models.code_errors import MARKER, code_failed
from vislab.models.registry import code_of

BLOCKS = """\
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.lin = nn.Linear(n_in, n_out)

    def forward(self, x):
        return self.lin(x).relu()
"""
MODEL = """\
import json  # the standard library, torch and vislab are not the user's own modules
import math

import torch.nn as nn
from blocks import Block

from vislab.models.hooks import ModelHooks


class Net(ModelHooks, nn.Module):
    def __init__(self, num_classes, input_shape, width=8):
        super().__init__()
        n = math.prod(input_shape)
        self.body = nn.Sequential(nn.Flatten(), Block(n, width), nn.Linear(width, num_classes))

    def forward(self, x):
        return self.body(x)
"""
SETTINGS = {k: v for k, v in TINY_DIGITS.items() if k != "model" and k != "model__hidden"}


@pytest.fixture(autouse=True)
def fresh_helpers():
    """Each test imports its own ``blocks`` (Python keeps a module imported once by its name)."""
    sys.modules.pop("blocks", None)
    yield
    sys.modules.pop("blocks", None)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def model_dir(tmp_path, monkeypatch) -> Path:
    (tmp_path / "blocks.py").write_text(BLOCKS)
    (tmp_path / "model.py").write_text(MODEL)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_an_edited_helper_module_refuses_reopening_and_resuming(model_dir):
    run = vislab.train(model="model.py:Net", out=model_dir / "run", quiet=True, **SETTINGS)
    blocks = model_dir / "blocks.py"
    recorded = json.loads((run.path / "summary.json").read_text())["model_code"]
    assert recorded["imports"] == {"blocks.py": sha256(blocks)}  # json, math, torch, vislab: not
    blocks.write_text(BLOCKS.replace(".relu()", ".tanh()"))
    for reopen in (run.model, lambda: vislab.train(out=run.path, resume=True, epochs=2)):
        with pytest.raises(UserCodeError) as refused:
            reopen()
        text = one_line(str(refused.value))
        assert "whose code imports blocks.py; since then blocks.py changed" in text, text
        assert "- return self.lin(x).relu(); + return self.lin(x).tanh()" in text, text
    # trusted, the model is rebuilt anyway (eval or figures with the code as it is now)
    assert type(run.model(trust_code=True)).__name__ == "Net"
    assert "--trust-code" in text
    blocks.write_text(BLOCKS)  # the code the run was trained with, back: it reopens and resumes
    assert type(run.model()).__name__ == "Net"
    assert vislab.train(out=run.path, resume=True, epochs=2, quiet=True).summary["epochs_run"] == 2


def test_an_exception_in_a_helper_module_shows_its_line(model_dir):
    (model_dir / "blocks.py").write_text(
        BLOCKS.replace("return self.lin(x)", "return self.lin(x[:, :3])")
    )
    with pytest.raises(UserCodeError) as failed:
        vislab.train(model="model.py:Net", out=model_dir / "run", quiet=True, **SETTINGS)
    message, _, users = str(failed.value).partition(MARKER)
    assert (
        f"on a dummy batch of zeros (2 inputs of the data's shape, 1×8×8) at {model_dir / 'blocks.py'}, line 10"
        in one_line(message)
    )
    assert 'blocks.py", line 10, in forward' in users and "model.py" in users, users


def test_a_deleted_helper_module_is_named(model_dir):
    run = vislab.train(model="model.py:Net", out=model_dir / "run", quiet=True, **SETTINGS)
    (model_dir / "blocks.py").unlink()
    with pytest.raises(UserCodeError, match=r"blocks\.py is gone \(no file .*blocks\.py\)"):
        run.model()


def test_a_run_recorded_before_imports_were_still_opens(model_dir):
    run = vislab.train(model="model.py:Net", out=model_dir / "run", quiet=True, **SETTINGS)
    for path in (run.path / "checkpoints").glob("*.pt"):  # as vislab wrote them before this field
        ckpt = torch.load(path, weights_only=True)
        del ckpt["model_code"]["imports"]
        torch.save(ckpt, path)
    (model_dir / "blocks.py").write_text(BLOCKS + "\n# a comment\n")
    model = run.model()
    assert model(torch.zeros(1, 1, 8, 8)).shape == (1, 10)


def test_a_sibling_module_imports_from_the_command_line(capsys, tmp_path, monkeypatch):
    # the vislab command has no current directory on sys.path: the model file's folder is, as for
    # `python models/model.py`, while the file runs
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "blocks.py").write_text(BLOCKS)
    (tmp_path / "models" / "model.py").write_text(MODEL)
    monkeypatch.chdir(tmp_path)
    sets = ["model.name=models/model.py:Net", "data.name=digits", "data.limit=200"]
    sets += ["train.epochs=1", "train.device=cpu", "train.figures=false"]
    code, text = cli(
        capsys, "train", "-q", "--out", "run", *(a for s in sets for a in ("--set", s))
    )
    assert code == 0, text
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["model_code"]["imports"] == {"blocks.py": sha256(tmp_path / "models/blocks.py")}


def test_a_package_modules_own_imports_are_recorded(tmp_path, monkeypatch):
    pkg = tmp_path / "mypkg_t3"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "blocks.py").write_text(BLOCKS)
    (pkg / "nets.py").write_text(MODEL.replace("from blocks import", "from mypkg_t3.blocks import"))
    monkeypatch.syspath_prepend(str(tmp_path))
    build_model("mypkg_t3.nets:Net", (1, 8, 8), 10)
    # its package's __init__ is not recorded, as the module's own file is the one a run records
    assert code_of("mypkg_t3.nets:Net")["imports"] == {"blocks.py": sha256(pkg / "blocks.py")}


def test_a_timm_models_exception_is_timms_not_the_users():
    # as `vislab train --set model.name=timm:resnet18 --set model.drop_rate=abc` reports its dummy batch
    # (timm takes the string, its dropout raises in forward); timm itself is not imported here
    try:
        float("abc")
    except ValueError as e:
        error = code_failed("timm:resnet18", e, "on a dummy batch of zeros", [])
    message, marker, shown = str(error).partition("\ntimm raised:\n")
    assert marker, str(error)
    assert message.startswith(
        "model 'timm:resnet18': timm raised ValueError on a dummy batch of zeros"
    )
    assert "Check the model.* options given to it" in message
    assert MARKER not in str(error) and "your code" not in str(error), str(error)
    assert shown == "ValueError: could not convert string to float: 'abc'"
    # the user's own code is still blamed as before, with the line the tests of its traceback parse
    mine = str(code_failed("net.py:Net", error.__cause__ or ValueError("x"), "in forward", []))
    assert "model 'net.py:Net': your code raised ValueError in forward" in mine
    assert f"\n{MARKER}\n" in mine


def test_a_helper_edited_while_its_module_stays_imported_is_recorded_as_it_ran(model_dir):
    blocks = model_dir / "blocks.py"
    trained_with = sha256(blocks)
    vislab.train(model="model.py:Net", out=model_dir / "a", quiet=True, **SETTINGS)
    blocks.write_text(BLOCKS.replace(".relu()", ".tanh()"))
    # Python keeps running the blocks it imported first: the next run records that one, not the file
    again = vislab.train(model="model.py:Net", out=model_dir / "b", quiet=True, **SETTINGS)
    assert again.summary["model_code"]["imports"] == {"blocks.py": trained_with}
    with pytest.raises(UserCodeError, match="blocks.py changed"):
        again.model()


def test_a_timm_models_size_error_does_not_ask_to_size_its_layers():
    # "Size the layers from input_shape" is advice for the user's own class, not for timm's
    from vislab.training.model_checks import check_output

    class Sized(torch.nn.Module):
        def forward(self, x):
            raise RuntimeError("Input height (8) doesn't match model (224): wrong size")

    for name, advised in (("timm:vit_tiny_patch16_224", False), ("net.py:Net", True)):
        with pytest.raises(UserCodeError) as got:
            check_output(Sized(), name, (3, 8, 8), 10, torch.device("cpu"), code=None)
        assert ("Size the layers from input_shape" in str(got.value)) is advised, str(got.value)
