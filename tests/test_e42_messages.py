"""E42: what ``train.init_from`` did not load is named (tensors the source lacks, the source's tensors with
no place here), ``vislab model gradcheck`` says why a model or a run has nothing to check, and explain's
refusals name the model as its run does."""

from __future__ import annotations

import pytest
import torch.nn as nn

import vislab
from conftest import cli, one_line, tiny_config
from vislab.errors import Note, UserError
from vislab.explain_maps import explain_maps
from vislab.models.hooks import ModelHooks
from vislab.models.options import require_image_input
from vislab.models.registry import build_model, register_model, unregister_model
from vislab.training.finetune import init_from_run
from vislab.training.trainer import train

VIT = ("model.name=vit", "model.embed_dim=8", "model.num_heads=2", "model.patch_size=4")


@pytest.fixture(scope="module")
def vit_run(tmp_path_factory):
    """A ViT of 2 blocks trained for one epoch on 8×8 digits."""
    folder = tmp_path_factory.mktemp("vit") / "run"
    train(tiny_config(*VIT, "model.depth=2", "train.epochs=1"), folder, quiet=True)
    return folder


def test_init_from_a_shallower_run_names_the_blocks_it_lacks(vit_run, tmp_path):
    """A ViT of 3 blocks from one of 2: its third block stays new, and the run says so (a Note: the
    command's note: line, a script's warning)."""
    over = (*VIT, "model.depth=3", "train.epochs=1", f"train.init_from={vit_run}")
    with pytest.warns(Note, match="initialised from") as caught:
        train(tiny_config(*over, "optim.head_lr=0.01"), tmp_path / "deeper", quiet=True)
    said = one_line(
        " ".join(str(w.message) for w in caught if "initialised from" in str(w.message))
    )
    assert f"new ({vit_run} has no such tensor): blocks.2.* (" in said, said
    assert "not used" not in said and "re-initialised" not in said, said


def test_init_from_a_deeper_run_names_what_it_leaves_unused(vit_run):
    """A ViT of 1 block from one of 2: the source's second block has no place here."""
    model = build_model("vit", (1, 8, 8), 10, embed_dim=8, num_heads=2, patch_size=4, depth=1)
    start = init_from_run(model, str(vit_run))
    assert start.unused and all(n.startswith("blocks.1.") for n in start.unused)
    assert not start.new and not start.reinitialised
    line = start.line()
    assert (
        f"not used ({vit_run}'s, no such tensor here): blocks.1.* ({len(start.unused)} tensors)"
        in line
    )
    assert f"{start.loaded} of {start.loaded} tensors" in line


def test_gradcheck_of_a_model_without_hand_written_gradients_says_so(capsys):
    """No --input given: vit is built at an image shape and refused for what it lacks, not for data."""
    code, text = cli(capsys, "model", "gradcheck", "vit")
    assert code == 2 and "declares no hand_written_gradients hook" in one_line(text), text
    assert "data.name" not in text, text
    with pytest.raises(UserError, match="no hand-written gradients") as caught:
        vislab.gradcheck("vit")
    assert "data.name" not in str(caught.value)


class _ImageToy(ModelHooks, nn.Module):
    """A model of images with (deliberately useless) hand-written gradients."""

    def __init__(self, input_shape, num_classes):
        super().__init__()
        c, h, w = require_image_input("e42-image-toy", input_shape)
        self.fc = nn.Linear(c * h * w, num_classes)

    def forward(self, x):
        return self.fc(x.flatten(1))

    def hand_written_gradients(self, x, y):
        return None


@pytest.fixture
def image_toy():
    register_model("e42-image-toy")(_ImageToy)
    yield "e42-image-toy"
    unregister_model("e42-image-toy")


def test_gradcheck_of_an_image_model_with_its_own_gradients_names_input(image_toy, capsys):
    code, text = cli(capsys, "model", "gradcheck", image_toy)
    assert code == 2 and "--input 3x32x32" in one_line(text) and "data.name" not in text, text


def test_gradcheck_of_a_run_folder_asks_for_a_model_name(vit_run, capsys):
    code, text = cli(capsys, "model", "gradcheck", vit_run)
    said = one_line(text)
    assert code == 2 and "is a run" in said and "give a model name" in said, text
    assert "unknown model" not in said, text
    for given in (vit_run, str(vit_run), vislab.load_run(vit_run)):  # from Python: the same
        with pytest.raises(UserError, match="is a run, and gradcheck checks"):
            vislab.gradcheck(given)


@pytest.mark.parametrize(
    "model, method, named",
    [
        (
            nn.Sequential(nn.Flatten(), nn.Linear(64, 10)),
            "attention",
            "model 'cnn' has no attention",
        ),
        (nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), "gradcam", "model 'cnn' has none"),
    ],
)
def test_explain_refusals_name_the_model_as_its_run_does(model, method, named):
    with pytest.raises(UserError, match=named) as caught:
        explain_maps(model, vislab_batch(), method, name="cnn")
    assert "Sequential" not in str(caught.value)


def test_gradcam_refused_for_a_vit_names_it_as_its_run_does():
    vit = build_model("vit", (1, 8, 8), 10, embed_dim=8, num_heads=2, patch_size=4, depth=1)
    with pytest.raises(UserError, match="model 'vit' is a vision transformer") as caught:
        explain_maps(vit, vislab_batch(), "gradcam", name="vit")
    assert "ViT)" not in str(caught.value)


def vislab_batch():
    """One random 1×8×8 image, as a batch."""
    import torch

    return torch.randn(1, 1, 8, 8)


def test_explain_command_names_the_runs_model_when_it_refuses(vit_run, digit_png, capsys):
    """`vislab explain RUN IMAGE -m gradcam` on a ViT run: the refusal names the run's model (vit)."""
    code, text = cli(capsys, "explain", vit_run, digit_png, "--method", "gradcam")
    said = one_line(text)
    assert code == 2 and "model 'vit' is a vision transformer" in said, said
    assert "Traceback" not in text


def test_model_info_of_an_image_model_at_a_feature_shape_asks_for_the_images_shape(capsys):
    """`vislab model info vit --input 2`: the shape was given by hand, so the fix is --input C×H×W, not
    another dataset or model."""
    code, text = cli(capsys, "model", "info", "vit", "--input", "2")
    said = one_line(text)
    assert code == 2 and "model 'vit' takes images" in said and "--input 3x32x32" in said, said
    assert "data.name" not in said
    with pytest.raises(UserError, match="input_shape=\\(3, 32, 32\\)"):
        vislab.model_info("vit", (2,))


def test_model_info_at_a_size_the_patches_do_not_divide_asks_for_another_input(capsys):
    """`vislab model info vit --input 1x7x7`: no data were given, so the hint names --input, not
    data.resize; training on such data still names data.resize."""
    code, text = cli(capsys, "model", "info", "vit", "--input", "1x7x7")
    said = one_line(text)
    assert code == 2 and "give inputs 4 or 8 a side, e.g. --input C×8×8" in said, said
    assert "data.resize" not in said
    with pytest.raises(UserError, match="data.resize=4 or 8"):
        build_model("vit", (1, 7, 7), 10)
