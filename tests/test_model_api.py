"""Looking inside a model from Python: ``vislab.model_info`` (the layer table and costs of `vislab model info`)
and ``vislab.gradcheck`` (`vislab model gradcheck`) return values the commands print, take what
``vislab.train`` takes (names, your class) plus runs and nn.Module objects, and refuse bad input by name."""

from __future__ import annotations

import pytest
import torch.nn as nn

import vislab
import vislab.api
from conftest import cli, one_line
from vislab.errors import DataError, UserError


class Net(nn.Module):  # a notebook's model: a class vislab builds with num_classes and input_shape
    def __init__(self, num_classes, input_shape, width=4):
        super().__init__()
        self.conv = nn.Conv2d(input_shape[0], width, 3)
        self.fc = nn.Linear(width * (input_shape[1] - 2) * (input_shape[2] - 2), num_classes)

    def forward(self, x):
        return self.fc(self.conv(x).flatten(1))


def test_the_public_api_names_them():
    assert {"model_info", "gradcheck", "ModelInfo", "GradCheck"} <= set(vislab.__all__)
    assert {"model_info", "gradcheck"} <= set(vislab.api.__all__)


def test_model_info_of_a_name_gives_totals_layers_and_receptive_fields():
    info = vislab.model_info("cnn", (1, 28, 28))
    assert (info.params, info.macs, info.output_shape) == (1_189_570, 16_714_000, "10")
    assert info.title == "cnn: input 1×28×28 → output 10" and info.num_classes == 10
    layers = info.layers
    assert list(layers.columns[:6]) == [
        "layer",
        "type",
        "output_shape",
        "params",
        "trainable",
        "macs",
    ]
    assert layers.params.sum() == info.params and layers.macs.sum() == info.macs
    last_pool = layers[layers.type == "MaxPool2d"].iloc[-1]
    assert (last_pool.receptive_field, last_pool.jump) == (36, 8)
    page = info._repr_html_()  # a notebook's display(info): the table, then the totals in words
    assert "cnn: input 1×28×28 → output 10" in page and "1,025,000" in page
    assert "MACs per image: 16,714,000" in page


def test_model_info_of_a_vit_gives_its_tokens_and_attention_share():
    info = vislab.model_info("vit", (3, 32, 32), depth=1)
    assert info.attention.tokens == 65  # 8×8 patches of 4×4 + the class token
    assert 0 < info.attention_share < 1
    assert info.attention_share == pytest.approx(info.attention.macs / info.macs)
    assert vislab.model_info("cnn", (1, 28, 28)).attention_share is None


def test_the_command_prints_what_model_info_returns(capsys):
    info = vislab.model_info("vit", (1, 28, 28), depth=1, patch_size=7)
    code, out = cli(
        capsys, "model", "info", "vit", "-i", "1x28x28", "-s", "depth=1", "-s", "patch_size=7"
    )
    assert code == 0, out
    assert info.title in out and f"{info.params:,}" in out
    for line in info.lines():
        assert one_line(line) in one_line(out)


def test_model_info_of_a_run_is_its_model_at_its_own_shape(trained):
    for given in (vislab.load_run(trained), trained, str(trained)):
        info = vislab.model_info(given)
        assert info.input_shape == (1, 8, 8) and info.num_classes == 10
        assert info.name == f"{trained} (mlp)" and info.output_shape == "10"
    with pytest.raises(UserError, match=r"input_shape: '.*' is a run, whose model"):
        vislab.model_info(trained, (3, 32, 32))


def test_model_info_of_your_class_and_of_a_module_object():
    of_class = vislab.model_info(Net, (1, 6, 6), num_classes=3, width=2)
    net = Net(3, (1, 6, 6), width=2)
    of_object = vislab.model_info(net, (1, 6, 6))
    assert of_class.params == of_object.params == sum(p.numel() for p in net.parameters())
    assert of_object.name == "Net" and of_object.output_shape == "3"
    with pytest.raises(UserError, match="built already.*leave out width"):
        vislab.model_info(net, (1, 6, 6), width=8)


def test_model_info_refuses_an_unknown_name_with_close_ones():
    with pytest.raises(UserError, match="unknown model 'cnnn'. Did you mean 'cnn'?"):
        vislab.model_info("cnnn")


def test_model_info_refuses_a_shape_naming_the_shape_train_names_the_data():
    """The shape model_info is given is the user's own (the fix: give C×H×W); train's comes from data."""
    with pytest.raises(UserError, match=r"input shape \(2,\) is one of feature vectors") as by_info:
        vislab.model_info("cnn", (2,))
    with pytest.raises(UserError, match="data.name=circles") as by_train:
        vislab.train(model="cnn", data="circles", data__n_samples=20, train__figures=False)
    assert "data.name" not in str(by_info.value) and "--input" not in str(by_train.value)
    with pytest.raises(UserError, match=r"give \(C, H, W\) for images"):
        vislab.model_info("cnn", "3x32x32")


def test_model_info_of_a_run_folder_that_does_not_exist(tmp_path, capsys):
    for missing in (tmp_path / "nope", f"{tmp_path}/nope"):
        with pytest.raises(DataError, match="nope' does not exist"):
            vislab.model_info(missing)
    code, out = cli(capsys, "model", "info", f"{tmp_path}/nope")  # was "unknown model '.../nope'"
    assert code == 2 and "nope' does not exist" in out


def test_gradcheck_returns_each_parameters_error_and_the_verdict():
    check = vislab.gradcheck(hidden=[4, 3], input_shape=(1, 3, 3), num_classes=3, batch=8)
    assert check.passed and check.max_error < 1e-10
    assert list(check.table.parameter) == [
        f"net.{i}.{p}" for i in (0, 2, 4) for p in ("weight", "bias")
    ]
    assert check.table.relative_error.max() == check.max_error
    assert "OK" in check._repr_html_()


def test_gradcheck_fails_on_a_wrong_backward(monkeypatch):
    from vislab.models import scratch

    orig = scratch.ScratchMLP.backward_manual
    monkeypatch.setattr(
        scratch.ScratchMLP, "backward_manual", lambda self, *a: [g * 2 for g in orig(self, *a)]
    )
    check = vislab.gradcheck()
    assert not check.passed and check.verdict().endswith("FAILED")


def test_gradcheck_refuses_other_models_and_tolerances():
    with pytest.raises(UserError, match="model 'cnn' has no hand-written gradients to check"):
        vislab.gradcheck("cnn", input_shape=(1, 8, 8))
    with pytest.raises(UserError, match="give a positive tolerance"):
        vislab.gradcheck(tol=0)
    with pytest.raises(UserError, match="at least 2"):
        vislab.gradcheck(num_classes=1)
