"""Opening an image file with PIL, in vislab's words: a file PIL cannot open or decode, or one too large
to decode, is a UserError naming it; a large one that PIL decodes with a warning gets a note naming it, once
per file and process."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from vislab.errors import UserError, show_note


def open_image(path: Path) -> Image.Image:
    """``PIL.Image.open(path)`` (its pixels decoded on first use; usable in ``with``), or UserError naming
    the file: unreadable, or too large (past twice PIL's ``Image.MAX_IMAGE_PIXELS``, its decompression-bomb
    limit). An image past ``MAX_IMAGE_PIXELS`` itself is opened with a :class:`~vislab.errors.Note` naming
    it, in place of PIL's ``DecompressionBombWarning`` (which names no file), once per file and process
    (a notebook predicting on the same file again)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
    except Exception as e:  # noqa: BLE001 - PIL's openers raise many types (OSError, SyntaxError, ...)
        raise unreadable(path, e) from None
    limit = Image.MAX_IMAGE_PIXELS
    if limit and img.width * img.height > limit and _first_opening(path):
        show_note(
            f"'{path}' is {_mpx(img.width * img.height)} Mpx, past PIL's warning size for decompression "
            f"bombs ({_mpx(limit)} Mpx): decoded all the same. Downscale it to decode it faster."
        )
    return img


# the large files noted, as (path, size, modification time): a file changed since is noted again
_NOTED_LARGE: set[tuple[str, int, int]] = set()


def _first_opening(path: Path) -> bool:
    """Whether the large image file ``path`` is opened for the first time (as it is now) in this process."""
    try:
        stat = os.stat(path)
    except (OSError, TypeError, ValueError):  # a file object, or gone: noted each time
        return True
    key = (os.path.realpath(path), stat.st_size, stat.st_mtime_ns)
    first = key not in _NOTED_LARGE
    _NOTED_LARGE.add(key)
    return first


def unreadable(path: Path, e: Exception) -> UserError:
    """The UserError for an image file PIL could not open or decode (``e``)."""
    if isinstance(e, Image.DecompressionBombError):
        size = re.search(r"\((\d+) pixels\)", str(e))  # PIL's message is the only place it says
        mpx = f"{_mpx(int(size[1]))} Mpx; " if size else ""
        limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
        return UserError(
            f"'{path}' is too large to decode ({mpx}PIL's limit: {_mpx(limit)} Mpx): downscale it."
        )
    if isinstance(e, UnidentifiedImageError):
        return UserError(
            f"'{path}' is not a readable image ({type(e).__name__}): give PNG/JPEG/BMP/... files."
        )
    return UserError(
        f"'{path}' is not a readable image ({type(e).__name__}: {str(e)[:120]}): give PNG/JPEG/BMP/... "
        f"files."
    )


def _mpx(pixels: int) -> str:
    """A pixel count in megapixels, as people write it: 196, 89, 1.5."""
    mpx = pixels / 1e6
    return f"{mpx:.0f}" if mpx >= 10 else f"{mpx:.2g}"
