"""What a student checks in the model and data figures: a run has one colour in every figure; Grad-CAM
and attention show test images of several classes (a folder's test split is sorted by class), their
titles fit their panels on a printed page; the position-similarity map is numbered by patch row and
column; attention heads share one colour scale (and count from 1, as blocks do); a class has one colour
and the axes one name in the samples' scatter and the decision boundary; the sample strip is sized to
its images and labels each; a mixed image is labelled with both its classes and their shares."""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.colors import to_hex
from PIL import Image

import vislab
import vislab.report.model_figures as model_figures
from conftest import tiny_config
from vislab.plotting.boundary import decision_boundary_figure
from vislab.plotting.canvas import captured_figures
from vislab.plotting.explain import PER_MAP
from vislab.plotting.images import plot_feature_scatter, plot_image_mosaic
from vislab.plotting.legend import run_style
from vislab.plotting.style import COLUMN_IN, MIN_HEIGHT_IN, PAGE_IN, fit_to_page, page_style
from vislab.plotting.vit import plot_attention, plot_pos_embedding
from vislab.report.figure_set import FigureSet
from vislab.report.sections import curve_figures
from vislab.report.tracking import tracking_figures
from vislab.training.rundir import RunDir
from vislab.training.summary import RunSummary
from vislab.training.trainer import train

CLASSES = ("ankle_boot_long", "T-shirt & top", "$price_tag")  # ~15 characters, as a folder's names


def _drawn(draw) -> plt.Figure:
    """The one figure ``draw(path)`` saves, captured unwritten."""
    with captured_figures() as figs:
        draw(Path("unused.png"))
    (fig,) = figs
    return fig


def _boxes(fig, texts):
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    return [t.get_window_extent(renderer) for t in texts]


# --------------------------------------------------------------------------------- Grad-CAM's images
@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    """A cnn trained on an image folder of three classes (20 images each), and its config."""
    root = tmp_path_factory.mktemp("folder")
    rng = np.random.default_rng(0)
    for k, name in enumerate(CLASSES):
        (root / name).mkdir()
        for i in range(20):
            pixels = rng.integers(0, 80, (8, 8), dtype=np.uint8)
            pixels[:, 2 * k : 2 * k + 3] = 255  # a class is a bright stripe at its place
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    cfg = tiny_config(
        "data.name=folder", f"data.root={root}", "data.image_size=8", "data.limit=null",
        "model.name=cnn",
        "model.widths=[4,8]", "model.fc=[8]", "train.epochs=1", "train.figures=false",
    )  # fmt: skip
    run = tmp_path_factory.mktemp("run") / "cnn"
    train(cfg, run, quiet=True)
    return run, cfg


def test_grad_cam_shows_test_images_of_every_class_and_their_titles_say_so(
    folder_run, tmp_path, monkeypatch
):
    run, cfg = folder_run
    seen = []
    real = model_figures.plot_attention

    def spy(maps, x, display, **kw):
        seen.append(kw)
        return real(maps, x, display, **kw)

    monkeypatch.setattr(model_figures, "plot_attention", spy)
    figs = FigureSet(tmp_path / "figures", [])
    made = model_figures.model_figures(figs, "cnn", run, cfg)
    assert [f["name"] for f in made] == ["gradcam_cnn.png"], figs.notes
    (drawn,) = seen
    true = [t.split("\ntrue ")[1] for t in drawn["titles"]]
    # the first test image of each class, then the second of each: the same for every run on the data
    assert true == sorted(CLASSES) * 2, true
    assert drawn["label"] == "Grad-CAM" and drawn.get("units") is None


def test_grad_cam_titles_fit_their_panels_on_a_page_and_say_how_maps_are_scaled():
    titles = [f"predicted {CLASSES[i % 3]}\ntrue {CLASSES[(i + 1) % 3]}" for i in range(6)]
    with page_style():
        fig = _drawn(
            lambda p: plot_attention(
                torch.rand(6, 4, 4), torch.rand(6, 1, 8, 8), path=p, label="Grad-CAM", titles=titles
            )
        )
        fit_to_page(fig, PAGE_IN)
    shown = [ax.title for ax in fig.axes if ax.get_title()]
    assert len(shown) == 6
    boxes = _boxes(fig, shown)
    for left, right in zip(boxes, boxes[1:]):
        assert left.x1 < right.x0, (left, right)  # neighbours' titles do not run into each other
    assert all(b.x0 >= 0 and b.x1 <= fig.bbox.x1 for b in boxes)
    assert "ankle_boot_long" in shown[0].get_text().replace("\n", "")  # wrapped, not cut
    bar = fig.axes[-1]
    assert bar.get_ylabel() == "scaled per image"  # Grad-CAM is in arbitrary units
    plt.close(fig)


# ----------------------------------------------------------------------------------- position map
def test_the_position_similarity_map_is_numbered_by_patch_row_and_column():
    table = torch.randn(17, 8)
    fig = _drawn(lambda p: plot_pos_embedding(table, (4, 4), p, class_token=True))
    tiles = fig.axes[1]
    assert [t.get_text() for t in tiles.get_xticklabels()] == ["0", "1", "2", "3"]
    assert [t.get_text() for t in tiles.get_yticklabels()] == ["0", "1", "2", "3"]
    assert list(tiles.get_xticks()) == [1.5, 5.5, 9.5, 13.5]  # each tile's centre
    assert tiles.get_xlabel() == "patch column" and tiles.get_ylabel() == "patch row"
    plt.close(fig)


# ------------------------------------------------------------------------ attention heads' scale
@pytest.fixture(scope="module")
def vit_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("vit") / "run"
    sets = ("model.name=vit", "model.embed_dim=8", "model.depth=2", "model.num_heads=2")
    cfg = tiny_config(*sets, "model.patch_size=2", "train.epochs=1", "train.figures=false")
    train(cfg, run, quiet=True)
    return run, cfg


def test_attention_heads_count_from_1_on_one_colour_scale_with_a_colour_bar(vit_run, tmp_path):
    run, cfg = vit_run
    with captured_figures() as drawn:
        figs = FigureSet(tmp_path / "figures", [])
        made = model_figures.model_figures(figs, "vit", run, cfg)
    names = [f["name"] for f in made]
    assert names == ["vit_pos_vit.png", "vit_attention_vit.png", "vit_heads_vit.png"], figs.notes
    _, rollout, heads = drawn
    panels = [ax for ax in heads.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["input", "head 1", "head 2"]
    norms = {(ax.images[1].norm.vmin, ax.images[1].norm.vmax) for ax in panels[1:]}
    assert len(norms) == 1  # one scale for every head: a weak head looks weak
    (vmin, vmax), maps = norms.pop(), [ax.images[1].get_array() for ax in panels[1:]]
    assert vmin == pytest.approx(min(float(m.min()) for m in maps))  # the image's least weight
    assert vmax == pytest.approx(max(float(m.max()) for m in maps))
    assert heads.axes[-1].get_ylabel().startswith("attention weight")  # its colour bar
    overlays = [ax.images[1] for ax in rollout.axes if len(ax.images) == 2]
    assert all(im.get_array().min() == 0 and im.get_array().max() == 1 for im in overlays)
    assert rollout.axes[-1].get_ylabel() == PER_MAP  # each image's rollout min–max scaled
    for fig in drawn:
        plt.close(fig)


# ------------------------------------------------------------------- classes' colours and the axes
def test_a_class_has_one_colour_and_the_axes_one_name_in_samples_and_boundary():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = torch.nn.Linear(2, 2)
    with page_style():  # the paper's palette
        scatter = _drawn(lambda p: plot_feature_scatter(x, y, ["inner", "outer"], p))
        boundary = decision_boundary_figure(
            model, x, y, ["inner", "outer"], 20, prepare=lambda t: t
        )

    def colours(fig):
        ax = fig.axes[0]
        return {
            h.get_label(): tuple(h.get_facecolor()[0][:3])
            for h in ax.collections
            if isinstance(h, PathCollection)
        }

    theirs, ours = colours(scatter), colours(boundary)
    assert theirs.keys() == {"inner", "outer"} and theirs == ours
    a, b = scatter.axes[0], boundary.axes[0]
    assert (
        (a.get_xlabel(), a.get_ylabel())
        == (b.get_xlabel(), b.get_ylabel())
        == ("x₁ (raw)", "x₂ (raw)")
    )
    plt.close(scatter)


# --------------------------------------------------------------------------------- sample strip
def test_the_sample_strip_fills_a_page_column_and_labels_each_image():
    images = np.random.default_rng(0).integers(0, 255, (12, 8, 8, 1), dtype=np.uint8)
    names = [str(k % 10) for k in range(12)]
    with page_style():
        fig = _drawn(lambda p: plot_image_mosaic([images], p, ["digits"], labels=names))
    w, h = fig.get_size_inches()
    assert h / w >= MIN_HEIGHT_IN / COLUMN_IN  # at a column's width, no blank band above and below
    (ax,) = fig.axes
    assert sorted(t.get_text() for t in ax.texts) == sorted(names)  # a class under each image
    assert ax.get_title() == "digits"
    fit_to_page(fig, COLUMN_IN)
    (box,) = _boxes(fig, [ax])  # the picture as drawn on the page, four images a row
    assert box.width / fig.dpi / 4 >= 0.6 and box.height / fig.dpi >= 0.6 * MIN_HEIGHT_IN
    plt.close(fig)


# ------------------------------------------------------------------------------------ mixed images
def test_a_mixed_image_is_labelled_with_both_classes_and_their_shares():
    fig = vislab.preview_data("digits", n=6, copies=1, augment__mixup__p=1)
    rows = [fig.axes[6 * i : 6 * i + 6] for i in range(2)]
    classes = [ax.texts[0].get_text() for ax in rows[0]]
    title = rows[1][0].get_title(loc="left")
    shares = [float(s.split()[1]) for s in title.split("own share: ")[1].rstrip(")").split(", ")]
    for j, ax in enumerate(rows[1]):
        label = ax.texts[0].get_text().replace("\n", " / ")
        mine, left = label.split(" / ")
        assert mine == f"{classes[j]} ·{shares[j]:.2f}", label
        assert left == f"{classes[j - 1]} ·{1 - shares[j]:.2f}", label  # the image to its left


# ---------------------------------------------------------------------------------- a run's colour
def test_a_run_has_its_curves_png_colour_in_its_step_losses_figure(tmp_path):
    runs = {name: tmp_path / name for name in ("first", "second")}
    for run in runs.values():
        train(
            tiny_config("train.epochs=1", "train.log_every=2", "train.figures=false"),
            run,
            quiet=True,
        )
    histories = {name: RunDir(run).read_metrics() for name, run in runs.items()}
    with captured_figures() as drawn:
        figs = FigureSet(tmp_path / "figures", [])
        curve_figures(figs, histories, {})
        tracking_figures(figs, "second", runs["second"], None, RunSummary())
    curves, steps = drawn

    def colour(fig, label):
        return {to_hex(line.get_color()) for line in fig.axes[0].lines if line.get_label() == label}

    assert colour(curves, "second train") == colour(steps, "train") == {run_style(1)[0]}
    for fig in drawn:
        plt.close(fig)
