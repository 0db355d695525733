"""Fuzzing predict's image decoder: random bytes and mutated PNG/JPEG/GIF/BMP/TIFF/WEBP files either decode to
a uint8 array of the model's input shape or raise a UserError — never another exception."""

from __future__ import annotations

import io
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from vislab.data.images import load_image
from vislab.errors import UserError

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SHAPES = [(1, 8, 8), (3, 32, 32), (3, 5, 7), (1, 28, 28)]


def _encode(arr: np.ndarray | Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    (arr if isinstance(arr, Image.Image) else Image.fromarray(arr)).save(buf, fmt, **kw)
    return buf.getvalue()


_RGB = (np.arange(20 * 16 * 3) * 7 % 251).astype(np.uint8).reshape(20, 16, 3)
VALID = {
    "png": _encode(_RGB, "PNG"),
    "png-gray": _encode(_RGB[..., 0], "PNG"),
    "png-palette": _encode(Image.fromarray(_RGB).convert("P"), "PNG"),
    "png-16bit": _encode(_RGB[..., 0].astype(np.uint16) * 257, "PNG"),
    "tiff-float": _encode(_RGB[..., 0].astype(np.float32) / 255, "TIFF"),
    "jpeg": _encode(_RGB, "JPEG", quality=80),
    "jpeg-progressive-gray": _encode(_RGB[..., 1], "JPEG", progressive=True),
    "gif": _encode(_RGB, "GIF"),
    "bmp": _encode(_RGB, "BMP"),
    "tiff": _encode(_RGB, "TIFF"),
    "webp": _encode(_RGB, "WEBP"),
}


@pytest.fixture(scope="module")
def image_file():
    return Path(tempfile.mkdtemp(prefix="vislab-fuzz-predict-")) / "image"


@pytest.fixture(autouse=True)
def small_bomb_limit(monkeypatch):
    """Mutated headers may declare huge images: keep PIL's bomb guard low so a case stays cheap."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000_000)


def decodes_or_user_error(path: Path, shape: tuple[int, int, int]) -> np.ndarray | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DecompressionBombWarning, truncated-EXIF warnings, ...
        try:
            arr = load_image(path, shape)
        except UserError as e:
            assert str(path) in str(e) and "image" in str(e)
            return None
    c, h, w = shape
    assert arr.dtype == np.uint8 and arr.shape == (h, w, c)
    return arr


@st.composite
def mutated(draw, base: bytes) -> bytes:
    """``base`` with a few random edits: overwritten, inserted or deleted bytes, or a truncation."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["set", "set", "insert", "delete", "truncate"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "set" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 8))]
        else:
            del data[pos:]
    return bytes(data)


@FUZZ
@given(data=st.binary(max_size=600), shape=st.sampled_from(SHAPES))
def test_random_bytes(image_file, data, shape):
    image_file.write_bytes(data)
    decodes_or_user_error(image_file, shape)


@FUZZ
@given(
    data=st.sampled_from(sorted(VALID)).flatmap(lambda k: mutated(VALID[k])),
    shape=st.sampled_from(SHAPES),
)
def test_mutated_valid_images(image_file, data, shape):
    image_file.write_bytes(data)
    decodes_or_user_error(image_file, shape)


@FUZZ
@given(
    head=st.sampled_from(
        [VALID["png"][:8], VALID["jpeg"][:4], b"GIF89a", b"BM", b"II*\x00", b"RIFF"]
    ),
    tail=st.binary(max_size=300),
    shape=st.sampled_from(SHAPES),
)
def test_valid_magic_then_garbage(image_file, head, tail, shape):
    image_file.write_bytes(head + tail)
    decodes_or_user_error(image_file, shape)


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_images_decode(image_file, name):
    image_file.write_bytes(VALID[name])
    for shape in SHAPES:
        assert decodes_or_user_error(image_file, shape) is not None


def test_not_a_file_and_huge_declared_size(tmp_path, monkeypatch):
    with pytest.raises(UserError, match="does not exist"):
        load_image(tmp_path / "missing.png", (3, 8, 8))
    with pytest.raises(UserError, match="is a folder: give the image files in it"):
        load_image(tmp_path, (3, 8, 8))
    # a PNG whose header claims 20000 x 20000 pixels (a decompression bomb)
    png = bytearray(VALID["png"])
    png[16:24] = (20000).to_bytes(4, "big") * 2
    import zlib

    png[29:33] = zlib.crc32(bytes(png[12:29])).to_bytes(4, "big")
    (tmp_path / "bomb.png").write_bytes(bytes(png))
    with pytest.raises(UserError, match="too large to decode"):
        load_image(tmp_path / "bomb.png", (3, 8, 8))
