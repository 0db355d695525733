"""The config a run's checkpoint recorded as it trained (its ``config``, beside the weights), read without
torch and without running code: the tables read its settings over config.yaml's, which a hand can edit
since (:func:`recorded_settings`, ``settings.read_settings``), and a note names where they disagree
(:func:`edited_note`); and the flat settings the tables compare (:func:`flat_settings`). Only the
checkpoint's pickle is read (``data.pkl`` of torch's zip format), each tensor in it left unread; a
reference to anything but torch's tensor rebuilders, an ordered dict and the bytes of pickle's protocol 2
(a str encoded in latin-1) is refused, as ``training.checkpoint`` refuses it, and so is a pickle larger
than :data:`PICKLE_CAP` (a legacy, damaged or crafted file: no record; what a crafted one may allocate
stays within a small multiple of the cap)."""

from __future__ import annotations

import codecs
import collections
import io
import pickle
import zipfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from vislab.config import RESULT_NEUTRAL_KEYS, Config, as_stored, build_config
from vislab.errors import UserError
from vislab.experiments.results.cells import param_cell
from vislab.training.rundir import RunDir

# what a vislab checkpoint's pickle references: torch's rebuilders of tensors (left unread: None), and
# :data:`_ALLOWED`: ordered dicts, bytes (pickle's protocol 2 writes them as a str encoded in latin-1)
_TORCH = "torch"
# data.pkl's size (the pickle, not the tensors' data): a resnet18's last.pt on 10 classes holds 35 KB (a
# vit's 26 KB), and each epoch of its history adds about 0.2 KB + 9 bytes a class (val_per_class): 1 MiB
# holds a 1000-class run of 100 epochs. A larger one is not read (config.yaml's settings stand).
PICKLE_CAP = 1 << 20
WRITES_ONLY = (  # what a run writes beside its results: figures, step losses, gradient norms, curves
    "train.figures",
    "train.log_every",
    "train.track_grad_norm",
    "train.track_test",
    "train.eval_at_start",
)
# newest first: last.pt holds the config its last epoch trained with (a resume's --epochs included)
CHECKPOINTS = ("last.pt", "best.pt")


def _latin1(text: Any, encoding: Any = "latin1") -> bytes:
    """``_codecs.encode`` as pickle's protocol 2 (torch.save's) writes bytes: a str in latin-1, as long as
    the str; anything else refused (another codec, 'hex' nested, would double its input each time)."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode but of a str in latin-1: no vislab checkpoint")
    return codecs.encode(text, "latin1")


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("_codecs", "encode"): _latin1,
}


class _Unpickler(pickle.Unpickler):
    """Plain values and dicts; each tensor None; any other reference refused."""

    def find_class(self, module: str, name: str) -> Any:
        if module == _TORCH or module.startswith(f"{_TORCH}."):
            return _unread
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        raise pickle.UnpicklingError(f"{module}.{name} is no part of a vislab checkpoint")

    def persistent_load(self, pid: Any) -> None:  # a tensor's storage: not read
        return None


def _unread(*args: Any, **kwargs: Any) -> None:
    return None


def recorded_config(run_dir: Path) -> tuple[dict[str, Any], str] | None:
    """(the config tree, the file's name) that the run's newest checkpoint (:data:`CHECKPOINTS`)
    recorded; None where it has none, or none that can be read so."""
    for name in CHECKPOINTS:
        path = Path(run_dir) / "checkpoints" / name
        try:
            stat = path.stat()
        except OSError:
            continue
        tree = _config_of(str(path), stat.st_mtime_ns, stat.st_size)
        if tree is not None:
            return tree, name
    return None


@cache
def _config_of(path: str, mtime_ns: int, size: int) -> dict[str, Any] | None:
    """The ``config`` of checkpoint ``path`` (read once per version of the file: ``mtime_ns``, ``size``);
    None where its pickle is over :data:`PICKLE_CAP`, unpacked or as the zip says."""
    try:
        with zipfile.ZipFile(path) as z:
            pkl = next((i for i in z.infolist() if i.filename.endswith("/data.pkl")), None)
            if pkl is None or pkl.file_size > PICKLE_CAP:
                return None
            with z.open(pkl) as f:
                data = f.read(PICKLE_CAP + 1)
        small = 0 < len(data) <= PICKLE_CAP
        saved = _Unpickler(io.BytesIO(data)).load() if small else None
    except Exception:  # noqa: BLE001 - zipfile, pickle and the OS each raise their own: no record
        return None
    config = saved.get("config") if isinstance(saved, dict) else None
    return config if isinstance(config, dict) else None


def flat_settings(tree: dict, prefix: str = "") -> dict[str, Any]:
    """A config tree as {dotted key: value} (``{"optim": {"lr": 0.1}}`` → ``{"optim.lr": 0.1}``); lists
    are values (``model.hidden``: ``[64, 32]``), an empty mapping gives no key."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flat_settings(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def recorded_settings(run_dir: Path) -> tuple[dict[str, Any], str] | None:
    """The settings the run's newest checkpoint recorded as it trained (``recorded.recorded_config``),
    as :func:`flat_settings` — but where and how it ran (:data:`RESULT_NEUTRAL_KEYS`, :data:`WRITES_ONLY`,
    which a resume may change), and best.pt's train.epochs (a resume's --epochs trains on past it) —
    and that file's name; None without one that can be read."""
    got = recorded_config(run_dir)
    if got is None:
        return None
    tree, name = got
    try:
        flat = flat_settings(build_config(as_stored(tree), source=name).to_dict())
    except (UserError, ValueError):  # a config an older vislab recorded: config.yaml's stands
        return None
    told = ("train.epochs",) if name == "best.pt" else ()
    neutral = (*RESULT_NEUTRAL_KEYS, *WRITES_ONLY, *told)
    return {k: v for k, v in flat.items() if not k.startswith(neutral)}, name


def edited_settings(run_dir: Path, cfg: Config | None = None) -> str:
    """Where the run's config.yaml (``cfg``: as a build read it; None: read now) disagrees with what its
    checkpoint recorded (:func:`recorded_settings`), ``config.yaml says KEY VALUE, ...; checkpoints/FILE
    recorded VALUE, ...``; "" where they agree, or either cannot be read."""
    recorded = recorded_settings(run_dir)
    try:
        cfg = cfg if cfg is not None else RunDir(run_dir).load_config()
    except UserError:
        return ""
    if recorded is None or cfg is None:
        return ""
    (theirs, name), mine = recorded, flat_settings(cfg.to_dict())
    keys = [k for k in sorted(theirs) if k in mine and mine[k] != theirs[k]]
    if not keys:
        return ""
    said = ", ".join(f"{k} {_text(mine[k])}" for k in keys)
    return f"config.yaml says {said}; checkpoints/{name} recorded {', '.join(_text(theirs[k]) for k in keys)}"


def edited_note(run_dirs: Mapping[str, Path], configs: Mapping[str, Config] | None = None) -> str:
    """The line under a table whose runs' config.yaml disagree with their checkpoints (run → its
    folder; ``configs``: run → its config.yaml as a build read it, the others read now;
    :func:`edited_settings`): the tables show the checkpoints' settings; "" when none does."""
    configs = configs or {}
    edited = {n: e for n, d in run_dirs.items() if (e := edited_settings(d, configs.get(n)))}
    if not edited:
        return ""
    said = "; ".join(f"{n}: {e}" for n, e in edited.items())
    return (
        f"Settings edited since the run trained ({said}): the table shows what the checkpoint recorded, "
        f"as the run trained."
    )


def _text(value: Any) -> str:
    """A setting's value as the tables' notes print it (``settings.setting_text``)."""
    return "null" if value is None else param_cell(value)
