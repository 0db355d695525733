"""CIFAR-10 from the official ``cifar-10-batches-py`` pickle batches, or the official tarball.

Split as in the reports: data_batch_1..4 → train (40k), data_batch_5 → val (10k), test_batch → test (10k).
Batches are read with a restricted unpickler (no code runs), checked for shape and labels, and —
when a file has its official size — for its official MD5 (cached, see ``vislab.data.download``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from vislab.config import DataConfig
from vislab.data import download as dl
from vislab.data.safe_pickle import load_pickle
from vislab.data.safe_tar import safe_extract
from vislab.data.sources.registry import register_source
from vislab.data.types import ArraySet, SourceData
from vislab.errors import DataError

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
TARBALL = "cifar-10-python.tar.gz"
TARBALL_SIZE, TARBALL_MD5 = 170498071, "c58f30108f718f92721af3b95e74349a"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4"]
VAL_BATCH, TEST_BATCH, META = "data_batch_5", "test_batch", "batches.meta"
# Official (size in bytes, MD5) of each batch file.
OFFICIAL = {
    "data_batch_1": (31035704, "c99cafc152244af753f735de768cd75f"),
    "data_batch_2": (31035320, "d4bba439e000b95fd0a9bffe97cbabec"),
    "data_batch_3": (31035999, "54ebc095f3ab1f0389bbae665268c751"),
    "data_batch_4": (31035696, "634d18415352ddfa80567beed471001a"),
    "data_batch_5": (31035623, "482c414d41f54cd18b22e5b47cb7c3cb"),
    "test_batch": (31035526, "40351d587109b95175f43aff81a1287e"),
}
CLASS_NAMES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]
_FIX = f"put the official file from {URL} (in {TARBALL}) in its place"


def _bad(path: Path, why: str) -> DataError:
    return DataError(
        f"'{path}' is not a valid CIFAR-10 batch: {why}. The file is truncated or corrupt: "
        f"delete it and {_FIX}."
    )


def _get(obj: dict, key: str):
    return obj[key.encode()] if key.encode() in obj else obj.get(key)


def read_cifar_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch → (uint8 N×32×32×3 images, int64 labels in 0..9); DataError if malformed."""
    path = Path(path)
    obj = load_pickle(path)
    if not isinstance(obj, dict):
        raise _bad(path, f"it holds a {type(obj).__name__}, not a dict with 'data' and 'labels'")
    data, labels = _get(obj, "data"), _get(obj, "labels")
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or data.shape[1] != 3072
    ):
        desc = (
            f"{data.dtype} array of shape {data.shape}"
            if isinstance(data, np.ndarray)
            else type(data).__name__
        )
        raise _bad(path, f"'data' must be an N×3072 uint8 array, got {desc}")
    if isinstance(labels, np.ndarray) and labels.ndim == 1 and labels.dtype.kind in "iu":
        labels = labels.tolist()
    # Check every label in Python before numpy sees them (nested lists could expand enormously).
    if not (isinstance(labels, list) and all(type(v) is int for v in labels)) or not 0 < len(
        labels
    ) == len(data):
        raise _bad(
            path,
            f"'labels' must be a list of {len(data)} integers, got a {type(labels).__name__}"
            + (f" of length {len(labels)}" if isinstance(labels, list) else ""),
        )
    wrong = [v for v in labels if not 0 <= v <= 9]
    if wrong:
        raise _bad(
            path,
            f"labels must lie in 0..9, found {wrong[0] if abs(wrong[0]) < 10**6 else 'a huge number'}",
        )
    y = np.array(labels, dtype=np.int64)
    x = np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return x, y


def read_cifar_meta(path: str | Path) -> list[str]:
    """Class names from ``batches.meta`` (``label_names``)."""
    path = Path(path)
    obj = load_pickle(path)
    names = _get(obj, "label_names") if isinstance(obj, dict) else None
    if (
        not isinstance(names, list)
        or len(names) != 10
        or not all(isinstance(n, (bytes, str)) for n in names)
    ):
        raise DataError(
            f"'{path}' is not a valid CIFAR-10 batches.meta (no list of 10 'label_names'): delete it "
            f"and {_FIX}."
        )
    return [n.decode("utf-8", "replace") if isinstance(n, bytes) else n for n in names]


def _candidates(root: Path) -> list[Path]:
    return [root, root / FOLDER, root / "cifar10" / FOLDER, root / "cifar-10" / FOLDER]


def _extract(tarball: Path) -> Path:
    """Check and safely extract the tarball next to itself; return its ``cifar-10-batches-py`` folder."""
    dl.check_official(tarball, TARBALL_SIZE, TARBALL_MD5, fix=f"download it again from {URL}")
    tmp = Path(tempfile.mkdtemp(prefix=".vislab-extract-", dir=tarball.parent))
    try:
        safe_extract(tarball, tmp)
        src, dst = tmp / FOLDER, tarball.parent / FOLDER
        if not src.is_dir():
            raise DataError(
                f"'{tarball}' has no '{FOLDER}' folder: it is not the CIFAR-10 python tarball. "
                f"Delete it and download {URL}."
            )
        dst.mkdir(exist_ok=True)
        for f in src.iterdir():  # rename into place: no half-extracted folder under the final name
            os.replace(f, dst / f.name)
        return dst
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _locate(root: Path, needed: list[str], download: bool) -> Path:
    """The folder holding every needed batch: found, extracted from a tarball, or downloaded."""
    for d in _candidates(root):
        if all((d / n).is_file() for n in needed):
            return d
    tarballs = [
        p
        for p in (root / TARBALL, root / "cifar10" / TARBALL, root / "cifar-10" / TARBALL)
        if p.is_file()
    ]
    if not tarballs and download:
        tarballs = [dl.download(URL, root / TARBALL, TARBALL_MD5)]
    if tarballs:
        folder = _extract(tarballs[0])
        lacking = [n for n in needed if not (folder / n).is_file()]
        if lacking:
            raise DataError(
                f"'{tarballs[0]}' lacks {', '.join(lacking)}: it is not the official CIFAR-10 tarball. "
                f"Delete it and download {URL}."
            )
        return folder
    best = max(_candidates(root), key=lambda d: sum((d / n).is_file() for n in needed))
    if not any((best / n).is_file() for n in needed):
        best = root / FOLDER
    missing = [n for n in needed if not (best / n).is_file()]
    raise DataError(
        f"CIFAR-10 data not found under '{root}': missing {', '.join(missing)} in '{best}'. Put the official "
        f"python batches ({', '.join(needed)}, plus {META}) in '{best}', or the official tarball {TARBALL} in "
        f"'{root}', from {URL} — or set data.download=true to fetch it, or point data.root at the folder."
    )


@register_source("cifar10")
def load_cifar10(cfg: DataConfig) -> SourceData:
    """CIFAR-10 sets: 'train' (batches 1–4) + 'val' (batch 5) if ``train`` in cfg.use; 'test' if ``test``."""
    root = Path(cfg.root).expanduser()
    groups = {}
    if "train" in cfg.use:
        groups.update(train=TRAIN_BATCHES, val=[VAL_BATCH])
    if "test" in cfg.use:
        groups["test"] = [TEST_BATCH]
    folder = _locate(root, [n for names in groups.values() for n in names], cfg.download)
    sets, files = {}, []
    for key, names in groups.items():
        parts = []
        for n in names:
            path = folder / n
            dl.check_official(path, *OFFICIAL[n], fix=_FIX)
            parts.append(read_cifar_batch(path))
            files.append(str(path))
        sets[key] = ArraySet(
            np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        )
    meta = folder / META
    names = read_cifar_meta(meta) if meta.is_file() else list(CLASS_NAMES)
    return SourceData(sets, names, files=files)
