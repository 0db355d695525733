"""What a notebook user-tester found in explain, lr-find and a few figures: Grad-CAM weighs the last conv
feature maps after their activation and says when a map is all zero; explain takes folders and one rule
for ``block``; API errors name each option both ways; lr_find warns of a flat curve and honours
``train.accumulate``; the lr-find figure saves whole; the decision boundary is drawn in raw units outside
pyplot; a one-epoch curve tells train from val by its marker."""

import importlib.util

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn as nn
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text
from PIL import Image

import vislab
from conftest import cli, one_line, tiny_config
from vislab.explain_maps import explain_maps
from vislab.models import build_model
from vislab.models.hooks import hooks_of
from vislab.plotting.explain import explanation_rows_figure
from vislab.plotting.lr_find import lr_find_figure
from vislab.plotting.runs import curves_figure
from vislab.predict import load_model
from vislab.training.lr_curve import weak_suggestion
from vislab.training.lr_find import lr_range_test
from vislab.training.lr_finding import LRFinding, RangeTest
from vislab.training.trainer import train

needs_captum = pytest.mark.skipif(
    importlib.util.find_spec("captum") is None, reason="pip install 'vislab[explain]'"
)
CNN = (
    "model.name=cnn",
    "model.widths=[8,16]",
    "model.fc=[16]",
    "train.epochs=1",
    "train.figures=false",
)


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cnn") / "run"
    train(tiny_config(*CNN), run, quiet=True)
    return vislab.load_run(run)


@pytest.fixture(scope="module")
def vit_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("vit") / "run"
    sets = ("model.name=vit", "model.embed_dim=8", "model.depth=2", "model.num_heads=2")
    sets += ("model.patch_size=2", "train.epochs=1", "train.figures=false")
    train(tiny_config(*sets), run, quiet=True)
    return vislab.load_run(run)


@pytest.fixture(scope="module")
def digit_folder(tmp_path_factory, digit_png):
    """b.png and a/c.png (a sub-folder), then the order predict reads them in: a/c.png, b.png."""
    folder = tmp_path_factory.mktemp("digits")
    (folder / "a").mkdir()
    image = Image.open(digit_png)
    image.save(folder / "b.png")
    image.rotate(90).save(folder / "a" / "c.png")
    return folder


# ------------------------------------------------------------------------------------------ Grad-CAM
def _square_net() -> nn.Sequential:
    """A conv net set by hand whose evidence is known: class 1 is a bright (1.0) square on black (0).
    Its 1×1 conv has two maps, x − 0.5 (for class 1) and 2x − 1.9 (against it); after the ReLU both are 0
    off the square, but before it the second is most negative there (−1.9): a Grad-CAM of the conv's raw
    output puts the class's evidence on the black background."""
    conv = nn.Conv2d(1, 2, 1)
    head = nn.Linear(2, 2)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, 2.0]).view(2, 1, 1, 1))
        conv.bias.copy_(torch.tensor([-0.5, -1.9]))
        head.weight.copy_(torch.tensor([[0.0, 0.0], [1.0, -1.0]]))
        head.bias.zero_()
    return nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), head).eval()


@needs_captum
def test_gradcam_mass_falls_inside_the_square_that_decides_the_class():
    model = _square_net()
    x = torch.zeros(2, 1, 12, 12)
    x[0, 0, 2:6, 5:9] = 1.0  # image 0: the square; image 1: black, no evidence for class 1
    maps = explain_maps(model, x, "gradcam", target=torch.tensor([1, 1]))[:, 0]
    inside = maps[0, 2:6, 5:9].sum() / maps[0].sum()
    assert inside > 0.95  # the conv's raw output put 97 % of it on the background
    assert (maps[1] == 0).all()


@needs_captum
def test_an_all_zero_map_is_captioned_not_drawn_blank():
    model = _square_net()
    x = torch.zeros(2, 1, 12, 12)
    x[0, 0, 2:6, 5:9] = 1.0
    maps = explain_maps(model, x, "gradcam", target=torch.tensor([1, 1]))
    shown = (x * 255).byte().permute(0, 2, 3, 1).numpy()
    fig = explanation_rows_figure(list(shown), list(maps), ["Grad-CAM"], ["square", "black"])
    square, black = (row.axes[1] for row in fig.subfigs)
    assert square.get_title() == "Grad-CAM" and len(square.images) == 2  # the image, its map
    assert "no positive evidence" in one_line(black.get_title()) and len(black.images) == 1


def _name(model: nn.Module, layer: nn.Module | None) -> str | None:
    return next((n for n, m in model.named_modules() if m is layer), None)


@pytest.mark.parametrize(
    "name, shape, options, layer",
    [
        ("cnn", (1, 8, 8), dict(widths=[8, 16], fc=[16]), "4"),  # conv → ReLU: the ReLU
        ("cnn", (1, 16, 16), dict(preset="deep-bn"), "19"),  # conv → BN → ReLU: the ReLU
        ("fast", (3, 16, 16), dict(widths=[8, 16]), "net.3.6"),  # conv → BN → GELU
        ("resnet18", (3, 32, 32), {}, "layer4.1"),  # the last residual block (ends in its ReLU)
    ],
)
def test_gradcam_weighs_the_last_conv_maps_after_their_activation(name, shape, options, layer):
    model = build_model(name, shape, 3, **options)
    assert _name(model, hooks_of(model).gradcam_layer()) == layer


def test_a_conv_with_no_activation_after_it_is_weighed_as_it_is():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(144, 2))
    assert hooks_of(model).gradcam_layer() is model[0]


# ----------------------------------------------------------------------------------- explain folders
@needs_captum
def test_explain_takes_a_folder_in_python_and_on_the_command_line(
    cnn_run, digit_folder, tmp_path, capsys
):
    fig = cnn_run.explain(digit_folder)
    titles = [row._suptitle.get_text() for row in fig.subfigs]
    assert [t.split(":")[0] for t in titles] == ["a/c.png", "b.png"]  # sorted, sub-folders too
    code, out = cli(capsys, "explain", cnn_run.path, digit_folder, "--out", tmp_path)
    assert code == 0, out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_c_gradcam.png", "b_gradcam.png"]


# ------------------------------------------------------------------------------------------- --block
@needs_captum
def test_a_block_with_a_method_of_no_blocks_is_refused_both_ways(cnn_run, digit_png, capsys):
    with pytest.raises(vislab.UserError) as told:
        cnn_run.explain(digit_png, method="saliency", block=0)
    said = one_line(str(told.value))
    assert "--block 0 / block=0" in said and "method saliency draws no single block" in said
    assert "this model has no attention maps: only a ViT has them" in said  # a CNN
    code, out = cli(capsys, "explain", cnn_run.path, digit_png, "-m", "saliency", "--block", 0)
    assert code == 2 and said in one_line(out)
    assert not (cnn_run.path / "explain").exists()


# "1" is block 1: a number given as a string is that number everywhere (vislab.arguments)
@pytest.mark.parametrize("block", ["first", 1.5, True])
def test_a_block_that_is_no_whole_number_is_a_user_error(vit_run, digit_png, block):
    with pytest.raises(vislab.UserError, match=r"block must be a whole number") as told:
        vit_run.explain(digit_png, method="attention", block=block)
    assert f"block={block!r}" in str(told.value)


def test_the_block_default_is_the_last_and_a_numpy_int_is_a_block(vit_run, digit_png):
    last = vit_run.explain(digit_png, method="attention").subfigs[0]._suptitle.get_text()
    first = vit_run.explain(digit_png, method="attention", block=np.int64(0))
    assert last.endswith("block 2 of 2 (--block 1 / block=1)\nclass token's attention")
    assert (
        first.subfigs[0]
        ._suptitle.get_text()
        .endswith("block 1 of 2 (--block 0 / block=0)\nclass token's attention")
    )


# ------------------------------------------------------------------------------ API error messages
@pytest.mark.parametrize(
    "call, said",
    [
        (lambda: vislab.preview_data("digits", data__nmae=1), "(vislab.preview_data arguments)"),
        (lambda: vislab.lr_find(model="mlp", data="digits", optim__lrr=1), "(vislab.lr_find arguments)"),
        (lambda: vislab.lr_find(start_lr=1, end_lr=0.1), "start_lr=1e-7, end_lr=10"),
        (lambda: vislab.preview_data("digits", show="normalized", copies=2), "Drop --copies / copies="),
        (
            lambda: vislab.preview_data("digits", show="normalized", data__normalize="none"),
            "--set data.normalize=zca / data__normalize='zca'",
        ),
        (
            lambda: vislab.lr_find(model="mlp-scratch", data="digits"),
            "--set model.impl=optim --set optim.name=sgd / model__impl='optim', optim__name='sgd'",
        ),
    ],
)  # fmt: skip
def test_api_errors_name_each_option_both_ways(call, said):
    with pytest.raises(vislab.UserError) as told:
        call()
    assert said in one_line(str(told.value))


@needs_captum
def test_explain_reads_a_stack_of_grey_arrays_as_predict_does(cnn_run):
    """A grey run's 3×H×W uint8 stack is three images (as Run.predict reads it), not one colour image."""
    stack = np.random.default_rng(0).integers(0, 256, (3, 8, 8), dtype=np.uint8)
    fig = cnn_run.explain(stack)
    assert len(fig.subfigs) == 3 == len(cnn_run.predict(stack))


def test_explain_errors_name_each_option_both_ways(cnn_run, digit_png):
    for kwargs, said in (
        (dict(method="bogus"), "method 'bogus' is unknown (--method / method=)"),
        (dict(method="rollout"), "--method gradcam / method='gradcam'"),
    ):
        with pytest.raises(vislab.UserError) as told:
            cnn_run.explain(digit_png, **kwargs)
        assert said in one_line(str(told.value))


# ------------------------------------------------------------------------------------------ lr_find
# a measured LR range test: mlp-scratch (model.impl=optim) on circles, 30 steps from 1e-7 to 10. Its
# smoothed loss wanders 0.70–0.78 until it diverges; the old rule suggested 6.7e-07, a dip of the noise.
# fmt: off
FLAT = [0.8026, 0.7481, 0.7937, 0.7482, 0.6676, 0.682, 0.7654, 0.7553, 0.7164, 0.7253, 0.6946, 0.8491,
        0.7242, 0.7386, 0.7678, 0.8079, 0.7331, 0.7101, 0.768, 0.7266, 0.6719, 0.7009, 0.7075, 0.7326,
        0.7218, 0.7093, 1.1103, 2.0879, 5.286, 6.0253]
# fmt: on


def _finding(losses: list[float]) -> LRFinding:
    test = RangeTest(steps=len(losses))
    lrs = [test.lr(i) for i in range(len(losses))]
    smoothed = [float(np.mean(losses[max(0, i - 1) : i + 2])) for i in range(len(losses))]
    return LRFinding(lrs, losses, smoothed, lrs[3], lrs[21], "", test)


def test_a_flat_noisy_curve_warns_and_a_falling_one_does_not():
    flat = _finding(FLAT)
    assert "flat within its noise" in flat.warning  # it fell 11 % from its start: no warning before
    assert "warning: the smoothed loss fell only" in "\n".join(flat.lines())
    rng = np.random.default_rng(0)
    falling = list(np.linspace(2.3, 0.4, 30) + rng.normal(0, 0.04, 30))
    assert _finding(falling).warning == ""
    assert weak_suggestion(falling, _finding(falling).smoothed) == ""


def test_lr_find_steps_on_k_batches_with_train_accumulate():
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    batches = [(torch.randn(8, 4), torch.randint(0, 2, (8,))) for _ in range(40)]
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    found = lr_range_test(model, opt, iter(batches), RangeTest(steps=20), accumulate=2)
    assert len(found.lrs) == 20 and found.accumulate == 2  # 40 batches: 20 steps of 2
    short = lr_range_test(model, opt, iter(batches), RangeTest(steps=30), accumulate=2)
    assert short.stopped == "the batches ran out after 20 steps"
    f = vislab.lr_find(model="mlp", data="digits", data__limit=300, train__accumulate=3, steps=10)
    assert f.lines()[0].startswith("ran 10 steps of 3 accumulated batches")


def _within(box, page, slack: float = 1.0) -> bool:
    return (
        box.x0 >= page.x0 - slack
        and box.y0 >= page.y0 - slack
        and box.x1 <= page.x1 + slack
        and box.y1 <= page.y1 + slack
    )


def test_the_lr_find_figure_saves_whole_with_plain_savefig(tmp_path):
    lrs = list(np.logspace(-7, 1, 30))
    losses = list(np.linspace(2.3, 0.5, 30))
    fig = lr_find_figure(lrs, losses, losses, 1e-3, 1e-1, "mlp on digits (sgd)")
    fig.savefig(tmp_path / "lr.png")  # as the README shows it
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    page, renderer = fig.bbox, canvas.get_renderer()
    cut = [  # texts reaching past the saved page (were: the x-label and every legend entry)
        t.get_text()
        for t in fig.findobj(Text)
        if t.get_visible()
        and t.get_text().strip()
        and not _within(t.get_window_extent(renderer), page)
    ]
    assert cut == []


# ----------------------------------------------------------------------------------- boundary, curves
def test_the_boundary_is_drawn_in_raw_units_outside_pyplot(tmp_path, monkeypatch):
    import vislab.plotting.boundary as boundary_module

    drawn = []  # the run's own figures/boundary_test.png: what it is drawn from
    real = boundary_module.plot_decision_boundary
    monkeypatch.setattr(  # the run imports it when it draws its figures
        boundary_module,
        "plot_decision_boundary",
        lambda model, x, *a, **k: drawn.append((x, k.get("prepare"))) or real(model, x, *a, **k),
    )
    run = vislab.train(
        model="mlp", data="circles", epochs=1, train__device="cpu", out=tmp_path / "run", quiet=True
    )
    [(x, prepare)] = drawn
    assert prepare is not None and 1.0 < np.abs(np.asarray(x)).max() < 1.6  # raw, not standardised
    before = plt.get_fignums()
    fig = run.plot("boundary")
    assert plt.get_fignums() == before  # not kept open by pyplot, so a notebook shows it once
    ax = fig.axes[0]
    assert ax.get_xlabel() == "x₁ (raw)" and ax.get_ylabel() == "x₂ (raw)"
    lo, hi = ax.get_xlim()
    assert -1.6 < lo < -1.0 and 1.0 < hi < 1.6  # circles span ±1.25; standardised they spanned ±2.6
    regions = ax.images[0]
    x0, x1, y0, y1 = regions.get_extent()
    grid = regions.get_array()
    names = load_model(run.path)[1].model.class_names
    for point in ([0.0, 0.0], [1.1, 0.0], [-0.3, 0.4], [0.8, -0.8]):
        col = round((point[0] - x0) / (x1 - x0) * (grid.shape[1] - 1))
        row = round((point[1] - y0) / (y1 - y0) * (grid.shape[0] - 1))
        [[(predicted, _)]] = run.predict([point], top_k=1)
        assert names[int(grid[row, col])] == predicted  # the colour at a point is what predict says


def test_a_one_epoch_curve_tells_train_from_val_by_its_marker():
    rows = [dict(epoch=1, train_loss=0.5, val_loss=0.6, train_acc=0.8, val_acc=0.75)]
    fig = curves_figure({"run": rows})
    for ax in fig.axes:
        train_point, val_point = ax.lines
        assert train_point.get_marker() != val_point.get_marker()
    legend = {h.get_label(): h.get_marker() for h in fig.axes[1].get_legend().legend_handles}
    assert legend["train"] != legend["val"]
    longer = curves_figure({"run": [*rows, dict(rows[0], epoch=2)]})
    assert {line.get_marker() for line in longer.axes[0].lines} == {
        "."
    }  # lines keep the run's marker
