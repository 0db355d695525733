"""What a run says and draws where its numbers could mislead: the note on test-time flips of a model never
trained on mirrored images (digits scored by the mean over mirrored views lose accuracy), the early stop's
words when train.min_delta lets a smaller rise (which best.pt keeps) count toward the patience, and the
per-class bars' mark for a class the split holds no image of."""

from __future__ import annotations

import json
import math

import pytest

from conftest import cli, one_line, tiny_sets
from vislab.plotting.runs import per_class_figure, plot_per_class
from vislab.training.state import LoopState


# ----------------------------------------------------------------------- train.tta without hflip
def test_a_run_notes_test_time_flips_of_a_model_never_trained_on_mirrored_images(capsys, tmp_path):
    """The note names the fixes, and goes once training mirrors images."""
    args = tiny_sets("train.tta=flip", "train.figures=false")
    code, out = cli(capsys, "train", "--out", tmp_path / "r", *args)
    said = one_line(out)
    assert code == 0, out
    assert "note: train.tta=flip scores each image by the mean" in said, out
    assert "(augment.hflip.p=0): the model never saw a mirrored image" in said
    assert "For digits and text a mirrored image is another shape" in said
    assert "--set train.tta=none / train__tta='none'" in said
    assert "train on mirrored images" not in said  # digits: a mirrored digit is no digit
    assert out.index("note: train.tta=flip") < out.index("epoch 1/1")
    code, out = cli(capsys, "train", "--out", tmp_path / "h", *args, "--set", "augment.hflip.p=0.5")
    assert code == 0 and "train.tta" not in out, out


def test_the_flip_note_names_augment_p_0_that_keeps_hflip_from_mirroring(capsys, tmp_path):
    args = tiny_sets("train.tta=flip-translate", "augment.hflip.p=0.5", "augment.p=0")
    code, out = cli(capsys, "train", "--out", tmp_path / "r", *args, "--set", "train.figures=false")
    said = one_line(out)
    assert code == 0, out
    assert "note: train.tta=flip-translate scores each image by the mean" in said, out
    assert "(augment.hflip.p=0.5 with augment.p=0): the model never saw a mirrored image" in said
    assert "train on mirrored images" not in said  # digits
    assert (
        "note: augment.hflip.p=0.5 mirrors the digits images, and a mirrored digit" not in said
    )  # p=0


# ----------------------------------------------------------------------- early stop and min_delta
def test_the_early_stop_says_a_rise_smaller_than_min_delta_did_not_count():
    loop = LoopState(epoch=7, bad_evals=3)
    said = loop.early_stop("val_acc", 3, min_delta=0.007)
    assert said == (
        "after epoch 7: val_acc did not improve by more than train.min_delta=0.007 for 3 "
        "evaluations (train.early_stop=3)"
    )
    assert loop.early_stop("val_acc", 3, min_delta=0.0) == (
        "after epoch 7: val_acc did not improve for 3 evaluations (train.early_stop=3)"
    )


# ----------------------------------------------------------------------- per-class bars
@pytest.mark.parametrize("missing", [math.nan, None])
def test_a_class_without_images_is_marked_on_the_per_class_bars(tmp_path, missing):
    """Not a gap a reader takes for 0 or a drawing bug: the words at the class's own place."""
    names = ["zero", "one", "two", "three"]
    fig = per_class_figure([0.9, missing, 0.7, 0.8], names, "cnn: test")
    ax = fig.axes[0]
    marks = [(t.get_text(), t.get_position()[0]) for t in ax.texts]
    assert marks == [("no images", 1)]
    assert [label.get_text() for label in ax.get_xticklabels()] == names
    assert [b.get_height() for b in ax.patches] == pytest.approx([0.9, 0, 0.7, 0.8])
    path = plot_per_class([0.9, missing, 0.7, 0.8], names, tmp_path / "pc.png", std=[0.1] * 4)
    assert path.stat().st_size > 0


def test_the_early_stop_line_says_min_delta_when_a_smaller_rise_did_not_count(capsys, tmp_path):
    """val_pacc rises after epoch 1 (best.pt follows it) but never by more than 0.5: the patience runs out."""
    sets = ("train.epochs=4", "train.min_delta=0.5", "train.early_stop=2", "train.figures=false")
    code, out = cli(
        capsys, "train", "--out", tmp_path / "r", *tiny_sets(*sets, drop="train.epochs=1")
    )
    assert code == 0, out
    assert (
        "early stop after epoch 3: val_pacc did not improve by more than train.min_delta=0.5 for 2 "
        "evaluations (train.early_stop=2)" in one_line(out)
    ), out
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["best_epoch"] > 1


@pytest.mark.parametrize(
    "sets,fix",
    [
        ([], "train on mirrored images: --set augment.hflip.p=0.5 / augment__hflip__p=0.5."),
        (
            ["augment.hflip.p=0.5", "augment.p=0"],
            "train on mirrored images: --set augment.p=1 / augment__p=1.",
        ),
    ],
)
def test_on_photos_the_flip_note_also_offers_training_on_mirrored_images(sets, fix):
    """cifar10's photos may be mirrored: the note offers both fixes (digits only the first)."""
    from vislab.config import build_config
    from vislab.training.mirror_notes import _tta_flip_note

    cfg = build_config({}, ["data.name=cifar10", "train.tta=flip", *sets])
    note = _tta_flip_note(cfg, fitted=False)
    assert "--set train.tta=none" in note and note.endswith(fix), note
