"""Tests for model-calling, user-code-error and model-info behaviours a mutation could break unseen."""

import importlib
import importlib.util
import os
import re
import sys
import textwrap
import types
from pathlib import Path

import pytest
import torch
import torch.nn as nn

import vislab
from vislab.errors import UserCodeError, UserError
from vislab.models import MODELS, build_model, unregister_model

BUILDERS = textwrap.dedent(
    """
    import torch.nn as nn


    def build(input_shape=None, width=8, **kw):
        net = nn.Linear(64, kw["num_classes"])
        net.width, net.seen = width, dict(kw)
        return net


    def needs_width(width, **kw):
        return nn.Linear(64, 10)
    """
)

RAISING = textwrap.dedent(
    """
    import torch.nn as nn


    class Base(nn.Module):
        def __init__(self, num_classes, input_shape=None):
            super().__init__()
            if num_classes == 7:
                raise ValueError("seven classes are unlucky")
            self.fc = nn.Linear(4, num_classes)

        def forward(self, x):
            raise ValueError("base forward is broken")


    class InheritingNet(Base):  # a name no other test registers (user-<class name>)
        pass


    class Own(nn.Module):
        def __init__(self, num_classes, input_shape=None):
            super().__init__()
            self.fc = nn.Linear(4, num_classes)

        def forward(self, x):
            raise ValueError("own forward is broken")
    """
)


def _module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str
) -> types.ModuleType:
    """``text`` written as ``name``.py in tmp_path and imported as a module."""
    (tmp_path / f"{name}.py").write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return importlib.import_module(name)


def test_a_builder_with_a_defaulted_option_second_gets_num_classes_as_a_keyword(
    tmp_path, monkeypatch
):
    (tmp_path / "kwbuild.py").write_text(BUILDERS)
    monkeypatch.chdir(tmp_path)
    net = build_model("kwbuild.py:build", (1, 8, 8), 10)
    assert net.width == 8 and net.seen == {"num_classes": 10}
    assert net.out_features == 10


def test_a_builder_needing_another_argument_first_is_refused_up_front(tmp_path, monkeypatch):
    (tmp_path / "kwbuild.py").write_text(BUILDERS)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserCodeError) as e:
        build_model("kwbuild.py:needs_width", (1, 8, 8), 10)
    text = " ".join(str(e.value).split())
    assert "takes (width, kw)" in text
    assert "first two parameters must be input_shape and num_classes" in text


def test_code_inherited_from_a_base_in_the_same_file_shows_its_frames(tmp_path, monkeypatch):
    # a module no other process could import (not on sys.path): registered as the object it is
    (tmp_path / "m11_inherits.py").write_text(RAISING)
    spec = importlib.util.spec_from_file_location("m11_inherits", tmp_path / "m11_inherits.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "m11_inherits", module)
    spec.loader.exec_module(module)
    before = set(MODELS)
    try:
        with pytest.raises(UserCodeError) as e:  # Base.__init__ raises while the net is built
            vislab.model_info(module.InheritingNet, (1, 2, 2), 7)
        text = str(e.value)
        assert "while building the model" in text, text
        assert 'm11_inherits.py", line 9, in __init__' in text, text
        with pytest.raises(UserCodeError) as e:  # Base.forward raises on the dummy batch
            vislab.model_info(module.InheritingNet, (1, 2, 2), 3)
        text = str(e.value)
        assert 'm11_inherits.py", line 13, in forward' in text, text
    finally:
        for name in set(MODELS) - before:
            unregister_model(name)


def test_the_models_own_forward_raising_names_no_layer(tmp_path, monkeypatch):
    module = _module(tmp_path, monkeypatch, "m11_own", RAISING)
    with pytest.raises(UserCodeError) as e:
        vislab.model_info(module.Own, (1, 2, 2), 3)
    text = str(e.value)
    assert "own forward is broken" in text and "m11_own.py" in text, text
    assert "in its layer" not in text, text


def test_a_package_module_whose_import_raises_shows_its_frames(tmp_path, monkeypatch):
    pkg = tmp_path / "m11pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "net.py").write_text("import torch\n\nraise RuntimeError('package net is broken')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserCodeError) as e:
        build_model("m11pkg.net:Net", (1, 8, 8), 10)
    text = str(e.value)
    assert "while importing it" in text, text
    assert f'm11pkg{os.sep}net.py", line 3' in text, text


def test_model_info_takes_a_single_class():
    info = vislab.model_info("mlp", (1, 8, 8), num_classes=1)
    assert info.params > 0


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: vislab.model_info("mlp", (0, 28, 28)), "input shape (0, 28, 28)"),
        (lambda: vislab.model_info("mlp", (True, 28, 28)), "input shape (True, 28, 28)"),
        (
            lambda: vislab.model_info(nn.Linear(2, 3), num_classes=5),
            "leave out num_classes",
        ),
        (lambda: vislab.gradcheck(batch=0), "batch=0"),
    ],
)
def test_model_info_and_gradcheck_refuse_what_makes_no_sense(call, words):
    with pytest.raises(UserError, match=re.escape(words)):
        call()


def test_cost_lines_split_parameters_and_give_flops_as_twice_the_macs():
    info = vislab.model_info("cnn", (1, 28, 28))
    text = " ".join(info.lines())
    weights = sum(p.numel() for p in info_model_params() if p.dim() > 1)
    assert weights < info.params
    assert f"+ 1-D biases and scales {info.params - weights:,})" in text, text
    assert f"MACs per image: {info.macs:,} (" in text, text
    mac, flop = re.search(
        r"MACs per image: [\d,]+ \(([\d.]+) \w*MAC = ([\d.]+) \w*FLOP", text
    ).groups()
    assert float(flop) == pytest.approx(2 * float(mac), rel=0.01), text


def info_model_params() -> list[torch.Tensor]:
    """The parameters of cnn at (1, 28, 28), 10 classes, as model_info builds it."""
    return list(build_model("cnn", (1, 28, 28), 10).parameters())


class _TwoPrefixTokens(nn.Module):
    """A tiny transformer: 2×2 patches of 4×4 and two prefix tokens (class and distillation)."""

    def __init__(self) -> None:
        super().__init__()
        self.patch = nn.Conv2d(1, 8, 4, stride=4)
        self.prefix = nn.Parameter(torch.zeros(1, 2, 8))
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.patch(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.prefix.expand(len(x), -1, -1), t], 1)
        t, _ = self.attn(t, t, t)
        return self.head(t[:, 0])


def test_two_prefix_tokens_are_counted_as_two():
    text = " ".join(vislab.model_info(_TwoPrefixTokens(), (1, 8, 8)).lines())
    assert "tokens: 6 = 2×2 patches of 4×4 + 2 prefix tokens" in text, text
    assert "1 class token" not in text, text
