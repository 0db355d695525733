"""What :class:`~vislab.run.Run`'s methods take as images, checked: file paths (``predict_files``) and
images or arrays (``predict``, ``preprocess``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vislab.errors import UserError, show_note

if TYPE_CHECKING:
    import numpy as np

    from vislab.data.images import ImageLike


def file_paths(paths: Any) -> list[Path]:
    """:meth:`Run.predict_files`'s ``paths``: a path or paths, each as a ``Path``; UserError for anything
    else (an image or an array: that is :meth:`Run.predict`'s)."""
    listed = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    other = next((p for p in listed if not isinstance(p, (str, os.PathLike))), None)
    if other is not None:
        raise UserError(
            f"predict_files takes file and folder paths, not a {type(other).__name__}: classify PIL "
            f"images and arrays with run.predict."
        )
    return [Path(p) for p in listed]


def image_arrays(
    images: ImageLike | Sequence[ImageLike],
    shape: tuple[int, int, int],
    greys: dict[Path, bool] | None = None,
) -> list[np.ndarray]:
    """What :meth:`Run.predict` and :meth:`Run.preprocess` take, as uint8 H×W×C arrays of the run's image
    ``shape`` (C, H, W), one per image; UserError for a folder (:meth:`Run.predict_files`'s) or an
    unreadable image, a note for number images on another scale. ``greys``: where each image file's
    path is mapped to whether it holds only greys (:func:`~vislab.data.images.load_image`)."""
    from vislab.data.images import (
        image_array,
        low_range,
        split_images,
    )  # on use, as vislab.run imports them

    low = low_range(images)  # before split_images brings arrays of several images to 0-255
    listed = split_images(images, shape[0], shape[1:])  # arrays of several images: each one
    folder = next((p for p in listed if isinstance(p, (str, Path)) and Path(p).is_dir()), None)
    if folder is not None:
        raise UserError(
            f"'{folder}' is a folder: run.predict_files({str(folder)!r}) gives a table of its images by "
            f"file name (and the files it could not read); predict takes image files, PIL images "
            f"and arrays."
        )
    if low is not None:
        show_note(low)
    return [image_array(img, shape, greys) for img in listed]
