"""Your own images: data.root holds one sub-folder per class of PNG/JPEG files of any size.

Alternatively data.root holds ``train/`` (and ``test/``, optionally ``val/``), each with the class
folders. Images are decoded once (grayscale if every image is grayscale, else RGB), resized to
``data.image_size`` square, and cached in ``data.root/.vislab-cache/`` as a .npz keyed by a hash of
the files' relative paths, sizes and mtimes and the image size: editing any file rebuilds the cache.
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
from vislab.data.sources.registry import register_source
from vislab.data.types import ArraySet, SourceData
from vislab.errors import DataError

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
SET_NAMES = ("train", "val", "test")
CACHE_DIR = ".vislab-cache"
CACHE_VERSION = 1

Layout = dict[str, dict[str, list[Path]]]  # set → class → image files


def _subdirs(d: Path) -> list[Path]:
    return sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))


def _images(d: Path) -> list[Path]:
    """Image files under a class folder (recursively), hidden files and folders skipped."""
    return sorted(
        p
        for p in d.rglob("*")
        if p.suffix.lower() in IMAGE_EXTS
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(d).parts)
    )


def scan(root: Path) -> Layout:
    """Find the class folders and their images (flat layout → a single 'train' set)."""
    if not root.is_dir():
        near = dl.near_misses(root)
        guess = f" Did you mean {' or '.join(repr(str(p)) for p in near)}?" if near else ""
        raise DataError(
            f"data.root '{root}' is not a folder.{guess} For data.name=folder, point data.root at a folder "
            f"with one sub-folder of images per class (e.g. {root}/cat/*.png, {root}/dog/*.jpg)."
        )
    subs = _subdirs(root)
    names = {p.name for p in subs}
    by_set = (
        {s: root / s for s in SET_NAMES if s in names}
        if "train" in names and names <= set(SET_NAMES)
        else {"train": root}
    )
    layout: Layout = {}
    for key, d in by_set.items():
        layout[key] = {}
        for c in _subdirs(d):
            files = _images(c)
            if not files:
                raise DataError(
                    f"class folder '{c}' holds no images ({', '.join(sorted(IMAGE_EXTS))}). Add images "
                    f"or remove the folder."
                )
            layout[key][c.name] = files
    if not layout.get("train"):
        raise DataError(
            f"no class folders in '{by_set['train']}'. For data.name=folder, data.root needs one "
            f"sub-folder of images per class (optionally inside train/ and test/)."
        )
    for key, classes in layout.items():
        extra = sorted(set(classes) - set(layout["train"]))
        if extra:
            raise DataError(
                f"'{by_set[key]}' has class folders {extra} that '{by_set['train']}' lacks; every "
                f"class needs training images. Add them to train/ or remove them."
            )
    return layout


def _decode(path: Path, size: int) -> tuple[np.ndarray, bool]:
    """One image → (size×size uint8 array (H×W or H×W×3), whether it is grayscale)."""
    try:
        with Image.open(path) as im:
            im.draft(None, (size, size))  # JPEG: decode at a reduced scale when much larger
            gray = im.mode in GRAY_MODES
            im = im.convert("L" if gray else "RGB").resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(im, dtype=np.uint8), gray
    except Exception as e:  # noqa: BLE001 - PIL raises many types for a bad file
        raise DataError(
            f"cannot decode image '{path}' ({type(e).__name__}: {e}). Delete or replace the file "
            f"(or move it out of '{path.parent}')."
        ) from None


def _build(layout: Layout, class_names: list[str], size: int) -> dict[str, ArraySet]:
    decoded = {
        key: [
            (_decode(p, size), class_names.index(c)) for c, files in classes.items() for p in files
        ]
        for key, classes in layout.items()
    }
    all_gray = all(gray for items in decoded.values() for (_, gray), _ in items)
    sets = {}
    for key, items in decoded.items():
        x = np.stack(
            [
                a if all_gray or a.ndim == 3 else np.repeat(a[..., None], 3, -1)
                for (a, _), _ in items
            ]
        )
        sets[key] = ArraySet(x[..., None] if all_gray else x, np.array([y for _, y in items]))
    return sets


def _cache_key(root: Path, layout: Layout, size: int) -> str:
    entries = []
    for key, classes in layout.items():
        for c, files in classes.items():
            for p in files:
                st = p.stat()
                entries.append([key, c, p.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns])
    blob = json.dumps([CACHE_VERSION, size, entries]).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def _read_cache(path: Path) -> dict[str, ArraySet] | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {str(k): ArraySet(z[f"x_{k}"], z[f"y_{k}"]) for k in z["sets"]}
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
    """Class-folder images as uint8 N×S×S×C (S = cfg.image_size, C = 1 or 3), class names = folder names."""
    root = Path(cfg.root).expanduser()
    layout = scan(root)
    class_names = sorted(layout["train"])
    cache = root / CACHE_DIR / f"images-{_cache_key(root, layout, cfg.image_size)}.npz"
    sets = _read_cache(cache) if cache.is_file() else None
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
