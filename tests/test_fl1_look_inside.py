"""Gradcheck of broken hand-written gradients (NaN/inf, wrong shapes) and the look-inside tools' choices:
`vislab explain --class` / ``Run.explain(target=)``, ``--block`` alone, token maps drawn patch by patch,
the pos-embed title, H×W×C arrays of too many channels, and `vislab model info` into a pipe."""

import importlib.util
import textwrap

import numpy as np
import pytest

import vislab
from conftest import cli, one_line
from test_api_look_inside import _trained, cnn_run  # noqa: F401  (cnn_run: a fixture)

needs_captum = pytest.mark.skipif(
    importlib.util.find_spec("captum") is None, reason="pip install 'vislab[explain]'"
)

NETS = textwrap.dedent(
    """
    import torch, torch.nn as nn
    from vislab.models.hooks import ModelHooks, HandWrittenGradients

    class Net(ModelHooks, nn.Module):
        def __init__(self, input_shape, num_classes, hidden=8, bug="none"):
            super().__init__()
            d = 1
            for s in input_shape:
                d *= s
            self.l1, self.l2, self.bug = nn.Linear(d, hidden), nn.Linear(hidden, num_classes), bug

        def forward(self, x):
            return self.l2(torch.tanh(self.l1(x.flatten(1))))

        def hand_written_gradients(self, x, y):
            x = x.flatten(1)
            n = len(x)
            h = torch.tanh(self.l1(x))
            d = self.l2(h).softmax(1)
            d[torch.arange(n), y] -= 1
            d /= n
            gW2, gb2 = d.T @ h, d.sum(0)
            dpre = (d @ self.l2.weight) * (1 - h**2)
            gW1, gb1 = dpre.T @ x, dpre.sum(0)
            if self.bug == "nanbug":
                gb1 = gb1 * float("nan")
            if self.bug == "inflast":
                gb2 = gb2 + float("inf")
            if self.bug == "transpose":
                gW1 = x.T @ dpre
            if self.bug == "unsummed":
                gb1 = dpre
            return HandWrittenGradients([gW1, gb1, gW2, gb2], self(x))
    """
)


@pytest.fixture
def nets(tmp_path):
    path = tmp_path / "nets.py"
    path.write_text(NETS)
    return f"{path}:Net"


def _gradcheck(capsys, nets, bug):
    return cli(capsys, "model", "gradcheck", nets, "--input", "1x4x4", "--set", f"bug={bug}")


# ---------------------------------------------------------------------------------------- gradcheck
@pytest.mark.parametrize(
    "bug, culprit", [("nanbug", "l1.bias holds NaN"), ("inflast", "l2.bias holds inf")]
)
def test_gradcheck_fails_a_hand_written_gradient_holding_nan_or_inf(capsys, nets, bug, culprit):
    code, out = _gradcheck(capsys, nets, bug)
    assert code == 1, out
    assert f"hand-written gradient of {culprit}: FAILED" in one_line(out)
    assert "OK" not in out
    check = vislab.gradcheck(nets, (1, 4, 4), bug=bug)
    assert not check.passed and culprit in check.verdict()
    assert vislab.gradcheck(nets, (1, 4, 4)).passed  # the right gradients still pass


@pytest.mark.parametrize(
    "bug, culprit",
    [
        ("transpose", "shape (16, 8) for parameter l1.weight of shape (8, 16)"),
        ("unsummed", "shape (16, 8) for parameter l1.bias of shape (8,)"),
    ],
)
def test_gradcheck_of_a_gradient_of_the_wrong_shape_names_it(capsys, nets, bug, culprit):
    code, out = _gradcheck(capsys, nets, bug)
    assert code == 2 and "Traceback" not in out
    assert culprit in one_line(out)
    with pytest.raises(vislab.UserError, match=culprit.replace("(", r"\(").replace(")", r"\)")):
        vislab.gradcheck(nets, (1, 4, 4), bug=bug)


# ------------------------------------------------------------------------------------------ explain
@pytest.fixture(scope="module")
def vit_run(tmp_path_factory):
    sets = ("model.name=vit", "model.embed_dim=16", "model.depth=1", "model.num_heads=2")
    return _trained(tmp_path_factory.mktemp("vit"), *sets, "model.patch_size=4")


def _titles(fig):
    return [row._suptitle.get_text() for row in fig.subfigs]


def _map(fig):
    """The first row's first map, as drawn over its image."""
    return np.asarray(fig.subfigs[0].axes[1].images[1].get_array())


@needs_captum
def test_explain_a_chosen_class_by_name_or_index(
    cnn_run,  # noqa: F811  (the fixture imported above)
    digit_png,
    tmp_path,
    capsys,
):
    by_name = cnn_run.explain(digit_png, method="saliency", target="3")
    assert "| saliency of class 3 (" in _titles(by_name)[0]
    by_index = cnn_run.explain(digit_png, method="saliency", target=3)
    np.testing.assert_array_equal(_map(by_name), _map(by_index))
    other = cnn_run.explain(digit_png, method="saliency", target="4")
    assert not np.array_equal(_map(by_name), _map(other))  # the gradient of another logit
    code, out = cli(capsys, "explain", cnn_run.path, digit_png, "--class", "3", "-o", tmp_path)
    assert code == 0, out
    assert (tmp_path / "seven_gradcam_class3.png").is_file()


@needs_captum
def test_explain_an_unknown_class_lists_the_classes(
    cnn_run,  # noqa: F811  (the fixture imported above)
    digit_png,
    capsys,
):
    with pytest.raises(vislab.UserError) as told:
        cnn_run.explain(digit_png, method="saliency", target="33")
    assert "did you mean '3'?" in str(told.value) and "0, 1, 2, 3" in str(told.value)
    code, out = cli(capsys, "explain", cnn_run.path, digit_png, "--class", "seven")
    assert code == 2 and "--class seven" in one_line(out) and "8, 9" in out


def test_explain_a_class_with_attention_maps_is_refused(vit_run, digit_png):
    for method in ("rollout", "attention"):
        with pytest.raises(vislab.UserError) as told:
            vit_run.explain(digit_png, method=method, target="3")
        assert "the same whatever the class" in one_line(str(told.value))


def test_explain_block_alone_means_attention_for_a_vit(vit_run, digit_png, tmp_path, capsys):
    assert "attention, block 1 of 1" in _titles(vit_run.explain(digit_png, block=0))[0]
    code, out = cli(capsys, "explain", vit_run.path, digit_png, "--block", "0", "-o", tmp_path)
    assert code == 0, out
    assert (tmp_path / "seven_attention_block0.png").is_file()


def test_attention_maps_are_drawn_one_flat_block_per_patch(vit_run, digit_png):
    drawn = _map(vit_run.explain(digit_png, method="attention"))  # 8×8 image, 4×4 patches
    assert drawn.shape == (8, 8)
    for i in (0, 4):
        for j in (0, 4):
            patch = drawn[i : i + 4, j : j + 4]
            assert np.all(patch == patch[0, 0])
    assert len(np.unique(drawn)) > 1


def test_pos_embed_title_names_the_run(vit_run):
    fig = vit_run.plot("pos-embed")
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert titles[0] == f"learned position embedding of {vit_run.path.name}"


def test_an_image_of_five_channels_is_refused_not_taken_for_a_stack(vit_run):
    with pytest.raises(vislab.UserError) as told:
        vit_run.explain(np.zeros((8, 8, 5), np.uint8))
    assert "of 5 channels" in str(told.value) and "list(array)" in str(told.value)
    fig = vit_run.explain(np.zeros((8, 8, 8), np.uint8), method="attention")
    assert len(fig.subfigs) == 8  # 8 grey images of 8×8 (a stack ends in the image's width)
    assert len(vit_run.explain(list(np.zeros((8, 8, 5), np.uint8))).subfigs) == 8


# ------------------------------------------------------------------------------------- model info
def test_model_info_into_a_pipe_keeps_whole_layer_names(capsys):
    sets = ("depth=1", "embed_dim=32", "num_heads=2", "patch_size=4")
    args = [a for s in sets for a in ("--set", s)]
    code, out = cli(capsys, "model", "info", "vit", "--input", "3x32x32", *args)
    assert code == 0, out
    assert "blocks.0.attn.proj_drop" in out and "…" not in out
