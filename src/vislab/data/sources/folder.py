"""Your own images: data.root holds one sub-folder per class of PNG/JPEG files of any size.

Alternatively data.root holds split folders only: ``train/`` (and ``test/``, optionally ``val/``), each
with the class folders. A split folder's name is matched in any case, and ``training``,
``valid``/``validation`` and ``testing`` name the same splits; a split-named folder that holds images
directly (no sub-folders) is a class. A top level mixing split folders with other folders is refused.
Images are decoded once by :func:`vislab.data.images.fit_image` (as ``vislab predict`` decodes them:
grayscale if every image is grayscale, else RGB — or a run's own channels, when it is evaluated; deeper
than 8 bits rescaled), straight from their full size to ``data.resize`` square (else
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
from vislab.data import download as dl
from vislab.data.cache import Arrays, keyed_arrays
from vislab.data.images import IMAGE_EXTS, fit_image, image_files, is_grey, open_image
from vislab.data.sources.registry import register_source
from vislab.data.types import ArraySet, SourceData
from vislab.errors import DataError, UserError, show_note

SET_NAMES = ("train", "val", "test")
#: a split folder's name (lower-cased) → its split
SPLIT_FOLDERS = {
    **{s: s for s in SET_NAMES},
    **{"training": "train", "valid": "val", "validation": "val", "testing": "test"},
}
# where the cache was kept before, inside data.root: removed when met
OLD_CACHE_DIR = ".vislab-cache"
# 2: 16-bit images rescaled, JPEGs decoded at full size (as predict does); 3: decoded straight to
# data.resize, the folder's grey flag kept, in the user's cache folder
CACHE_VERSION = 3
MAX_LISTED = 10  # undecodable files named in the error; the rest are counted
LAYOUTS = (
    "vislab reads two layouts: one folder of images per class (DIR/cat/*.png, DIR/dog/*.jpg), or "
    "split folders only, each holding the class folders (DIR/train/cat/*.png, DIR/test/cat/*.png, "
    "optionally DIR/val/...)"
)

Layout = dict[str, dict[str, list[Path]]]  # set → class → image files
Labelled = tuple[np.ndarray, int]  # a decoded image and its class index
Shape = tuple[int | None, int, int]  # (C, H, W) decoded; C None: each image's own (1 grey, else 3)


def _subdirs(d: Path) -> list[Path]:
    return sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))


def _split_of(d: Path) -> str | None:
    """The split a top-level folder stands for: a split name (any case) unless it holds images and no
    sub-folders (then it is a class, e.g. CIFAR-100's 'train'); None for any other name."""
    split = SPLIT_FOLDERS.get(d.name.lower())
    return split if split and (_subdirs(d) or not image_files(d)) else None


def _sets(root: Path) -> dict[str, Path]:
    """Each set's folder, in SET_NAMES order: root's split folders, or root itself as 'train' (flat)."""
    splits = {d: _split_of(d) for d in _subdirs(root)}
    found = ", ".join(f"{d.name}/" for d, split in splits.items() if split)
    if not found:
        return {"train": root}
    others = ", ".join(f"{d.name}/" for d, split in splits.items() if not split)
    flat = [d for d, split in splits.items() if not split and d.name.lower() in SPLIT_FOLDERS]
    if flat:
        raise _flat_split(root, flat[0], next(d for d, split in splits.items() if split))
    if others:
        raise DataError(
            f"data.root '{root}' mixes split folders ({found}) with other folders ({others}). "
            f"{LAYOUTS}. Move the other folders out of '{root}', or point data.root at a folder of "
            f"class folders."
        )
    by_set: dict[str, Path] = {}
    for d, split in splits.items():
        if split in by_set:
            raise DataError(
                f"'{by_set[split]}' and '{d}' both hold the {split} split: merge them into one "
                f"{split}/ folder."
            )
        by_set[str(split)] = d
    if "train" not in by_set:
        raise DataError(
            f"data.root '{root}' has split folders ({found}) but no train/: every class needs "
            f"training images. {LAYOUTS}."
        )
    return {s: by_set[s] for s in SET_NAMES if s in by_set}


def _flat_split(root: Path, flat: Path, split: Path) -> DataError:
    """The error for a split folder that holds its images directly (``test/*.png``) beside split folders
    of class folders: its images have no class."""
    classes = [d.name for d in _subdirs(split)][:2] or ["cat", "dog"]
    eg = ", ".join(f"{flat.name}/{c}/" for c in classes)
    return DataError(
        f"data.root '{root}' has split folders of class folders ({split.name}/), but '{flat}' holds "
        f"its images directly, so they have no class. Put {flat.name}/'s images into one folder per "
        f"class, {flat.name}/<class>/ (e.g. {eg}, as in {split.name}/)."
    )


def scan(root: Path) -> Layout:
    """Find the class folders and their images (flat layout → a single 'train' set)."""
    if not root.is_dir():
        near = dl.near_misses(root)
        guess = f" Did you mean {' or '.join(repr(str(p)) for p in near)}?" if near else ""
        raise DataError(
            f"data.root '{root}' is not a folder.{guess} For data.name=folder, point data.root at a folder "
            f"with one sub-folder of images per class (e.g. {root}/cat/*.png, {root}/dog/*.jpg): "
            f"--set data.root=DIR, also with --resume (Python: data__root=DIR)."
        )
    by_set = _sets(root)
    layout: Layout = {}
    for key, d in by_set.items():
        layout[key] = {}
        if not _subdirs(d):
            raise DataError(f"no class folders in '{d}'. For data.name=folder, {LAYOUTS}.")
        for c in _subdirs(d):
            files = image_files(c)
            if not files:
                raise DataError(
                    f"class folder '{c}' holds no images ({', '.join(IMAGE_EXTS)}). Add images "
                    f"or remove the folder."
                )
            layout[key][c.name] = files
    for key, classes in layout.items():
        extra = sorted(set(classes) - set(layout["train"]))
        if extra:
            raise DataError(
                f"'{by_set[key]}' has class folders {extra} that '{by_set['train']}' lacks; every "
                f"class needs training images. Add them to train/ or remove them."
            )
    return layout


def _decode(path: Path, shape: Shape) -> tuple[np.ndarray, bool]:
    """One image → uint8 H×W×C of ``shape`` (C, H, W), as predict decodes it for a model of C channels
    (C None: 1 for a grey image, else 3), and whether the image is grey."""
    c, h, w = shape
    with open_image(path) as im:
        grey = is_grey(im)
        return fit_image(im, (c or (1 if grey else 3), h, w)), grey


def _decode_all(
    layout: Layout, class_names: list[str], shape: Shape
) -> tuple[dict[str, list[Labelled]], bool]:
    """Each set's (image, label) pairs and whether every image is grey; one DataError naming every file
    that cannot be decoded."""
    decoded: dict[str, list[Labelled]] = {}
    bad: list[str] = []
    grey = True
    for key, classes in layout.items():
        decoded[key] = []
        for c, files in classes.items():
            for p in files:
                try:
                    image, image_grey = _decode(p, shape)
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
    if bad:
        listed = "\n  ".join(bad[:MAX_LISTED])
        more = f"\n  ... and {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else ""
        raise DataError(
            f"{len(bad)} image file(s) cannot be decoded:\n  {listed}{more}\nDelete or replace them "
            f"(or move them out of data.root), then run again."
        )
    return decoded, grey


def _file_names(layout: Layout) -> dict[str, np.ndarray]:
    """Each set's image paths in the order its samples are decoded (class by class, files sorted). Not
    cached: the scan that keys the cache gives them."""
    return {
        key: np.array([str(p) for files in classes.values() for p in files], dtype=object)
        for key, classes in layout.items()
    }


def _build(layout: Layout, class_names: list[str], shape: Shape) -> Arrays:
    """Every set as ``x_<set>`` uint8 N×H×W×C (C = ``shape``'s, else 1 if every image is grey, else 3:
    grey images repeated) and ``y_<set>`` labels; ``grey``: whether every image is grey."""
    decoded, grey = _decode_all(layout, class_names, shape)
    channels = shape[0] or (1 if grey else 3)
    arrays = {"grey": np.array(grey)}
    for key, items in decoded.items():
        arrays[f"x_{key}"] = np.stack([np.repeat(a, channels // a.shape[-1], -1) for a, _ in items])
        arrays[f"y_{key}"] = np.array([y for _, y in items], dtype=np.int64)
    return arrays


def _array_sets(arrays: Arrays, layout: Layout) -> dict[str, ArraySet]:
    """The sets of :func:`_build`'s arrays, named by ``layout``'s files; DataError when they do not fit
    the layout or lack the grey flag (a damaged cache entry, then decoded again)."""
    names = _file_names(layout)
    try:
        bool(arrays["grey"])
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


@register_source("folder")
def load_folder(cfg: DataConfig, channels: int | None = None) -> SourceData:
    """Class-folder images as uint8 N×S×S×C (S = cfg.resize, else cfg.image_size; C = ``channels``, 1 or
    3, else 1 if every image is grey, else 3), class names = folder names; each set names its samples'
    files. A :class:`~vislab.errors.Note` when ``channels`` converts the folder's images."""
    root = Path(cfg.root).expanduser()
    layout = scan(root)
    class_names = sorted(layout["train"])
    size = cfg.resize or cfg.image_size
    arrays = _arrays(root, layout, class_names, (None, size, size))
    _drop_old_cache(root)
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
