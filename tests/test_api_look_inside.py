"""The look-inside tools from Python: ``Run.explain``, ``Run.plot("pos-embed")``, ``vislab.preview_data`` and
``vislab.lr_find`` return Figures and values drawn by the very functions the commands (`vislab explain`,
`figure pos-embed --run`, `data preview`, `lr-find`) save, and refuse bad input with a UserError naming it."""

import importlib.util

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image

import vislab
import vislab.api
import vislab.explain as explain_module
import vislab.plotting.images as images
import vislab.training.lr_find as lr_find_module
from conftest import cli, one_line, tiny_config, tiny_sets
from vislab.plotting.explain import upsample_maps
from vislab.predict import load_model
from vislab.training.trainer import train

needs_captum = pytest.mark.skipif(
    importlib.util.find_spec("captum") is None, reason="pip install 'vislab[explain]'"
)
DIGITS = dict(data__limit=300, train__batch_size=32, train__seed=0, train__device="cpu")


def _trained(folder, *sets):
    train(tiny_config(*sets, "train.epochs=1", "train.figures=false"), folder / "run", quiet=True)
    return vislab.load_run(folder / "run")


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    sets = ("model.name=cnn", "model.widths=[8,16]", "model.fc=[16]")
    return _trained(tmp_path_factory.mktemp("cnn"), *sets)


@pytest.fixture(scope="module")
def vit_run(tmp_path_factory):
    sets = ("model.name=vit", "model.embed_dim=8", "model.depth=2", "model.num_heads=2")
    return _trained(tmp_path_factory.mktemp("vit"), *sets, "model.patch_size=2")


def _rows(fig: Figure) -> list[tuple[str, list[int]]]:
    """Each row of an explanation figure: its title, and the number of images on each of its panels."""
    return [(row._suptitle.get_text(), [len(ax.images) for ax in row.axes]) for row in fig.subfigs]


def test_new_names_are_public():
    assert {"lr_find", "preview_data", "LRFinding"} <= set(vislab.__all__)
    assert {"lr_find", "preview_data"} <= set(vislab.api.__all__)


# ------------------------------------------------------------------------------------------ explain
@needs_captum
def test_explain_draws_a_row_per_image_with_the_maps_the_command_draws(
    cnn_run, digit_png, tmp_path, capsys, monkeypatch
):
    drawn = {}  # what `vislab explain` hands to its PNG
    real = explain_module.plot_explanation

    def spy(image, maps, labels, path, title="", units=None):
        drawn.update(image=image, maps=maps, labels=labels, title=title)
        return real(image, maps, labels, path, title, units=units)

    monkeypatch.setattr(explain_module, "plot_explanation", spy)
    code, out = cli(capsys, "explain", cnn_run.path, digit_png, "--out", tmp_path)
    assert code == 0, out

    pil = Image.open(digit_png)
    fig = cnn_run.explain([digit_png, pil, np.asarray(pil)])  # default method: gradcam for a cnn
    assert isinstance(fig, Figure)
    rows = _rows(fig)
    # the image; the image and its map; its colour bar (scaled per image)
    assert [counts for _, counts in rows] == [[1, 2, 0]] * 3
    assert rows[0][0] == drawn["title"] and drawn["title"].endswith("| gradcam")
    assert rows[1][0].startswith("image 1: ") and rows[2][0].startswith("image 2: ")
    first = fig.subfigs[0].axes
    np.testing.assert_array_equal(first[0].images[0].get_array(), drawn["image"][..., 0])
    expected = upsample_maps(drawn["maps"], drawn["image"].shape[:2])[0]
    np.testing.assert_allclose(first[1].images[1].get_array(), expected, atol=1e-6)
    assert first[1].get_title() == drawn["labels"][0] == "Grad-CAM"


def test_explain_of_a_vit_shows_rollout_or_the_heads_of_a_block(vit_run, digit_png):
    assert _rows(vit_run.explain(digit_png))[0][0].endswith("| rollout\nclass token's attention")
    (title, counts), *_ = _rows(vit_run.explain(digit_png, method="attention", block=0))
    assert title.endswith("attention, block 1 of 2 (--block 0 / block=0)\nclass token's attention")
    assert counts == [1, 2, 2, 0]  # input, 2 heads, their colour bar


@needs_captum
@pytest.mark.parametrize(
    "kwargs, culprit",
    [
        (dict(method="attention"), "--method gradcam"),  # a cnn has no attention
        (dict(method="bogus"), "'bogus' is unknown"),
        (dict(method="gradcam", block=0), "block=0"),  # a block chooses attention's heads only
    ],
)
def test_explain_a_method_or_block_the_model_lacks_is_a_user_error(
    cnn_run, digit_png, kwargs, culprit
):
    with pytest.raises(vislab.UserError) as told:
        cnn_run.explain(digit_png, **kwargs)
    assert culprit in one_line(str(told.value))


def test_explain_bad_images_are_user_errors_naming_the_image(vit_run, digit_png, tmp_path):
    missing = tmp_path / "missing.png"
    with pytest.raises(vislab.UserError, match="missing.png"):
        vit_run.explain([digit_png, missing])
    with pytest.raises(vislab.UserError, match=r"image 1 \(ndarray\).*1 or 3 channels"):
        vit_run.explain([digit_png, np.zeros((8, 8, 2), np.uint8)])
    with pytest.raises(vislab.UserError, match="no images"):
        vit_run.explain([])


def test_explain_a_fitted_baseline_is_a_user_error(tmp_path, digit_png):
    run = _trained(tmp_path, "model.name=majority")
    with pytest.raises(vislab.UserError, match="fitted baseline"):
        run.explain(digit_png, method="saliency")


# ---------------------------------------------------------------------------------------- pos-embed
def test_plot_pos_embed_draws_the_vit_runs_own_table(vit_run):
    fig = vit_run.plot("pos-embed")
    table, similarity = (ax for ax in fig.axes if ax.images)
    model, _ = load_model(vit_run.path)
    np.testing.assert_array_equal(
        table.images[0].get_array(), model.pos_embed[0].detach().T.numpy()
    )
    assert similarity.images[0].get_array().shape == (16, 16)  # 4×4 patches, each a 4×4 tile
    assert "learned position embedding of run" in table.get_title()


def test_plot_pos_embed_of_a_model_without_one_names_it_and_what_has_one(trained):
    with pytest.raises(vislab.UserError) as told:
        vislab.load_run(trained).plot("pos-embed")
    said = one_line(str(told.value))
    assert "its model is mlp" in said and "model.name=vit" in said


# ------------------------------------------------------------------------------------- data preview
def test_preview_data_draws_the_grid_the_command_draws(capsys, tmp_path, monkeypatch):
    seen = []  # each grid handed to plot_image_grid: the command's, then the API's
    real = images.plot_image_grid

    def spy(rows, path, row_titles=None, labels=None):
        seen.append((rows, row_titles, labels))
        return real(rows, path, row_titles, labels)

    monkeypatch.setattr(images, "plot_image_grid", spy)
    sets = ("--set", "augment.crop.p=1", "--set", "augment.hflip.p=1")
    code, out = cli(capsys, "data", "preview", "digits", *sets, "-n", 6, "--copies", 2,
                    "--out", tmp_path / "p.png")  # fmt: skip
    assert code == 0, out
    fig = vislab.preview_data("digits", n=6, copies=2, augment__crop__p=1, augment__hflip__p=1)
    assert isinstance(fig, Figure) and [len(ax.images) for ax in fig.axes] == [1] * 18  # 3 × 6
    (cli_rows, cli_titles, cli_labels), (rows, titles, labels) = seen
    assert all(np.array_equal(a, b) for a, b in zip(cli_rows, rows, strict=True))
    assert (titles, labels) == (cli_titles, cli_labels)
    assert labels == ["0", "1", "2", "3", "4", "5"]
    assert titles[0] == "originals"
    assert [t.split(", ops per image: ")[0] for t in titles[1:]] == ["augmented #1", "augmented #2"]
    assert np.array_equal(fig.axes[6].images[0].get_array(), rows[1][0, ..., 0])


def test_preview_data_normalized_and_own_arrays():
    fig = vislab.preview_data("digits", show="normalized", n=4, data__normalize="zca")
    assert len(fig.axes) == 8 and "ZCA" in fig.axes[4].get_title(loc="left")
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (40, 6, 6, 3), dtype=np.uint8), np.arange(40) % 2
    fig = vislab.preview_data((x, y, ["cat", "dog"]), n=3, copies=1)
    assert len(fig.axes) == 6 and fig.axes[0].texts[0].get_text() == "cat"


@pytest.mark.parametrize(
    "kwargs, culprit",
    [
        (dict(show="bogus"), "show 'bogus' is unknown"),
        (dict(n=0), "n=0"),
        (dict(copies=9), "copies=9"),
        (dict(show="normalized", copies=2), "Drop --copies"),
        (dict(show="normalized", data__normalize="none"), "data.normalize=zca"),
        (dict(data__nmae="x"), "nmae"),
    ],
)
def test_preview_data_bad_settings_are_user_errors(kwargs, culprit):
    with pytest.raises(vislab.UserError) as told:
        vislab.preview_data("digits", **kwargs)
    assert culprit in one_line(str(told.value))


def test_preview_data_of_feature_vectors_is_a_user_error():
    x, y = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32), np.arange(20) % 2
    with pytest.raises(vislab.UserError, match="feature vectors"):
        vislab.preview_data((x, y))  # 3 features: no plane to scatter them on (circles' 2 are)


# ------------------------------------------------------------------------------------------ lr-find
def test_lr_find_gives_the_commands_numbers_a_plot_and_a_notebook_view(
    capsys, tmp_path, monkeypatch
):
    found = []  # each range test's result: the command's, then the API's
    real = lr_find_module.lr_find

    def spy(*args, **kwargs):
        found.append(real(*args, **kwargs))
        return found[-1]

    monkeypatch.setattr(lr_find_module, "lr_find", spy)
    rng = ("--start-lr", "1e-5", "--steps", "30")
    code, out = cli(capsys, "lr-find", *tiny_sets(), *rng, "--out", tmp_path / "lr.png")
    assert code == 0, out
    f = vislab.lr_find(
        model="mlp", data="digits", model__hidden=[32], train__epochs=1, **DIGITS,
        start_lr=1e-5, steps=30,
    )  # fmt: skip
    assert isinstance(f, vislab.LRFinding) and f is found[1]
    command = found[0]
    assert (f.lrs, f.losses, f.smoothed) == (command.lrs, command.losses, command.smoothed)
    assert f"suggested optim.lr: {f.suggestion:.2g}" in out and f.suggestion == command.suggestion
    assert len(f.lrs) == len(f.losses) == len(f.smoothed) and f.lrs[0] == 1e-5

    fig = f.plot()
    [ax] = fig.axes
    assert isinstance(fig, Figure) and ax.get_xscale() == "log" and ax.get_title() == f.title
    np.testing.assert_allclose(ax.lines[1].get_ydata(), f.smoothed)
    assert f"suggested lr {f.suggestion:.2g}" in repr(f) and "mlp on digits" in repr(f)
    page = f._repr_html_()
    assert "suggested optim.lr" in page and "<img src='data:image/png;base64," in page


@pytest.mark.parametrize(
    "kwargs, culprit",
    [
        (dict(model="majority"), "'majority' is fitted in one go"),
        (dict(start_lr=1.0, end_lr=0.1), "0 < start lr < end lr"),
        (dict(steps=3), "at least 10 steps"),
        (dict(model__hiden=[8]), "hiden"),
    ],
)
def test_lr_find_bad_settings_are_user_errors(kwargs, culprit):
    settings = dict(model="mlp", data="digits", **DIGITS) | kwargs
    with pytest.raises(vislab.UserError) as told:
        vislab.lr_find(**settings)
    assert culprit in one_line(str(told.value))


def test_lr_find_leaves_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    vislab.lr_find(model="mlp", data="digits", **DIGITS, steps=10)
    assert torch.equal(torch.rand(3), expected)
