"""``data.name=torchvision:<Class>``: any torchvision dataset already on disk, read once into arrays.

The class (e.g. SVHN, STL10, KMNIST, EMNIST, USPS) is constructed with ``root`` = ``data.root`` (or
its sub-folder named after the class, ``<root>/SVHN`` or ``<root>/svhn``, when that exists) and the
arguments in ``data.options``; its sets follow the class's convention — ``train=True/False``, else
``split='train'/'test'`` — or, for a class with neither (or when ``data.options`` names the set
itself), its one set is 'train' and val/test are carved from it. Files are never fetched unless
``data.download=true`` and they are missing. The images become uint8 N×H×W×C arrays as for
in-memory data (:mod:`vislab.data.sources.memory`: C×H×W transposed, floats in [0, 1] scaled).

torchvision's SVHN checks its ``.mat`` file's MD5 on every construction; vislab checks it only on a
file of the official size, as for its own sources, so that a subset (or a test fixture) is read and
checked by the reader instead.
"""

from __future__ import annotations

import difflib
import inspect
from pathlib import Path
from typing import Any

import numpy as np

from vislab.config import DataConfig
from vislab.data import download as dl
from vislab.data.sources.dataset_arrays import arrays_from_dataset
from vislab.data.sources.memory import as_inputs
from vislab.data.sources.memory_labels import as_labels
from vislab.data.sources.registry import register_source_prefix
from vislab.data.types import ArraySet, SourceData
from vislab.errors import ConfigError, DataError

PREFIX = "torchvision"
# Arguments vislab sets itself (root from data.root, download from data.download; no transforms).
RESERVED = {"root", "download", "transform", "target_transform", "transforms", "loader"}
ABSTRACT = {"VisionDataset", "DatasetFolder"}
SVHN_SIZES = {
    "train_32x32.mat": 182040794,
    "test_32x32.mat": 64275384,
    "extra_32x32.mat": 1329278602,
}


def _datasets() -> Any:
    # on use: torchvision.datasets takes seconds to import, and only this source needs it
    import torchvision.datasets

    return torchvision.datasets


def dataset_class(name: str) -> type:
    """The dataset class ``torchvision.datasets.<name>``; ConfigError listing close matches if none."""
    from torch.utils.data import Dataset  # on use, as torchvision (_datasets)

    tvd = _datasets()
    known = [
        n
        for n in tvd.__all__
        if isinstance(getattr(tvd, n, None), type) and n not in ABSTRACT  # bases, not datasets
    ]
    cls = getattr(tvd, name, None) if name in known else None
    if cls is None or not issubclass(cls, Dataset):
        near = [n for n in known if n.lower() == name.lower()] or difflib.get_close_matches(
            name, known, n=3, cutoff=0.5
        )
        hint = f" Did you mean {', '.join(f'torchvision:{n}' for n in near)}?" if near else ""
        raise ConfigError(
            f"data.name='{PREFIX}:{name}': torchvision.datasets has no dataset class '{name}'.{hint} "
            f"Image classification sets include SVHN, STL10, KMNIST, EMNIST, USPS, CIFAR100, "
            f"FashionMNIST (names are case-sensitive)."
        )
    return _svhn_size_gated(cls) if name == "SVHN" else cls


def _svhn_size_gated(cls: type) -> type:
    """SVHN whose MD5 check applies to official-size files only (module docstring)."""

    def _check_integrity(self: Any) -> bool:
        path = Path(self.root) / self.filename
        if not path.is_file():
            return False
        md5, fix = self.split_list[self.split][2], f"download it again from {self.url}"
        dl.check_official(path, SVHN_SIZES.get(path.name, -1), md5, fix=fix)
        return True

    return type(cls.__name__, (cls,), {"_check_integrity": _check_integrity})


def parameters(cls: type) -> dict[str, inspect.Parameter]:
    """The named constructor arguments of ``cls``, following ``**kwargs`` passed on to its bases (EMNIST
    takes ``split`` and passes ``train`` on to MNIST)."""
    params: dict[str, inspect.Parameter] = {}
    for klass in cls.__mro__:
        if "__init__" not in vars(klass) or klass is object:
            continue
        forwards = False
        for k, p in list(inspect.signature(klass.__init__).parameters.items())[1:]:
            forwards |= p.kind is p.VAR_KEYWORD
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                params.setdefault(k, p)
        if not forwards:
            break
    return params


def _set_kwargs(name: str, cls: type, cfg: DataConfig) -> dict[str, dict[str, Any]]:
    """Constructor arguments per set in ``cfg.use``, after checking ``data.options``."""
    params = parameters(cls)
    options = dict(cfg.options)
    valid = [k for k in params if k not in RESERVED]
    for key in options:
        if key in RESERVED or key not in params:
            near = difflib.get_close_matches(key, valid, n=1)
            why = (
                "vislab sets it (data.root, data.download; no transforms: vislab augments itself)"
                if key in RESERVED
                else f"torchvision.datasets.{name} takes no such argument"
                + (f" (did you mean data.options.{near[0]}?)" if near else "")
            )
            raise ConfigError(
                f"data.options.{key}: {why}. Its arguments: {', '.join(valid) or '(none)'}."
            )
    if "train" in params and "train" not in options:
        per_set = {"train": {"train": True}, "test": {"train": False}}
    elif "split" in params and "split" not in options:
        per_set = {"train": {"split": "train"}, "test": {"split": "test"}}
    else:
        per_set = {"train": {}}
    chosen = {k: {**v, **options} for k, v in per_set.items() if k in cfg.use}
    _check_required(name, cls, params, {k for v in chosen.values() for k in v})
    if not chosen:
        raise DataError(
            f"torchvision:{name} has a single set here, 'train', but data.use={list(cfg.use)}. "
            f"Add train to data.use (the val/test splits are carved from it)."
        )
    return chosen


def _check_required(name: str, cls: type, params: Any, given: set[str]) -> None:
    """ConfigError naming the constructor arguments without a default that nobody gives."""
    required = [k for k, p in params.items() if p.default is p.empty and k not in RESERVED | given]
    if required:
        choices = {k: getattr(cls, f"{k}s", None) for k in required}  # e.g. EMNIST.splits
        shown = [
            f"{k} (one of {', '.join(map(str, v))})" if isinstance(v, (tuple, list)) else k
            for k, v in choices.items()
        ]
        example = f"{required[0]}: {_first(choices[required[0]])}"
        raise ConfigError(
            f"torchvision.datasets.{name} needs {', '.join(shown)}, which vislab cannot guess: give "
            f"{'it' if len(required) == 1 else 'them'} under data.options (e.g. in YAML data: "
            f"{{options: {{{example}}}}}, or --set data.options.{required[0]}=...)."
        )


def _first(choices: Any) -> str:
    return str(choices[0]) if isinstance(choices, (tuple, list)) and choices else "..."


def _roots(name: str, root: Path) -> list[Path]:
    return [root, *(d for d in (root / name, root / name.lower()) if d.is_dir())]


def _construct(name: str, cls: type, cfg: DataConfig, kwargs: dict[str, Any]) -> Any:
    """The dataset object, from the first candidate root that holds its files (download if allowed)."""
    root = Path(cfg.root).expanduser()
    takes_download = "download" in parameters(cls)
    why = ""
    for r in _roots(name, root):
        try:
            return _call(name, cls, r, kwargs, download=False if takes_download else None)
        except _Missing as e:
            why = str(e)
    dl.require_root(root, f"torchvision:{name}")
    if takes_download and dl.may_download(cfg):
        return _call(name, cls, root, kwargs, download=True)
    searched = ", ".join(f"'{r}'" for r in _roots(name, root))
    which = ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) or "its default set"
    fetch = ", or set data.download=true to fetch them" if takes_download else ""
    raise DataError(
        f"torchvision:{name} data not found ({which}): looked under {searched}, where "
        f"torchvision.datasets.{name} expects its files (torchvision says: {why}). Put the files "
        f"{_layout(cls, root)}, or point data.root at the folder that holds them{fetch}."
        + _own_source_hint(name)
    )


# torchvision classes whose official files a source of vislab's reads as published (the .gz files)
OWN_SOURCES = {"MNIST": "mnist", "FashionMNIST": "fashion-mnist"}


def _layout(cls: type, root: Path) -> str:
    """Where ``cls`` reads its files under ``root``, in the words of the error message: the MNIST family's
    ``<root>/<Class>/raw/`` (its files, when the class lists them), a class's ``base_folder``, or
    torchvision's layout in general."""
    if isinstance(getattr(cls, "raw_folder", None), property):
        folder = f"'{root / cls.__name__ / 'raw'}'"
        if getattr(cls, "_check_exists", None) is not _datasets().MNIST._check_exists:
            return f"in {folder}, as torchvision lays them out"
        files = ", ".join(Path(file).stem for file, _ in cls.resources)  # x.gz → x
        return f"in {folder}: {files} (decompressed)"
    base = getattr(cls, "base_folder", None)
    if isinstance(base, str):
        return f"in '{root / base}', as torchvision lays them out"
    return "there as torchvision lays them out"


def _own_source_hint(name: str) -> str:
    own = OWN_SOURCES.get(name)
    if own is None:
        return ""
    return f" Or use data.name={own}, which reads the official .gz files as published."


class _Missing(Exception):
    """The dataset's files are not under this root."""


def _call(name: str, cls: type, root: Path, kwargs: dict[str, Any], download: bool | None) -> Any:
    extra = {} if download is None else {"download": download}
    try:
        return cls(root=str(root), **kwargs, **extra)
    except DataError:
        raise
    except FileNotFoundError as e:
        raise _Missing(str(e)) from None
    except RuntimeError as e:
        if "download=True" in str(e):  # its files are not there
            if not download:
                raise _Missing(str(e)) from None
            raise DataError(
                f"torchvision.datasets.{name} downloaded into '{root}' but still finds no files there "
                f"({' '.join(str(e).split())[:200]}): the download gave nothing usable. Check the network "
                f"connection (a proxy page in place of the file?) and run again, or put the official "
                f"files there by hand."
            ) from None
        raise _unreadable(name, root, e) from None
    except (ValueError, TypeError) as e:
        if "alid values" in str(e) or isinstance(e, TypeError):  # verify_str_arg, a wrong argument
            raise ConfigError(
                f"torchvision:{name} with {kwargs}: {e}. Check data.options."
            ) from None
        raise _unreadable(name, root, e) from None
    except OSError as e:
        if download:  # urllib's errors are OSErrors
            raise DataError(
                f"could not download torchvision:{name} into '{root}' ({type(e).__name__}: {e}). "
                f"Check the network connection and run again, or put the files there by hand."
            ) from None
        raise _unreadable(name, root, e) from None
    except Exception as e:  # noqa: BLE001 - readers of many formats raise many types for a bad file
        raise _unreadable(name, root, e) from None


def _unreadable(name: str, root: Path, e: BaseException) -> DataError:
    what = " ".join(str(e).split())[:300]
    return DataError(
        f"torchvision.datasets.{name} could not read its files under '{root}' ({type(e).__name__}: "
        f"{what}). A file is truncated or corrupt: delete the dataset's files and put the official "
        f"ones back (data.download=true fetches them)."
    )


def _arrays(ds: Any) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """(x, y, classes): straight from ``.data`` and ``.targets``/``.labels`` when the class keeps them
    as arrays, else by reading every (image, label) pair once."""
    import torch  # on use, as torchvision (_datasets)

    data = getattr(ds, "data", None)
    targets = getattr(ds, "targets", getattr(ds, "labels", None))
    if (
        isinstance(data, (np.ndarray, torch.Tensor))
        and str(data.dtype) in ("uint8", "torch.uint8")
        and targets is not None
        and len(data) == len(targets) == len(ds)
    ):
        return as_inputs(data), as_labels(targets, len(data)), getattr(ds, "classes", None)
    return arrays_from_dataset(ds)


@register_source_prefix(PREFIX)
def load_torchvision(name: str, cfg: DataConfig) -> SourceData:
    """The sets of ``torchvision.datasets.<name>`` in ``cfg.use``, read once into uint8 arrays."""
    cls = dataset_class(name)
    sets, classes = {}, None
    for key, kwargs in _set_kwargs(name, cls, cfg).items():
        ds = _construct(name, cls, cfg, kwargs)
        try:
            x, y, found = _arrays(ds)
        except DataError as e:
            raise DataError(f"torchvision:{name} ({key} set): {e}") from None
        except Exception as e:  # noqa: BLE001 - a dataset's __getitem__ may read its files lazily
            raise _unreadable(name, Path(cfg.root).expanduser(), e) from None
        sets[key], classes = ArraySet(x, y), classes or found
    k = max(int(s.y.max()) for s in sets.values()) + 1
    names = (
        [str(c) for c in classes] if classes and len(classes) >= k else [str(i) for i in range(k)]
    )
    return SourceData(sets, names, files=[str(Path(cfg.root).expanduser())])
