"""Augmentations that hurt on small or digit images, noted at the run's start: a crop padding of more
than a quarter of the images' side (dlvc's 4 px on the 8×8 digits shifts half of a digit out of view),
and horizontal flips of handwritten digits (a mirrored 2 is no 2)."""

from conftest import cli, one_line, tiny_sets


def test_a_crop_padding_of_half_the_image_is_noted_with_the_usual_one(capsys, tmp_path):
    args = tiny_sets("augment.crop.p=1", "augment.crop.padding=4", "train.figures=false")
    code, out = cli(capsys, "train", "--out", tmp_path / "r", *args)
    said = one_line(out)
    assert code == 0, out
    assert "note: augment.crop.padding=4 is 50% of the 8×8 images' side" in said, out
    assert "--set augment.crop.padding=1 / augment__crop__padding=1" in said


def test_a_usual_padding_or_a_crop_that_is_off_gets_no_note(capsys, tmp_path):
    for i, sets in enumerate(
        [("augment.crop.p=1", "augment.crop.padding=2"), ("augment.crop.padding=4",)]
    ):
        code, out = cli(
            capsys, "train", "--out", tmp_path / str(i), *tiny_sets(*sets, "train.figures=false")
        )
        assert code == 0 and "augment.crop.padding=" not in out.replace(
            "note: augment.crop.padding=4 does nothing", ""
        ), out


def test_mirrored_digits_are_noted(capsys, tmp_path):
    code, out = cli(
        capsys,
        "train",
        "--out",
        tmp_path / "r",
        *tiny_sets("augment.hflip.p=0.5", "train.figures=false"),
    )
    said = one_line(out)
    assert code == 0, out
    assert (
        "note: augment.hflip.p=0.5 mirrors the digits images, and a mirrored digit is another shape"
        in said
    ), out
    assert "--set augment.hflip.p=0 / augment__hflip__p=0" in said


def test_a_fitted_model_gets_no_augmentation_notes(capsys, tmp_path):
    """svm and majority are fitted on the train split as it is: crop and flip settings reach them not."""
    sets = ("model.name=svm", "augment.hflip.p=0.5", "augment.crop.p=1", "augment.crop.padding=4")
    code, out = cli(
        capsys, "train", "--out", tmp_path / "r", *tiny_sets(*sets, drop="model.hidden=[32]")
    )
    assert (
        code == 0
        and "is 50% of the 8×8 images' side" not in out
        and "mirrors the digits" not in out
    ), out


def test_a_crop_of_the_whole_unpadded_image_is_noted_as_doing_nothing(capsys, tmp_path):
    """cnn-ladder's RandomCrop(28) (of CIFAR's 32×32) run on 28×28 images — here 8×8 digits, size 8."""
    args = tiny_sets("augment.crop.p=1", "augment.crop.size=8", "train.figures=false")
    code, out = cli(capsys, "train", "--out", tmp_path / "r", *args)
    said = one_line(out)
    assert code == 0, out
    assert "note: augment.crop.size=8 takes the whole 8×8 image, unpadded: the random crop" in said
    assert "--set augment.crop.padding=1 / augment__crop__padding=1" in said
    padded = tiny_sets("augment.crop.p=1", "augment.crop.size=8", "augment.crop.padding=1")
    code, out = cli(
        capsys, "train", "--out", tmp_path / "p", *padded, "--set", "train.figures=false"
    )
    assert code == 0 and "takes the whole" not in out, out
