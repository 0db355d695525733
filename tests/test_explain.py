"""`vislab explain`: attention maps and rollout (vislab's vit, timm ViTs), Grad-CAM and saliency (captum)."""

import importlib.util

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import cli, one_line, tiny_config
from figures_skipped import skip_report_figures
from vislab.errors import UserError
from vislab.explain import model_input
from vislab.explain_maps import explain_maps
from vislab.models import build_model
from vislab.predict import load_model
from vislab.report.build import build_report
from vislab.training.trainer import train

# gradcam / saliency need the optional extra vislab[explain] (in the test extra)
needs_captum = pytest.mark.skipif(
    importlib.util.find_spec("captum") is None, reason="pip install 'vislab[explain]'"
)


def _vit(**options):
    torch.manual_seed(0)
    kw = dict(embed_dim=16, depth=2, num_heads=2, patch_size=2, mlp_hidden=32) | options
    return build_model("vit", (1, 8, 8), 10, **kw).eval()


def test_attention_maps_sum_to_one_over_keys():
    model, x = _vit(), torch.randn(3, 1, 8, 8)
    for a in model.attention_maps(x):
        assert a.shape == (3, 2, 17, 17)  # 16 patches + the class token
        torch.testing.assert_close(a.sum(-1), torch.ones(3, 2, 17))
    maps = explain_maps(model, x, "attention")  # class token → patches, per head, last block
    assert maps.shape == (3, 2, 4, 4)
    assert (maps >= 0).all() and (maps.sum((2, 3)) <= 1 + 1e-6).all()


def test_rollout_matches_the_formula_on_two_blocks():
    model, x = _vit(), torch.randn(2, 1, 8, 8)
    a1, a2 = model.attention_maps(x)
    eye = torch.eye(17)

    def step(a):  # average the heads, add the identity (the skip connection), renormalise the rows
        a = a.mean(1) + eye
        return a / a.sum(-1, keepdim=True)

    by_hand = (step(a2) @ step(a1))[:, 0, 1:].reshape(2, 1, 4, 4)
    torch.testing.assert_close(explain_maps(model, x, "rollout"), by_hand)


def test_timm_vit_attention_is_recorded_and_left_fused():
    pytest.importorskip("timm")
    torch.manual_seed(0)
    model = build_model("timm:vit_tiny_patch16_224", (3, 16, 16), 5, patch_size=4, depth=2).eval()
    x = torch.randn(2, 3, 16, 16)
    before, fused = model(x), [b.attn.fused_attn for b in model.blocks]
    heads = model.blocks[0].attn.num_heads
    maps = explain_maps(model, x, "attention", block=0)
    assert maps.shape == (2, heads, 4, 4) and (maps.sum((2, 3)) <= 1 + 1e-5).all()
    assert explain_maps(model, x, "rollout").shape == (2, 1, 4, 4)
    assert [b.attn.fused_attn for b in model.blocks] == fused  # the fast path is restored
    torch.testing.assert_close(model(x), before)  # hooks gone, same outputs
    assert not any(b.attn.attn_drop._forward_hooks for b in model.blocks)


def _trained(folder, *sets):
    run = folder / "run"
    train(tiny_config(*sets, "train.epochs=1"), run, quiet=True)
    return run


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    return _trained(
        tmp_path_factory.mktemp("cnn"), "model.name=cnn", "model.widths=[8,16]", "model.fc=[16]"
    )


@pytest.fixture(scope="module")
def vit_run(tmp_path_factory):
    sets = ["model.name=vit", "model.embed_dim=16", "model.depth=2", "model.num_heads=2"]
    return _trained(tmp_path_factory.mktemp("vit"), *sets, "model.patch_size=2")


def _gradcam_has_the_input_size(run, folder, capsys):
    png = folder / "ramp.png"
    Image.fromarray(np.tile(np.arange(0, 240, 10, dtype=np.uint8), (24, 1))).save(png)
    code, out = cli(capsys, "explain", run, png, "--method", "gradcam", "--out", folder / "x")
    assert code == 0, out
    written = folder / "x" / "ramp_gradcam.png"
    assert written.is_file() and str(written) in one_line(out)
    model, record = load_model(run)
    x = model_input(record, [np.zeros((8, 8, 1), np.uint8), np.full((8, 8, 1), 200, np.uint8)])
    for method in ("gradcam", "saliency"):
        maps = explain_maps(model, x, method)
        assert maps.shape == (2, 1, 8, 8) and torch.isfinite(maps).all() and (maps >= 0).all()


@needs_captum
def test_gradcam_on_a_cnn_run_has_the_input_size(tmp_path, capsys, cnn_run):
    _gradcam_has_the_input_size(cnn_run, tmp_path, capsys)


@needs_captum
@pytest.mark.slow
def test_gradcam_on_a_resnet18_run_has_the_input_size(tmp_path, capsys):
    run = _trained(tmp_path, "model.name=resnet18", "data.limit=64", "data.limit_eval=64")
    _gradcam_has_the_input_size(run, tmp_path, capsys)


@needs_captum
def test_vit_run_end_to_end_writes_heads_and_rollout(tmp_path, capsys, vit_run):
    png = tmp_path / "img.png"
    Image.fromarray(np.eye(16, dtype=np.uint8) * 255).save(png)
    for method, name in (
        ("attention", "img_attention_block1.png"),  # the last of 2 blocks
        ("rollout", "img_rollout.png"),
        ("saliency", "img_saliency.png"),
    ):
        code, out = cli(capsys, "explain", vit_run, png, "--method", method)
        assert code == 0, out
        drawn = np.asarray(Image.open(vit_run / "explain" / name).convert("L"), dtype=float)
        assert min(drawn.shape) > 100 and drawn.std() > 10, (method, drawn.shape, drawn.std())


@pytest.fixture(scope="module")
def mlp_run(trained):
    """A 1-epoch tiny mlp run: conftest's ``trained`` (the session's run, copied for this module)."""
    return trained


@needs_captum
@pytest.mark.parametrize(
    "method, names",
    [("attention", ["gradcam", "saliency"]), ("rollout", ["saliency"]), ("gradcam", ["saliency"])],
)
def test_a_method_the_model_lacks_exit_2_naming_what_works(
    capsys, mlp_run, digit_png, method, names
):
    code, out = cli(capsys, "explain", mlp_run, digit_png, "--method", method)
    assert code == 2 and all(n in out for n in names), out
    assert not (mlp_run / "explain").exists()


@needs_captum
def test_a_bad_image_is_reported_and_the_others_drawn(tmp_path, capsys, cnn_run):
    red, bad, rgba = tmp_path / "red.png", tmp_path / "bad.png", tmp_path / "rgba.png"
    Image.new("RGB", (20, 20), (255, 0, 0)).save(red)
    bad.write_text("not an image")
    Image.new("RGBA", (20, 20), (0, 255, 0, 128)).save(rgba)
    maps = tmp_path / "maps"
    code, out = cli(
        capsys, "explain", cnn_run, red, bad, rgba, "--method", "gradcam", "--out", maps
    )
    assert code == 2, out  # as predict: every image tried, then the exit code says one failed
    assert sorted(p.name for p in maps.iterdir()) == ["red_gradcam.png", "rgba_gradcam.png"]
    assert f"{bad}: error:" in out and "not a readable image" in one_line(out)
    assert str(maps / "red_gradcam.png") in out and str(maps / "rgba_gradcam.png") in out


@needs_captum
def test_without_a_method_each_model_gets_the_map_it_offers(
    tmp_path, capsys, cnn_run, vit_run, mlp_run, digit_png
):
    for run, method in ((cnn_run, "gradcam"), (vit_run, "rollout"), (mlp_run, "saliency")):
        code, out = cli(capsys, "explain", run, digit_png, "--out", tmp_path / method)
        assert code == 0, out
        assert [p.name for p in (tmp_path / method).iterdir()] == [f"seven_{method}.png"]


def test_a_block_out_of_range_is_a_user_error():
    model = _vit()
    with pytest.raises(UserError, match="2 blocks"):
        explain_maps(model, torch.randn(1, 1, 8, 8), "attention", block=5)


@needs_captum
def test_report_of_a_cnn_run_shows_gradcam(cnn_run, monkeypatch):
    # the figure read here; the others are drawn elsewhere
    skip_report_figures(monkeypatch, keep=("gradcam_",))
    html = build_report(cnn_run).read_text()
    assert (cnn_run / "figures" / "gradcam_run.png").is_file()
    assert "Grad-CAM of the predicted class on test images" in html


def test_gradcam_of_a_vit_points_to_attention():
    with pytest.raises(UserError, match="rollout") as told:
        explain_maps(_vit(), torch.randn(1, 1, 8, 8), "gradcam")
    assert "this model (ViT) is a vision transformer" in str(told.value)


def test_a_fitted_baseline_exit_2(tmp_path, capsys, digit_png):
    run = tmp_path / "majority"
    train(tiny_config("model.name=majority", "train.epochs=1"), run, quiet=True)
    code, out = cli(capsys, "explain", run, digit_png, "--method", "saliency")
    assert code == 2 and "fitted baseline" in one_line(out) and "cnn" in out


def test_report_of_a_vit_run_shows_rollout_and_heads(vit_run, monkeypatch):
    # the figures read here: rollout (vit_attention_) and heads; the others are drawn elsewhere
    skip_report_figures(monkeypatch, keep=("vit_attention_", "vit_heads_"))
    html = build_report(vit_run).read_text()
    assert (vit_run / "figures" / "vit_heads_run.png").is_file()
    assert (
        "class-token attention (last block)" in html
        and "attention rollout (class token&#39;s attention) on test images" in html
    )
