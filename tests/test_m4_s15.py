"""Seven things a user checks of the models, the image fitting and the export (M4): an exported run keeps
its test-time augmentation, the DLVC cnn presets train with dropout, a mean-pooled ViT classifies from
every token, the MLP's activation is the one asked for, the ViT normalises the token its head reads,
deep-bn's convolutions have no bias, and an image fitted to (1, 4, 8) comes back 4 high and 8 wide."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn
from PIL import Image

from conftest import cli, tiny_config
from test_export import run_exported
from vislab.config import load_config
from vislab.data import load_splits
from vislab.data.images import fit_image
from vislab.models import build_model
from vislab.predict import load_model
from vislab.training.trainer import train


@pytest.fixture(scope="module")
def tta_cnn_run(tmp_path_factory):
    """A 1-epoch tiny cnn on digits, evaluated over each image and its mirror (train.tta=flip)."""
    run = tmp_path_factory.mktemp("m4-tta") / "run"
    sets = ["model.name=cnn", "model.widths=[8,16]", "model.fc=[16]", "train.epochs=1"]
    with warnings.catch_warnings():  # its note on mirroring digits: expected here
        warnings.simplefilter("ignore")
        train(
            tiny_config(*sets, "train.tta=flip", "augment.hflip.p=0.5", "train.figures=false"),
            run,
            quiet=True,
        )
    return run


def test_export_of_a_tta_run_averages_each_image_and_its_mirror(tta_cnn_run, capsys, tmp_path):
    out = tmp_path / "model.torchscript.pt"
    code, text = cli(capsys, "export", tta_cnn_run, "--format", "torchscript", "--out", out)
    assert code == 0, text
    cfg = load_config(tta_cnn_run / "config.yaml")
    model, record = load_model(tta_cnn_run)  # the plain network, without the run's TTA
    x = record.inputs.images(list(load_splits(cfg.data, cfg.train.seed).test.x[:32]))
    got = torch.from_numpy(run_exported("torchscript", out, x.numpy()))
    with torch.no_grad():
        plain, mirrored = model(x), model(x.flip(-1))
    assert torch.allclose(got, (plain + mirrored) / 2, atol=1e-5)
    assert (got - plain).abs().max() > 1e-3  # not the plain forward pass alone


@pytest.mark.parametrize("preset", ["simple", "deep", "deep-bn"])
def test_dlvc_cnn_presets_train_with_dropout_one_half(preset):
    model = build_model("cnn", (3, 32, 32), 10, preset=preset)
    assert [m.p for m in model.modules() if isinstance(m, nn.Dropout)] == [0.5]
    x = torch.randn(4, 3, 32, 32)
    model.train()
    torch.manual_seed(0)
    with torch.no_grad():
        first, second = model(x), model(x)
    assert not torch.allclose(first, second)  # a new dropout mask each training pass
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


def _head_input_and_norm(
    model: nn.Module, x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """What the ViT's head is given, and the final norm's tokens (B × N × D; None without one), on ``x``."""
    seen = {}
    hooks = [
        model.head.register_forward_pre_hook(lambda m, args: seen.update(head=args[0])),
        model.norm.register_forward_hook(lambda m, args, out: seen.update(norm=out)),
    ]
    with torch.no_grad():
        model.eval()(x)
    for h in hooks:
        h.remove()
    return seen["head"], seen.get("norm")


def test_mean_pooled_vit_classifies_from_the_mean_of_all_tokens():
    torch.manual_seed(0)
    model = build_model("vit", (1, 8, 8), 10, embed_dim=16, depth=1, patch_size=4, pool="mean")
    head_in, tokens = _head_input_and_norm(model, torch.randn(3, 1, 8, 8))
    assert tokens.shape == (3, 4, 16)  # four patches, no class token
    assert torch.allclose(head_in, tokens.mean(1), atol=1e-6)
    assert not torch.allclose(head_in, tokens[:, 0], atol=1e-3)


def test_vit_head_reads_a_layer_normalised_token():
    torch.manual_seed(0)
    model = build_model("vit", (1, 8, 8), 10, embed_dim=16, depth=1, patch_size=4)  # pool: cls
    head_in, _ = _head_input_and_norm(model, 5 * torch.randn(3, 1, 8, 8) + 2)
    assert head_in.shape == (3, 16)
    # LayerNorm at init (weight 1, bias 0): each token's features have mean 0 and variance 1
    assert torch.allclose(head_in.mean(1), torch.zeros(3), atol=1e-5)
    assert torch.allclose(head_in.var(1, unbiased=False), torch.ones(3), atol=1e-3)


@pytest.mark.parametrize(
    "activation, kind", [("tanh", nn.Tanh), ("gelu", nn.GELU), ("relu", nn.ReLU)]
)
def test_mlp_uses_the_activation_asked_for(activation, kind):
    model = build_model("mlp", (1, 8, 8), 10, hidden=[16, 8], activation=activation)
    acts = [type(m) for m in model if not isinstance(m, (nn.Flatten, nn.Linear))]
    assert acts == [kind, kind]


def test_deep_bn_parameter_count_has_no_conv_biases():
    model = build_model("cnn", (3, 32, 32), 10, preset="deep-bn")
    convs = [
        3 * 32,
        32 * 32,
        32 * 64,
        64 * 64,
        64 * 128,
        128 * 128,
    ]  # in × out, 3×3 kernels, no bias
    batchnorms = 2 * (32 + 32 + 64 + 64 + 128 + 128)  # weight and bias per channel
    fc = (128 * 4 * 4) * 256 + 256 + 256 * 10 + 10  # 32 → 4 after three pools
    assert sum(p.numel() for p in model.parameters()) == 9 * sum(convs) + batchnorms + fc == 814_570
    assert all(m.bias is None for m in model.modules() if isinstance(m, nn.Conv2d))


def test_fit_image_to_1_4_8_is_four_high_and_eight_wide():
    img = np.zeros((20, 40), np.uint8)  # 40 wide, 20 high: its left half white
    img[:, :20] = 255
    arr = fit_image(Image.fromarray(img), (1, 4, 8))
    assert arr.shape == (4, 8, 1) and arr.dtype == np.uint8
    assert (arr[:, :3, 0] == 255).all() and (arr[:, 5:, 0] == 0).all()
