"""Notes a run gives while it trains reach its summary.json like every other (``notes_given``), and a
library CNN that shrinks small images to one pixel before its last stage says so."""

import json

import pytest

import vislab
from conftest import TINY_DIGITS
from vislab.models.registry import build_model
from vislab.training.too_small import one_pixel_note

timm = pytest.importorskip("timm")


@pytest.mark.parametrize(("side", "noted"), [(8, True), (32, True), (64, False)])
def test_a_timm_cnn_that_leaves_one_pixel_is_noted(side, noted):
    """resnet18 divides a side by 32: 8×8 and 32×32 images leave 1×1 to its last stage, 64×64 leaves 2×2."""
    model = timm.create_model("resnet18", num_classes=10, in_chans=1)
    note = one_pixel_note(model, "timm:resnet18", (1, side, side))
    assert bool(note) == noted, note
    if noted:
        assert f"the {side}×{side} images end as a 1×1 map after its last stage" in note
        assert (
            "--set data.resize=64 / data__resize=64" in note
            and "resnet18, whose CIFAR stem" in note
        )


def test_a_timm_vit_and_vislabs_own_models_are_not_noted():
    vit = timm.create_model("vit_tiny_patch16_224", num_classes=10, img_size=32, patch_size=16)
    assert one_pixel_note(vit, "timm:vit_tiny_patch16_224", (3, 32, 32)) is None
    own = build_model("cnn", (1, 8, 8), 10)
    assert one_pixel_note(own, "cnn", (1, 8, 8)) is None


def test_the_note_reaches_the_run_record(tmp_path):
    tiny = {k: v for k, v in TINY_DIGITS.items() if not k.startswith("model")}
    tiny.update(data__limit=64, data__limit_eval=20)  # resnet18's 11M weights: few images to score
    run = vislab.train(**tiny, model="timm:resnet18", out=tmp_path / "r", quiet=True)
    kept = json.loads((run.path / "summary.json").read_text())["notes_given"]
    assert [n for n in kept if n.startswith("model 'timm:resnet18' shrinks its inputs 32-fold")], (
        kept
    )
