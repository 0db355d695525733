"""Figures the course reports drew by hand: `vislab figure pos-embed` (the RDFIA 1-e sinusoidal table and its
cosine-similarity map) and `vislab data preview --show normalized` (what standardisation / ZCA do to an image).

Each figure is checked on the arrays it draws, caught on their way into the plotting function."""

import math

import numpy as np
import pytest
import torch
from PIL import Image

import vislab.plotting.vit as vit_plots
from conftest import cli, one_line, tiny_config
from vislab.config import load_config
from vislab.data import load_splits
from vislab.models import build_model
from vislab.predict import load_model
from vislab.training.trainer import train


@pytest.fixture
def drawn(monkeypatch):
    """What `figure pos-embed` hands to plot_pos_embedding, and the similarity map it draws."""
    seen = {}
    real_plot, real_sim = vit_plots.plot_pos_embedding, vit_plots.position_similarity

    def plot(table, grid, path, class_token=False, title=""):
        seen.update(table=table.detach().clone(), grid=grid, class_token=class_token, title=title)
        return real_plot(table, grid, path, class_token=class_token, title=title)

    def sim(table):
        seen["sim"] = real_sim(table)
        return seen["sim"]

    monkeypatch.setattr(vit_plots, "plot_pos_embedding", plot)
    monkeypatch.setattr(vit_plots, "position_similarity", sim)
    return seen


def test_pos_embed_draws_the_closed_form_table_and_a_symmetric_similarity(capsys, tmp_path, drawn):
    png = tmp_path / "pe.png"
    code, out = cli(capsys, "figure", "pos-embed", "--length", 100, "--dim", 16, "--out", png)
    assert code == 0 and str(png) in one_line(out)
    table = drawn["table"].double()
    assert table.shape == (100, 16) and drawn["grid"] is None
    for p, i in [(0, 0), (1, 0), (7, 3), (42, 5), (99, 7)]:
        angle = p / 10000 ** (2 * i / 16)
        assert table[p, 2 * i] == pytest.approx(math.sin(angle), abs=1e-6)
        assert table[p, 2 * i + 1] == pytest.approx(math.cos(angle), abs=1e-6)
    sim = drawn["sim"]
    assert sim.shape == (100, 100)
    torch.testing.assert_close(sim, sim.T)
    torch.testing.assert_close(sim.diagonal(), torch.ones(100, dtype=sim.dtype))
    assert sim[0, 1] > sim[0, 50]  # near positions are more alike than far ones
    with Image.open(png) as img:
        assert img.format == "PNG" and img.size[0] > 500


def test_pos_embed_any_size_including_an_odd_dimension(capsys, tmp_path, drawn):
    code, _ = cli(
        capsys, "figure", "pos-embed", "--length", 3, "--dim", 7, "--out", tmp_path / "o.png"
    )
    assert code == 0 and drawn["table"].shape == (3, 7)
    # the odd last column is a sine: PE(p, 6) = sin(p / 10000^(6/7))
    assert drawn["table"][2, 6].item() == pytest.approx(math.sin(2 / 10000 ** (6 / 7)), abs=1e-6)


def test_pos_embed_table_is_the_one_a_sinusoidal_vit_adds(capsys, tmp_path, drawn):
    vit = build_model(
        "vit",
        (1, 8, 8),
        3,
        patch_size=2,
        embed_dim=16,
        depth=1,
        num_heads=2,
        pos_embed="sinusoidal",
    )
    tokens = vit.pos_embed.shape[1]  # 16 patches + the class token
    code, _ = cli(
        capsys, "figure", "pos-embed", "--length", tokens, "--dim", 16, "--out", tmp_path / "v.png"
    )
    assert code == 0 and torch.equal(drawn["table"], vit.pos_embed[0])


@pytest.mark.parametrize(
    "args, culprit",
    [
        (["--length", "0"], "--length 0"),
        (["--dim", "0"], "--dim 0"),
        (["--length", "-5"], "--length -5"),
        (["--length", "2049"], "--length 2049"),
        (["--dim", "100000"], "--dim 100000"),
        (["--out", "pe.txt"], ".png"),
        (["--run", "no-such-run"], "no-such-run"),
    ],
)
def test_pos_embed_bad_input_exit_2_and_nothing_written(
    capsys, tmp_path, monkeypatch, args, culprit
):
    monkeypatch.chdir(tmp_path)
    code, out = cli(capsys, "figure", "pos-embed", *args)
    assert code == 2 and culprit in one_line(out), out
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def vit_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("vit") / "run"
    cfg = tiny_config(
        "model.name=vit",
        "model.patch_size=2",
        "model.embed_dim=8",
        "model.depth=1",
        "model.num_heads=2",
        "train.epochs=1",
    )
    train(cfg, run, quiet=True)
    return run


def test_pos_embed_of_a_trained_vit_run(capsys, tmp_path, drawn, vit_run):
    png = tmp_path / "run.png"
    code, _ = cli(capsys, "figure", "pos-embed", "--run", vit_run, "--out", png)
    assert code == 0 and png.is_file()
    model, _ = load_model(vit_run)
    assert torch.equal(drawn["table"], model.pos_embed[0].detach())  # the trained, learned table
    assert drawn["grid"] == (4, 4) and drawn["class_token"] and "learned" in drawn["title"]
    assert drawn["sim"].shape == (16, 16)  # patches only: the class token is left out


def test_pos_embed_run_refuses_a_size_and_a_model_without_positions(
    capsys, tmp_path, vit_run, trained
):
    code, out = cli(capsys, "figure", "pos-embed", "--run", vit_run, "--dim", 8)
    assert code == 2 and "drop --length/--dim" in one_line(out)
    code, out = cli(capsys, "figure", "pos-embed", "--run", trained, "--out", tmp_path / "m.png")
    assert code == 2 and "mlp" in out and "model.name=vit" in one_line(out)
    assert not (tmp_path / "m.png").exists()


# ------------------------------------------------------------------- data preview --show normalized
def _zca_by_hand(train_x: np.ndarray, shown: np.ndarray, eps: float) -> np.ndarray:
    """ZCA whitening in float64 numpy: W = U (S + ε)^-½ Uᵀ of the train covariance, applied to ``shown``."""

    def flat(x: np.ndarray) -> np.ndarray:  # N×H×W×C uint8 → N×D in [0, 1], pixels in C×H×W order
        return x.transpose(0, 3, 1, 2).reshape(len(x), -1).astype(np.float64) / 255

    x = flat(train_x)
    mean = x.mean(0)
    s, u = np.linalg.eigh((x - mean).T @ (x - mean) / len(x))
    w = (u * (np.clip(s, 0, None) + eps) ** -0.5) @ u.T
    z = (flat(shown) - mean) @ w
    n, h, wd, c = shown.shape
    return z.reshape(n, c, h, wd).transpose(0, 2, 3, 1)


def test_preview_zca_draws_the_whitened_images(capsys, tmp_path, grid_rows):
    png = tmp_path / "zca.png"
    code, _ = cli(
        capsys, "data", "preview", "digits", "--show", "normalized",
        "--set", "data.normalize=zca", "--out", png, "-n", 10,
    )  # fmt: skip
    assert code == 0 and png.is_file()
    originals, whitened = grid_rows["rows"]
    assert whitened.shape == originals.shape == (10, 8, 8, 1) and whitened.dtype == np.uint8
    assert "ZCA" in grid_rows["titles"][1] and "128 + 127·v / max|v|" in grid_rows["titles"][1]
    assert np.abs(whitened.astype(int) - originals).mean() > 20  # not the raw images

    train_x = load_splits(load_config(None, ["data.name=digits"]).data, 0).train.x
    z = _zca_by_hand(train_x, originals, eps=0.1)
    expected = 128 + 127 * z / np.abs(z).reshape(10, -1).max(1)[:, None, None, None]
    assert np.abs(whitened - expected).max() < 0.6  # the same images, up to uint8 rounding (0.5)


def test_preview_standardised_keeps_the_pixel_order(capsys, tmp_path, grid_rows):
    code, _ = cli(
        capsys, "data", "preview", "digits", "--show", "normalized", "--out", tmp_path / "s.png"
    )
    assert code == 0 and "standardised" in grid_rows["titles"][1]
    originals, standardised = (r.astype(int) for r in grid_rows["rows"])
    # one channel, one affine map: the order of the pixel values is kept, the background is no longer 0
    order = np.argsort(originals[0].ravel(), kind="stable")
    assert np.all(np.diff(standardised[0].ravel()[order]) >= 0)
    assert standardised[0].min() > 0


@pytest.mark.parametrize(
    "name, args, fragment",
    [
        ("digits", ["--show", "bogus"], "'bogus' is not one of 'augmented', 'normalized'"),
        ("digits", ["--show", "normalized", "--set", "data.normalize=none"], "data.normalize=zca"),
        ("digits", ["--show", "normalized", "--copies", "2"], "Drop --copies"),
        ("circles", ["--show", "normalized"], "2-D points have none"),
    ],
)
def test_preview_bad_show_options_exit_2(capsys, tmp_path, name, args, fragment):
    out_png = tmp_path / "p.png"
    code, out = cli(capsys, "data", "preview", name, *args, "--out", out_png)
    assert code == 2 and fragment in one_line(out), out
    assert not out_png.exists()


def test_a_two_token_embedding_is_ticked_at_whole_tokens():
    """A patch-28 ViT on 28×28 images has 2 tokens: its axes were ticked -0.50, 0.00, 0.50, …"""
    from vislab.plotting.canvas import captured_figures, plt

    with captured_figures() as drawn:
        vit_plots.plot_pos_embedding(torch.randn(3, 6), None, "pos.png", class_token=True)
    [fig] = drawn
    fig.canvas.draw()
    table, similarity = fig.axes[0], fig.axes[1]  # the colour bars come after them
    for axis in (table.xaxis, table.yaxis, similarity.xaxis, similarity.yaxis):
        lo, hi = sorted(axis.get_view_interval())
        shown = [t for t in axis.get_ticklocs() if lo <= t <= hi]
        assert shown and all(float(t).is_integer() for t in shown), axis.get_ticklocs()
    plt.close(fig)
