"""CIFAR-10 and CIFAR-100 from the official python pickles (``cifar-10-batches-py``,
``cifar-100-python``), or the official tarballs, through one reader.

CIFAR-10 is split as in the reports: data_batch_1..4 → train (40k), data_batch_5 → val (10k),
test_batch → test (10k). CIFAR-100 has ``train`` (50k) and ``test`` (10k) — val is carved from train
with ``data.val_fraction`` — and ``meta`` with the class names; ``data.label_mode`` picks its 100 fine
labels (default) or its 20 coarse superclasses. Files are read with a restricted unpickler (no code
runs), checked for shape and labels, and against their official MD5 (hashed once, cached, see
``vislab.data.download``): CIFAR-10's batches when they have their official size, CIFAR-100's
``train``/``test`` when they are large enough to hold the official set, both tarballs at their
official size. CIFAR-100's small ``meta`` is checked for its structure (100 fine, 20 coarse names).
Each set is decoded once, then read from ``.npy`` files (``vislab.data.cache``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vislab.config import DEFAULT_DATA_ROOT, DataConfig
from vislab.data import download as dl
from vislab.data.cache import cached_arrays
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

URL_100 = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
TARBALL_100 = "cifar-100-python.tar.gz"
TARBALL_100_SIZE, TARBALL_100_MD5 = 169001437, "eb9058c3a382ffc7106e4002c42a8d85"
# Official MD5 of CIFAR-100's train/test pickles, checked on any file big enough to hold the official
# set (50,000 / 10,000 images of 3,072 bytes): a smaller file is a subset (or a test fixture).
MD5_100 = {
    "train": (50000 * 3072, "16019d7e3df5f24257cddd939b257f8d"),
    "test": (10000 * 3072, "f0ef6b0ae62326f3e7ffdfab6717acfc"),
}


@dataclass(frozen=True)
class CifarFormat:
    """Where one CIFAR variant's pickles live and what they hold."""

    title: str
    url: str
    tarball: str
    tarball_size: int
    tarball_md5: str
    folder: str  # the folder inside the tarball
    aliases: tuple[str, ...]  # sub-folders of data.root also searched for the folder and tarball
    sets: Mapping[str, tuple[str, ...]]  # set → pickle files
    meta: str
    label_key: str  # key of the labels in a pickle
    names_key: str  # key of the class names in the meta pickle
    n_classes: int
    official: Mapping[str, tuple[int, str]]  # file → (exact official size, MD5)
    md5_from: Mapping[str, tuple[int, str]]  # file → (size from which its MD5 is checked, MD5)
    default_names: tuple[str, ...] = ()  # class names when the meta file is absent (() = required)

    @property
    def fix(self) -> str:
        return f"put the official file from {self.url} (in {self.tarball}) in its place"


def cifar10_format() -> CifarFormat:
    """CIFAR-10's format (built on use, so that tests may patch the module's constants)."""
    return CifarFormat(
        title="CIFAR-10", url=URL, tarball=TARBALL, tarball_size=TARBALL_SIZE,
        tarball_md5=TARBALL_MD5, folder=FOLDER, aliases=("cifar10", "cifar-10"),
        sets={"train": tuple(TRAIN_BATCHES), "val": (VAL_BATCH,), "test": (TEST_BATCH,)},
        meta=META, label_key="labels", names_key="label_names", n_classes=10,
        official=OFFICIAL, md5_from={}, default_names=tuple(CLASS_NAMES),
    )  # fmt: skip


def cifar100_format(label_mode: str = "fine") -> CifarFormat:
    """CIFAR-100's format with its ``fine`` (100) or ``coarse`` (20) labels."""
    return CifarFormat(
        title="CIFAR-100", url=URL_100, tarball=TARBALL_100, tarball_size=TARBALL_100_SIZE,
        tarball_md5=TARBALL_100_MD5, folder="cifar-100-python", aliases=("cifar100", "cifar-100"),
        sets={"train": ("train",), "test": ("test",)}, meta="meta",
        label_key=f"{label_mode}_labels", names_key=f"{label_mode}_label_names",
        n_classes=100 if label_mode == "fine" else 20, official={}, md5_from=MD5_100,
    )  # fmt: skip


def _bad(fmt: CifarFormat, path: Path, why: str) -> DataError:
    return DataError(
        f"'{path}' is not a valid {fmt.title} batch: {why}. The file is truncated or corrupt: "
        f"delete it and {fmt.fix}."
    )


def _get(obj: dict, key: str):
    return obj[key.encode()] if key.encode() in obj else obj.get(key)


def _images(fmt: CifarFormat, path: Path, data: object) -> np.ndarray:
    """The N×3072 uint8 'data' array as N×32×32×3 images."""
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
        raise _bad(fmt, path, f"'data' must be an N×3072 uint8 array, got {desc}")
    return np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))


def read_cifar_batch(
    path: str | Path, fmt: CifarFormat | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch → (uint8 N×32×32×3 images, int64 labels in 0..n_classes-1); DataError if
    malformed. ``fmt`` says which labels to read (default: CIFAR-10's)."""
    path, fmt = Path(path), fmt or cifar10_format()
    obj = load_pickle(path)
    key = fmt.label_key
    if not isinstance(obj, dict):
        raise _bad(
            fmt, path, f"it holds a {type(obj).__name__}, not a dict with 'data' and '{key}'"
        )
    data, labels = _get(obj, "data"), _get(obj, key)
    x = _images(fmt, path, data)
    labels = _labels(fmt, path, labels, len(x))
    wrong = [v for v in labels if not 0 <= v < fmt.n_classes]
    if wrong:
        found = wrong[0] if abs(wrong[0]) < 10**6 else "a huge number"
        raise _bad(fmt, path, f"labels must lie in 0..{fmt.n_classes - 1}, found {found}")
    return x, np.array(labels, dtype=np.int64)


def _labels(fmt: CifarFormat, path: Path, labels: object, n: int) -> list[int]:
    """The ``n`` labels as Python ints: the official list of them, or numpy integers (a hand-made batch
    may hold either, in a list or a 1-D array); DataError naming what else was found."""
    if isinstance(labels, np.ndarray) and labels.ndim == 1 and labels.dtype.kind in "iu":
        labels = labels.tolist()
    key = fmt.label_key
    if not isinstance(labels, list) or not 0 < len(labels) == n:
        length = f" of length {len(labels)}" if isinstance(labels, list) else ""
        raise _bad(
            fmt,
            path,
            f"'{key}' must be a list of {n} integers, got a {type(labels).__name__}{length}",
        )
    # Check every label in Python before numpy sees them (nested lists could expand enormously).
    odd = next((i for i, v in enumerate(labels) if not _is_integer(v)), None)
    if odd is not None:
        v = labels[odd]
        shown = f" ({repr(v)[:40]})" if isinstance(v, (str, bytes, float, np.generic)) else ""
        raise _bad(
            fmt,
            path,
            f"'{key}' must be a list of {n} integers, but item {odd} is a {type(v).__name__}{shown}",
        )
    return [int(v) for v in labels]


def _is_integer(v: object) -> bool:
    """A Python or numpy integer (not a bool, which is no class index)."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def read_cifar_meta(path: str | Path, fmt: CifarFormat | None = None) -> list[str]:
    """Class names from the meta pickle (CIFAR-10's ``batches.meta`` ``label_names`` by default)."""
    path, fmt = Path(path), fmt or cifar10_format()
    obj = load_pickle(path)
    names = _get(obj, fmt.names_key) if isinstance(obj, dict) else None
    if (
        not isinstance(names, list)
        or len(names) != fmt.n_classes
        or not all(isinstance(n, (bytes, str)) for n in names)
    ):
        raise DataError(
            f"'{path}' is not a valid {fmt.title} {fmt.meta} (no list of {fmt.n_classes} "
            f"'{fmt.names_key}'): delete it and {fmt.fix}."
        )
    return [n.decode("utf-8", "replace") if isinstance(n, bytes) else n for n in names]


def _candidates(fmt: CifarFormat, root: Path) -> list[Path]:
    return [root, root / fmt.folder, *(root / a / fmt.folder for a in fmt.aliases)]


def _extract(fmt: CifarFormat, tarball: Path) -> Path:
    """Check and safely extract the tarball next to itself; return its data folder."""
    dl.check_official(
        tarball, fmt.tarball_size, fmt.tarball_md5, fix=f"download it again from {fmt.url}"
    )
    tmp = Path(tempfile.mkdtemp(prefix=".vislab-extract-", dir=tarball.parent))
    try:
        safe_extract(tarball, tmp)
        src, dst = tmp / fmt.folder, tarball.parent / fmt.folder
        if not src.is_dir():
            raise DataError(
                f"'{tarball}' has no '{fmt.folder}' folder: it is not the {fmt.title} python "
                f"tarball. Delete it and download {fmt.url}."
            )
        dst.mkdir(exist_ok=True)
        for f in src.iterdir():  # rename into place: no half-extracted folder under the final name
            os.replace(f, dst / f.name)
        return dst
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _locate(fmt: CifarFormat, root: Path, needed: list[str], download: bool) -> Path:
    """The folder holding every needed file: found, extracted from a tarball, or downloaded."""
    for d in _candidates(fmt, root):
        if all((d / n).is_file() for n in needed):
            return d
    tarballs = [
        p
        for p in (root / fmt.tarball, *(root / a / fmt.tarball for a in fmt.aliases))
        if p.is_file()
    ]
    if not tarballs:
        dl.require_root(root, fmt.title, [*needed, f"or {fmt.tarball}"], fmt.url)
        if download:
            tarballs = [dl.download(fmt.url, root / fmt.tarball, fmt.tarball_md5)]
    if tarballs:
        folder = _extract(fmt, tarballs[0])
        lacking = [n for n in needed if not (folder / n).is_file()]
        if lacking:
            raise DataError(
                f"'{tarballs[0]}' lacks {', '.join(lacking)}: it is not the official {fmt.title} "
                f"tarball. Delete it and download {fmt.url}."
            )
        return folder
    best = max(_candidates(fmt, root), key=lambda d: sum((d / n).is_file() for n in needed))
    if not any((best / n).is_file() for n in needed):
        best = root / fmt.folder
    missing = [n for n in needed if not (best / n).is_file()]
    extra = "" if fmt.meta in needed else f", plus {fmt.meta}"
    looked = ", ".join(f"'{d}'" for d in _candidates(fmt, root))
    test_only = set(missing) <= {n for k, names in fmt.sets.items() if k != "test" for n in names}
    test_here = all((best / n).is_file() for n in fmt.sets["test"])
    hint = f" {dl.test_set_only_hint(10_000)}" if test_only and test_here else _deeper(fmt, root)
    raise DataError(
        f"{fmt.title} data not found under '{root}' (looked in {looked}): missing {', '.join(missing)} "
        f"in '{best}'. Put the official python batches ({', '.join(needed)}{extra}) in '{best}', or the "
        f"official tarball {fmt.tarball} in '{root}', from {fmt.url} — or set data.download=true to fetch "
        f"it (data.download=auto fetches only into the default folder '{DEFAULT_DATA_ROOT}'), or point "
        f"data.root at the folder.{hint}"
    )


def _deeper(fmt: CifarFormat, root: Path) -> str:
    """Where the dataset's folder lies one level below ``root`` (data.root one folder too high)."""
    try:
        found = sorted(d for d in root.glob(f"*/{fmt.folder}") if d.is_dir())
    except OSError:
        return ""
    return f" It is in '{found[0]}': set data.root={found[0].parent}." if found else ""


def _check_file(fmt: CifarFormat, path: Path) -> None:
    """The official MD5 of a file that is (or is as large as) the official one."""
    if path.name in fmt.official:
        dl.check_official(path, *fmt.official[path.name], fix=fmt.fix)
    elif path.name in fmt.md5_from and path.stat().st_size >= fmt.md5_from[path.name][0]:
        dl.check_md5(path, fmt.md5_from[path.name][1], fix=fmt.fix)


def _decode_set(fmt: CifarFormat, paths: list[Path]) -> dict[str, np.ndarray]:
    """A set's batches, checked (official MD5s too) and joined: uint8 images N×32×32×3 and uint8 labels."""
    parts = []
    for path in paths:
        _check_file(fmt, path)
        parts.append(read_cifar_batch(path, fmt))
    x, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    return {"x": x, "y": y.astype(np.uint8)}  # at most 100 classes


def _check_cached(fmt: CifarFormat, cached: dict[str, np.ndarray]) -> None:
    """DataError unless ``cached`` is what _decode_set returns (a damaged cache entry is decoded again)."""
    x, y = cached["x"], cached["y"]
    if x.dtype != np.uint8 or x.shape[1:] != (32, 32, 3) or y.dtype != np.uint8 or y.ndim != 1:
        raise DataError(f"cached {fmt.title} arrays of {x.dtype}{x.shape}, {y.dtype}{y.shape}")
    if not 0 < len(x) == len(y) or y.max() >= fmt.n_classes:
        raise DataError(f"cached {fmt.title} set of {len(x)} images, {len(y)} labels")


def load_cifar(cfg: DataConfig, fmt: CifarFormat) -> SourceData:
    """The sets of ``fmt`` that ``cfg.use`` asks for ('train' also brings an official 'val' set); each set
    is decoded once, then read from the cache (vislab.data.cache)."""
    root = Path(cfg.root).expanduser()
    wanted = {"train": "train" in cfg.use, "val": "train" in cfg.use, "test": "test" in cfg.use}
    groups = {k: names for k, names in fmt.sets.items() if wanted[k]}
    needed = [n for names in groups.values() for n in names]
    needed += [] if fmt.default_names else [fmt.meta]
    folder = _locate(fmt, root, needed, dl.may_download(cfg))
    sets, files = {}, []
    for key, names in groups.items():
        paths = [folder / n for n in names]
        arrays = cached_arrays(
            f"{fmt.title}-{key}-{fmt.label_key}",
            paths,
            lambda paths=paths: _decode_set(fmt, paths),
            lambda cached: _check_cached(fmt, cached),
        )
        sets[key] = ArraySet(arrays["x"], arrays["y"].astype(np.int64))
        files += [str(p) for p in paths]
    meta = folder / fmt.meta
    names = read_cifar_meta(meta, fmt) if meta.is_file() else list(fmt.default_names)
    return SourceData(sets, names, files=files)


@register_source("cifar10")
def load_cifar10(cfg: DataConfig) -> SourceData:
    """CIFAR-10 sets: 'train' (batches 1–4) + 'val' (batch 5) if ``train`` in cfg.use; 'test' if ``test``."""
    return load_cifar(cfg, cifar10_format())


@register_source("cifar100")
def load_cifar100(cfg: DataConfig) -> SourceData:
    """CIFAR-100 sets: 'train' (50k) if ``train`` in cfg.use, 'test' (10k) if ``test``; fine or coarse
    labels (``data.label_mode``), class names from ``meta``."""
    return load_cifar(cfg, cifar100_format(cfg.label_mode))
