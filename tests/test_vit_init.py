"""The `vit` model's initialisation (model.init): the statistics its docstring states, and what they do to
attention at step 0 — the reason the default changed from timm's std 0.02 to Xavier (benchmarks/vit_init.py)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from vislab.cli import main
from vislab.errors import ConfigError
from vislab.models import build_model
from vislab.models.registry import check_model_options

SHAPE = (1, 28, 28)  # 7×7 patches of 4 → 49 tokens + the class token


def small_vit(seed: int = 0, **options) -> nn.Module:
    torch.manual_seed(seed)
    return build_model("vit", SHAPE, 10, embed_dim=64, depth=2, num_heads=4, **options)


def linears(model: nn.Module) -> dict[str, nn.Linear]:
    return {n: m for n, m in model.named_modules() if isinstance(m, nn.Linear)}


def test_default_is_xavier_uniform_on_every_linear_with_zero_biases():
    model = small_vit()
    layers = linears(model)
    assert {"blocks.0.attn.qkv", "blocks.0.mlp.0", "blocks.0.mlp.3", "head.0"} <= set(layers)
    for name, layer in layers.items():
        fan_out, fan_in = layer.weight.shape
        bound = math.sqrt(6 / (fan_in + fan_out))  # Glorot: U(-a, a), std a/√3
        w = layer.weight.detach()
        assert w.abs().max() <= bound, name
        assert w.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.1), name
        assert torch.count_nonzero(layer.bias) == 0, name
    # the figures the module docstring quotes for embed 64
    assert layers["blocks.0.attn.qkv"].weight.std().item() == pytest.approx(0.088, abs=0.003)
    assert layers["blocks.0.mlp.3"].weight.std().item() == pytest.approx(0.079, abs=0.003)


def test_the_previous_scheme_stays_selectable():
    layers = linears(small_vit(init="timm"))
    for name, layer in layers.items():
        assert layer.weight.std().item() == pytest.approx(0.02, rel=0.15), name
        assert torch.count_nonzero(layer.bias) == 0, name
    check_model_options("vit", {"init": "timm"})  # what `--set model.init=timm` goes through


def test_only_linear_layers_depend_on_the_scheme():
    """Patch embedding, positions, class token and LayerNorms are drawn alike (same seed, same values)."""
    xavier, timm = small_vit(seed=3).state_dict(), small_vit(seed=3, init="timm").state_dict()
    same = ["patch_embed.proj.weight", "patch_embed.proj.bias", "pos_embed", "cls_token"]
    same += [k for k in xavier if "norm" in k]
    for key in same:
        assert torch.equal(xavier[key], timm[key]), key
    assert xavier["pos_embed"].std().item() == pytest.approx(0.02, rel=0.15)
    assert torch.count_nonzero(xavier["cls_token"]) == 0
    assert not torch.equal(xavier["blocks.0.attn.qkv.weight"], timm["blocks.0.attn.qkv.weight"])


def test_xavier_attention_selects_tokens_at_step_zero_where_timm_attends_uniformly():
    """The diagnosis: with std 0.02 at width 64, q·k/√d ≈ 0 and every token gets weight ≈ 1/T."""
    x = torch.randn(4, *SHAPE)
    peak = {}
    for init in ("xavier", "timm"):
        maps = small_vit(seed=1, init=init).attention_maps(x)  # per block: B × heads × T × T
        tokens = maps[0].shape[-1]
        peak[init] = max(a.max().item() for a in maps) * tokens  # 1.0 = uniform attention
    assert peak["timm"] < 1.3
    assert peak["xavier"] > 3


def test_an_unknown_scheme_is_a_config_error_listing_the_choices(capsys):
    with pytest.raises(ConfigError, match=r"model\.init.*'xavier' or 'timm'"):
        check_model_options("vit", {"init": "kaiming"})
    code = main(["model", "info", "vit", "--set", "init=kaiming", "--input", "1x28x28"])
    out = capsys.readouterr()
    assert code == 2 and "Traceback" not in out.out + out.err
    assert "model.init" in out.out + out.err and "'xavier' or 'timm'" in out.out + out.err
