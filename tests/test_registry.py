"""The model and data-source registries: a new family is one file, and a missing family fails loudly.

A newcomer's model family is a module whose builder carries ``@register_model(name)`` and declares the
bounds of its options in its signature; importing the module is all it takes for training, sweeps and
the CLI to know it. Tests register such toy families and remove them again with ``unregister_model``
/ ``unregister_source``, so the registries stay as the package left them.
"""

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch.nn as nn

import vislab
from conftest import cli, one_line
from vislab.config import DataConfig
from vislab.data import load_splits
from vislab.data.sources import SOURCES, register_source, require_source, unregister_source
from vislab.data.types import ArraySet, SourceData
from vislab.errors import ConfigError, UserError
from vislab.models import MODELS, build_model, check_model_options, register_model, unregister_model
from vislab.models.calling import target_of
from vislab.models.registry import code_of

TOY_FAMILY = '''
"""A toy model family: one file, written the way a newcomer would."""

from typing import Annotated

import torch.nn as nn
from pydantic import Field

from vislab.models import Probability, Size, register_model


@register_model("toy")
def toy(
    input_shape: tuple[int, ...],
    num_classes: int,
    width: Size = 8,
    dropout: Probability = 0.0,
    gain: Annotated[float, Field(gt=0, le=10, description="a weight scale")] = 1.0,
) -> nn.Module:
    """Flatten → Linear(width) → ReLU → Dropout → Linear(num_classes)."""
    features = 1
    for n in input_shape:
        features *= n
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(features, width),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(width, num_classes),
    )
'''


@pytest.fixture
def toy_family(tmp_path, monkeypatch):
    """The toy family written to a module of its own and imported; unregistered afterwards."""
    (tmp_path / "vislab_toy_family.py").write_text(TOY_FAMILY)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("vislab_toy_family")
    yield module
    if "toy" in MODELS:
        unregister_model("toy")
    sys.modules.pop("vislab_toy_family", None)


def test_a_family_in_one_file_builds(toy_family):
    model = build_model("toy", (1, 4, 4), 3, width=5, dropout=0.25)
    assert code_of("toy")["reference"] == "toy"  # your family's code, as a run records it
    assert [type(m).__name__ for m in model] == ["Flatten", "Linear", "ReLU", "Dropout", "Linear"]
    assert model[1].in_features == 16 and model[1].out_features == 5 and model[3].p == 0.25
    assert model[4].out_features == 3


@pytest.mark.parametrize(
    "options, fragments",
    [
        (dict(width=0), ["model.width=0", "must be at least 1", "'toy'"]),
        (dict(dropout=1.5), ["model.dropout=1.5", "must lie in [0, 1)", "a probability", "'toy'"]),
        (dict(gain=11), ["model.gain=11", "must lie in (0, 10]", "a weight scale", "'toy'"]),
        (dict(width="wide"), ["invalid option for model 'toy'", "model.width = 'wide'"]),
        (dict(widht=4), ["model 'toy' has no option 'model.widht'", "Did you mean 'model.width'"]),
    ],
)
def test_a_family_declares_its_bounds_in_its_signature(toy_family, options, fragments):
    with pytest.raises(ConfigError) as checked:
        # as a sweep does before its first trial: builds nothing
        check_model_options("toy", options)
    with pytest.raises(ConfigError) as built:
        build_model("toy", (1, 4, 4), 3, **options)
    for e in (checked, built):
        assert all(f in str(e.value) for f in fragments), str(e.value)


def test_the_cli_lists_and_describes_a_new_family(toy_family, capsys):
    code, out = cli(capsys, "model", "list")
    assert code == 0
    assert "toy" in out and "width=8" in one_line(out)
    code, out = cli(capsys, "model", "info", "toy", "--input", "1x4x4", "--classes", "3")
    assert code == 0
    n_params = sum(p.numel() for p in build_model("toy", (1, 4, 4), 3).parameters())
    assert "Linear" in out and f"{n_params:,}" in out
    code, out = cli(capsys, "model", "info", "toy", "--set", "dropout=2")
    assert code == 2 and "model.dropout=2 must lie in [0, 1)" in one_line(out)


def test_unregister_model_removes_a_family(toy_family):
    unregister_model("toy")
    assert "toy" not in MODELS
    with pytest.raises(ConfigError, match="unknown model 'toy'"):
        build_model("toy", (1, 4, 4), 3)
    with pytest.raises(KeyError, match="no model 'toy'"):
        unregister_model("toy")


def test_a_taken_name_is_refused(toy_family):
    def other(input_shape, num_classes) -> nn.Module:
        return nn.Identity()

    with pytest.raises(UserError, match="'toy' is already registered by vislab_toy_family.toy"):
        register_model("toy")(other)
    assert target_of(MODELS["toy"]) is toy_family.toy


def test_a_source_in_one_file_loads():
    def load(cfg: DataConfig) -> SourceData:
        x = np.arange(40 * 4 * 4, dtype=np.uint8).reshape(40, 4, 4, 1)
        return SourceData({"train": ArraySet(x, np.arange(40) % 2)}, ["even", "odd"])

    register_source("toy-source")(load)
    try:
        require_source("toy-source")
        splits = load_splits(DataConfig(name="toy-source", split=[20, 10, 10]), seed=0)
        assert (len(splits.train.x), len(splits.val.x), len(splits.test.x)) == (20, 10, 10)
    finally:
        unregister_source("toy-source")
    assert "toy-source" not in SOURCES
    with pytest.raises(ConfigError, match="unknown dataset data.name='toy-source'"):
        require_source("toy-source")


# A family the package lists but cannot import must stop the import of the package (it used to vanish
# silently from the registry). Shown on a copy of the installed package, imported by a fresh Python.
@pytest.mark.parametrize(
    "package, change, error",
    [
        (
            "vislab.models",
            lambda root: (root / "models" / "svm.py").unlink(),
            "ModuleNotFoundError: No module named 'vislab.models.svm'",
        ),
        (
            "vislab.data.sources",
            lambda root: (root / "data" / "sources" / "digits.py").unlink(),
            "ModuleNotFoundError: No module named 'vislab.data.sources.digits'",
        ),
        (
            "vislab.models",
            lambda root: (root / "models" / "mlp.py").write_text(
                (root / "models" / "mlp.py").read_text()
                + "\nimport a_dependency_that_is_not_installed\n"
            ),
            "ModuleNotFoundError: No module named 'a_dependency_that_is_not_installed'",
        ),
    ],
    ids=["deleted-model-family", "deleted-data-source", "family-missing-its-dependency"],
)
def test_a_family_that_cannot_be_imported_fails_loudly(tmp_path, package, change, error):
    root = tmp_path / "vislab"
    shutil.copytree(
        Path(vislab.__file__).parent, root, ignore=shutil.ignore_patterns("__pycache__")
    )
    change(root)
    probe = f"import {package}, vislab; print(vislab.__file__)"
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1, result.stdout
    assert error in result.stderr
    assert str(root) in result.stderr  # the traceback runs through the copy, not the checkout
