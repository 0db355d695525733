"""One way from a picture to the uint8 pixels a model sees, for training (the ``folder`` source) and for
``vislab predict`` alike, so that the same file gives the same array in both — and one rule for which
files in a folder are pictures (:func:`image_files`).

A 16-bit, 32-bit or float image is first rescaled to 0-255 (:func:`to_uint8`), never clipped; the image
is then converted to greyscale (PIL mode L) or RGB and resized with PIL's bilinear filter, decoded at
full resolution (no JPEG draft mode: an exported model's user repeats these steps with any library)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from vislab.errors import UserError

#: PIL modes of one channel deeper than 8 bits: 16-bit and 32-bit integers, 32-bit floats
DEEP_MODES = ("I", "F", "I;16", "I;16B", "I;16L", "I;16N")
#: PIL modes of one grey channel (with or without alpha, of any depth)
GREY_MODES = ("1", "L", "LA", *DEEP_MODES)
#: the file extensions (lower-cased) an image folder's images have, for training and predict alike
IMAGE_EXTS = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")
#: An image the API can classify: a file path, a PIL image, or an array of H×W, H×W×C or C×H×W (uint8
#: 0-255, float 0-1, or other values rescaled as :func:`to_uint8` says); a torch tensor as its array.
ImageLike = str | Path | Image.Image | np.ndarray | torch.Tensor


def image_files(folder: Path) -> list[Path]:
    """The image files under ``folder`` (recursively, by :data:`IMAGE_EXTS` in any case), sorted; hidden
    files and those in hidden folders (``.vislab-cache``) skipped. Symlinked folders are followed (a
    class folder gathered from elsewhere), each real folder once (a link back up is no loop)."""
    found, seen = [], set()
    for where, folders, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(where)
        if real in seen:  # reached again through a link
            folders.clear()
            continue
        seen.add(real)
        folders[:] = [f for f in folders if not f.startswith(".")]
        paths = (Path(where, f) for f in files if not f.startswith("."))
        found += [p for p in paths if p.suffix.lower() in IMAGE_EXTS and p.is_file()]
    return sorted(found)


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
    - booleans (a mask): False black (0), True white (255);
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
    if values.dtype == np.bool_:
        return values.astype(np.uint8) * 255
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


def load_image(path: Path, shape: tuple[int, int, int]) -> np.ndarray:
    """Decode an image file to uint8 H×W×C of the model's input shape (C, H, W); UserError if unreadable."""
    if Path(path).is_dir():
        raise UserError(
            f"'{path}' is a folder: give the image files in it, e.g. "
            f"'{os.path.join(path, '*.png')}'."
        )
    if not Path(path).is_file():
        raise UserError(f"'{path}' does not exist or is not a file: give PNG/JPEG/BMP/... files.")
    try:
        with Image.open(path) as img:
            return fit_image(img, shape)
    except UserError as e:  # pixel values no rule of to_uint8 fits
        raise UserError(f"'{path}': {e}") from None
    except (UnidentifiedImageError, Image.DecompressionBombError) as e:
        raise UserError(
            f"'{path}' is not a readable image ({type(e).__name__}): give PNG/JPEG/BMP/... files."
        ) from None
    except Exception as e:  # noqa: BLE001 - PIL's decoders raise many types (OSError, ValueError, SyntaxError, ...)
        raise UserError(
            f"'{path}' is not a readable image ({type(e).__name__}: {str(e)[:120]}): give PNG/JPEG/BMP/... "
            f"files."
        ) from None


def load_image_or_error(path: Path, shape: tuple[int, int, int]) -> np.ndarray | UserError:
    """:func:`load_image`, its UserError returned rather than raised: of many files, the others go on."""
    try:
        return load_image(path, shape)
    except UserError as e:
        return e


def image_array(image: ImageLike, shape: tuple[int, int, int]) -> np.ndarray:
    """Any :data:`ImageLike` as uint8 H×W×C of the model's input shape; arrays pass through PIL like files,
    so the same picture gives the same input whichever way it comes."""
    if isinstance(image, (str, Path)):
        return load_image(Path(image), shape)
    if isinstance(image, Image.Image):
        return fit_image(image, shape)
    if not isinstance(image, np.ndarray):
        raise UserError(
            f"cannot classify a {type(image).__name__}: give image file paths, PIL images, numpy arrays or "
            f"torch tensors."
        )
    arr = image
    if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3):
        arr = arr.transpose(1, 2, 0)  # C×H×W → H×W×C
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] != 3):
        raise UserError(
            f"an image array must be H×W, H×W×C or C×H×W with 1 or 3 channels, not shape {image.shape}."
        )
    return fit_image(Image.fromarray(to_uint8(arr)), shape)


def as_array(x: object) -> object:
    """A torch tensor as the numpy array it holds (a DataLoader's batch, ``ToTensor``'s 0-1 floats; any
    device, with or without grad); anything else as it is."""
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x


def low_range(images: Sequence[ImageLike]) -> str | None:
    """Why float images all in 0..16 are likely on another scale (None when they are not): :func:`to_uint8`
    reads them as 0-255 pixel values, near-black, where scikit-learn's ``load_digits().images`` (0-16,
    the bundled digits before vislab scales them) or 4-bit images mean white at 16 or 15."""
    floats = [a for a in map(as_array, images) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    if not floats or any(a.size == 0 or not np.isfinite(a).all() for a in floats):
        return None
    lo, hi = min(float(a.min()) for a in floats), max(float(a.max()) for a in floats)
    if lo < 0 or not 1 < hi <= 16:
        return None
    return (
        f"the float images given span {lo:g}..{hi:g}: vislab reads floats above 1 as 0-255 pixel values, "
        f"so these are near-black. If 16 is their white (scikit-learn's load_digits().images), give "
        f"x * 255 / 16 (or x / 16)."
    )


def split_images(images: ImageLike | Sequence[ImageLike], channels: int) -> list[ImageLike]:
    """One image or many as a list of images, each array that holds several split into them, so that
    an array means the same images alone or in a list. The rule, by shape: H×W is one grey image;
    H×W×C (C up to 4) one image; 1×H×W one grey image; 3×H×W one colour image (C×H×W) for a model of
    ``channels`` = 3, three grey images for a model of grey (1-channel) images; any other 3-D array is
    N grey images N×H×W; N×H×W×C and N×C×H×W are N images. A torch tensor is read as its array."""
    if isinstance(images, (str, Path, Image.Image, np.ndarray, torch.Tensor)) or not isinstance(
        images, Sequence
    ):
        images = [images]  # type: ignore[list-item]
    out: list[ImageLike] = []
    for img in images:
        img = as_array(img)
        several = isinstance(img, np.ndarray) and _is_stack(img.shape, channels)
        out.extend(list(img) if several else [img])  # type: ignore[arg-type]
    return out


def _is_stack(shape: tuple[int, ...], channels: int) -> bool:
    """Whether an array of ``shape`` holds several images (:func:`split_images`'s rule)."""
    if len(shape) == 4:
        return True
    if len(shape) != 3 or shape[-1] <= 4 or shape[0] == 1:
        return False
    return shape[0] != 3 or channels == 1


def expand_folders(images: Sequence[ImageLike]) -> list[ImageLike]:
    """``images`` with each folder path replaced by the image files in it and its sub-folders, sorted
    (:func:`vislab.data.images.image_files`: the files an image folder trains on); UserError naming a
    folder that holds none."""
    out: list[ImageLike] = []
    for image in images:
        if not (isinstance(image, (str, Path)) and Path(image).is_dir()):
            out.append(image)
            continue
        found = image_files(Path(image))
        if not found:
            raise UserError(
                f"'{image}' is a folder with no image files in it or its sub-folders (such as "
                f"'{os.path.join(image, '*.png')}'; read: {', '.join(IMAGE_EXTS)}; hidden folders "
                f"skipped). Give a folder of images, or image files."
            )
        out.extend(found)
    return out
