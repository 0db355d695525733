"""A model's classifier head and hand-written gradients are hooks it declares (``ModelHooks.head_modules``,
``ModelHooks.hand_written_gradients``), read through ``hooks_of``: ``optim.head_lr`` trains the declared
head at its own lr whatever the head is (a 1×1 conv, timm's classifier), and gradcheck checks any model
that declares its own gradients. A plain model keeps the default head: its last Linear to the classes."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from conftest import tiny_config
from vislab.errors import UserError
from vislab.models import register_model, unregister_model
from vislab.models.gradcheck import gradcheck
from vislab.models.hooks import HandWrittenGradients, ModelHooks
from vislab.models.registry import build_model
from vislab.training.checkpoint import load_checkpoint
from vislab.training.finetune import head_names
from vislab.training.parts import build_optimisation, build_parts
from vislab.training.runtime import Distributed
from vislab.training.trainer import train

CPU = torch.device("cpu")


class ConvHead(ModelHooks, nn.Module):
    """A fully convolutional classifier: a 1×1 conv to the classes, then the global average."""

    def __init__(self, channels: int, num_classes: int, head: str = "head"):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, 8, 3, padding=1), nn.ReLU())
        self.head = nn.Conv2d(8, num_classes, 1)
        self.declared = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).mean((2, 3))

    def head_modules(self) -> list[str]:
        return [self.declared]


@pytest.fixture
def conv_head():
    @register_model("conv-head")
    def build(input_shape, num_classes, head: str = "head"):
        return ConvHead(input_shape[0], num_classes, head)

    yield
    unregister_model("conv-head")


def _head_lrs(cfg) -> dict[str, float]:
    """Each trainable parameter's lr in the optimizer the run builds."""
    _, network = build_parts(cfg, CPU, Distributed())
    opt = build_optimisation(cfg, network, CPU, 10).opt
    lr = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    return {n: lr[id(p)] for n, p in network.model.named_parameters() if p.requires_grad}


HEAD_LR = ("optim.name=sgd", "optim.lr=0.1", "optim.head_lr=0.01")


def test_a_declared_conv_head_trains_at_head_lr(conv_head, tmp_path):
    """Before, optim.head_lr refused any model without a final Linear to the classes."""
    cfg = tiny_config("model.name=conv-head", *HEAD_LR)
    lrs = _head_lrs(cfg)
    assert lrs == {"body.0.weight": 0.1, "body.0.bias": 0.1, "head.weight": 0.01, "head.bias": 0.01}
    train(cfg, tmp_path / "run", quiet=True)
    weights = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt").state_dict
    assert weights["head.weight"].shape == (10, 8, 1, 1)


def test_a_declared_head_that_is_no_module_is_named(conv_head):
    cfg = tiny_config("model.name=conv-head", "model.head=heed", *HEAD_LR)
    with pytest.raises(
        UserError, match=r"head_modules\(\) hook of ConvHead names 'heed'.*body, body\.0"
    ):
        _head_lrs(cfg)


def test_fast_heads_lr_reaches_its_head():
    """``fast``'s weight average holds a copy of its head registered after it: before, that copy (no
    parameters) was taken for the head, and optim.head_lr changed nothing."""
    cfg = tiny_config("model.name=fast", "model.widths=[8]", *HEAD_LR)
    lrs = _head_lrs(cfg)
    assert lrs.pop("net.5.weight") == 0.01
    assert set(lrs.values()) == {0.1}


def test_a_plain_model_keeps_its_last_linear_as_head():
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10), nn.ReLU(), nn.Linear(10, 10))
    assert head_names(model, 10, []) == ["3.weight", "3.bias"]
    with pytest.raises(UserError, match="no final nn.Linear to 4 classes"):
        head_names(model, 4, [])


def test_a_stem_re_initialised_for_other_channels_is_no_head():
    """E41: train.init_from a grey run into an RGB model re-initialises the first conv (its shape
    differs); optim.head_lr then trained that stem at head_lr and the classifier at optim.lr."""
    model = build_model("cnn", (3, 8, 8), 10, widths=[4, 8], fc=[16])
    stem = next(n for n, p in model.named_parameters() if p.ndim == 4)
    last = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)][-1]
    head = head_names(model, 10, [stem])
    assert stem not in head and head == [f"{last}.weight", f"{last}.bias"]
    # a head that is no Linear and is not declared: the tensors re-initialised for other classes
    conv_head = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.Conv2d(4, 7, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten()
    )
    assert head_names(conv_head, 7, ["1.weight", "1.bias"]) == ["1.weight", "1.bias"]


def test_timm_models_name_their_classifier():
    """dla's classifier is a 1×1 conv (before: refused), a distilled DeiT has two (before: only the last)."""
    pytest.importorskip("timm")
    dla = build_model("timm:dla46_c", (3, 32, 32), 4)
    assert isinstance(dla.fc, nn.Conv2d) and head_names(dla, 4, []) == ["fc.weight", "fc.bias"]
    deit = build_model(
        "timm:deit_tiny_distilled_patch16_224", (3, 32, 32), 4, patch_size=8, depth=1
    )
    heads = ["head.weight", "head.bias", "head_dist.weight", "head_dist.bias"]
    assert head_names(deit, 4, []) == heads


class Softmax(ModelHooks, nn.Module):
    """Multinomial logistic regression with its gradients written by hand."""

    def __init__(self, d: int, k: int):
        super().__init__()
        self.fc = nn.Linear(d, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)

    def hand_written_gradients(self, x, y) -> HandWrittenGradients:
        with torch.no_grad():
            delta = (self.fc(x).softmax(1) - F.one_hot(y, self.fc.out_features)) / len(y)
        return HandWrittenGradients([delta.T @ x, delta.sum(0)], self.fc(x))


def test_gradcheck_checks_any_model_that_declares_its_gradients():
    """Before, gradcheck looked for mlp-scratch's own attributes and refused every other model."""
    torch.manual_seed(0)
    x, y = torch.randn(8, 3, dtype=torch.float64), torch.randint(0, 4, (8,))
    errors = gradcheck(Softmax(3, 4).double(), x, y).relative_errors
    assert list(errors) == ["fc.weight", "fc.bias"] and max(errors.values()) < 1e-12
    with pytest.raises(
        UserError, match="^Linear has no hand-written gradients to check: it declares"
    ):
        gradcheck(nn.Linear(3, 4).double(), x, y)


SOFTMAX_FILE = """
import torch, torch.nn as nn, torch.nn.functional as F
from vislab.models.hooks import HandWrittenGradients, ModelHooks

SCALE = {scale}  # 2: a wrong weight gradient


class Net(ModelHooks, nn.Module):
    def __init__(self, input_shape, num_classes):
        super().__init__()
        self.fc = nn.Linear(input_shape[0], num_classes)

    def forward(self, x):
        return self.fc(x)

    def hand_written_gradients(self, x, y):
        with torch.no_grad():
            delta = (self.fc(x).softmax(1) - F.one_hot(y, self.fc.out_features)) / len(y)
        return HandWrittenGradients([SCALE * delta.T @ x, delta.sum(0)], self.fc(x))
"""


@pytest.mark.parametrize("scale, passed", [(1, True), (2, False)])
def test_vislab_gradcheck_checks_a_users_model_file(tmp_path, monkeypatch, scale, passed):
    """Before, vislab.gradcheck and `vislab model gradcheck` refused every model but mlp-scratch by name,
    though a model of one's own may declare its hand-written gradients."""
    import vislab

    (tmp_path / f"hw{scale}.py").write_text(SOFTMAX_FILE.format(scale=scale))
    monkeypatch.chdir(tmp_path)
    check = vislab.gradcheck(f"hw{scale}.py:Net", input_shape=(3,), num_classes=4)
    assert check.passed is passed and list(check.relative_errors) == ["fc.weight", "fc.bias"]
    assert (check.relative_errors["fc.weight"] > 0.1) is not passed
