"""One way from a picture to the uint8 pixels a model sees, for training (the ``folder`` source) and for
``vislab predict`` alike, so that the same file gives the same array in both.

A 16-bit, 32-bit or float image is first rescaled to 0-255 (:func:`to_uint8`), never clipped; the image
is then converted to greyscale (PIL mode L) or RGB and resized with PIL's bilinear filter, decoded at
full resolution (no JPEG draft mode: an exported model's user repeats these steps with any library)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from vislab.errors import UserError

#: PIL modes of one channel deeper than 8 bits: 16-bit and 32-bit integers, 32-bit floats
DEEP_MODES = ("I", "F", "I;16", "I;16B", "I;16L", "I;16N")
#: PIL modes of one grey channel (with or without alpha, of any depth)
GREY_MODES = ("1", "L", "LA", *DEEP_MODES)


def is_grey(img: Image.Image) -> bool:
    """Whether ``img`` has a single grey channel (any bit depth)."""
    return img.mode in GREY_MODES


def fit_image(img: Image.Image, shape: tuple[int, int, int]) -> np.ndarray:
    """A PIL image as uint8 H×W×C of ``shape`` (C, H, W): deeper than 8 bits rescaled to 0-255
    (:func:`to_uint8`), converted to grey (C=1) or RGB (C=3), resized bilinearly to W×H."""
    c, h, w = shape
    if img.mode in DEEP_MODES:
        img = Image.fromarray(to_uint8(np.array(img), sixteen_bit=img.mode != "F"))
    img = img.convert("L" if c == 1 else "RGB").resize((w, h), Image.Resampling.BILINEAR)
    arr = np.array(img, np.uint8)
    return arr[..., None] if arr.ndim == 2 else arr


def to_uint8(values: np.ndarray, sixteen_bit: bool = False) -> np.ndarray:
    """Pixel values of any numeric type as uint8 0-255, by the first rule that fits:

    - uint8 values: as they are;
    - a 16-bit image (``sixteen_bit``: PIL's integer modes, which hold 16-bit PNG/TIFF greys, or a
      uint16 array) with values in 0-65535: divided by 257, so 65535 is white (the bit-depth
      convention of image viewers and scikit-image);
    - values in [0, 1]: times 255 (floats in [0, 1], 0/1 masks);
    - values in [0, 255]: as they are (rounded);
    - anything else (negative values, counts past the range): stretched from its minimum (black) to its
      maximum (white); a constant image is black.

    UserError for NaN or infinite values, or values that are not numbers."""
    if values.dtype == np.uint8:
        return values
    if not np.issubdtype(values.dtype, np.number) or not np.isfinite(values).all():
        raise UserError(
            f"an image must hold finite numbers, not {values.dtype} with NaN/inf: replace those "
            f"pixels, or save the image as 8-bit PNG."
        )
    v = values.astype(np.float64)
    lo, hi = (v.min(), v.max()) if v.size else (0.0, 0.0)
    if (sixteen_bit or values.dtype == np.uint16) and lo >= 0 and hi <= 65535:
        v = v / 257
    elif lo >= 0 and hi <= 1:
        v = v * 255
    elif lo < 0 or hi > 255:
        v = (v - lo) * (255 / (hi - lo)) if hi > lo else np.zeros_like(v)
    return np.clip(np.rint(v), 0, 255).astype(np.uint8)
