"""MNIST and Fashion-MNIST from the four official IDX files (raw or ``.gz``), with our own IDX parser.
A file is gunzipped when its bytes are gzip's, whatever its name: a browser that decompressed a download
but kept its ``.gz`` name leaves the raw file, read as it is.

IDX layout: two zero bytes, a dtype code, the number of dimensions, one big-endian uint32 per
dimension, then the values (big-endian) — nothing after them. Files are searched in data.root,
data.root/<name> and torchvision's data.root/MNIST/raw (FashionMNIST/raw). Each set is decoded once,
then read from ``.npy`` files (``vislab.data.cache``: Fashion-MNIST 0.7 s → 0.03 s).
"""

from __future__ import annotations

import gzip
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vislab.config import DataConfig
from vislab.data import download as dl
from vislab.data.cache import cached_arrays
from vislab.data.sources.registry import register_source
from vislab.data.types import ArraySet, SourceData
from vislab.errors import DataError

_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
MAX_BYTES = 1 << 32  # refuse headers that declare more than 4 GiB of values
_CHUNK = 1 << 24
GZIP_MAGIC = b"\x1f\x8b"  # the first two bytes of every gzip file


def _bad(path: Path, why: str) -> DataError:
    return DataError(
        f"'{path}' is not a valid IDX file: {why}. It is truncated or corrupt (or not an IDX file): "
        f"delete it and put the official file in its place."
    )


def _read(f, n: int) -> bytes:
    """Up to ``n`` bytes, read in chunks (memory follows the file's real length, not the header's claim)."""
    parts, left = [], n
    while left > 0:
        chunk = f.read(min(left, _CHUNK))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _is_gzip(path: Path) -> bool:
    """Whether ``path`` holds gzip data (by its first bytes, not its name)."""
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file, raw or gzip-compressed (by its content) → numpy array in native byte order."""
    path = Path(path)
    try:
        with gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb") as f:
            head = _read(f, 4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0:
                raise _bad(path, f"wrong magic number {head.hex() or '(empty file)'}")
            if head[2] not in _DTYPES:
                raise _bad(path, f"unknown value type code 0x{head[2]:02x}")
            dtype, ndim = np.dtype(_DTYPES[head[2]]), head[3]
            if ndim == 0:
                raise _bad(path, "zero dimensions")
            raw_dims = _read(f, 4 * ndim)
            if len(raw_dims) < 4 * ndim:
                raise _bad(path, f"the header ends before its {ndim} dimensions")
            dims = tuple(int.from_bytes(raw_dims[i : i + 4], "big") for i in range(0, 4 * ndim, 4))
            nbytes = math.prod(dims) * dtype.itemsize
            if nbytes > MAX_BYTES:
                raise _bad(
                    path, f"its header declares {dims}, more than {MAX_BYTES >> 30} GiB of values"
                )
            body = _read(f, nbytes + 1)  # one byte more, to detect trailing data
    except DataError:
        raise
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise _bad(path, f"{type(e).__name__}: {e}") from None
    if len(body) != nbytes:
        what = "truncated" if len(body) < nbytes else "longer than its header says"
        raise _bad(
            path,
            f"{what}: dimensions {dims} need {nbytes} bytes of values, found "
            f"{len(body) if len(body) < nbytes else 'more'}",
        )
    return np.frombuffer(body, dtype).reshape(dims).astype(dtype.newbyteorder("="))


@dataclass(frozen=True)
class IdxDataset:
    title: str
    url: str
    folders: tuple[str, ...]  # sub-folders of data.root searched after data.root itself
    gz: dict[str, tuple[int, str]]  # official .gz (size, MD5) per file stem
    class_names: tuple[str, ...]


_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

MNIST = IdxDataset(
    "MNIST",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    ("mnist", "MNIST/raw", "MNIST"),
    {
        "train-images-idx3-ubyte": (9912422, "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        "train-labels-idx1-ubyte": (28881, "d53e105ee54ea40749a09fcbcd1e9432"),
        "t10k-images-idx3-ubyte": (1648877, "9fb629c4189551a2d022fa330f9573f3"),
        "t10k-labels-idx1-ubyte": (4542, "ec29112dd5afa0611ce80d1b7f02629c"),
    },
    tuple(str(d) for d in range(10)),
)
FASHION_MNIST = IdxDataset(
    "Fashion-MNIST",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ("fashion-mnist", "FashionMNIST/raw", "FashionMNIST", "fashion_mnist"),
    {
        "train-images-idx3-ubyte": (26421880, "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        "train-labels-idx1-ubyte": (29515, "25c81989df183df01b3e8a0aad5dffbe"),
        "t10k-images-idx3-ubyte": (4422102, "bef4ecab320f06d8554ea6380940ec79"),
        "t10k-labels-idx1-ubyte": (5148, "bb300cfdad3c16e7a12a480ee83cd310"),
    },
    (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
)


def _find(folders: list[Path], stem: str) -> Path | None:
    """The raw file (faster: no decompression) or else the .gz, in the first folder that has either."""
    for d in folders:
        for p in (d / stem, d / f"{stem}.gz"):
            if p.is_file():
                return p
    return None


def _decode_pair(ds: IdxDataset, images: Path, labels: Path) -> dict[str, np.ndarray]:
    """The pair's uint8 images (N×rows×cols) and labels, checked (and the official .gz files' MD5)."""
    for p in (images, labels):
        if p.suffix == ".gz":
            dl.check_official(
                p, *ds.gz[p.name[:-3]], fix=f"download it again from {ds.url}{p.name}"
            )
    pair = {"x": read_idx(images), "y": read_idx(labels)}
    _check_pair(ds, images, labels, pair)
    return pair


def _check_pair(ds: IdxDataset, images: Path, labels: Path, pair: dict[str, np.ndarray]) -> None:
    """DataError unless ``pair`` holds N×rows×cols uint8 images and N uint8 labels of ``ds``'s classes."""
    x, y = pair["x"], pair["y"]
    if x.dtype != np.uint8 or x.ndim != 3:
        raise _bad(images, f"expected N×rows×cols unsigned bytes, got {x.dtype} of shape {x.shape}")
    if y.dtype != np.uint8 or y.ndim != 1:
        raise _bad(labels, f"expected N unsigned-byte labels, got {y.dtype} of shape {y.shape}")
    if len(x) != len(y):
        raise DataError(
            f"'{images}' holds {len(x)} images but '{labels}' holds {len(y)} labels: they are not "
            f"a matching pair. Put the official files of the same set side by side."
        )
    if len(y) and y.max() >= len(ds.class_names):
        raise _bad(labels, f"label {y.max()} is out of range 0..{len(ds.class_names) - 1}")


def _load_pair(ds: IdxDataset, key: str, images: Path, labels: Path) -> ArraySet:
    """One set: decoded from its two files once, then read back from the cache (vislab.data.cache)."""
    pair = cached_arrays(
        f"{ds.title}-{key}",
        [images, labels],
        lambda: _decode_pair(ds, images, labels),
        lambda cached: _check_pair(ds, images, labels, cached),
    )
    return ArraySet(pair["x"][..., None], pair["y"].astype(np.int64))


def load_idx_dataset(cfg: DataConfig, ds: IdxDataset) -> SourceData:
    """Load the sets in ``cfg.use`` of an IDX dataset; fetch missing files when allowed (dl.may_download)."""
    root = Path(cfg.root).expanduser()
    folders = [root, *(root / f for f in ds.folders)]
    stems = [s for key in ("train", "test") if key in cfg.use for s in _FILES[key]]
    found = {s: _find(folders, s) for s in stems}
    missing = [s for s, p in found.items() if p is None]
    if missing:
        dl.require_root(root, ds.title, [f"{s}.gz" for s in missing], ds.url)
        present = [p.parent for p in found.values() if p is not None]
        target = present[0] if present else root / ds.folders[0]
        if not dl.may_download(cfg):
            files = [f"{s}.gz" for s in missing]
            hint = _test_set_only_hint(folders, missing)
            raise dl.missing_files(ds.title, files, target, ds.url, folders, hint)
        for s in missing:
            found[s] = dl.download(ds.url + f"{s}.gz", target / f"{s}.gz", ds.gz[s][1])
    sets = {
        key: _load_pair(ds, key, *(found[s] for s in _FILES[key]))
        for key in ("train", "test")
        if key in cfg.use
    }
    return SourceData(sets, list(ds.class_names), files=[str(p) for p in found.values()])


def _test_set_only_hint(folders: list[Path], missing: list[str]) -> str:
    """How to train on the test set alone, when only the train files are missing (the test set is here)."""
    test_here = all(_find(folders, s) is not None for s in _FILES["test"])
    if not test_here or not set(missing) <= set(_FILES["train"]):
        return ""
    return dl.test_set_only_hint(10_000)


@register_source("mnist")
def load_mnist(cfg: DataConfig) -> SourceData:
    """MNIST digits: 'train' (60k) and/or 'test' (10k) as N×28×28×1 uint8."""
    return load_idx_dataset(cfg, MNIST)


@register_source("fashion-mnist")
def load_fashion_mnist(cfg: DataConfig) -> SourceData:
    """Fashion-MNIST: 'train' (60k) and/or 'test' (10k) as N×28×28×1 uint8."""
    return load_idx_dataset(cfg, FASHION_MNIST)
