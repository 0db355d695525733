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
import unicodedata
from pathlib import Path

import numpy as np

from vislab.config import DataConfig
from vislab.data import download as dl
from vislab.data.cache import Arrays, keyed_arrays
from vislab.data.images import (
    DARK_DEEP,
    IMAGE_EXTS,
    OS_FILES,
    deep_max,
    fit_image,
    image_files,
    is_grey,
    open_image,
)
from vislab.data.sources.registry import register_source
from vislab.data.types import ArraySet, SourceData
from vislab.errors import DataError, UserError, show_note
from vislab.words import first_few

SET_NAMES = ("train", "val", "test")
#: a split folder's name (lower-cased) → its split
SPLIT_FOLDERS = {
    **{s: s for s in SET_NAMES},
    **{"training": "train", "valid": "val", "validation": "val", "testing": "test"},
}
# where the cache was kept before, inside data.root: removed when met
OLD_CACHE_DIR = ".vislab-cache"
# 2: 16-bit images rescaled, JPEGs decoded at full size (as predict does); 3: decoded straight to
# data.resize, the folder's grey flag kept, in the user's cache folder; 4: the 16-bit images' counts kept
CACHE_VERSION = 4
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


def scan(root: Path, evaluated: bool = False) -> Layout:
    """Find the class folders and their images (flat layout → a single 'train' set); class names are
    the folders' names in Unicode NFC (a name copied from macOS or a zip file matches the same name
    typed), the files their paths on disk. DataError for fewer than two classes unless ``evaluated`` (a
    trained run scores it: new images of one class); a :class:`~vislab.errors.Note` names the files
    beside the class folders, and the classes a test or val folder lacks."""
    if not root.is_dir():
        near = dl.near_misses(root)
        guess = f" Did you mean {' or '.join(repr(str(p)) for p in near)}?" if near else ""
        raise DataError(
            f"data.root '{root}' is not a folder.{guess} For data.name=folder, point data.root at a folder "
            f"with one sub-folder of images per class (e.g. {root}/cat/*.png, {root}/dog/*.jpg): "
            f"--set data.root=DIR, also with --resume (Python: data__root=DIR)."
        )
    by_set = _sets(root)
    if set(by_set) != {"train"} or by_set["train"] != root:
        _note_loose(root, "the split folders", by_set["train"])
    layout = {key: _classes(d) for key, d in by_set.items()}
    if not evaluated:
        _check_two(by_set["train"], layout["train"])
    for key, classes in layout.items():
        extra = sorted(set(classes) - set(layout["train"]))
        if extra:
            raise DataError(
                f"'{by_set[key]}' has class folders {extra} that '{by_set['train']}' lacks; every "
                f"class needs training images. Add them to train/ or remove them."
            )
        if lacking := sorted(set(layout["train"]) - set(classes)):
            _note_lacking(by_set[key], key, lacking, len(layout["train"]))
    return layout


def _classes(d: Path) -> dict[str, list[Path]]:
    """The image files of each class folder of ``d``, by class name (the folder's name in NFC)."""
    if not _subdirs(d):
        raise DataError(f"no class folders in '{d}'. For data.name=folder, {LAYOUTS}.")
    _note_loose(d, "the class folders", d)
    classes: dict[str, list[Path]] = {}
    folders: dict[str, Path] = {}
    for c in _subdirs(d):
        files = image_files(c)
        if not files:
            raise DataError(
                f"class folder '{c}' holds no images ({', '.join(IMAGE_EXTS)}). Add images "
                f"or remove the folder."
            )
        name = unicodedata.normalize("NFC", c.name)
        if name in folders:
            raise DataError(
                f"'{folders[name]}' and '{c}' name the same class {name!r} (its letters encoded two "
                f"ways, as copies from macOS or zip files may be): merge them into one folder."
            )
        classes[name], folders[name] = files, c
    return classes


def _note_loose(d: Path, beside: str, into: Path) -> None:
    """The note naming the files (a few, then how many more) that lie directly in ``d``, beside
    ``beside`` (its sub-folders), which no class holds: they are not used; images go in ``into``'s class
    folders."""
    loose = sorted(
        p.name
        for p in d.iterdir()
        if not p.is_dir() and not p.name.startswith(".") and p.name.lower() not in OS_FILES
    )
    if loose:
        n = len(loose)
        image = next((f for f in loose if Path(f).suffix.lower() in IMAGE_EXTS), "")
        show_note(
            f"{n} file{'s' if n > 1 else ''} in '{d}' lie{'s' if n == 1 else ''} beside {beside} and "
            f"{'are' if n > 1 else 'is'} not used ({first_few(loose, 5)}): an image must be in a "
            f"folder named by its class, to train on it (e.g. '{into / '<class>' / image}')."
        )


def _check_two(d: Path, classes: dict[str, list[Path]]) -> None:
    """DataError where ``d`` holds fewer than two class folders: a classifier of one class learns
    nothing (its loss is 0 from the start, its accuracy 1)."""
    if len(classes) < 2:
        (name,) = classes
        raise DataError(
            f"'{d}' holds a single class folder, {name!r} ({len(classes[name])} images): a classifier "
            f"needs at least two classes (with one, every prediction is right and nothing is "
            f"learnt). Put each class's images in a folder of its own beside it, at least two "
            f"(e.g. '{d}/{name}/', '{d}/other/'). {LAYOUTS}."
        )


def _note_lacking(d: Path, key: str, lacking: list[str], n_classes: int) -> None:
    """The note naming the classes of train that the ``key`` set's folder ``d`` has no folder of."""
    n = len(lacking)
    show_note(
        f"'{d}' has no folder for {n} of the {n_classes} classes ({first_few([repr(c) for c in lacking], 5)}): "
        f"the {key} scores (per-class accuracy too) leave {'it' if n == 1 else 'them'} out. Add "
        f"{d.name}/<class>/ images of {'it' if n == 1 else 'them'} to score every class."
    )


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
    dark = [hi for hi in deep if hi <= DARK_DEEP]
    arrays = {
        "grey": np.array(grey),
        "deep": np.array([len(deep), len(dark), max(dark, default=0)]),
    }
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
    n_deep, n_dark, hi = (int(v) for v in deep)
    if n_dark:
        show_note(
            f"{n_dark} of the {n_deep} 16-bit images in '{root}' use only values up to {hi} of 65535 "
            f"(8 or 12 bits saved as 16): vislab scales 16-bit images to 0-255 by dividing by 257 "
            f"(65535 is white, as image viewers show them), so these decode dark, at most "
            f"{round(hi / 257)} of 255, and the model sees near-black inputs (vislab predict decodes "
            f"them alike). Save them scaled to the full 16-bit range (12-bit values times 16), or as "
            f"8-bit images."
        )


@register_source("folder")
def load_folder(cfg: DataConfig, channels: int | None = None) -> SourceData:
    """Class-folder images as uint8 N×S×S×C (S = cfg.resize, else cfg.image_size; C = ``channels``, 1 or
    3, else 1 if every image is grey, else 3), class names = folder names; each set names its samples'
    files (``channels`` given: a run's, which scores the folder; one class is then allowed). A
    :class:`~vislab.errors.Note` when ``channels`` converts the folder's images."""
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
