"""Your own images: data.root holds one sub-folder per class of PNG/JPEG files of any size.

Alternatively data.root holds split folders only: ``train/`` (and ``test/``, optionally ``val/``), each
with the class folders. A split folder's name is matched in any case, and ``training``,
``valid``/``validation`` and ``testing`` name the same splits; a split-named folder that holds images
directly (no sub-folders) is a class. A top level mixing split folders with other folders is refused,
as are class folders holding split folders (``DIR/cat/test/``: laid out class first, their held-out
images would be trained on; a trained run scores them pooled). Copies of an image in two splits or
under two classes get a note (:mod:`vislab.data.duplicates`), once the splits are carved.
Images are decoded once by :func:`vislab.data.images.fit_image` (as ``vislab predict`` decodes them:
grayscale if every image is grayscale — :func:`~vislab.data.images.is_grey`: a grey-palette GIF and a
grey WebP count —, else RGB, or a run's own channels, when it is evaluated; transparent pixels laid on
white; deeper than 8 bits rescaled), straight from their full size to ``data.resize`` square (else
``data.image_size``), so that training, ``vislab predict`` and an export's recipe give one array. They
are cached in the user's cache folder (:mod:`vislab.data.cache`; nothing is written inside data.root),
one entry per folder, keyed by its resolved path, the files' relative paths, sizes and mtimes, the size
and the channels: editing any file rebuilds the entry.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

import numpy as np

from vislab.config import DataConfig
from vislab.data.cache import Arrays, keyed_arrays
from vislab.data.image_files import open_image
from vislab.data.images import (
    dark_counts,
    dark_note,
    deep_max,
    fit_image,
    is_grey,
)
from vislab.data.sources.folder_layout import Layout, scan
from vislab.data.sources.registry import register_source
from vislab.data.types import ArraySet, SourceData
from vislab.errors import DataError, UserError, show_note

# where the cache was kept before, inside data.root: removed when met
OLD_CACHE_DIR = ".vislab-cache"
# 2: 16-bit images rescaled, JPEGs decoded at full size (as predict does); 3: decoded straight to
# data.resize, the folder's grey flag kept, in the user's cache folder; 4: the 16-bit images' counts kept;
# 5: transparent pixels laid on white, grey-palette GIFs and grey WebPs counted grey
CACHE_VERSION = 5
MAX_LISTED = 10  # undecodable files named in the error; the rest are counted
Labelled = tuple[np.ndarray, int]  # a decoded image and its class index
Shape = tuple[int | None, int, int]  # (C, H, W) decoded; C None: each image's own (1 grey, else 3)


def _decode(path: Path, shape: Shape) -> tuple[np.ndarray, bool, int | None]:
    """One image → uint8 H×W×C of ``shape`` (C, H, W), as predict decodes it for a model of C channels
    (C None: 1 for a grey image, else 3), whether the image is grey, and its :func:`deep_max`."""
    c, h, w = shape
    with open_image(path) as im:
        grey = is_grey(im)
        return fit_image(im, (c or (1 if grey else 3), h, w)), grey, deep_max(im)


def _decode_all(
    layout: Layout, class_names: list[str], shape: Shape
) -> tuple[dict[str, list[Labelled]], bool, list[int]]:
    """Each set's (image, label) pairs, whether every image is grey and the 16-bit images' largest
    values (:func:`deep_max`); one DataError naming every file that cannot be decoded."""
    decoded: dict[str, list[Labelled]] = {}
    bad: list[str] = []
    grey, deep = True, []
    for key, classes in layout.items():
        decoded[key] = []
        for c, files in classes.items():
            for p in files:
                try:
                    image, image_grey, hi = _decode(p, shape)
                except UserError as e:  # open_image's: unreadable or too large, in its words
                    said = str(e).replace(f"'{p}' ", "")
                    bad.append(f"{p} ({said})")
                    continue
                except Exception as e:  # noqa: BLE001 - PIL raises many types for a bad file
                    reason = " ".join(str(e).replace(f"'{p}'", "").split())[:100]  # PIL names p
                    bad.append(f"{p} ({type(e).__name__}: {reason})")
                    continue
                decoded[key].append((image, class_names.index(c)))
                grey = grey and image_grey
                deep += [] if hi is None else [hi]
    if bad:
        listed = "\n  ".join(bad[:MAX_LISTED])
        more = f"\n  ... and {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else ""
        raise DataError(
            f"{len(bad)} image file(s) cannot be decoded:\n  {listed}{more}\nDelete or replace them "
            f"(or move them out of data.root), then run again."
        )
    return decoded, grey, deep


def _file_names(layout: Layout) -> dict[str, np.ndarray]:
    """Each set's image paths in the order its samples are decoded (class by class, files sorted). Not
    cached: the scan that keys the cache gives them."""
    return {
        key: np.array([str(p) for files in classes.values() for p in files], dtype=object)
        for key, classes in layout.items()
    }


def _build(layout: Layout, class_names: list[str], shape: Shape) -> Arrays:
    """Every set as ``x_<set>`` uint8 N×H×W×C (C = ``shape``'s, else 1 if every image is grey, else 3:
    grey images repeated) and ``y_<set>`` labels; ``grey``: whether every image is grey; ``deep``: how
    many images are 16-bit, how many of them decode dark, and the largest value of those."""
    decoded, grey, deep = _decode_all(layout, class_names, shape)
    channels = shape[0] or (1 if grey else 3)
    arrays = {"grey": np.array(grey), "deep": np.array(dark_counts(deep))}
    for key, items in decoded.items():
        arrays[f"x_{key}"] = np.stack([np.repeat(a, channels // a.shape[-1], -1) for a, _ in items])
        arrays[f"y_{key}"] = np.array([y for _, y in items], dtype=np.int64)
    return arrays


def _array_sets(arrays: Arrays, layout: Layout) -> dict[str, ArraySet]:
    """The sets of :func:`_build`'s arrays, named by ``layout``'s files; DataError when they do not fit
    the layout or lack the grey flag (a damaged cache entry, then decoded again)."""
    names = _file_names(layout)
    try:
        bool(arrays["grey"]), arrays["deep"]
        return {k: ArraySet(arrays[f"x_{k}"], arrays[f"y_{k}"], names[k]) for k in layout}
    except KeyError as e:
        raise DataError(f"no array {e} for the folder's sets") from None


def _cache_name(root: Path, channels: int | None) -> str:
    """The cache's name for this folder decoded to ``channels`` (None: its own); one entry each name:
    another size, or an edited file, replaces it."""
    real = root.resolve()
    named = f"folder-{real.name}-{hashlib.sha256(str(real).encode()).hexdigest()[:8]}"
    return f"{named}-as-{channels}-channels" if channels else named


def _cache_facts(root: Path, layout: Layout, shape: Shape) -> list:
    """What the decoded arrays depend on: the folder's resolved path, each file's set, class, relative
    path, size and mtime, and the decoded shape (cheap: no file is read)."""
    entries = []
    for key, classes in layout.items():
        for c, files in classes.items():
            for p in files:
                st = p.stat()
                entries.append([key, c, p.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns])
    return [CACHE_VERSION, str(root.resolve()), list(shape), entries]


def files_digest(root: Path, layout: Layout) -> str:
    """A hash of the folder's image files: each one's set, class, relative path and size (not its time:
    a copy of the folder is the same data). A run records it (:mod:`vislab.data.fingerprint`)."""
    h = hashlib.sha256()
    for key, classes in layout.items():
        for c, files in classes.items():
            for p in files:
                path = p.relative_to(root).as_posix()
                h.update(f"{key}\0{c}\0{path}\0{p.stat().st_size}\n".encode())
    return h.hexdigest()[:16]


def _drop_old_cache(root: Path) -> None:
    """Remove the cache earlier versions wrote inside data.root (torchvision's ImageFolder, and the
    user's own code, take its folder for a class); kept quietly where data.root is read-only."""
    old = root / OLD_CACHE_DIR
    if old.is_dir():
        with contextlib.suppress(OSError):
            for f in old.glob("images-*"):
                f.unlink()
            old.rmdir()


def _arrays(root: Path, layout: Layout, class_names: list[str], shape: Shape) -> Arrays:
    """:func:`_build`'s arrays, read from the cache while the files are unchanged."""
    return keyed_arrays(
        _cache_name(root, shape[0]),
        _cache_facts(root, layout, shape),
        lambda: _build(layout, class_names, shape),
        lambda found: _array_sets(found, layout),
    )


def _note_converted(root: Path, channels: int, grey: bool) -> None:
    """The Note that the folder's images are decoded to the model's ``channels``, not their own."""
    what = "only grey images" if grey else "colour images"
    into = (
        "RGB (3 channels, each grey value in R, G and B)"
        if channels == 3
        else "grey (1 channel, PIL mode L)"
    )
    show_note(
        f"'{root}' holds {what}: they are decoded as {into}, the inputs the model was trained on, as "
        f"vislab predict converts them."
    )


def _note_dark(root: Path, deep: np.ndarray) -> None:
    """The note for 16-bit images of ``root`` that use only a small part of their range (``deep``:
    :func:`_build`'s counts), which decode dark."""
    if note := dark_note(deep, f"in '{root}'", "vislab predict decodes them alike"):
        show_note(note)


@register_source("folder")
def load_folder(cfg: DataConfig, channels: int | None = None) -> SourceData:
    """Class-folder images as uint8 N×S×S×C (S = cfg.resize, else cfg.image_size; C = ``channels``, 1 or
    3, else 1 if every image is grey, else 3), class names = folder names; each set names its samples'
    files (``channels`` given: a run's, which scores the folder; one class is then allowed). A
    :class:`~vislab.errors.Note` when ``channels`` converts the folder's images (copies of an image are
    noted once the splits are carved: :func:`vislab.data.load_splits`)."""
    root = Path(cfg.root).expanduser()
    layout = scan(root, evaluated=channels is not None)
    class_names = sorted(layout["train"])
    size = cfg.resize or cfg.image_size
    arrays = _arrays(root, layout, class_names, (None, size, size))
    _drop_old_cache(root)
    _note_dark(root, arrays["deep"])
    grey = bool(arrays["grey"])
    if channels and channels != (1 if grey else 3):  # another run's inputs: decoded as predict does
        _note_converted(root, channels, grey)
        arrays = _arrays(root, layout, class_names, (channels, size, size))
    wanted = ({"train", "val"} if "train" in cfg.use else set()) | (
        {"test"} if "test" in cfg.use else set()
    )
    sets = {k: v for k, v in _array_sets(arrays, layout).items() if k in wanted}
    if not sets:
        raise DataError(
            f"'{root}' has only {sorted(layout)} image sets but data.use={list(cfg.use)}. Add "
            f"'train' to data.use, or add a test/ folder with class sub-folders."
        )
    return SourceData(sets, class_names, cfg.name, [str(root)], files_digest(root, layout))
