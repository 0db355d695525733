"""Your own images: data.root holds one sub-folder per class of PNG/JPEG files of any size.

Alternatively data.root holds split folders only: ``train/`` (and ``test/``, optionally ``val/``), each
with the class folders. A split folder's name is matched in any case, and ``training``,
``valid``/``validation`` and ``testing`` name the same splits; a split-named folder that holds images
directly (no sub-folders) is a class. A top level mixing split folders with other folders is refused.
Images are decoded once by :func:`vislab.data.images.fit_image` (as ``vislab predict`` decodes them:
grayscale if every image is grayscale, else RGB; deeper than 8 bits rescaled), resized to
``data.image_size`` square, and cached in ``data.root/.vislab-cache/`` as a .npz keyed by a hash of
the files' relative paths, sizes and mtimes and the image size: editing any file rebuilds the cache
(nothing is cached where data.root is read-only).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

from vislab.config import DataConfig
from vislab.data import download as dl
from vislab.data.images import IMAGE_EXTS, fit_image, image_files, is_grey
from vislab.data.sources.registry import register_source
from vislab.data.types import ArraySet, SourceData
from vislab.errors import DataError

SET_NAMES = ("train", "val", "test")
#: a split folder's name (lower-cased) → its split
SPLIT_FOLDERS = {
    **{s: s for s in SET_NAMES},
    **{"training": "train", "valid": "val", "validation": "val", "testing": "test"},
}
CACHE_DIR = ".vislab-cache"
CACHE_VERSION = 2  # 2: 16-bit images rescaled, JPEGs decoded at full size (as predict does)
MAX_LISTED = 10  # undecodable files named in the error; the rest are counted
LAYOUTS = (
    "vislab reads two layouts: one folder of images per class (DIR/cat/*.png, DIR/dog/*.jpg), or "
    "split folders only, each holding the class folders (DIR/train/cat/*.png, DIR/test/cat/*.png, "
    "optionally DIR/val/...)"
)

Layout = dict[str, dict[str, list[Path]]]  # set → class → image files
Labelled = tuple[np.ndarray, int]  # a decoded image and its class index


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


def scan(root: Path) -> Layout:
    """Find the class folders and their images (flat layout → a single 'train' set)."""
    if not root.is_dir():
        near = dl.near_misses(root)
        guess = f" Did you mean {' or '.join(repr(str(p)) for p in near)}?" if near else ""
        raise DataError(
            f"data.root '{root}' is not a folder.{guess} For data.name=folder, point data.root at a folder "
            f"with one sub-folder of images per class (e.g. {root}/cat/*.png, {root}/dog/*.jpg)."
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


def _decode(path: Path, size: int) -> np.ndarray:
    """One image → size×size uint8 H×W×C (C = 1 for a grey image, else 3), as predict decodes it."""
    with Image.open(path) as im:
        return fit_image(im, (1 if is_grey(im) else 3, size, size))


def _decode_all(layout: Layout, class_names: list[str], size: int) -> dict[str, list[Labelled]]:
    """Each set's (image, label) pairs; one DataError naming every file that cannot be decoded."""
    decoded: dict[str, list[Labelled]] = {}
    bad: list[str] = []
    for key, classes in layout.items():
        decoded[key] = []
        for c, files in classes.items():
            for p in files:
                try:
                    decoded[key].append((_decode(p, size), class_names.index(c)))
                except Exception as e:  # noqa: BLE001 - PIL raises many types for a bad file
                    reason = " ".join(str(e).replace(f"'{p}'", "").split())[:100]  # PIL names p
                    bad.append(f"{p} ({type(e).__name__}: {reason})")
    if bad:
        listed = "\n  ".join(bad[:MAX_LISTED])
        more = f"\n  ... and {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else ""
        raise DataError(
            f"{len(bad)} image file(s) cannot be decoded:\n  {listed}{more}\nDelete or replace them "
            f"(or move them out of data.root), then run again."
        )
    return decoded


def _file_names(layout: Layout) -> dict[str, np.ndarray]:
    """Each set's image paths in the order its samples are decoded (class by class, files sorted). Not
    cached: the scan that keys the cache gives them."""
    return {
        key: np.array([str(p) for files in classes.values() for p in files], dtype=object)
        for key, classes in layout.items()
    }


def _build(layout: Layout, class_names: list[str], size: int) -> dict[str, ArraySet]:
    """Every set as uint8 N×S×S×C: C = 1 if every image is grey, else 3 (grey images repeated)."""
    decoded = _decode_all(layout, class_names, size)
    all_grey = all(a.shape[-1] == 1 for items in decoded.values() for a, _ in items)
    names = _file_names(layout)
    return {
        key: ArraySet(
            np.stack([a if all_grey else np.repeat(a, 3 // a.shape[-1], -1) for a, _ in items]),
            np.array([y for _, y in items]),
            names[key],
        )
        for key, items in decoded.items()
    }


def _cache_key(root: Path, layout: Layout, size: int) -> str:
    entries = []
    for key, classes in layout.items():
        for c, files in classes.items():
            for p in files:
                st = p.stat()
                entries.append([key, c, p.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns])
    blob = json.dumps([CACHE_VERSION, size, entries]).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def _read_cache(path: Path, layout: Layout) -> dict[str, ArraySet] | None:
    """The cached sets, named by ``layout``'s files (the cache's key); None when it cannot be read."""
    names = _file_names(layout)
    try:
        with np.load(path, allow_pickle=False) as z:
            return {str(k): ArraySet(z[f"x_{k}"], z[f"y_{k}"], names[k]) for k in z["sets"]}
    except Exception:  # noqa: BLE001 - a damaged cache is simply rebuilt
        return None


def _write_cache(path: Path, sets: dict[str, ArraySet]) -> None:
    """Write atomically and drop stale caches; skipped quietly where the folder is read-only."""
    arrays = {"sets": np.array(list(sets))}
    for k, s in sets.items():
        arrays.update({f"x_{k}": s.x, f"y_{k}": s.y})
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(exist_ok=True)
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
        for old in path.parent.glob("images-*.npz"):
            if old != path:
                old.unlink()
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()


@register_source("folder")
def load_folder(cfg: DataConfig) -> SourceData:
    """Class-folder images as uint8 N×S×S×C (S = cfg.image_size, C = 1 or 3), class names = folder names;
    each set names its samples' files."""
    root = Path(cfg.root).expanduser()
    layout = scan(root)
    class_names = sorted(layout["train"])
    cache = root / CACHE_DIR / f"images-{_cache_key(root, layout, cfg.image_size)}.npz"
    sets = _read_cache(cache, layout) if cache.is_file() else None
    if sets is None:
        sets = _build(layout, class_names, cfg.image_size)
        _write_cache(cache, sets)
    wanted = ({"train", "val"} if "train" in cfg.use else set()) | (
        {"test"} if "test" in cfg.use else set()
    )
    sets = {k: v for k, v in sets.items() if k in wanted}
    if not sets:
        raise DataError(
            f"'{root}' has only {sorted(layout)} image sets but data.use={list(cfg.use)}. Add "
            f"'train' to data.use, or add a test/ folder with class sub-folders."
        )
    return SourceData(sets, class_names, files=[str(root)])
