"""Image decoding and ZCA's ε as the explorer preparing data met them: ε above the pixels' variance,
transparent pixels, grey GIFs and WebPs, the preview's titles and notes."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import cli, one_line
from fixtures import write_cifar
from vislab.config import DataConfig, load_config
from vislab.data import load_splits
from vislab.data.augment import build_augment
from vislab.data.images import fit_image, is_grey, load_image
from vislab.data.preprocess import apply_stats, fit_stats
from vislab.errors import Note

WHITE, RED = [255, 255, 255], [255, 0, 0]


# ------------------------------------------------------------------ ZCA's ε against the pixel variance
def _whitened_median_eigenvalue(x: np.ndarray, epsilon: float) -> float:
    """The median eigenvalue of the covariance of ``x`` whitened with ZCA of ``epsilon`` (1: white)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Note)
        stats = fit_stats(x, "zca", epsilon)
    z = apply_stats(torch.from_numpy(x).permute(0, 3, 1, 2).float().div(255), stats)
    flat = z.reshape(len(x), -1).double()
    return float(torch.linalg.eigvalsh(torch.cov(flat.T)).median())


def test_zca_epsilon_above_the_pixel_variance_is_noted_with_a_setting_that_whitens():
    """An ε given above the pixels' variance is noted with one that whitens; the default (the courses'
    recipe, documented) and a small-sample fit (the span note's larger ε stands) are not."""
    x = np.random.default_rng(0).integers(0, 256, (300, 4, 4, 1), dtype=np.uint8)  # variance 0.083
    with pytest.warns(Note, match=r"data.zca_epsilon=0.5 is above the train values' mean variance"):
        fit_stats(x, "zca", 0.5)
    with pytest.warns(Note, match="shrinks most directions rather than whitening") as said:
        fit_stats(x, "zca", 0.5)
    assert "--set data.zca_epsilon=0.001 / data__zca_epsilon=0.001" in str(said[0].message)
    assert _whitened_median_eigenvalue(x, 0.5) < 0.5 < 0.9 < _whitened_median_eigenvalue(x, 1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Note)  # the setting it gives, and the default: no note
        fit_stats(x, "zca", 1e-3)
        fit_stats(x, "zca", 0.1)


def test_a_small_sample_zca_gets_the_span_note_alone_not_two_that_contradict():
    x = np.random.default_rng(0).integers(0, 256, (10, 4, 4, 1), dtype=np.uint8)  # 10 samples of 16
    with pytest.warns(Note) as said:  # a small ε: the span note alone, as before
        fit_stats(x, "zca", 1e-5)
    assert len(said) == 1 and "each direction outside their span" in str(said[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Note)  # above the variance: no note sending it back down
        fit_stats(x, "zca", 0.5)


# ---------------------------------------------------------------------------- transparent pixels
def _transparent_rgba() -> Image.Image:
    """40×40, fully transparent green (RGB 0,255,0 hidden under alpha 0) but an opaque red square."""
    a = np.zeros((40, 40, 4), np.uint8)
    a[..., 1] = 255
    a[10:30, 10:30] = (255, 0, 0, 255)
    return Image.fromarray(a, "RGBA")


def _transparent_palette(path: Path) -> Path:
    """A palette PNG: index 0 (black) transparent, a red square of index 1."""
    img = Image.new("P", (40, 40), 0)
    img.putpalette([0, 0, 0, 255, 0, 0])
    img.paste(1, (10, 10, 30, 30))
    img.save(path, transparency=0)
    return path


def test_transparent_pixels_are_white_in_predict(tmp_path):
    rgba = _transparent_rgba()
    assert fit_image(rgba, (3, 40, 40))[0, 0].tolist() == WHITE
    assert fit_image(rgba, (3, 40, 40))[20, 20].tolist() == RED
    assert fit_image(rgba, (1, 40, 40))[0, 0].tolist() == [255]
    rgba.save(tmp_path / "a.png")
    assert load_image(tmp_path / "a.png", (3, 40, 40))[0, 0].tolist() == WHITE
    palette = load_image(_transparent_palette(tmp_path / "p.png"), (3, 40, 40))
    assert palette[0, 0].tolist() == WHITE and palette[20, 20].tolist() == RED
    grey = Image.fromarray(
        np.stack([np.full((8, 8), 40, np.uint8), np.zeros((8, 8), np.uint8)], -1)
    )
    assert fit_image(grey, (1, 8, 8))[0, 0].tolist() == [255]  # LA, transparent


def test_transparent_pixels_are_white_in_training_as_in_predict(tmp_path):
    root = tmp_path / "pics"
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(3):
            _transparent_rgba().save(root / c / f"{i}.png")
            _transparent_palette(root / c / f"p{i}.png")
    splits = load_splits(DataConfig(name="folder", root=str(root), image_size=40), seed=0)
    x = splits.train.x
    assert x.shape[1:] == (40, 40, 3)
    assert (x[:, 0, 0] == WHITE).all() and (x[:, 20, 20] == RED).all()
    for name, decoded in zip(splits.train.names, x, strict=True):  # as vislab predict decodes them
        assert np.array_equal(load_image(Path(name), (3, 40, 40)), decoded)


# --------------------------------------------------------------------- grey GIFs and grey WebPs
def _grey_folder(root: Path, ext: str, colour: bool = False) -> Path:
    """Two classes of 3 images each of ``ext``: grey (saved from RGB, as an editor exports), or colour."""
    rng = np.random.default_rng(0)
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(3):
            g = rng.integers(0, 256, (16, 16), dtype=np.uint8)
            rgb = np.stack([g, g // 2 if colour else g, g], -1)
            img = Image.fromarray(rgb)
            if ext == "gif":
                img = img.convert("L").convert("P") if not colour else img.convert("P")
            img.save(root / c / f"{i}.{ext}", **({"quality": 60} if ext == "webp" else {}))
    return root


@pytest.mark.parametrize("ext", ["gif", "webp"])
def test_a_folder_of_grey_gifs_or_webps_is_grey(tmp_path, ext):
    root = _grey_folder(tmp_path / "grey", ext)
    if ext == "gif":
        assert Image.open(next(root.glob("a/*.gif"))).mode == "P"
    splits = load_splits(DataConfig(name="folder", root=str(root), image_size=16), seed=0)
    assert splits.train.x.shape[-1] == 1
    colour = _grey_folder(tmp_path / "colour", ext, colour=True)
    splits = load_splits(DataConfig(name="folder", root=str(colour), image_size=16), seed=0)
    assert splits.train.x.shape[-1] == 3


# ----------------------------------------------------------------------------- data preview
def test_a_crop_size_alone_does_not_vary_the_images():
    shape = (3, 32, 32)
    centre = build_augment(load_config(None, ["augment.crop.size=24"]).augment, shape)
    assert (
        centre is not None and not centre.varies
    )  # every image centre-cropped, as evaluation does
    x = torch.rand(4, 3, 32, 32)
    assert torch.equal(centre(x), x[..., 4:28, 4:28])
    for on in (["augment.crop.p=1"], ["augment.hflip.p=1"]):
        aug = build_augment(load_config(None, ["augment.crop.size=24", *on]).augment, shape)
        assert aug.varies


def test_preview_normalized_notes_the_augmentation_it_does_not_draw(capsys, tmp_path):
    write_cifar(tmp_path / "cifar")
    common = ("data", "preview", "cifar10", "--set", f"data.root={tmp_path / 'cifar'}", "-n", 4)
    augmented = ("--set", "augment.crop.p=1", "--set", "augment.hflip.p=1")
    png = ("--show", "normalized", "--out", tmp_path / "n.png", "--force")
    code, said = cli(capsys, *common, *png, *augmented)
    assert code == 0, said
    assert (
        "note: augment.crop, augment.hflip not drawn: --show normalized / show='normalized' draws the "
        "images as evaluation feeds them, normalised but not augmented" in one_line(said)
    ), said
    code, said = cli(
        capsys, *common, *png, "--set", "augment.crop.size=24"
    )  # the centre crop: drawn
    assert code == 0 and "not drawn" not in said, said


def test_preview_titles_a_centre_crop_alone_as_not_augmented(capsys, tmp_path, grid_rows):
    write_cifar(tmp_path / "cifar")
    common = ("data", "preview", "cifar10", "--set", f"data.root={tmp_path / 'cifar'}", "-n", 4)
    png = ("--out", tmp_path / "a.png", "--force", "--set", "augment.crop.size=24")
    code, said = cli(capsys, *common, *png)
    assert code == 0, said
    assert (
        grid_rows["titles"][1:]
        == [
            "not augmented: augment.crop.p=0, no other augment.* image op is on (the centre 24×24 crop)"
        ]
        * 3
    )
    code, said = cli(capsys, *common, *png, "--set", "augment.crop.p=1")
    titles = [t.split(", ops per image: ")[0] for t in grid_rows["titles"][1:]]
    assert code == 0 and titles == [f"augmented #{i}" for i in (1, 2, 3)], said


def test_preview_of_2d_points_normalized_names_the_preview_that_draws_them(capsys, tmp_path):
    out = tmp_path / "c.png"
    code, said = cli(capsys, "data", "preview", "circles", "--show", "normalized", "--out", out)
    assert code != 0
    assert "2-D points have none: drop --show" in one_line(said)


def _folder_of(root: Path, mode: str) -> None:
    rng = np.random.default_rng(0)
    for k, name in enumerate(("a", "b")):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(12):
            grey = rng.integers(0, 120, (8, 8), dtype=np.uint8) + 120 * k
            Image.fromarray(grey, "L").convert(mode).save(root / name / f"{i}.png")


def test_a_resumed_run_decodes_its_folder_to_its_own_channels(tmp_path, capsys):
    """A run trained on a grey folder, resumed after its images decode otherwise (here: saved as RGB;
    a grey GIF folder read as RGB by an older vislab, as grey now): the images are decoded to the run's
    own channels, as eval does, and the run goes on — not 'its saved weights do not fit its model'."""
    _folder_of(tmp_path / "data", "L")
    sets = ["--set", "data.name=folder", "--set", f"data.root={tmp_path / 'data'}", "--set",
            "model.name=mlp", "--set", "model.hidden=[8]", "--set", "train.epochs=1", "--set",
            "train.figures=false", "--set", "data.split=[16,4,4]", "--set", "train.batch_size=8"]  # fmt: skip
    code, text = cli(capsys, "train", *sets, "--out", tmp_path / "run", "-q")
    assert code == 0, text
    _folder_of(tmp_path / "data", "RGB")
    code, text = cli(capsys, "train", "--resume", tmp_path / "run", "--epochs", "2", "-q")
    assert code == 0 and "do not fit" not in text, text


def test_a_grey_gif_whose_transparent_entry_is_a_colour_is_grey(tmp_path):
    """GIFs often keep a loud colour in their transparent palette entry: laid on white, it shows no
    colour, so it does not make the image colour."""
    index = np.zeros((8, 8), np.uint8)
    index[4:] = 1
    img = Image.fromarray(index, "P")
    img.putpalette([128, 128, 128, 255, 0, 255] + [0] * 762)
    img.save(tmp_path / "a.gif", transparency=1)
    reread = Image.open(tmp_path / "a.gif")
    assert is_grey(reread)
    assert (fit_image(reread, (3, 8, 8))[4:] == 255).all()  # the transparent half: white
