"""What the RDFIA 1-ab / 1-cd practicals ran into: standardisation fitted on one training sample (no NaN),
ZCA fitted on fewer train images than values (a note on val/test inputs scaled by 1/√ε), the crop-padding
note's words for a size crop, mirrored digits and characters of torchvision sources, and row 0's lr."""

import json

import numpy as np
import pytest
import torch

from conftest import cli, one_line, tiny_sets
from fixtures import write_kmnist, write_mnist, write_svhn_mat
from vislab.data.preprocess import apply_stats, fit_stats
from vislab.errors import Note


def train_cli(capsys, out, *sets: str) -> tuple[int, str]:
    """``vislab train --out OUT --set S …`` in-process: (exit code, output on one line)."""
    args = [a for s in sets for a in ("--set", s)]
    code, text = cli(capsys, "train", "--out", out, *args)
    return code, one_line(text)


def tiny(*extra: str, drop: str | None = None) -> list[str]:
    """The settings of conftest's tiny 1-epoch digits run (300 train images), plus ``extra``."""
    return tiny_sets(*extra, drop=drop)[1::2]


# ------------------------------------------------------------ standardisation of one training sample
def test_one_training_sample_is_centred_not_divided_by_a_nan_std(capsys, tmp_path):
    code, said = train_cli(
        capsys, tmp_path / "r", "data.name=circles", "data.n_samples=2", "model.name=mlp-scratch",
        "train.batch_size=1", "train.epochs=2", "train.figures=false",
    )  # fmt: skip
    assert code == 0 and "NaN" not in said and "Lower optim.lr" not in said, said
    assert "data.normalize=standard is fitted on the train split's one sample" in said
    assert "--set data.normalize=none / data__normalize=none" in said
    rows = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["train_loss"]) for r in rows)


def test_standard_statistics_of_two_or_more_samples_and_of_one_image_are_as_before():
    one = np.array([[3.0, -1.0]], np.float32)
    with pytest.warns(Note, match="one sample"):
        stats = fit_stats(one, "standard")
    assert stats.mean.tolist() == [3.0, -1.0] and stats.std.tolist() == [1.0, 1.0]
    assert apply_stats(torch.tensor([[4.0, 1.0]]), stats).tolist() == [[1.0, 2.0]]
    feats = np.random.default_rng(0).normal(2, 3, (5, 3)).astype(np.float32)
    two = fit_stats(feats, "standard")  # the unbiased std, as ever
    assert torch.equal(two.std, torch.from_numpy(feats).std(0).clamp_min(1e-6))
    image = np.random.default_rng(1).integers(0, 256, (1, 4, 4, 3), dtype=np.uint8)
    per_channel = fit_stats(image, "standard")  # one image: 16 pixels per channel to go by
    expected = torch.from_numpy(image).float().div(255).std(dim=(0, 1, 2))
    assert torch.equal(per_channel.std, expected)


# ------------------------------------------------------- ZCA on fewer train images than values
def test_zca_on_fewer_images_than_values_with_a_small_epsilon_is_noted(capsys, tmp_path):
    sets = tiny("data.limit=40", "data.normalize=zca", "train.figures=false", drop="data.limit=300")
    code, said = train_cli(capsys, tmp_path / "small", *sets, "data.zca_epsilon=1e-05")
    assert code == 0, said
    assert (
        "note: ZCA (data.normalize=zca) is fitted on 40 train samples of 64 values: they span at most "
        "39 of the 64 directions, and each direction outside their span is scaled by 1/√ε = 316"
        in said
    ), said
    assert (
        "--set data.zca_epsilon=0.1 / data__zca_epsilon=0.1, or more than 64 train samples" in said
    )
    code, said = train_cli(capsys, tmp_path / "default", *sets)  # ε 0.1: no note
    assert code == 0 and "is fitted on 40 train samples" not in said, said
    code, said = train_cli(
        capsys, tmp_path / "many", *tiny("data.normalize=zca", "data.zca_epsilon=1e-05")
    )  # 300 train images of 64 values: every direction is spanned
    assert code == 0 and "directions outside" not in said, said


def test_the_zca_matrix_is_the_same_with_the_note():
    x = np.random.default_rng(0).integers(
        0, 256, (6, 2, 2, 3), dtype=np.uint8
    )  # 6 images, 12 values
    with pytest.warns(Note, match="scaled by 1/√ε = 316"):
        stats = fit_stats(x, "zca", 1e-5)
    flat = torch.from_numpy(x).float().div(255).permute(0, 3, 1, 2).reshape(6, -1)
    centred = flat - flat.mean(0)
    s, u = torch.linalg.eigh((centred.T @ centred).double() / 6)
    assert torch.equal(stats.W, ((u * (s.clamp_min(0) + 1e-5).rsqrt()) @ u.T).float())


# ------------------------------------------------------------------ the crop padding's usual value
def test_the_padding_note_of_a_size_crop_says_it_is_usually_unpadded(capsys, tmp_path):
    crop = ("augment.crop.p=1", "augment.crop.padding=40", "train.figures=false")
    code, said = train_cli(capsys, tmp_path / "six", *tiny(*crop, "augment.crop.size=6"))
    assert code == 0, said
    assert "an eighth of the side: --set augment.crop.padding=0" not in said, said
    assert (
        "A 6×6 crop of the 8×8 images is usually taken unpadded (it already moves by up to 2 px): "
        "--set augment.crop.padding=0 / augment__crop__padding=0" in said
    ), said
    # a crop of the whole image pads by an eighth (unset, it would pad nothing and do nothing)
    code, said = train_cli(capsys, tmp_path / "eight", *tiny(*crop, "augment.crop.size=8"))
    assert code == 0, said
    assert "The usual padding is an eighth of the side: --set augment.crop.padding=1 / " in said
    assert "augment__crop__padding=1." in said and "leave it unset" not in said


# ------------------------------------------------------- mirrored digits and characters
TINY_28 = ("model.name=mlp", "model.hidden=[8]", "train.epochs=1", "train.batch_size=8",
           "train.figures=false", "data.download=false", "augment.hflip.p=0.5")  # fmt: skip


@pytest.mark.parametrize(
    "name, write, shown",
    [
        ("torchvision:KMNIST", lambda root: write_kmnist(root), "a mirrored character is another"),
        (
            "torchvision:SVHN",
            lambda root: [
                write_svhn_mat(root / "svhn", s, 24, i) for i, s in enumerate(["train", "test"])
            ],
            "a mirrored digit is another shape or none (a mirrored 2, 3, 4, 7 is no digit)",
        ),
    ],
)
def test_mirrored_digits_and_characters_of_torchvision_sources_are_noted(
    capsys, tmp_path, name, write, shown
):
    write(tmp_path)
    code, said = train_cli(
        capsys, tmp_path / "r", f"data.name={name}", f"data.root={tmp_path}", *TINY_28
    )
    assert code == 0, said
    assert f"note: augment.hflip.p=0.5 mirrors the {name} images, and {shown}" in said, said


def test_mirrored_clothes_are_not_noted(capsys, tmp_path):
    write_mnist(tmp_path / "fashion-mnist")
    code, said = train_cli(
        capsys, tmp_path / "r", "data.name=fashion-mnist", f"data.root={tmp_path}", *TINY_28
    )
    assert code == 0 and "mirrors the" not in said, said


# ------------------------------------------------------------------ row 0 of train.eval_at_start
def test_the_untrained_row_has_no_learning_rate_and_the_figures_still_draw(capsys, tmp_path):
    code, said = train_cli(
        capsys, tmp_path / "r",
        *tiny("train.eval_at_start=true", "train.epochs=2", "schedule.name=cosine", "train.figures=true"),
    )  # fmt: skip
    assert code == 0, said
    rows = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [0, 1, 2]
    assert rows[0]["lr"] is None and all(r["lr"] > 0 for r in rows[1:])
    assert (tmp_path / "r" / "figures" / "lr.png").is_file()
