"""What a model offers figures, asked of its hooks (vislab.models.hooks), never of its name: a user's
plain conv net gets Grad-CAM, vislab's and timm's ViTs give attention maps and position embeddings, and
the report of a suite holding both shows their panels."""

import importlib.util
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import yaml

from conftest import cli
from figures_skipped import skip_report_figures
from fixtures import made_once
from vislab.cli import main
from vislab.explain_maps import explain_maps
from vislab.models import build_model
from vislab.models.hooks import ModelHooks, TokenGrid, hooks_of

needs_captum = pytest.mark.skipif(
    importlib.util.find_spec("captum") is None, reason="pip install 'vislab[explain]'"
)
needs_timm = pytest.mark.skipif(
    importlib.util.find_spec("timm") is None, reason="pip install 'vislab[timm]'"
)

# a user's own conv net, with no vislab import: it gets Grad-CAM as it is
NET = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, num_classes, input_shape):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(input_shape[0], 8, 3, padding=1), nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, num_classes))

    def forward(self, x):
        return self.head(self.features(x))
"""

# timm's ViT-Tiny, shrunk to 8×8 digits: 2×2 patches of 4×4 pixels, width 16, 2 heads, no weights
TIMM_VIT = dict(patch_size=4, embed_dim=16, num_heads=2)


def _user_net():
    space: dict = {}
    exec(NET, space)
    return space["Net"](num_classes=3, input_shape=(1, 8, 8))


def test_a_plain_conv_net_gets_its_last_conv_activation_for_gradcam_and_an_mlp_none():
    net = _user_net()
    hooks = hooks_of(net)
    assert hooks.gradcam_layer() is net.features[3]  # the last convolution's activation (its ReLU)
    assert hooks.token_grid() is None and hooks.position_embedding() is None
    assert hooks.attention_maps(torch.zeros(1, 1, 8, 8)) is None
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 3))
    assert hooks_of(mlp).gradcam_layer() is None


@needs_captum
def test_explain_uses_the_declared_gradcam_layer():
    class FirstConvCam(ModelHooks, nn.Module):  # a user choosing the layer Grad-CAM weighs
        def __init__(self):
            super().__init__()
            self.net = _user_net()

        def forward(self, x):
            return self.net(x)

        def gradcam_layer(self):
            return self.net.features[0]

    torch.manual_seed(0)
    model, x = FirstConvCam().eval(), torch.randn(2, 1, 8, 8)
    target = torch.tensor([0, 1])
    own = explain_maps(model, x, "gradcam", target=target)
    default = explain_maps(model.net, x, "gradcam", target=target)  # the last conv
    assert own.shape == default.shape == (2, 1, 8, 8)
    assert not torch.allclose(own, default)


def test_vislab_vit_offers_attention_and_its_position_embedding():
    torch.manual_seed(0)
    model = build_model("vit", (1, 8, 8), 10, embed_dim=16, depth=2, num_heads=2, patch_size=2)
    hooks, x = hooks_of(model), torch.randn(3, 1, 8, 8)
    assert hooks.token_grid() == TokenGrid((4, 4), class_token=True, residual=True)
    maps = hooks.attention_maps(x)
    assert [m.shape for m in maps] == [(3, 2, 17, 17)] * 2  # per block: B × heads × (1 + 16)²
    torch.testing.assert_close(maps[0].sum(-1), torch.ones(3, 2, 17))
    assert torch.equal(hooks.position_embedding(), model.pos_embed[0])  # 17 × 16, learned
    assert hooks.position_embedding().shape == (17, 16)
    assert hooks.gradcam_layer() is None  # its one conv is the patch embedding
    mean = build_model("vit", (1, 8, 8), 10, embed_dim=16, depth=1, num_heads=2, pool="mean")
    assert not hooks_of(mean).token_grid().class_token
    assert hooks_of(mean).position_embedding().shape == (4, 16)  # 2×2 patches of 4, no class token


def _attention_by_hand(model, x):
    """Block 0's softmax(q·k / √d), computed from timm's own layers."""
    tokens = model.norm_pre(model._pos_embed(model.patch_embed(x)))
    attn = model.blocks[0].attn
    b, t, _ = tokens.shape
    qkv = attn.qkv(model.blocks[0].norm1(tokens)).reshape(b, t, 3, attn.num_heads, -1)
    q, k, _ = qkv.permute(2, 0, 3, 1, 4)
    return ((q * attn.scale) @ k.transpose(-2, -1)).softmax(-1)


@needs_timm
def test_a_timm_vit_gives_its_attention_maps_and_position_embedding():
    torch.manual_seed(0)
    model = build_model("timm:vit_tiny_patch16_224", (1, 8, 8), 3, depth=2, **TIMM_VIT).train()
    hooks, x = hooks_of(model), torch.randn(2, 1, 8, 8)
    assert hooks.token_grid() == TokenGrid((2, 2), class_token=True)
    maps = hooks.attention_maps(x)
    assert [m.shape for m in maps] == [(2, 2, 5, 5)] * 2  # per block: B × heads × (1 + 4)²
    with torch.no_grad():
        model.eval()
        torch.testing.assert_close(maps[0], _attention_by_hand(model, x))
    assert hooks.position_embedding().shape == (5, 16) and hooks.gradcam_layer() is None
    model.train()
    hooks.attention_maps(x)
    assert model.training  # left as it was


@needs_timm
def test_a_timm_cnn_gets_gradcam_and_no_attention():
    model = build_model("timm:resnet18", (1, 8, 8), 3)
    hooks = hooks_of(model)
    assert hooks.gradcam_layer() is model.layer4  # its last stage (timm's feature_info)
    assert hooks.token_grid() is None and hooks.attention_maps(torch.zeros(1, 1, 8, 8)) is None


def test_a_users_own_transformer_is_explained_through_its_hooks():
    class Fixed(ModelHooks, nn.Module):
        """One block whose every token attends to the last patch only."""

        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(64, 3)

        def forward(self, x):
            return self.fc(x.flatten(1))

        def token_grid(self):
            return TokenGrid((2, 2), class_token=True)

        def attention_maps(self, x):
            a = torch.zeros(len(x), 2, 5, 5)
            a[..., 4] = 1
            return [a]

    x = torch.zeros(1, 1, 8, 8)
    heads = explain_maps(Fixed(), x, "attention")
    assert torch.equal(heads[0, 0], torch.tensor([[0.0, 0.0], [0.0, 1.0]]))
    rollout = explain_maps(Fixed(), x, "rollout")  # ½A + ½I: half on itself, half on the last patch
    assert torch.equal(rollout[0, 0], torch.tensor([[0.0, 0.0], [0.0, 0.5]]))


def _make_suite(root: Path) -> dict:
    """A suite of a user's conv net (``net.py:Net``) and a timm ViT, 1 epoch each, with its report, in
    ROOT/out. The report draws only the model figures checked here (Grad-CAM, the ViT's attention, heads
    and position embedding): its test figures and curves are test_report_browser's."""
    (root / "net.py").write_text(textwrap.dedent(NET))
    vit = {"model.name": "timm:vit_tiny_patch16_224", "model.depth": 1}
    vit |= {f"model.{k}": v for k, v in TIMM_VIT.items()}
    spec = {
        "description": "a user's conv net beside a timm ViT",
        "base": {
            "data": {"name": "digits", "limit": 150},
            # the report draws the figures checked here, not the runs' own figures/
            "train": {"epochs": 1, "batch_size": 32, "device": "cpu", "seed": 0, "figures": False},
        },
        "runs": {"conv": {"model.name": "net.py:Net"}, "vit": vit},
    }
    (root / "suite.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # net.py is found relative to the current directory, as a user runs it
        skip_report_figures(mp, keep=("gradcam_", "vit_"))
        assert main(["suite", "suite.yaml", "--out", "out", "-q"]) == 0
    return {}


@pytest.fixture(scope="module")
def suite_out(tmp_path_factory):
    """The suite folder of :func:`_make_suite`. The tests only read it: under pytest-xdist it is made
    once for all workers."""
    root, _ = made_once(tmp_path_factory, "test_capabilities", _make_suite)
    return root / "out"


@needs_captum
@needs_timm
@pytest.mark.slow
def test_report_shows_gradcam_for_a_user_conv_net_and_attention_for_a_timm_vit(suite_out):
    figures = {p.name for p in (suite_out / "figures").glob("*.png")}
    assert {"gradcam_conv.png", "vit_attention_vit.png", "vit_heads_vit.png"} <= figures, figures
    assert "vit_pos_vit.png" in figures
    assert not {"gradcam_vit.png", "vit_heads_conv.png"} & figures  # each gets what it offers
    page = (suite_out / "report.html").read_text()
    assert "conv: Grad-CAM of the predicted class on test images" in page
    assert "vit: attention rollout (class token&#39;s attention) on test images" in page
    assert "class-token attention (last block)" in page
    assert "model figures skipped" not in page and "not drawn" not in page


@needs_timm
@pytest.mark.slow
def test_pos_embed_figure_of_a_timm_vit_run(suite_out, capsys, tmp_path):
    png = tmp_path / "pos.png"
    code, out = cli(capsys, "figure", "pos-embed", "--run", suite_out / "vit", "--out", png)
    assert code == 0 and png.is_file(), out
    code, out = cli(capsys, "figure", "pos-embed", "--run", suite_out / "conv", "--out", png)
    assert code == 2 and "no position embedding" in out
