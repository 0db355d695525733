"""The model zoo: mlp-scratch's hand-written gradients, the from-scratch ViT and its knobs, resnet18 / timm
models (one training step, local weights only), the SVM against scikit-learn, `vislab model info` and
the figures (decision boundary, positional embedding, attention). Tiny models, CPU, seconds each."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from conftest import cli, tiny_sets
from vislab.cli import main
from vislab.errors import Note
from vislab.models import build_model
from vislab.models.hooks import hooks_of


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: on a small, busy machine torch's thread pool makes a tiny resnet18 step ~50× slower."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


def seeded(name, shape, classes, seed=0, **kw):
    torch.manual_seed(seed)
    return build_model(name, tuple(shape), classes, **kw)


def assert_png(path, min_size=100):
    from PIL import Image

    assert path.is_file(), f"{path} was not written"
    with Image.open(path) as im:
        assert im.format == "PNG"
        im.load()  # fully decodable
        assert min(im.size) > min_size, im.size


# ============================================================================ 1. mlp-scratch
@pytest.mark.parametrize("hidden", [[8], [6, 5]], ids=["1-hidden", "2-hidden"])
@pytest.mark.parametrize("shape", [(2,), (1, 4, 4)], ids=["features", "image"])
def test_gradcheck_hand_written_backward_matches_autograd(hidden, shape):
    from vislab.models.gradcheck import TOLERANCE, gradcheck_model

    check = gradcheck_model("mlp-scratch", shape, num_classes=3, batch=8, seed=1, hidden=hidden)
    errors = check.relative_errors
    n_linear = len(hidden) + 1
    assert len(errors) == 2 * n_linear  # a weight and a bias per layer: every parameter is checked
    assert all(e < TOLERANCE for e in errors.values()), errors
    assert TOLERANCE <= 1e-6


def test_gradcheck_detects_a_wrong_backward(monkeypatch):
    """The check is not vacuous: a backward off by 1 % fails it."""
    from vislab.models import scratch
    from vislab.models.gradcheck import gradcheck_model

    orig = scratch.ScratchMLP.backward_manual
    monkeypatch.setattr(
        scratch.ScratchMLP, "backward_manual", lambda self, *a: [g * 1.01 for g in orig(self, *a)]
    )
    errors = gradcheck_model("mlp-scratch", (2,), 3, 8, hidden=[5]).relative_errors
    assert min(errors.values()) > 1e-3


def _one_step(model, x, y, lr):
    """One training step as the trainer drives it: ``manual_step`` if the model declares it, else
    torch.optim SGD."""
    from vislab.config import OptimConfig
    from vislab.training.optim import build_optimizer

    model.train()
    if hooks_of(model).trained_by == "manual_step":
        loss, logits = model.manual_step(x, y, lr)
    else:
        opt = build_optimizer(
            [p for p in model.parameters() if p.requires_grad], OptimConfig(name="sgd", lr=lr)
        )
        logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return loss.detach(), logits.detach()


@pytest.mark.parametrize("hidden", [[10], [7, 5]])
def test_four_impl_levels_give_the_same_first_step(hidden):
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(16, 1, 3, 3, generator=gen)
    y = torch.randint(0, 4, (16,), generator=gen)
    lr = 0.5
    impls = ["manual", "autograd", "module", "optim"]
    models = {
        impl: seeded("mlp-scratch", (1, 3, 3), 4, seed=7, hidden=hidden, impl=impl)
        for impl in impls
    }
    assert hooks_of(models["manual"]).trained_by == "manual_step"
    assert hooks_of(models["optim"]).trained_by == "optimizer"
    init = {k: v.clone() for k, v in models["manual"].state_dict().items()}
    for impl, m in models.items():  # same seed → same weights, same state-dict layout
        sd = m.state_dict()
        assert sd.keys() == init.keys()
        assert all(torch.equal(sd[k], init[k]) for k in init), impl
    results = {}
    for impl, m in models.items():
        loss, logits = _one_step(m, x, y, lr)
        results[impl] = (loss, logits, {k: v - init[k] for k, v in m.state_dict().items()})
    ref_loss, ref_logits, ref_update = results["optim"]
    assert torch.isfinite(ref_loss)
    assert any(u.abs().max() > 1e-4 for u in ref_update.values())  # the step did move the weights
    for impl in impls[:-1]:
        loss, logits, update = results[impl]
        torch.testing.assert_close(loss, ref_loss, rtol=1e-5, atol=1e-6, msg=f"{impl}: loss")
        torch.testing.assert_close(logits, ref_logits, rtol=1e-5, atol=1e-6, msg=f"{impl}: logits")
        for k in ref_update:
            torch.testing.assert_close(
                update[k], ref_update[k], rtol=1e-4, atol=1e-6, msg=f"{impl}: update of {k}"
            )


def test_manual_step_learns_circles():
    from sklearn.datasets import make_circles

    x, y = make_circles(200, noise=0.05, factor=0.5, random_state=0)
    x, y = torch.tensor(x, dtype=torch.float32), torch.tensor(y)
    model = seeded("mlp-scratch", (2,), 2, hidden=[10])
    for _ in range(300):
        model.manual_step(x, y, 0.5)
    assert (model(x).argmax(1) == y).float().mean() > 0.9


def test_cli_gradcheck_exit_0_and_prints_max_error(capsys):
    code, out = run(capsys, "model", "gradcheck", "mlp-scratch")
    assert code == 0, out
    m = re.search(r"max relative error ([0-9.e+-]+)", out)
    assert m and float(m.group(1)) < 1e-6 and "OK" in out
    code, out = run(
        capsys, "model", "gradcheck", "mlp-scratch", "--set", "hidden=[4,3]", "--input", "1x3x3"
    )
    assert code == 0 and "net.4.weight" in out  # the third linear layer is listed


def test_cli_gradcheck_fails_with_exit_1_on_wrong_backward(capsys, monkeypatch):
    from vislab.models import scratch

    orig = scratch.ScratchMLP.backward_manual
    monkeypatch.setattr(
        scratch.ScratchMLP, "backward_manual", lambda self, *a: [g * 2 for g in orig(self, *a)]
    )
    code, out = run(capsys, "model", "gradcheck", "mlp-scratch")
    assert code == 1 and "FAILED" in out


def test_cli_gradcheck_other_model_exit_2(capsys):
    code, out = run(capsys, "model", "gradcheck", "vit")
    assert code == 2 and "mlp-scratch" in out and "Traceback" not in out


# ============================================================================ 2. ViT shapes
VIT_CASES = [
    # (input shape, options)
    ((1, 28, 28), dict()),
    ((3, 32, 32), dict()),
    ((1, 28, 28), dict(patch_size=7, embed_dim=16, depth=1, num_heads=2)),
    ((3, 32, 32), dict(patch_size=8, embed_dim=24, depth=2, num_heads=3)),
    ((3, 32, 32), dict(patch_size=4, embed_dim=16, depth=1, num_heads=4, head_dim=6)),
    ((1, 28, 28), dict(patch_size=14, embed_dim=16, depth=2, num_heads=2, mlp_ratio=2.0)),
    ((3, 32, 32), dict(patch_size=16, embed_dim=16, depth=1, num_heads=2, mlp_hidden=5)),
    ((1, 28, 28), dict(patch_size=4, embed_dim=16, depth=1, num_heads=2, pool="mean")),
    ((3, 32, 32), dict(patch_size=8, embed_dim=16, depth=2, num_heads=2, pos_embed="sinusoidal")),
    ((1, 28, 28), dict(patch_size=7, embed_dim=16, depth=2, num_heads=2, residual=False)),
    ((3, 32, 32), dict(patch_size=8, embed_dim=16, depth=1, num_heads=2, spt=True)),
    ((1, 28, 28), dict(patch_size=7, embed_dim=16, depth=1, num_heads=2, spt=True, pool="mean")),
    ((3, 32, 32), dict(patch_size=4, embed_dim=16, depth=2, num_heads=2, lsa=True)),
    ((1, 28, 28), dict(patch_size=14, embed_dim=16, depth=3, num_heads=2, drop_path=0.5)),
    ((3, 32, 32), dict(patch_size=8, embed_dim=16, depth=1, num_heads=2, head_hidden=[12, 6])),
    (
        (1, 28, 28),
        dict(
            patch_size=4,
            embed_dim=8,
            depth=2,
            num_heads=2,
            spt=True,
            lsa=True,
            pool="mean",
            pos_embed="sinusoidal",
            residual=False,
            head_hidden=[4],
        ),
    ),
    ((3, 32, 32), dict(preset="shallow", patch_size=8, embed_dim=16, num_heads=2)),
    (
        (1, 28, 28),
        dict(
            preset="deep-residual", patch_size=7, embed_dim=16, num_heads=2, drop_path=0.2, lsa=True
        ),
    ),
]


@pytest.mark.parametrize(
    "shape,opts", VIT_CASES, ids=[f"{'x'.join(map(str, s))}-{o}" for s, o in VIT_CASES]
)
def test_vit_output_shape_and_knobs(shape, opts):
    from vislab.models.vit import ViT

    model = seeded("vit", shape, 7, **opts)
    assert isinstance(model, ViT)
    _, h, w = shape
    p = opts.get("patch_size", 4)
    assert model.grid == (h // p, w // p)
    x = torch.randn(3, *shape)
    model.train()
    out = model(x)
    assert out.shape == (3, 7) and torch.isfinite(out).all()
    out.sum().backward()  # trainable end to end
    model.eval()
    assert model(x).shape == (3, 7)
    # the knobs reach the layers
    dim = opts.get("embed_dim", 64)
    block = model.blocks[0]
    heads = opts.get("num_heads", 4)
    head_dim = opts.get("head_dim", dim // heads)
    assert block.attn.qkv.out_features == 3 * heads * head_dim
    assert block.mlp[0].out_features == opts.get(
        "mlp_hidden", round(opts.get("mlp_ratio", 4.0) * dim)
    )
    default_depth = {"shallow": 1, "deep": 2, "deep-residual": 2}.get(opts.get("preset"), 4)
    assert len(model.blocks) == opts.get("depth", default_depth)
    linears = [m for m in model.head if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linears] == [*opts.get("head_hidden", []), 7]
    assert (model.cls_token is None) == (opts.get("pool", "cls") == "mean")
    n_tokens = (h // p) * (w // p) + (opts.get("pool", "cls") == "cls")
    assert model.pos_embed.shape == (1, n_tokens, dim)
    assert block.residual == opts.get("residual", opts.get("preset") not in ("shallow", "deep"))


def test_vit_presets_and_overrides():
    m = seeded("vit", (1, 8, 8), 3, preset="deep", patch_size=4, embed_dim=8, num_heads=2)
    assert len(m.blocks) == 2 and not m.residual and "pos_embed" not in dict(m.named_parameters())
    m = seeded(
        "vit",
        (1, 8, 8),
        3,
        preset="deep",
        patch_size=4,
        embed_dim=8,
        num_heads=2,
        residual=True,
        depth=3,
    )
    assert len(m.blocks) == 3 and m.residual


@pytest.mark.parametrize(
    "opts,fragment",
    [
        (dict(embed_dim=10, num_heads=4), "model.num_heads"),
        (dict(drop_path=0.1, residual=False), "model.drop_path"),
        (dict(depth=0), "model.depth"),
        (dict(dropout=1.0), "model.dropout"),
        (dict(pool="max"), "model.pool"),
    ],
)
def test_vit_bad_options_are_config_errors(opts, fragment):
    from vislab.errors import UserError

    with pytest.raises(UserError, match=re.escape(fragment)):
        build_model("vit", (1, 8, 8), 3, patch_size=4, **opts)


def test_vit_on_feature_vectors_is_a_user_error():
    from vislab.errors import UserError

    with pytest.raises(UserError, match="needs images"):
        build_model("vit", (2,), 2)


# ============================================================================ 3. residual: false
class _Zero(nn.Module):
    def forward(self, x):
        return torch.zeros_like(x)


@pytest.mark.parametrize("residual", [True, False])
def test_block_residual_flag_controls_the_skip_paths(residual):
    model = seeded(
        "vit", (1, 8, 8), 3, patch_size=4, embed_dim=8, depth=1, num_heads=2, residual=residual
    )
    block = model.blocks[0].eval()
    x = torch.randn(2, 5, 8)
    block.attn, block.mlp = _Zero(), _Zero()  # both sublayers contribute nothing
    out = block(x)
    if residual:  # only the skip paths are left: the block is the identity
        torch.testing.assert_close(out, x)
    else:  # no skip path: nothing of x gets through
        assert torch.count_nonzero(out) == 0
    # the attention branch alone: with a zero attention and an identity MLP, x survives only through the skip
    block.mlp = nn.Identity()
    out = block(x)
    if residual:
        torch.testing.assert_close(out, x + block.norm2(x))
    else:
        torch.testing.assert_close(out, torch.zeros_like(x))


@pytest.mark.parametrize("residual", [True, False])
def test_vit_without_residual_loses_the_input_when_sublayers_vanish(residual):
    # pool=mean: with pool=cls and no attention, the class token never sees the patches either way
    model = seeded(
        "vit",
        (1, 8, 8),
        3,
        patch_size=4,
        embed_dim=8,
        depth=2,
        num_heads=2,
        residual=residual,
        pool="mean",
    ).eval()
    for b in model.blocks:
        b.attn, b.mlp = _Zero(), _Zero()
    x1, x2 = torch.randn(2, 1, 8, 8), torch.randn(2, 1, 8, 8)
    same = torch.allclose(model(x1), model(x2))
    assert same == (not residual)


# ============================================================================ 4. sinusoidal positions
def _closed_form(n, d):
    pe = np.zeros((n, d))
    for pos in range(n):
        for i in range(0, d, 2):  # i here is 2i of the formula
            angle = pos / 10000 ** (i / d)
            pe[pos, i] = np.sin(angle)
            if i + 1 < d:
                pe[pos, i + 1] = np.cos(angle)
    return pe


@pytest.mark.parametrize("n,d", [(17, 16), (5, 7), (50, 128)])
def test_sinusoidal_table_matches_closed_form(n, d):
    from vislab.models.vit import sinusoidal_table

    table = sinusoidal_table(n, d)
    assert table.shape == (n, d)
    np.testing.assert_allclose(table.numpy(), _closed_form(n, d), atol=1e-6)


@pytest.mark.parametrize("pool", ["cls", "mean"])
def test_sinusoidal_pos_embed_is_a_fixed_buffer(pool):
    model = seeded(
        "vit",
        (1, 8, 8),
        3,
        patch_size=2,
        embed_dim=8,
        depth=1,
        num_heads=2,
        pos_embed="sinusoidal",
        pool=pool,
    )
    n = 16 + (pool == "cls")
    np.testing.assert_allclose(model.pos_embed[0].numpy(), _closed_form(n, 8), atol=1e-6)
    assert "pos_embed" not in dict(model.named_parameters())
    assert "pos_embed" in dict(model.named_buffers())
    assert not model.pos_embed.requires_grad
    before = model.pos_embed.clone()
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    F.cross_entropy(model(torch.randn(4, 1, 8, 8)), torch.tensor([0, 1, 2, 0])).backward()
    opt.step()
    assert torch.equal(model.pos_embed, before)
    learned = seeded(
        "vit", (1, 8, 8), 3, patch_size=2, embed_dim=8, depth=1, num_heads=2, pos_embed="learned"
    )
    assert "pos_embed" in dict(learned.named_parameters())


# ============================================================================ 5. attention, LSA, rollout
@pytest.mark.parametrize("lsa", [True, False])
@pytest.mark.parametrize("pool", ["cls", "mean"])
def test_attention_maps_rows_sum_to_one_and_lsa_masks_diagonal(lsa, pool):
    model = seeded(
        "vit", (3, 16, 16), 4, patch_size=4, embed_dim=16, depth=2, num_heads=2, lsa=lsa, pool=pool
    )
    x = torch.randn(3, 3, 16, 16)
    model.train()
    maps = model.attention_maps(x)
    assert model.training  # the mode is restored
    t = 16 + (pool == "cls")
    assert len(maps) == 2
    for a in maps:
        assert a.shape == (3, 2, t, t)
        torch.testing.assert_close(a.sum(-1), torch.ones(3, 2, t))
        diag = a.diagonal(dim1=-2, dim2=-1)
        if lsa:
            assert diag.abs().max() <= 1e-6
        else:
            assert diag.min() > 0
    # recording the weights computes the same thing as the fused path
    model.eval()
    fused = model(x)
    for b in model.blocks:
        b.attn.keep_attn = True
    torch.testing.assert_close(model(x), fused, rtol=1e-5, atol=1e-6)


def test_lsa_temperature_is_learnable():
    model = seeded(
        "vit", (1, 8, 8), 3, patch_size=4, embed_dim=8, depth=1, num_heads=2, head_dim=4, lsa=True
    )
    params = dict(model.named_parameters())
    assert "blocks.0.attn.scale" in params
    scale = params["blocks.0.attn.scale"]
    assert scale.requires_grad and scale.item() == pytest.approx(4**-0.5)
    F.cross_entropy(model(torch.randn(4, 1, 8, 8)), torch.tensor([0, 1, 2, 0])).backward()
    assert scale.grad is not None and scale.grad.abs() > 0
    plain = seeded("vit", (1, 8, 8), 3, patch_size=4, embed_dim=8, depth=1, num_heads=2)
    assert not any("scale" in n for n, _ in plain.named_parameters())


@pytest.mark.parametrize("pool,residual", [("cls", True), ("mean", True), ("cls", False)])
def test_attention_rollout_one_map_per_image(pool, residual):
    from vislab.explain_maps import attention_rollout, explain_maps

    model = seeded(
        "vit",
        (1, 12, 8),
        3,
        patch_size=4,
        embed_dim=8,
        depth=2,
        num_heads=2,
        pool=pool,
        residual=residual,
    )
    x = torch.randn(5, 1, 12, 8)
    maps = explain_maps(model, x, "rollout")[:, 0]
    assert maps.shape == (5, 3, 2)  # one map per image, on the 3×2 patch grid
    assert torch.isfinite(maps).all() and (maps >= 0).all()
    r = attention_rollout(model.attention_maps(x), residual)
    torch.testing.assert_close(r.sum(-1), torch.ones(r.shape[:2]))


# ============================================================================ 6. bad patch size
def test_cli_info_bad_patch_size_exit_2_lists_valid_sizes(capsys):
    code, out = run(capsys, "model", "info", "vit", "--set", "patch_size=5", "--input", "1x28x28")
    assert code == 2 and "Traceback" not in out
    assert "model.patch_size" in out and "1, 2, 4, 7, 14, 28" in out


def test_train_bad_patch_size_exit_2_lists_valid_sizes(capsys, tmp_path):
    code, out = run(
        capsys,
        "train",
        "--set",
        "data.name=digits",
        "--set",
        "data.limit=60",
        "--set",
        "model.name=vit",
        "--set",
        "model.patch_size=3",
        "--set",
        "train.epochs=1",
        "--set",
        "train.device=cpu",
        "--out",
        str(tmp_path / "run"),
        "-q",
    )
    assert code == 2 and "Traceback" not in out
    assert "model.patch_size=3" in out and "8×8" in out and "1, 2, 4, 8" in out


# ============================================================================ 7. resnet18 and timm: one step
def _timm_vit(shape, classes):
    pytest.importorskip("timm")
    return seeded(
        "timm:vit_tiny_patch16_224",
        shape,
        classes,
        patch_size=4,
        embed_dim=32,
        depth=1,
        num_heads=2,
    )


BACKBONES = {
    "resnet18-cifar": lambda s, k: seeded("resnet18", s, k, cifar_stem=True),
    "resnet18-imagenet-stem": lambda s, k: seeded("resnet18", s, k, cifar_stem=False),
    "timm-vit": _timm_vit,
}


@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 28, 28)], ids=["3x32x32", "1x28x28"])
@pytest.mark.parametrize("which", list(BACKBONES))
def test_backbone_trains_one_step(which, shape):
    model = BACKBONES[which](shape, 5)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, *shape, generator=gen)
    y = torch.tensor([1, 4])
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    logits = model(x)
    assert logits.shape == (2, 5)
    loss = F.cross_entropy(logits, y)
    assert torch.isfinite(loss)
    opt.zero_grad()
    loss.backward()
    opt.step()
    changed = [n for n, p in model.named_parameters() if not torch.equal(p, before[n])]
    names = list(before)
    # the stem (new channel count) and the classifier
    assert names[0] in changed and names[-1] in changed
    assert len(changed) >= 0.9 * len(names)
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.parametrize("cifar_stem,grid", [(True, 4), (False, 1)])
def test_resnet18_stem_sets_the_final_feature_map(cifar_stem, grid):
    """The CIFAR stem keeps a 4×4 map before the global pool on 32×32 images; the ImageNet stem leaves 1×1."""
    model = seeded("resnet18", (3, 32, 32), 10, cifar_stem=cifar_stem).eval()
    seen = {}
    model.layer4.register_forward_hook(lambda m, i, o: seen.update(shape=tuple(o.shape)))
    with torch.no_grad():
        model(torch.zeros(1, 3, 32, 32))
    assert seen["shape"] == (1, 512, grid, grid)
    assert model.conv1.kernel_size == ((3, 3) if cifar_stem else (7, 7))


def test_timm_patches_must_tile_the_image(capsys):
    pytest.importorskip("timm")
    code, out = run(
        capsys,
        "model",
        "info",
        "timm:vit_tiny_patch16_224",
        "--input",
        "1x28x28",
        "--set",
        "depth=1",
    )
    assert code == 2 and "model.patch_size" in out and "1, 2, 4, 7, 14, 28" in out


def test_timm_img_size_option_is_the_users(capsys):
    """README lists img_size as a timm option: the user's value replaces the images' size (it was passed
    twice to timm.create_model), and one that differs from the images is a clear exit 2 naming the fixes."""
    pytest.importorskip("timm")
    tiny = dict(patch_size=4, depth=1, embed_dim=32, num_heads=2)
    model = seeded("timm:vit_tiny_patch16_224", (1, 8, 8), 10, img_size=8, **tiny).eval()
    with torch.no_grad():
        assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    resized = seeded("timm:vit_tiny_patch16_224", (1, 16, 16), 10, img_size=16, **tiny)
    assert tuple(resized.patch_embed.img_size) == (16, 16)
    sets = [x for k, v in {"img_size": 16, **tiny}.items() for x in ("--set", f"{k}={v}")]
    code, out = run(capsys, "model", "info", "timm:vit_tiny_patch16_224", "--input", "1x8x8", *sets)
    flat = " ".join(out.split())
    assert code == 2 and "Traceback" not in out, out
    assert "model.img_size" in flat and "16×16" in flat and "8×8" in flat
    assert "--input C×16×16" in flat and "model.dynamic_img_size=true" in flat


# ============================================================================ 8. local weights
def test_resnet18_pretrained_missing_says_which_file_where(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    code, out = run(capsys, "model", "info", "resnet18", "--set", "pretrained=true")
    assert code == 2 and "Traceback" not in out
    assert str(tmp_path / "torch" / "hub" / "checkpoints" / "resnet18-f37072fd.pth") in out
    assert (
        "https://download.pytorch.org/models/resnet18-f37072fd.pth" in out
        and "model.weights" in out
    )


@pytest.mark.parametrize("model", ["resnet18", "timm:vit_tiny_patch16_224"])
def test_weights_file_missing_exit_2(capsys, model):
    if model.startswith("timm:"):
        pytest.importorskip("timm")
    code, out = run(
        capsys, "model", "info", model, "--set", "weights=/nonexistent.pth", "--set", "patch_size=8"
    )
    if model == "resnet18":  # resnet18 has no patch_size: a clear option error first
        assert code == 2 and "patch_size" in out
        code, out = run(capsys, "model", "info", model, "--set", "weights=/nonexistent.pth")
    assert code == 2 and "Traceback" not in out
    assert "model.weights" in out and "/nonexistent.pth" in out and "does not exist" in out


def test_timm_pretrained_missing_says_where_it_looked(capsys, tmp_path, monkeypatch):
    pytest.importorskip("timm")
    from huggingface_hub import constants

    hub = tmp_path / "hf" / "hub"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    # read at import time by huggingface_hub
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub))
    code, out = run(
        capsys,
        "model",
        "info",
        "timm:vit_tiny_patch16_224",
        "--set",
        "pretrained=true",
        "--set",
        "patch_size=8",
        "--set",
        "depth=1",
    )
    assert code == 2 and "Traceback" not in out
    assert "model.pretrained=true" in out and "not in the local cache" in out
    # the Hugging Face cache folder it looked in
    assert f"{hub}/models--timm--vit_tiny_patch16_224" in out
    assert str(tmp_path / "torch" / "hub" / "checkpoints") in out  # and torch hub's
    assert (
        "timm.create_model('vit_tiny_patch16_224', pretrained=True)" in out
        and "model.weights=FILE" in out
    )


GARBAGE = {
    "random.pth": lambda: np.random.default_rng(0).bytes(300),
    "empty.pth": lambda: b"",
    "text.pt": lambda: b"this is not a weights file\n",
    "junk.safetensors": lambda: b"junk",
}


@pytest.mark.parametrize("filename", list(GARBAGE))
@pytest.mark.parametrize("model", ["resnet18", "timm:vit_tiny_patch16_224"])
def test_garbage_weights_file_exit_2_with_clear_message(capsys, tmp_path, model, filename):
    extra = []
    if model.startswith("timm:"):
        pytest.importorskip("timm")
        extra = [
            "--set",
            "patch_size=8",
            "--set",
            "depth=1",
            "--set",
            "embed_dim=32",
            "--set",
            "num_heads=2",
        ]
    bad = tmp_path / filename
    bad.write_bytes(GARBAGE[filename]())
    code, out = run(capsys, "model", "info", model, "--set", f"weights={bad}", *extra)
    assert code == 2, out
    assert "Traceback" not in out and str(bad) in out
    assert "could not be read" in out or "could not be loaded" in out


TIMM_TINY = dict(patch_size=8, depth=1, embed_dim=32, num_heads=2)


def test_timm_weights_of_another_architecture_exit_2(tmp_path, capsys, caplog):
    pytest.importorskip("timm")
    from vislab.errors import UserError

    f = tmp_path / "r18.pth"
    torch.save(seeded("resnet18", (3, 8, 8), 10).state_dict(), f)
    with pytest.raises(UserError):
        build_model("timm:vit_tiny_patch16_224", (3, 32, 32), 10, weights=str(f), **TIMM_TINY)
    # vislab's message only: not timm's list of every key of the file first
    assert "Unexpected keys" not in capsys.readouterr().err + caplog.text


def test_timm_weights_file_round_trip(tmp_path):
    pytest.importorskip("timm")
    src = seeded("timm:vit_tiny_patch16_224", (3, 32, 32), 10, seed=1, **TIMM_TINY).eval()
    f = tmp_path / "vit.pth"
    torch.save(src.state_dict(), f)
    loaded = seeded(
        "timm:vit_tiny_patch16_224", (3, 32, 32), 10, seed=2, weights=str(f), **TIMM_TINY
    ).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), src(x))


def test_timm_imagenet_weights_adapt_to_grey_28x28_with_other_patches(tmp_path):
    """What suite timm-mnist relies on: RGB 224×224 patch-16 weights with a 1000-class head load into a
    1×28×28, patch-7, 10-class model — blocks copied, patch filters and positions resampled, head new."""
    pytest.importorskip("timm")
    import timm

    arch = dict(depth=1, embed_dim=32, num_heads=2)
    # 3×224×224, 16×16 patches, 1000 classes
    imagenet = timm.create_model("vit_tiny_patch16_224", **arch)
    f = tmp_path / "imagenet.pth"
    torch.save(imagenet.state_dict(), f)
    fresh = seeded("timm:vit_tiny_patch16_224", (1, 28, 28), 10, seed=3, patch_size=7, **arch)
    with pytest.warns(Note, match="re-initialised head"):  # as resnet18 says of its fc
        tuned = seeded(
            "timm:vit_tiny_patch16_224",
            (1, 28, 28),
            10,
            seed=3,
            patch_size=7,
            weights=str(f),
            **arch,
        )
    got, src = tuned.state_dict(), imagenet.state_dict()
    assert torch.equal(got["blocks.0.attn.qkv.weight"], src["blocks.0.attn.qkv.weight"])
    assert got["patch_embed.proj.weight"].shape == (32, 1, 7, 7) and got["pos_embed"].shape == (
        1,
        17,
        32,
    )
    # the class token's position, kept
    assert torch.equal(got["pos_embed"][:, 0], src["pos_embed"][:, 0])
    assert not torch.equal(
        got["patch_embed.proj.weight"], fresh.state_dict()["patch_embed.proj.weight"]
    )
    assert got["head.weight"].shape == (10, 32)
    assert tuned(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_resnet18_weights_without_state_dict_exit_2(capsys, tmp_path):
    f = tmp_path / "list.pth"
    torch.save([1, 2, 3], f)
    code, out = run(capsys, "model", "info", "resnet18", "--set", f"weights={f}")
    assert code == 2 and "no state dict" in out


@pytest.mark.parametrize("shape,cifar_stem", [((3, 32, 32), True), ((1, 28, 28), False)])
def test_resnet18_weights_file_round_trip(tmp_path, shape, cifar_stem):
    src = seeded("resnet18", shape, 6, seed=1, cifar_stem=cifar_stem).eval()
    f = tmp_path / "r18.pth"
    torch.save({"state_dict": src.state_dict()}, f)  # nested, as training checkpoints hold it
    loaded = seeded("resnet18", shape, 6, seed=2, cifar_stem=cifar_stem, weights=str(f)).eval()
    fresh = seeded("resnet18", shape, 6, seed=2, cifar_stem=cifar_stem).eval()
    x = torch.randn(2, *shape)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), src(x), rtol=0, atol=0)
        assert not torch.allclose(fresh(x), src(x))  # the weights did come from the file


def test_resnet18_weights_adapt_rgb_stem_and_reinit_classifier(tmp_path):
    src = seeded("resnet18", (3, 32, 32), 1000, cifar_stem=False)
    f = tmp_path / "imagenet-like.pth"
    torch.save(src.state_dict(), f)
    with pytest.warns(Note) as notes:
        gray = seeded("resnet18", (1, 28, 28), 10, seed=3, cifar_stem=False, weights=str(f))
    torch.testing.assert_close(gray.conv1.weight, src.conv1.weight.sum(1, keepdim=True))
    torch.testing.assert_close(gray.layer3[0].conv1.weight, src.layer3[0].conv1.weight)
    assert gray.fc.weight.shape == (10, 512)
    said = " ".join(str(n.message) for n in notes)
    assert "re-initialised fc" in said and "conv1" in said


# ============================================================================ 9. svm
def _toy(kind):
    from sklearn.datasets import make_blobs, make_circles

    if kind == "circles":
        return make_circles(120, noise=0.1, factor=0.5, random_state=0)
    return make_blobs(150, centers=3, cluster_std=2.0, random_state=0)


@pytest.mark.parametrize(
    "kind,kernel",
    [
        ("circles", "rbf"),
        ("circles", "linear"),
        ("circles", "poly"),
        ("blobs", "rbf"),
        ("blobs", "linear"),
    ],
)
def test_svm_predictions_equal_sklearn(kind, kernel):
    from sklearn.svm import SVC

    from vislab.training.metrics import compute_metrics

    x, y = _toy(kind)
    k = int(y.max()) + 1
    model = build_model("svm", (2,), k, kernel=kernel, C=1.0)
    model.fit_arrays(torch.tensor(x, dtype=torch.float32), torch.tensor(y))
    svc = SVC(kernel=kernel, C=1.0, break_ties=k > 2).fit(
        x.astype(np.float32).astype(np.float64), y
    )
    rng = np.random.default_rng(1)
    grid = rng.uniform(x.min(0) - 0.5, x.max(0) + 0.5, size=(300, 2)).astype(np.float32)
    for pts in (x.astype(np.float32), grid):
        logits = model(torch.tensor(pts))
        assert logits.shape == (len(pts), k)
        np.testing.assert_array_equal(logits.argmax(1).numpy(), svc.predict(pts.astype(np.float64)))
    logits = model(torch.tensor(x, dtype=torch.float32))
    probs = logits.softmax(1)
    torch.testing.assert_close(probs.sum(1), torch.ones(len(x)))
    if k == 2:  # softmax's class-1 probability is sigmoid of scikit-learn's decision function
        np.testing.assert_allclose(
            probs[:, 1].numpy(), 1 / (1 + np.exp(-svc.decision_function(x))), atol=1e-4
        )
    else:  # the scores are scikit-learn's "ovr" decision function (votes + squashed confidences)
        np.testing.assert_allclose(logits.numpy(), svc.decision_function(x), atol=1e-4)
    m = compute_metrics(logits, torch.tensor(y), k)
    assert m.acc == pytest.approx(svc.score(x, y))


def test_svm_state_dict_round_trip_and_unfitted_error(tmp_path):
    x, y = _toy("blobs")
    model = build_model("svm", (2,), 4)  # one class more than the data hold: it scores −1e4
    model.fit_arrays(torch.tensor(x, dtype=torch.float32), torch.tensor(y))
    f = tmp_path / "svm.pt"
    torch.save(model.state_dict(), f)
    other = build_model("svm", (2,), 4)
    with pytest.raises(RuntimeError, match="not fitted"):
        other(torch.zeros(1, 2))
    other.load_state_dict(torch.load(f, weights_only=True))
    xt = torch.tensor(x[:20], dtype=torch.float32)
    torch.testing.assert_close(other(xt), model(xt))
    assert (model(xt)[:, 3] < -1e3).all()


def test_svm_says_its_size_once_fitted(capsys, tmp_path):
    """Its start line holds no size (an unfitted svm stores only its gamma); the line after its fit
    says what summary.json records (tests/test_fitted_params_and_paper_only.py: the loaded model's)."""
    import json

    from conftest import tiny_sets

    sets = tiny_sets("model.name=svm", "train.figures=false", drop="model.hidden=[32]")
    code, out = run(capsys, "train", "--out", str(tmp_path / "run"), *sets)
    assert code == 0, out
    said = " ".join(out.split())
    params = json.loads((tmp_path / "run" / "summary.json").read_text())["params"]
    assert "train/val/test, device" in said and "1 parameter" not in said, out
    assert f"fitted on the train split: {params:,} parameters" in said, out


# ============================================================================ 10. model info
@pytest.mark.parametrize(
    "name,shape,sets",
    [
        (
            "vit",
            "1x28x28",
            ["patch_size=7", "embed_dim=16", "depth=2", "num_heads=2", "pos_embed=sinusoidal"],
        ),
        ("vit", "3x32x32", []),
        ("mlp-scratch", "2", []),
        ("mlp-scratch", "2", ["hidden=[6,4]", "impl=optim"]),
        ("cnn", "1x28x28", []),
        ("resnet18", "3x32x32", []),  # svm: set by its fit (test_s24_model_words)
    ],
)
def test_model_info_total_matches_parameter_count(capsys, name, shape, sets):
    args = [a for s in sets for a in ("--set", s)]
    code, out = run(capsys, "model", "info", name, "--input", shape, *args)
    assert code == 0, out
    m = re.search(r"parameters: ([\d,]+)", out)
    assert m, out
    from vislab.cli.model import parse_sets, parse_shape
    from vislab.models.hooks import model_size

    model = build_model(name, parse_shape(shape), 10, **parse_sets(sets))
    # as a run's params count them: torch's parameters; a fitted model's (svm), its buffers
    expected = model_size(model)
    assert int(m.group(1).replace(",", "")) == expected
    assert re.search(rf"total\s.*\b{expected:,}\b", out)  # the table's total row too


def test_model_info_layer_rows_add_up_to_total():
    from vislab.models.layer_table import layer_table

    model = seeded("vit", (1, 8, 8), 3, patch_size=4, embed_dim=8, depth=2, num_heads=2)
    t = layer_table(model, (1, 8, 8))
    assert (
        sum(r.params for r in t.rows)
        == t.totals["params"]
        == sum(p.numel() for p in model.parameters())
    )
    assert t.output_shape == "3"
    # the class token and positions live on the model itself
    assert any(r.name == "(model)" for r in t.rows)


@pytest.mark.parametrize("bad", ["3x32", "abc", "0x32x32", "3x-1x4", ""])
def test_model_info_bad_input_exit_2(capsys, bad):
    code, out = run(capsys, "model", "info", "cnn", "--input", bad)
    assert code == 2 and "--input" in out and "Traceback" not in out


def test_model_info_unknown_option_exit_2(capsys):
    code, out = run(capsys, "model", "info", "vit", "--set", "patch_sise=4", "--input", "1x28x28")
    assert code == 2 and "model.patch_size" in out


# ============================================================================ 11. decision boundary
def test_plot_decision_boundary_writes_png(tmp_path):
    from sklearn.datasets import make_circles

    from vislab.plotting.boundary import plot_decision_boundary

    x, y = make_circles(100, noise=0.05, factor=0.5, random_state=0)
    x = torch.tensor(x, dtype=torch.float32)
    model = seeded("mlp-scratch", (2,), 2, hidden=[8])
    for _ in range(100):
        model.manual_step(x, torch.tensor(y), 0.5)
    path = plot_decision_boundary(
        model, x, y, tmp_path / "boundary.png", ["outer", "inner"], resolution=40
    )
    assert_png(path)
    from vislab.errors import UserError

    with pytest.raises(UserError, match="2-D feature data"):
        plot_decision_boundary(model, torch.zeros(4, 3), [0, 1, 0, 1], tmp_path / "x.png")


@pytest.mark.parametrize("model", ["mlp-scratch", "svm"])
def test_train_on_circles_writes_boundary_figure(capsys, tmp_path, model):
    import json

    out = tmp_path / "run"
    code, text = run(
        capsys,
        "train",
        "--set",
        "data.name=circles",
        "--set",
        "data.n_samples=200",
        "--set",
        f"model.name={model}",
        "--set",
        "train.epochs=2",
        "--set",
        "train.batch_size=32",
        "--set",
        "optim.lr=0.1",
        "--set",
        "train.device=cpu",
        "--out",
        str(out),
        "-q",
    )
    assert code == 0, text
    assert_png(out / "figures" / "boundary_test.png")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete"


# ============================================================================ 12. ViT figures
@pytest.mark.parametrize(
    "shape,opts",
    [
        ((1, 8, 8), dict(pos_embed="sinusoidal")),
        ((3, 12, 12), dict(pool="mean", lsa=True)),
        ((1, 8, 12), dict(residual=False)),
    ],
)
def test_vit_figures_write_pngs(tmp_path, shape, opts):
    from vislab.explain_maps import explain_maps
    from vislab.plotting.vit import plot_attention, plot_pos_embedding

    model = seeded("vit", shape, 3, patch_size=2, embed_dim=8, depth=2, num_heads=2, **opts)
    p = plot_pos_embedding(
        model.pos_embed[0], model.grid, tmp_path / "pos.png", class_token=model.pool == "cls"
    )
    assert_png(p)
    x = torch.randn(3, *shape)
    images = (np.random.default_rng(0).random((3, shape[1], shape[2], shape[0])) * 255).astype(
        np.uint8
    )
    maps = explain_maps(model, x, "rollout")[:, 0]  # B × grid_h × grid_w
    p = plot_attention(maps, x, images, path=tmp_path / "attn.png")
    assert_png(p)
    # no display images: min-max scaled
    p = plot_attention(maps, x, path=tmp_path / "attn_scaled.png")
    assert_png(p)


@pytest.mark.parametrize("model", ["mlp", "timm:resnet10t"])
def test_num_classes_or_input_shape_as_a_model_option_is_a_config_error(capsys, model):
    """vislab passes both to every builder: given as model.* they were a TypeError traceback."""
    for key in ("num_classes=3", "input_shape=[1,8,8]"):
        code, text = cli(capsys, "train", *tiny_sets(f"model.name={model}", f"model.{key}"))
        assert code == 2 and "is not an option" in text and f"model.{key.split('=')[0]}" in text


@pytest.mark.parametrize("name", ["vit", "timm:vit_tiny_patch16_224"])
def test_patches_that_do_not_tile_the_images_name_the_sizes_that_do(capsys, name):
    """RDFIA 1-e: data.resize=30 with 7×7 patches — the message names the resizes that tile (28, 35),
    not data.resize alone, which the user gave."""
    if name.startswith("timm:"):
        pytest.importorskip("timm")
    extra = ["depth=1", "embed_dim=16", "num_heads=2"]
    sets = [a for s in ["patch_size=7", *extra] for a in ("--set", s)]
    code, out = run(capsys, "model", "info", name, "--input", "1x30x30", *sets)
    # model info's shape is given by hand: the sizes that tile are asked of --input (training: data.resize)
    flat = " ".join(out.split())
    assert code == 2 and "give inputs 28 or 35 a side" in flat and "(a multiple of 7)" in flat, out


def test_every_built_in_models_every_option_is_in_the_readmes_models_table():
    """A user reads a model's options in the README's models table: each one its signature takes is
    named in that model's row (``vislab model list`` gives their defaults)."""
    from conftest import REPO
    from vislab.models.registry import MODELS, model_kwargs, registered_code

    readme = (REPO / "README.md").read_text()
    rows = dict(re.findall(r"^\| `([\w:<>-]+)` \| [^|]*\| (.*)\|$", readme, re.M))
    missing = {
        name: keys
        for name in MODELS
        if registered_code(name) is None  # vislab's own, not one a test of this process registered
        and (keys := [key for key in model_kwargs(name) if f"`{key}`" not in rows.get(name, "")])
    }
    assert not missing, f"not in README.md's models table: {missing}"
