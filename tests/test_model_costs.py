"""`vislab model info` costs: multiply-accumulates per layer (torch's flop counter), receptive fields and
jumps of conv and pool layers, and a ViT's token count and attention share — checked against the hand
computations the course reports did."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from conftest import cli, one_line
from vislab.models import build_model
from vislab.models.layer_table import layer_table


def rows(model: nn.Module, shape: tuple[int, ...]):
    t = layer_table(model, shape)
    return {r.name: r for r in t.rows}, t


# ================================================================================= MACs
@pytest.mark.parametrize("stride,padding", [(1, 1), (2, 0)])
def test_conv_macs_equal_the_closed_form(stride, padding):
    c_in, c_out, k, h, w = 3, 8, 3, 10, 12
    net = nn.Sequential(nn.Conv2d(c_in, c_out, k, stride=stride, padding=padding), nn.Flatten())
    h_out = (h + 2 * padding - k) // stride + 1
    w_out = (w + 2 * padding - k) // stride + 1
    r, t = rows(net, (c_in, h, w))
    assert r["0"].output_shape == f"{c_out}×{h_out}×{w_out}"
    assert (
        r["0"].macs == c_in * c_out * k * k * h_out * w_out
    )  # per image (the pass used a batch of 2)
    assert t.totals["macs"] == r["0"].macs  # ReLU-free net: the conv is all the work


def test_linear_macs_and_rows_add_up_to_the_total():
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 7), nn.ReLU(), nn.Linear(7, 3))
    r, t = rows(net, (12,))
    assert (r["1"].macs, r["2"].macs, r["3"].macs) == (12 * 7, 0, 7 * 3)
    assert t.totals["macs"] == 12 * 7 + 7 * 3


@pytest.mark.parametrize(
    "name,shape,kw",
    [
        ("cnn", (3, 32, 32), {}),
        ("vit", (3, 16, 16), dict(patch_size=4, embed_dim=16, depth=2, num_heads=2)),
        ("resnet18", (3, 16, 16), {}),
    ],
)
def test_layer_macs_add_up_to_the_total(name, shape, kw):
    torch.manual_seed(0)
    t = layer_table(build_model(name, shape, 10, **kw), shape)
    assert t.totals["macs"] > 0
    assert sum(r.macs for r in t.rows) == t.totals["macs"]


# ======================================================================= receptive fields
def test_receptive_fields_of_a_small_cnn_equal_the_hand_computation():
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),  # k 3:             r = 1 + 2·1 = 3,          j = 1
        nn.ReLU(),
        nn.MaxPool2d(2),  # k 2, s 2:                     r = 3 + 1·1 = 4,          j = 2
        nn.Conv2d(4, 4, 3, padding=2, dilation=2),  # k 3, d 2: r = 4 + 2·2·2 = 12, j = 2
        nn.AvgPool2d(3, stride=1),  # k 3, s 1:           r = 12 + 2·2 = 16,        j = 2
        nn.Conv2d(
            4, 4, (5, 3), stride=(2, 1)
        ),  # rows: r = 16 + 4·2 = 24, j 4; cols: 16 + 2·2 = 20, j 2
        nn.Flatten(),
    )
    r, _ = rows(net, (1, 32, 32))
    got = {n: (r[n].field.size, r[n].field.jump) for n in ("0", "2", "3", "4", "5")}
    assert got == {
        "0": ((3, 3), (1, 1)),
        "2": ((4, 4), (2, 2)),
        "3": ((12, 12), (2, 2)),
        "4": ((16, 16), (2, 2)),
        "5": ((24, 20), (4, 2)),
    }
    assert r["1"].field is None and r["6"].field is None  # only conv and pool layers have one


def test_resnet18_fields_follow_each_branch():
    """The ImageNet stem and four stages give the well-known 435-pixel field; a 1×1 stride-2 shortcut
    starts from its block's input (it sees what that input saw, twice as far apart)."""
    torch.manual_seed(0)
    r, _ = rows(build_model("resnet18", (3, 64, 64), 10, cifar_stem=False), (3, 64, 64))
    # conv1 7×7 s2: 7, j 2; max-pool 3 s2: 7 + 2·2 = 11, j 4; layer1 (4 convs 3×3): 11 + 4·2·4 = 43
    assert (r["maxpool"].field.size, r["maxpool"].field.jump) == ((11, 11), (4, 4))
    assert r["layer1.1.conv2"].field.size == (43, 43)
    # layer2.0's shortcut: 1×1 stride 2 on layer1's output → 43, j 8 (not stacked after the main path)
    assert (r["layer2.0.downsample.0"].field.size, r["layer2.0.downsample.0"].field.jump) == (
        (43, 43),
        (8, 8),
    )
    # each later stage: one 3×3 s2 conv (+2·j) then three 3×3 (+3·2·2j): 99 (j 8), 211 (j 16), 435 (j 32)
    assert r["layer2.1.conv2"].field.size == (99, 99)
    assert r["layer3.1.conv2"].field.size == (211, 211)
    assert (r["layer4.1.conv2"].field.size, r["layer4.1.conv2"].field.jump) == (
        (435, 435),
        (32, 32),
    )


def test_rdfia_cnn_receptive_fields_equal_the_hand_computation():
    """RDFIA 1-cd: three × (conv 5×5 pad 2 → ReLU → max-pool 2×2 stride 2) on 32×32."""
    torch.manual_seed(0)
    model = build_model("cnn", (3, 32, 32), 10, preset="rdfia")
    t = layer_table(model, (3, 32, 32))
    fields = [(r.type, r.field.size[0], r.field.jump[0]) for r in t.rows if r.field]
    assert fields == [
        ("Conv2d", 5, 1),  # conv1: 1 + 4·1
        ("MaxPool2d", 6, 2),  # pool1: 5 + 1·1
        ("Conv2d", 14, 2),  # conv2: 6 + 4·2
        ("MaxPool2d", 16, 4),  # pool2: 14 + 1·2
        ("Conv2d", 32, 4),  # conv3: 16 + 4·4
        ("MaxPool2d", 36, 8),  # pool3: 32 + 1·4
    ]


# =============================================================================== ViT tokens
def test_vit_tokens_and_attention_share():
    d, depth, t_ = 32, 2, 8 * 8 + 1  # 8×8 patches of 4 on 32×32, + the class token
    torch.manual_seed(0)
    model = build_model("vit", (3, 32, 32), 10, patch_size=4, embed_dim=d, depth=depth, num_heads=2)
    a = layer_table(model, (3, 32, 32)).attention
    assert (a.tokens, a.grid, a.patch, a.extra_tokens) == (65, (8, 8), (4, 4), 1)
    mixing = (
        depth * 2 * t_ * t_ * d
    )  # Q·Kᵀ and A·V: T·T·d each, over all heads (heads·head_dim = d)
    projections = depth * (t_ * d * 3 * d + t_ * d * d)  # qkv and the output projection
    assert a.mixing_macs == mixing
    assert a.macs == projections + mixing


def test_vit_mean_pool_has_no_class_token():
    torch.manual_seed(0)
    model = build_model("vit", (1, 28, 28), 10, patch_size=7, embed_dim=16, depth=1, pool="mean")
    a = layer_table(model, (1, 28, 28)).attention
    assert (a.tokens, a.grid, a.extra_tokens) == (16, (4, 4), 0)


def test_timm_vit_attention_is_counted():
    pytest.importorskip("timm")
    torch.manual_seed(0)
    model = build_model(
        "timm:vit_tiny_patch16_224",
        (3, 32, 32),
        10,
        patch_size=8,
        depth=1,
        embed_dim=32,
        num_heads=2,
    )
    a = layer_table(model, (3, 32, 32)).attention
    assert (a.tokens, a.grid, a.extra_tokens) == (17, (4, 4), 1)
    assert a.mixing_macs == 2 * 17 * 17 * 32  # its fused attention, counted on the reference kernel


def test_models_without_attention_report_none():
    torch.manual_seed(0)
    assert layer_table(build_model("cnn", (1, 28, 28), 10), (1, 28, 28)).attention is None


# ===================================================================================== CLI
def test_cli_model_info_prints_costs(capsys):
    code, out = cli(capsys, "model", "info", "cnn", "--input", "3x32x32")
    assert code == 0, out
    text = one_line(out)
    assert "MACs" in text and "receptive field" in text
    assert "14, jump 2" in text and "36, jump 8" in text
    m = layer_table(build_model("cnn", (3, 32, 32), 10), (3, 32, 32)).totals["macs"]
    assert f"MACs per image: {m:,}" in text


def test_cli_model_info_vit_tokens_and_attention(capsys):
    code, out = cli(capsys, "model", "info", "vit", "--input", "3x32x32", "--set", "depth=1")
    assert code == 0, out
    text = one_line(out)
    assert "tokens: 65 = 8×8 patches of 4×4 + 1 class token" in text
    assert "attention:" in text and "% of the total" in text and "Q·Kᵀ and A·V" in text
