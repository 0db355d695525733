"""Explorer pass E23's model messages: each names the setting or the code at fault and a fix that works —
a crop that sets the size (not data.resize), the sibling file that does not parse, a model whose output
is NaN before any step (not the learning rate), a constructor argument without a default, a CNN's stages
that do fit — and 32-bit integer images of 8-bit values read as the export recipe says (as they are)."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import cli, one_line, tiny_suite
from vislab.data.images import load_image
from vislab.errors import UserCodeError
from vislab.models import build_model
from vislab.models.code_errors import MARKER


def _train(capsys, tmp_path, *sets: str) -> tuple[int, str]:
    """``vislab train`` of 1 epoch on 300 digits without figures/, with ``sets``: (exit code, its output
    on one line)."""
    base = ["data.name=digits", "data.limit=300", "train.epochs=1", "train.device=cpu"]
    base += ["train.figures=false"]
    args = [a for s in [*base, *sets] for a in ("--set", s)]
    code, out = cli(capsys, "train", *args, "--out", tmp_path / "run")
    return code, one_line(out)


def _write(folder, name: str, code: str) -> None:
    (folder / name).write_text(textwrap.dedent(code))


# 3. a crop sets the model's input size: the hints name the crop, not data.resize


def test_vit_patches_that_do_not_tile_a_crop_name_crop_sizes_that_do(capsys, tmp_path):
    """Was "… the 6×6 images … resize the images with data.resize=4 or 8": data.resize=8 failed the
    same way, data.resize=4 as "augment.crop.size=6 is larger than the 4×4 images"."""
    crop = ["augment.crop.p=1", "augment.crop.size=6"]
    code, out = _train(capsys, tmp_path, "model.name=vit", *crop)
    assert code != 0 and "6×6 crops (augment.crop.size=6)" in out, out
    assert "augment.crop.size=4 or 8" in out and "data.resize" not in out, out
    code, out = _train(
        capsys, tmp_path, "model.name=vit", "augment.crop.p=1", "augment.crop.size=8"
    )
    assert code == 0, out  # the fix named works


def test_a_suite_dry_run_names_the_crop_as_its_run_would(capsys, tmp_path):
    """The suite's checks before anything trains built the model without the crop's words."""
    suite = tiny_suite(
        runs={"vit": {"model.name": "vit", "augment.crop.p": 1, "augment.crop.size": 6}}
    )
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(suite))
    code, out = cli(capsys, "suite", tmp_path / "s.yaml", "--out", tmp_path / "o", "--dry-run")
    said = one_line(out)
    assert code == 2 and "6×6 crops (augment.crop.size=6)" in said and "data.resize" not in said, (
        out
    )


def test_timm_size_checks_name_the_crop(capsys, tmp_path):
    pytest.importorskip("timm")
    vit = ["model.name=timm:vit_tiny_patch16_224", "model.patch_size=4", "model.depth=1"]
    crop = ["augment.crop.p=1", "augment.crop.size=6"]
    code, out = _train(capsys, tmp_path, *vit, "model.img_size=8", *crop)
    assert code != 0 and "crop them with augment.crop.size=8" in out and "data.resize" not in out, (
        out
    )
    code, out = _train(capsys, tmp_path, *vit, *crop)
    assert code != 0 and "augment.crop.size=4 or 8" in out and "data.resize" not in out, out


def test_a_cnn_too_deep_for_its_crops_names_a_crop_size(capsys, tmp_path):
    crop = ["augment.crop.p=1", "augment.crop.size=2"]
    code, out = _train(capsys, tmp_path, "model.name=cnn", "model.widths=[8,8]", *crop)
    assert code != 0 and "augment.crop.size=3" in out and "data.resize" not in out, out


# 4. a syntax error in a file the user's model imports is placed in that file


def test_a_syntax_error_in_an_imported_sibling_is_placed_in_the_sibling(tmp_path, monkeypatch):
    """Was "… SyntaxError while importing it at …/e23_net.py, line 2" (the import line)."""
    _write(
        tmp_path,
        "e23_blocks.py",
        "import torch.nn as nn\ndef block(d, n):\n    return nn.Linear(d, n))\n",
    )
    _write(
        tmp_path,
        "e23_net.py",
        """\
        import torch.nn as nn
        from e23_blocks import block
        class Net(nn.Module):
            def __init__(self, num_classes):
                super().__init__()
                self.fc = block(64, num_classes)
            def forward(self, x):
                return self.fc(x.flatten(1))
        """,
    )
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserCodeError) as caught:
        build_model("e23_net.py:Net", (1, 8, 8), 10)
    head = str(caught.value).split(MARKER)[0]
    assert "SyntaxError while importing it at" in head, head
    assert "e23_blocks.py, line 3" in head and "e23_net.py, line" not in head, head


# 5. a model whose output is NaN before any step is blamed, not the learning rate

NAN_MODEL = """\
    import torch.nn as nn
    class Net(nn.Module):
        def __init__(self, num_classes):
            super().__init__()
            self.fc = nn.Linear(64, num_classes)
        def forward(self, x):
            return self.fc(x.flatten(1)) * float("nan")
    """


def test_a_model_whose_output_is_nan_before_any_step_is_named(capsys, tmp_path, monkeypatch):
    """Was "the training loss became NaN/inf in epoch 1 (lr 0.001). Lower optim.lr, …"."""
    _write(tmp_path, "nanout.py", NAN_MODEL)
    monkeypatch.chdir(tmp_path)
    code, out = _train(capsys, tmp_path, "model.name=nanout.py:Net")
    assert code != 0 and "model 'nanout.py:Net'" in out, out
    assert "NaN/inf before any training step" in out and "forward" in out, out
    assert "Lower optim.lr" not in out and "epoch 1/1" not in out, out


def test_a_model_that_is_nan_on_zeros_only_still_trains(capsys, tmp_path, monkeypatch):
    """The check feeds the run's own images: a model dividing by each image's spread is NaN on a batch
    of zeros, never on the data."""
    _write(
        tmp_path,
        "spread.py",
        """\
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self, num_classes):
                super().__init__()
                self.fc = nn.Linear(64, num_classes)
            def forward(self, x):
                x = x.flatten(1)
                return self.fc(x / x.std(1, keepdim=True))
        """,
    )
    monkeypatch.chdir(tmp_path)
    code, out = _train(capsys, tmp_path, "model.name=spread.py:Net")
    assert code == 0, out


def test_a_model_its_init_from_data_hook_makes_finite_trains(capsys, tmp_path, monkeypatch):
    """Statistics filled by the model's init_from_data hook (zeros until then: 0/0) are checked after the
    hook, as training uses them (the check refused this model before its hook ran)."""
    _write(
        tmp_path,
        "dnet.py",
        """\
        import torch, torch.nn as nn
        from vislab.models.hooks import ModelHooks
        class Net(ModelHooks, nn.Module):
            def __init__(self, num_classes):
                super().__init__()
                self.fc = nn.Linear(64, num_classes)
                self.register_buffer("mean", torch.zeros(64))
                self.register_buffer("std", torch.zeros(64))
            def init_from_data(self, x):
                self.mean.copy_(x.flatten(1).mean(0))
                self.std.copy_(x.flatten(1).std(0) + 1e-3)
            def forward(self, x):
                return self.fc((x.flatten(1) - self.mean) / self.std)
        """,
    )
    monkeypatch.chdir(tmp_path)
    code, out = _train(capsys, tmp_path, "model.name=dnet.py:Net")
    assert code == 0, out


# 6. a constructor argument without a default is asked for by name


def test_a_missing_constructor_argument_is_asked_for(capsys, tmp_path, monkeypatch):
    """Was "invalid option for model 'extra_arg.py:Net': model.depth = {}: Field required."."""
    _write(
        tmp_path,
        "extra_arg.py",
        """\
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self, num_classes, depth):
                super().__init__()
                self.fc = nn.Linear(64, num_classes)
            def forward(self, x):
                return self.fc(x.flatten(1))
        """,
    )
    monkeypatch.chdir(tmp_path)
    code, out = _train(capsys, tmp_path, "model.name=extra_arg.py:Net")
    assert code != 0 and "Field required" not in out, out
    assert (
        "model 'extra_arg.py:Net' needs model.depth (its __init__ has no default for depth): "
        "--set model.depth=<value>" in out
    ), out


# 7. a CNN too deep for its images names fewer stages than it has


def test_a_cnn_too_deep_suggests_stages_that_fit(capsys, tmp_path):
    """Was "… Use fewer stages (e.g. model.widths=[32,64])": the widths the user gave."""
    code, out = _train(capsys, tmp_path, "model.name=cnn", "data.resize=2", "model.widths=[32,64]")
    assert code != 0 and "model.widths=[32]" in out and "[32,64]" not in out, out
    code, out = _train(capsys, tmp_path, "model.name=cnn", "data.resize=3", "model.widths=[32,64]")
    assert code == 0, out  # the one-stage cnn's images: the other fix named works too


def test_a_one_stage_cnn_too_small_is_told_to_grow_its_images(capsys, tmp_path):
    code, out = _train(capsys, tmp_path, "model.name=cnn", "data.resize=1", "model.widths=[8]")
    assert code != 0 and "data.resize=2" in out and "fewer stages" not in out, out


# 8. 32-bit integer images (PIL mode I) read as the export recipe says


def _digit() -> np.ndarray:
    return np.array([[0, 17, 128, 255] * 2] * 8, np.uint8)


def test_a_32_bit_image_of_8_bit_values_reads_as_its_8_bit_image(tmp_path):
    """Was: divided by 257 like a 16-bit image (predict agreed with evaluation on 17.5% of such TIFFs);
    the export recipe keeps values within 0-255 as they are."""
    pixels = _digit()
    Image.fromarray(pixels).save(tmp_path / "eight.png")
    Image.fromarray(pixels.astype(np.int32)).save(tmp_path / "i32.tiff")
    with Image.open(tmp_path / "i32.tiff") as img:
        assert img.mode == "I"
    eight = load_image(tmp_path / "eight.png", (1, 8, 8))
    assert np.array_equal(load_image(tmp_path / "i32.tiff", (1, 8, 8)), eight)
    mask = (pixels > 100).astype(
        np.int32
    )  # 0/1 values: as they are too, like an 8-bit image of them
    Image.fromarray(mask).save(tmp_path / "mask.tiff")
    assert load_image(tmp_path / "mask.tiff", (1, 8, 8))[..., 0].tolist() == mask.tolist()


def test_16_bit_greys_in_any_container_are_still_divided_by_257(tmp_path):
    pixels = _digit()
    wide = (
        pixels.astype(np.int32) * 257
    )  # mode I past 255: 16-bit greys (older Pillow's 16-bit PNGs)
    Image.fromarray(wide).save(tmp_path / "i32.tiff")
    big_endian = Image.frombytes("I;16B", (8, 8), wide.astype(">u2").tobytes())
    big_endian.save(tmp_path / "i16b.tiff")
    eight = _eight_bit(pixels, tmp_path)
    assert np.array_equal(load_image(tmp_path / "i32.tiff", (1, 8, 8)), eight)
    with Image.open(tmp_path / "i16b.tiff") as img:
        assert img.mode.startswith("I;16")
    assert np.array_equal(load_image(tmp_path / "i16b.tiff", (1, 8, 8)), eight)


def _eight_bit(pixels: np.ndarray, folder) -> np.ndarray:
    """``pixels`` as an 8-bit PNG reads them."""
    Image.fromarray(pixels).save(folder / "eight.png")
    return load_image(folder / "eight.png", (1, 8, 8))
