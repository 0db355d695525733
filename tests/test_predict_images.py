"""`vislab predict` on images deeper than 8 bits (16-bit PNG, float TIFF), on a folder, and on a model of
feature vectors: the same digit predicts the same in any bit depth, and every refusal names the way on."""

import numpy as np
import pytest
from PIL import Image

import vislab
from conftest import cli, one_line, tiny_config
from vislab.config import build_config
from vislab.data.images import load_image, to_uint8
from vislab.data.sources import load_source
from vislab.errors import UserError
from vislab.training.trainer import train


@pytest.fixture(scope="module")
def digit_files(tmp_path_factory):
    """A digit of the bundled data as an 8-bit PNG, a 16-bit PNG and a float TIFF in [0, 1]."""
    from sklearn.datasets import load_digits  # heavy: imported by the tests that use it

    folder = tmp_path_factory.mktemp("depths")
    grey = Image.fromarray((load_digits().images[7] * 255 / 16).astype(np.uint8)).resize((24, 24))
    pixels = np.array(grey)
    Image.fromarray(pixels).save(folder / "eight_bit.png")
    Image.fromarray(pixels.astype(np.uint16) * 257).save(folder / "sixteen_bit.png")
    Image.fromarray(pixels.astype(np.float32) / 255).save(folder / "float.tiff")
    return folder


def _scores(text: str, name: str) -> str:
    """The classes and probabilities predict printed for the image ``name``."""
    [line] = [line for line in text.splitlines() if name in line]
    return line.split(": ", 1)[1]


def test_a_16_bit_png_and_a_float_tiff_predict_as_their_8_bit_digit(capsys, trained, digit_files):
    with (
        Image.open(digit_files / "sixteen_bit.png") as i16,
        Image.open(digit_files / "float.tiff") as f,
    ):
        assert (i16.mode, f.mode) == ("I;16", "F")  # as PIL reads them: deeper than 8 bits
    files = [digit_files / n for n in ("eight_bit.png", "sixteen_bit.png", "float.tiff")]
    code, out = cli(capsys, "predict", trained, *files, "--top-k", "10")
    assert code == 0, out
    eight = _scores(out, "eight_bit.png")
    assert _scores(out, "sixteen_bit.png") == eight  # every class's probability, not just the top
    assert _scores(out, "float.tiff") == eight
    for f in files[1:]:  # the pixels the model sees are the 8-bit ones
        assert np.array_equal(load_image(f, (1, 8, 8)), load_image(files[0], (1, 8, 8)))


def test_pixel_values_are_rescaled_by_their_range_not_clipped():
    assert to_uint8(np.array([0, 257, 65535], np.uint16)).tolist() == [0, 1, 255]
    # PIL's 32-bit mode "I" holds 16-bit greys: the same rule
    assert to_uint8(np.array([0, 32896, 65535], np.int32), sixteen_bit=True).tolist() == [
        0,
        128,
        255,
    ]
    assert to_uint8(np.array([0.0, 0.5, 1.0], np.float32)).tolist() == [0, 128, 255]
    assert to_uint8(np.array([0.0, 17.0, 255.0])).tolist() == [
        0,
        17,
        255,
    ]  # 0-255 values as they are
    # anything else stretched from its minimum to its maximum (negative values, raw counts)
    assert to_uint8(np.array([-3.0, 0.0, 3.0])).tolist() == [0, 128, 255]
    assert to_uint8(np.array([1000, 1500, 2000], np.int64)).tolist() == [0, 128, 255]


def test_a_float_tiff_of_nan_is_refused_by_name(tmp_path):
    path = tmp_path / "nan.tiff"
    Image.fromarray(np.full((4, 4), np.nan, np.float32)).save(path)
    with pytest.raises(UserError, match="nan.tiff.*finite"):
        load_image(path, (1, 8, 8))


def test_a_folder_is_named_as_one_with_its_image_files_suggested(capsys, trained, tmp_path):
    code, out = cli(capsys, "predict", trained, tmp_path)
    assert code == 2
    assert f"'{tmp_path}' is a folder" in one_line(out) and f"{tmp_path}/*.png" in out


def test_a_model_of_feature_vectors_points_to_eval_and_export(capsys, tmp_path, digit_files):
    run = tmp_path / "circles"
    train(tiny_config("data.name=circles", "data.limit=200", "train.epochs=1"), run, quiet=True)
    code, out = cli(capsys, "predict", run, digit_files / "eight_bit.png")
    assert code == 2
    text = one_line(out)
    assert "2-D feature vectors, not images" in text
    assert f"vislab eval {run}" in text and f"vislab export {run}" in text


def test_a_model_of_feature_vectors_predicts_raw_features_in_python(tmp_path):
    """RDFIA 1-ab's circles: Run.predict takes the raw 2-D points, normalised as in training, and its
    top-1 answers on the test points score what Run.evaluate scores."""
    run = tmp_path / "circles"
    train(tiny_config("data.name=circles", "train.epochs=3"), run, quiet=True)
    loaded = vislab.load_run(run)
    data = load_source(build_config({"data": {"name": "circles"}}).data)
    x, y = data.sets["test"].x, data.sets["test"].y
    ranked = loaded.predict(x, top_k=2)
    assert len(ranked) == len(x) and {c for c, _ in ranked[0]} == {"outer", "inner"}
    top1 = np.array([["outer", "inner"].index(r[0][0]) for r in ranked])
    assert (top1 == y).mean() == pytest.approx(loaded.evaluate("test")["acc"])
    assert loaded.predict([0.1, -0.2], top_k=1)[0][0][0] in ("outer", "inner")  # one vector
    for wrong, said in (([[1.0, 2.0, 3.0]], "shape (1, 3)"), ("a.png", "str of images")):
        with pytest.raises(UserError) as e:
            loaded.predict(wrong)
        assert "2-D feature vectors" in str(e.value) and said in str(e.value)
    fig = loaded.plot("boundary", "val")  # the figure the CLI writes, in a notebook
    assert "decision boundary (accuracy" in fig.axes[0].get_title()
    assert len(fig.axes[0].images) == 1 and fig.axes[0].get_legend() is not None


# ------------------------------------------------ one decoding: training on a folder sees predict's pixels
def _trained_on(root, size: int) -> dict:
    """Each image file of an image folder: the uint8 H×W×C array training on it sees."""
    files = sorted(root.glob("*/*.*"))  # class folders and their files, in the source's order
    cfg = build_config({"data": {"name": "folder", "root": str(root), "image_size": size}})
    data = load_source(cfg.data)
    assert len(files) == len(data.sets["train"])
    return dict(zip(files, data.sets["train"].x))


def test_a_16_bit_image_folder_trains_on_the_greys_predict_sees(tmp_path):
    rng = np.random.default_rng(0)
    for c in ("dark", "light"):
        (tmp_path / c).mkdir()
        grey = rng.integers(0, 256, (12, 12)).astype(np.uint8)
        Image.fromarray(grey).save(tmp_path / c / "eight_bit.png")
        Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / c / "sixteen_bit.png")
    with Image.open(tmp_path / "dark" / "sixteen_bit.png") as i16:
        assert i16.mode == "I;16"
    seen = _trained_on(tmp_path, 8)
    for c in ("dark", "light"):
        eight, sixteen = tmp_path / c / "eight_bit.png", tmp_path / c / "sixteen_bit.png"
        assert np.array_equal(seen[sixteen], seen[eight])  # greys, not a 0/255 silhouette
        assert np.array_equal(seen[sixteen], load_image(sixteen, (1, 8, 8)))  # what predict sees
    assert len(np.unique(seen[sixteen])) > 10


def test_a_large_jpeg_trains_on_the_pixels_predict_sees(tmp_path):
    rng = np.random.default_rng(0)
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        coarse = Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8))
        coarse.resize((400, 400), Image.Resampling.BICUBIC).save(tmp_path / c / "photo.jpg")
    Image.fromarray(rng.integers(0, 256, (30, 30), dtype=np.uint8)).save(
        tmp_path / "b" / "grey.png"
    )
    for path, x in _trained_on(tmp_path, 32).items():  # an RGB folder: the grey image as RGB too
        assert np.array_equal(x, load_image(path, (3, 32, 32))), path
