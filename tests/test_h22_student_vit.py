"""A student's own vision transformer in the look-inside tools: the README's example ViT
(examples/own_vit.py, built on torch's nn.TransformerEncoder) trains and is explained; a ViT that defines
the figure hooks without subclassing ModelHooks is told so, not that its hooks give None; attention maps
are drawn from each image's least to its largest weight; titles and captions say whose attention."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from conftest import cli, tiny_config
from vislab.explain_maps import attention_query
from vislab.models.hooks import TokenGrid, encoder_attention_maps
from vislab.plotting.canvas import captured_figures, plt
from vislab.plotting.explain import PER_MAP
from vislab.predict import load_model
from vislab.report import model_figures
from vislab.training.trainer import train

OWN_VIT = Path(__file__).resolve().parents[1] / "examples" / "own_vit.py"

PLAIN_VIT = """
import torch
from torch import nn
from vislab.models.hooks import TokenGrid


class PlainViT(nn.Module):  # the figure hooks written, but ModelHooks not subclassed
    def __init__(self, num_classes, input_shape):
        super().__init__()
        self.patches = nn.Conv2d(input_shape[0], 8, 4, stride=4)
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.head = nn.Linear(8, num_classes)

    def forward(self, x):
        t = self.patches(x).flatten(2).transpose(1, 2)
        return self.head(self.attn(t, t, t)[0].mean(1))

    def token_grid(self):
        return TokenGrid(grid=(2, 2), class_token=False)

    def attention_maps(self, x):
        t = self.patches(x).flatten(2).transpose(1, 2)
        return [self.attn(t, t, t, average_attn_weights=False)[1]]

    def position_embedding(self):
        return torch.zeros(4, 8)
"""
IGNORED = (
    "PlainViT defines token_grid(), attention_maps() and position_embedding() but does not subclass "
    "vislab.models.hooks.ModelHooks, so vislab ignores them: declare it as class PlainViT(ModelHooks, "
    "nn.Module)"
)


def _bars(fig) -> list:
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


@pytest.fixture(scope="module")
def own_vit(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("own-vit") / "run"
    train(tiny_config(f"model.name={OWN_VIT}:OwnViT", "train.epochs=1"), run, quiet=True)
    return run


def test_readme_example_vit_is_explained_and_its_position_embedding_drawn(
    own_vit, digit_png, tmp_path, capsys
):
    with captured_figures() as drawn:
        code, out = cli(capsys, "explain", own_vit, digit_png, "--out", tmp_path)
    assert code == 0, out
    assert "model.name=examples/own_vit.py:OwnViT" in (OWN_VIT.parents[1] / "README.md").read_text()
    (fig,) = drawn
    assert "| rollout\nclass token's attention" in fig.texts[0].get_text()
    (bar,) = _bars(fig)
    assert bar.get_ylabel() == "attention weight\n(image's min–max)"
    plt.close(fig)
    code, out = cli(capsys, "figure", "pos-embed", "--run", own_vit, "--out", tmp_path / "pe.png")
    assert code == 0, out
    assert (tmp_path / "pe.png").stat().st_size > 0


def test_encoder_attention_maps_gives_each_layers_weights_and_leaves_the_encoder_training():
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).train()
    tokens = torch.randn(3, 5, 8)
    maps = encoder_attention_maps(encoder, tokens)
    assert [tuple(a.shape) for a in maps] == [(3, 2, 5, 5)] * 2
    assert torch.allclose(maps[0].sum(-1), torch.ones(3, 2, 5))
    assert encoder.training  # left as it was
    # the first layer's head 0 by hand: softmax(q kᵀ / √d) from the attention's own projections
    attn = encoder.layers[0].self_attn
    q, k, _ = nn.functional.linear(tokens, attn.in_proj_weight, attn.in_proj_bias).chunk(3, -1)
    by_hand = torch.softmax(q[..., :4] @ k[..., :4].transpose(1, 2) / 2.0, -1)
    assert torch.allclose(maps[0][:, 0], by_hand, atol=1e-5)


@pytest.fixture(scope="module")
def plain_vit(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("plain-vit")
    (folder / "plain_vit.py").write_text(PLAIN_VIT)
    run = folder / "run"
    config = tiny_config(f"model.name={folder / 'plain_vit.py'}:PlainViT", "train.epochs=1")
    train(config, run, quiet=True)
    return run


def test_vit_with_hooks_but_not_modelhooks_is_told_so(plain_vit, digit_png, tmp_path, capsys):
    code, out = cli(
        capsys, "explain", plain_vit, digit_png, "--method", "rollout", "--out", tmp_path
    )
    assert code != 0
    text = " ".join(out.split())
    assert IGNORED in text and "gives None" not in text
    model, record = load_model(plain_vit)
    hooks = SimpleNamespace(tokens=None, trained_by="optimizer")
    note = " ".join(model_figures._no_attention_note("plain", model, hooks).split())
    assert IGNORED in note and "gives None" not in note


def test_rollout_over_a_narrow_range_is_drawn_from_its_least_to_its_largest(tmp_path):
    def rollout(x, method):  # weights 0.057 to 0.069, as a small ViT's: not a flat red
        return 0.057 + 0.012 * torch.rand(len(x), 1, 4, 4)

    hooks, x = SimpleNamespace(maps=rollout), torch.rand(2, 1, 8, 8)
    with captured_figures() as drawn:
        model_figures._rollout(hooks, x, None, ["a", "b"], None, tmp_path / "r.png")
    (fig,) = drawn
    over = [
        ax.images[1] for ax in fig.axes if ax.get_label() != "<colorbar>" and len(ax.images) > 1
    ]
    assert len(over) == 2
    for image in over:
        drawn_values = image.get_array()
        assert drawn_values.min() == pytest.approx(0) and drawn_values.max() == pytest.approx(1)
    (bar,) = _bars(fig)
    assert bar.get_ylabel() == PER_MAP
    plt.close(fig)


def test_mean_pooled_vit_says_its_maps_average_every_token(tmp_path, digit_png, capsys):
    sets = ("model.name=vit", "model.embed_dim=8", "model.depth=1", "model.num_heads=2")
    run = tmp_path / "mean"
    config = tiny_config(*sets, "model.patch_size=2", "model.pool=mean", "train.epochs=1")
    train(config, run, quiet=True)
    with captured_figures() as drawn:
        code, out = cli(
            capsys, "explain", run, digit_png, "--method", "attention", "--out", tmp_path
        )
    assert code == 0, out
    (fig,) = drawn
    title = fig.texts[0].get_text()
    assert "block 1 of 1 (--block 0 / block=0)\nmean of all tokens' attention" in title
    plt.close(fig)
    captions = []
    figs = SimpleNamespace(
        file_part=lambda name: name,
        make=lambda file, caption, *args: captions.append(caption) or {"file": file},
        notes=[],
    )
    model, record = load_model(run)
    hooks = model_figures._Hooks(model, record)
    model_figures._inside_figures(figs, "mean", "learned-mean", hooks, (None,) * 4)
    assert (
        "learned-mean: attention rollout (mean of all tokens' attention) on test images" in captions
    )
    assert attention_query(TokenGrid((2, 2), class_token=True)).startswith("class token's")
