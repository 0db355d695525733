"""One way from a picture to the uint8 pixels a model sees, for training (the ``folder`` source) and for
``vislab predict`` alike, so that the same file gives the same array in both (which files of a folder
are pictures: :mod:`vislab.data.image_folders`).

A picture is first turned upright as its EXIF orientation says (a phone photo, as image viewers show
it) and its transparent pixels laid on white (:func:`on_white`); a 16-bit, 32-bit or float image is
brought to 0-255 (:func:`to_uint8`), never clipped; the image is then converted to greyscale (PIL mode L)
or RGB and resized with PIL's bilinear filter, decoded at full resolution (no JPEG draft mode: an
exported model's user repeats these steps with any library)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
from PIL import ExifTags, Image, ImageOps

from vislab.data.image_files import open_image, unreadable
from vislab.data.image_folders import IMAGE_EXTS, image_files
from vislab.errors import UserError

if TYPE_CHECKING:
    import torch

# torch is imported by the functions that take tensors: the folder and memory sources load this module,
# which reading a built-in dataset or listing suites needs without torch

#: PIL modes of one channel deeper than 8 bits: 16-bit and 32-bit integers, 32-bit floats
DEEP_MODES = ("I", "F", "I;16", "I;16B", "I;16L", "I;16N")
#: PIL modes of one grey channel (with or without alpha, of any depth)
GREY_MODES = ("1", "L", "LA", *DEEP_MODES)
#: An image the API can classify: a file path, a PIL image, or an array of H×W, H×W×C or C×H×W (uint8
#: 0-255, float 0-1, or other values rescaled as :func:`to_uint8` says); a torch tensor as its array.
ImageLike: TypeAlias = "str | Path | Image.Image | np.ndarray | torch.Tensor"
#: what vislab takes as images given as arrays (the note or error for already-normalised ones says it)
RAW_IMAGES = (
    "vislab takes raw images (uint8, integers in 0..255, floats in [0, 1] or 0..255) and normalises "
    "them itself (data.normalize)"
)
#: the largest value of a 16-bit image that decodes dark (:func:`deep_max`): 12 bits' (4095 → 16 of 255)
DARK_DEEP = 4095


def is_grey(img: Image.Image) -> bool:
    """Whether ``img`` holds only greys: a single grey channel (any bit depth, with or without alpha); a
    palette image (a GIF's, PIL mode P or PA) whose colours in use are grey; or a WebP file, which PIL
    decodes as RGB (lossy WebP has no grey mode), whose R, G and B differ by at most 1 (its decoder's
    rounding: a grey picture saved as lossy WebP)."""
    if img.mode in GREY_MODES:
        return True
    if img.mode in ("P", "PA"):
        return _grey_palette(img)
    if img.format == "WEBP" and img.mode in ("RGB", "RGBA"):
        rgb = np.asarray(img.convert("RGB"), np.int16)
        return bool(np.abs(rgb - rgb[..., 1:2]).max(initial=0) <= 1)
    return False


def _grey_palette(img: Image.Image) -> bool:
    """Whether the palette entries a mode P or PA image uses are all grey (R = G = B); its transparent
    entry is not one of them (:func:`on_white` lays it on white, whatever colour it holds)."""
    index = np.asarray(img.getchannel(0) if img.mode == "PA" else img)
    palette = np.asarray(img.getpalette("RGB") or [], np.int16).reshape(-1, 3)
    clear = img.info.get("transparency")  # the transparent index (GIF), or each entry's alpha (PNG)
    clear = [clear] if isinstance(clear, int) else [i for i, a in enumerate(clear or b"") if a == 0]
    used = np.setdiff1d(np.unique(index), clear)
    colours = palette[used[used < len(palette)]]  # an index past the palette decodes black: grey
    return bool((colours == colours[:, :1]).all())


def fit_image(img: Image.Image, shape: tuple[int, int, int]) -> np.ndarray:
    """A PIL image as uint8 H×W×C of ``shape`` (C, H, W): turned upright (:func:`upright`), transparent
    pixels laid on white (:func:`on_white`), deeper than 8 bits rescaled to 0-255 (:func:`to_uint8`),
    converted to grey (C=1) or RGB (C=3), resized bilinearly to W×H."""
    c, h, w = shape
    img = on_white(upright(img))
    if img.mode in DEEP_MODES:
        img = Image.fromarray(to_uint8(np.array(img), sixteen_bit=img.mode == "I"))
    img = img.convert("L" if c == 1 else "RGB").resize((w, h), Image.Resampling.BILINEAR)
    arr = np.array(img, np.uint8)
    return arr[..., None] if arr.ndim == 2 else arr


def on_white(img: Image.Image) -> Image.Image:
    """``img`` composited on a white background where it has transparency (an alpha channel: RGBA, LA,
    PA; or a transparent colour or palette entries: PNG's tRNS, GIF's transparency index), as image
    viewers show it on a white page, rather than the colour PIL's ``convert("RGB")`` would reveal under
    each transparent pixel; ``img`` itself when it has none. A grey image stays grey (R = G = B)."""
    alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if not alpha or img.mode in DEEP_MODES:  # left as it is: RGBA would clip a 16-bit image
        return img
    rgba = img.convert("RGBA")
    flat = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return flat.convert("RGB")


def deep_max(img: Image.Image) -> int | None:
    """The largest value of a 16-bit image, which :func:`to_uint8` divides by 257 (a 16-bit mode, or mode
    ``I`` with values past 255); None for any other image. At most :data:`DARK_DEEP` (values of 8 or 12
    bits saved as 16-bit), the image decodes dark."""
    if img.mode not in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        return None
    values = np.array(img)
    hi = int(values.max()) if values.size else 0
    return hi if img.mode != "I" or 255 < hi <= 65535 else None


def dark_counts(highest: Sequence[int]) -> tuple[int, int, int]:
    """Of 16-bit images' largest values (:func:`deep_max`): how many images, how many of them decode dark
    (at most :data:`DARK_DEEP`), and the largest value of those (0 if none)."""
    dark = [hi for hi in highest if hi <= DARK_DEEP]
    return len(highest), len(dark), max(dark, default=0)


def dark_note(counts: Sequence[int], where: str, alike: str) -> str | None:
    """The note for 16-bit images (``where``: "in 'FOLDER'", "given") that use only a small part of their
    range and decode dark (``counts``: :func:`dark_counts`'s); ``alike``: where they decode the same;
    None if none is dark."""
    n_deep, n_dark, hi = (int(v) for v in counts)
    if not n_dark:
        return None
    return (
        f"{n_dark} of the {n_deep} 16-bit images {where} use only values up to {hi} of 65535 (8 or 12 "
        f"bits saved as 16): vislab scales 16-bit images to 0-255 by dividing by 257 (65535 is white, as "
        f"image viewers show them), so these decode dark, at most {round(hi / 257)} of 255, and the "
        f"model sees near-black inputs ({alike}). Save them scaled to the full 16-bit range (12-bit "
        f"values times 16), or as 8-bit images."
    )


def upright(img: Image.Image) -> Image.Image:
    """``img`` turned and mirrored as its EXIF orientation says (a phone photo: as image viewers show it,
    ``PIL.ImageOps.exif_transpose``); ``img`` itself when it has no such tag."""
    orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
    return ImageOps.exif_transpose(img) if orientation in range(2, 9) else img


def to_uint8(values: np.ndarray, sixteen_bit: bool = False) -> np.ndarray:
    """Pixel values of any numeric type as uint8 0-255, by the first rule that fits:

    - uint8 values: as they are;
    - booleans (a mask): False black (0), True white (255);
    - a 16-bit image (a uint16 array: PIL's ``I;16`` modes) with values in 0-65535, or a 32-bit one
      that may hold 16-bit greys (``sixteen_bit``: PIL's mode ``I``, which older Pillow gives 16-bit
      PNGs) with values past 255 and within 0-65535: divided by 257, so 65535 is white (the bit-depth
      convention of image viewers and scikit-image);
    - values in [0, 1]: times 255 (floats in [0, 1], 0/1 masks), unless ``sixteen_bit``;
    - values in [0, 255]: as they are (rounded; a mode ``I`` image's, as the export recipe says);
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
    uint16 = values.dtype.kind == "u" and values.dtype.itemsize == 2  # any byte order (I;16B)
    if (uint16 or (sixteen_bit and hi > 255)) and lo >= 0 and hi <= 65535:
        v = v / 257
    elif lo >= 0 and hi <= 1 and not sixteen_bit:
        v = v * 255
    elif lo < 0 or hi > 255:
        v = (v - lo) * (255 / (hi - lo)) if hi > lo else np.zeros_like(v)
    return np.clip(np.rint(v), 0, 255).astype(np.uint8)


def load_image(
    path: Path,
    shape: tuple[int, int, int],
    deep: list[int] | None = None,
    greys: dict[Path, bool] | None = None,
) -> np.ndarray:
    """Decode an image file to uint8 H×W×C of the model's input shape (C, H, W); UserError if unreadable.
    ``deep``: where a 16-bit image's largest value (:func:`deep_max`) is appended; ``greys``: where the
    file's path is mapped to whether it holds only greys (:func:`is_grey`, as decoded, before the
    conversion to C channels), so that nothing opens it again for its colours."""
    if Path(path).is_dir():
        raise UserError(
            f"'{path}' is a folder: give the image files in it, e.g. "
            f"'{os.path.join(path, '*.png')}'."
        )
    if not Path(path).exists():
        raise UserError(f"'{path}' does not exist: check its path (a typo?).")
    if not Path(path).is_file():
        raise UserError(f"'{path}' is not a file: give PNG/JPEG/BMP/... files.")
    with open_image(path) as img:
        try:
            if deep is not None and (hi := deep_max(img)) is not None:
                deep.append(hi)
            arr = fit_image(img, shape)
            if greys is not None:
                greys[Path(path)] = is_grey(img)
            return arr
        except UserError as e:  # pixel values no rule of to_uint8 fits
            raise UserError(f"'{path}': {e}") from None
        except Exception as e:  # noqa: BLE001 - PIL's decoders raise many types (OSError, ValueError, ...)
            raise unreadable(path, e) from None


def load_image_or_error(
    path: Path,
    shape: tuple[int, int, int],
    deep: list[int] | None = None,
    greys: dict[Path, bool] | None = None,
) -> np.ndarray | UserError:
    """:func:`load_image`, its UserError returned rather than raised: of many files, the others go on."""
    try:
        return load_image(path, shape, deep, greys)
    except UserError as e:
        return e


def image_array(
    image: ImageLike, shape: tuple[int, int, int], greys: dict[Path, bool] | None = None
) -> np.ndarray:
    """Any :data:`ImageLike` as uint8 H×W×C of the model's input shape; arrays pass through PIL like files,
    so the same picture gives the same input whichever way it comes. ``greys``: as for :func:`load_image`
    (a file's colours)."""
    if isinstance(image, (str, Path)):
        return load_image(Path(image), shape, greys=greys)
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
    import torch

    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x


def low_range(images: ImageLike | Sequence[ImageLike]) -> str | None:
    """Why number images are likely on another scale (None when they are not): with negative values,
    already normalised (``(x / 255 - mean) / std``), which :func:`to_uint8` stretches from their minimum
    to their maximum and the model's normalisation then normalises again (training refuses such arrays,
    in the words of :data:`RAW_IMAGES`); all in 0..16, :func:`to_uint8` reads floats above 1, and integers
    but uint8 and uint16, as 0-255 pixel values, near-black, where scikit-learn's ``load_digits().images``
    (0-16, the bundled digits before vislab scales them) or 4-bit images mean white at 16 or 15 — but images
    within 0..1 for a few values past it (at most 1.1, or 1% of the values) are a 0-1 scale to clip. uint8
    images are pixel values as they are (a dark photo stays one)."""
    given = [
        a
        for a in map(as_array, _listed(images))
        if isinstance(a, np.ndarray) and _rescaled(a.dtype)
    ]
    if not given or any(a.size == 0 or not np.isfinite(a).all() for a in given):
        return None
    lo, hi = min(float(a.min()) for a in given), max(float(a.max()) for a in given)
    kinds = " and ".join(sorted({str(a.dtype) for a in given}))
    if lo < 0:
        return (
            f"the images given ({kinds}) hold values in [{lo:.4g}, {hi:.4g}], below 0, as already "
            f"normalised images do: {RAW_IMAGES}, so these are stretched from their minimum (black) to "
            f"their maximum (white) and normalised again. Give the images before normalisation, in "
            f"0..255 (or 0..1)."
        )
    if not 1 < hi <= 16:
        return None
    said = (
        f"the images given ({kinds}) span {lo:g}..{hi:g}: vislab reads numbers above 1 as 0-255 pixel "
        f"values, so these are near-black."
    )
    above, total = sum(int((a > 1).sum()) for a in given), sum(a.size for a in given)
    if hi <= 1.1 or above <= total / 100:  # a 0-1 scale but for values past it (an overshoot)
        are = "is" if above == 1 else "are"
        return (
            f"{said} {above:,} of their {total:,} values {are} above 1, the rest within 0..1: if 1 is their "
            f"white, clip the values past it, np.clip(x, 0, 1)."
        )
    return (
        f"{said} If 16 is their white (scikit-learn's load_digits().images), give x * 255 / 16 (or "
        f"x / 16)."
    )


def _rescaled(dtype: np.dtype) -> bool:
    """Whether images of ``dtype`` may be on a scale of their own: floats, and integers read as 0-255
    values (not uint8, pixel values as they are, nor uint16, 16-bit images: :func:`to_uint8`)."""
    return dtype.kind in "fi" or (dtype.kind == "u" and dtype.itemsize > 2)


def split_images(
    images: ImageLike | Sequence[ImageLike], channels: int, side: tuple[int, int] | None = None
) -> list[ImageLike]:
    """One image or many as a list of images, each array that holds several split into them, so that
    an array means the same images alone or in a list. The rule, by shape: H×W is one grey image;
    H×W×C (C up to 4) one image; 1×H×W one grey image; 3×H×W one colour image (C×H×W) for a model of
    ``channels`` = 3, three grey images for a model of grey (1-channel) images; an H×W×C array whose H×W
    is the model's image ``side`` and whose C is not its width is one image of C channels, refused
    (UserError: a model takes 1 or 3); any other 3-D array is N grey images N×H×W; N×H×W×C and N×C×H×W
    are N images. A torch tensor is read as its array.

    An array of several images is brought to 0-255 as a whole (:func:`to_uint8`), as training reads the
    array it is given: the same array gives the model the same pixels in training and in prediction
    (floats spanning 0..2: every image rounded, not those within 0..1 scaled by 255). An image given
    alone is scaled by its own values."""
    out: list[ImageLike] = []
    for img in _listed(images):
        img = as_array(img)
        several = isinstance(img, np.ndarray) and _is_stack(img.shape, channels)
        if several and side is not None and _many_channels(img.shape, side):
            h, w, c = img.shape
            raise UserError(
                f"an image array of shape {img.shape} is one {h}×{w} image (the model's image side) of "
                f"{c} channels: give it 1 or 3 channels (H×W, H×W×C or C×H×W); for {h} grey images of "
                f"{w}×{c}, give them as a list (list(array))."
            )
        out.extend(list(to_uint8(img)) if several else [img])  # type: ignore[arg-type]
    return out


def _many_channels(shape: tuple[int, ...], side: tuple[int, int]) -> bool:
    """Whether a 3-D ``shape`` read as N×H×W is rather one image H×W×C of the model's ``side`` (H, W)
    with C other than W channels (:func:`split_images`'s rule; an N×H×W of that side ends in W)."""
    return len(shape) == 3 and tuple(shape[:2]) == tuple(side) and shape[2] != side[1]


def _listed(images: ImageLike | Sequence[ImageLike]) -> Sequence[ImageLike]:
    """One image (a path, PIL image, array or tensor, even one of several images) or a sequence of them,
    as a sequence."""
    import torch

    if isinstance(images, (str, Path, Image.Image, np.ndarray, torch.Tensor)) or not isinstance(
        images, Sequence
    ):
        return [images]  # type: ignore[list-item]
    return images


def _is_stack(shape: tuple[int, ...], channels: int) -> bool:
    """Whether an array of ``shape`` holds several images (:func:`split_images`'s rule)."""
    if len(shape) == 4:
        return True
    if len(shape) != 3 or shape[-1] <= 4 or shape[0] == 1:
        return False
    return shape[0] != 3 or channels == 1


def expand_folders(images: Sequence[ImageLike]) -> list[ImageLike]:
    """``images`` with each folder path replaced by the image files in it and its sub-folders, sorted
    (:func:`vislab.data.image_folders.image_files`: the files an image folder trains on); UserError naming a
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
