"""Writers of SMALL test datasets in the REAL on-disk formats (import with ``from fixtures import ...``).

- CIFAR-10: pickle batches byte-for-byte in the style of the official files (Python 2 ``cPickle``
  protocol 2: byte-string keys, ``numpy.core.multiarray._reconstruct``), ``batches.meta``, and the
  ``cifar-10-python.tar.gz`` tarball made from them.
- MNIST / Fashion-MNIST: IDX files, raw or gzip-compressed.
- CIFAR-100: ``train``/``test``/``meta`` pickles in the same Python 2 style, and its tarball.
- torchvision layouts: KMNIST's ``KMNIST/raw`` IDX files, SVHN's ``<split>_32x32.mat``.
- Image folders: one sub-folder per class, PNG and JPEG of mixed sizes.
- Hostile files: a pickle that runs a shell command, tarballs that try to escape their folder.
- A process harness (``Zygote``) that forks real ``vislab ...`` processes in milliseconds, and the short
  training run (``KILL_ARGS``) that the kill/resume and run-directory lock tests interrupt.

Every writer is deterministic for a seed and returns what it wrote, for comparisons.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tarfile
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np

CIFAR_CLASSES = [
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
CIFAR_BATCHES = [
    "data_batch_1",
    "data_batch_2",
    "data_batch_3",
    "data_batch_4",
    "data_batch_5",
    "test_batch",
]
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


# ------------------------------------------------------------------ Python-2-style pickle writer
def _py2_str(s: bytes) -> bytes:
    """A Python 2 ``str`` (read back as ``bytes`` with encoding='bytes')."""
    return b"U" + bytes([len(s)]) + s if len(s) < 256 else b"T" + struct.pack("<I", len(s)) + s


def _py2_int(v: int) -> bytes:
    if 0 <= v < 256:
        return b"K" + bytes([v])
    if 0 <= v < 65536:
        return b"M" + struct.pack("<H", v)
    return b"J" + struct.pack("<i", v)


def _py2_obj(v) -> bytes:
    if isinstance(v, bytes):
        return _py2_str(v)
    if isinstance(v, str):
        return _py2_str(v.encode())
    if isinstance(v, (bool, type(None))):
        return {True: b"\x88", False: b"\x89", None: b"N"}[v]
    if isinstance(v, int):
        return _py2_int(v)
    if isinstance(v, list):
        return b"](" + b"".join(_py2_obj(i) for i in v) + b"e" if v else b"]"
    if isinstance(v, dict):
        return b"}(" + b"".join(_py2_obj(k) + _py2_obj(x) for k, x in v.items()) + b"u"
    if isinstance(v, np.ndarray):  # what numpy 1.x under Python 2 wrote for a uint8 array
        assert v.dtype == np.uint8
        dims = b"(" + b"".join(_py2_int(d) for d in v.shape) + b"t"
        dtype = (
            b"cnumpy\ndtype\n"
            + _py2_str(b"u1")
            + b"K\x00K\x01\x87R"
            + b"(K\x03"
            + _py2_str(b"|")
            + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
        )
        return (
            b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85"
            + _py2_str(b"b")
            + b"\x87R"
            + b"(K\x01"
            + dims
            + dtype
            + b"\x89"
            + _py2_str(np.ascontiguousarray(v).tobytes())
            + b"tb"
        )
    raise TypeError(type(v))


def py2_pickle(obj) -> bytes:
    """Pickle ``obj`` (dicts, lists, str/bytes, ints, uint8 arrays) as Python 2 cPickle protocol 2 did."""
    return b"\x80\x02" + _py2_obj(obj) + b"."


# ------------------------------------------------------------------------------------- CIFAR-10
def cifar_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random 32×32×3 uint8 images and labels cycling through the 10 classes (shuffled)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), rng.permutation(np.arange(n) % 10)


def cifar_batch_bytes(
    x: np.ndarray, y, batch_label: str = "training batch 1 of 5", data=None
) -> bytes:
    """The bytes of an official-style batch file; ``data`` overrides the N×3072 array (to make bad files)."""
    rows = x.transpose(0, 3, 1, 2).reshape(len(x), 3072) if data is None else data
    return py2_pickle(
        {
            b"batch_label": batch_label.encode(),
            b"labels": [int(v) for v in y],
            b"data": rows,
            b"filenames": [f"img_{i:05d}.png".encode() for i in range(len(y))],
        }
    )


def write_cifar_batch(
    path: str | Path, n: int = 20, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """One batch file of ``n`` images; returns (x N×32×32×3, y)."""
    x, y = cifar_images(n, seed)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(cifar_batch_bytes(x, y, f"batch {Path(path).name}"))
    return x, y


def write_cifar_meta(path: str | Path, names: list[str] = CIFAR_CLASSES) -> None:
    Path(path).write_bytes(
        py2_pickle(
            {
                b"num_cases_per_batch": 10000,
                b"label_names": [n.encode() for n in names],
                b"num_vis": 3072,
            }
        )
    )


def write_cifar(
    folder: str | Path,
    n: int = 20,
    seed: int = 0,
    files: list[str] = CIFAR_BATCHES,
    meta: bool = True,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The batch files (``n`` images each) and ``batches.meta`` in ``folder`` itself; returns data per file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {name: write_cifar_batch(folder / name, n, seed + i) for i, name in enumerate(files)}
    if meta:
        write_cifar_meta(folder / "batches.meta")
    (folder / "readme.html").write_text("<meta HTTP-EQUIV='REFRESH' content='0; url=...'>\n")
    return out


def write_cifar_tarball(
    path: str | Path, n: int = 20, seed: int = 0
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``cifar-10-python.tar.gz``-style archive (members under ``cifar-10-batches-py/``)."""
    return _tarball(path, "cifar-10-batches-py", lambda folder: write_cifar(folder, n, seed))


def _tarball(path: str | Path, member: str, write):
    """A .tar.gz at ``path`` of the folder ``member`` that ``write(folder)`` fills; what write returns."""
    path = Path(path)
    staging = path.parent / f".staging-{path.name}"
    out = write(staging / member)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        tar.add(staging / member, arcname=member)
    for f in sorted(staging.rglob("*"), reverse=True):
        f.rmdir() if f.is_dir() else f.unlink()
    staging.rmdir()
    return out


# ------------------------------------------------------------------------------------ CIFAR-100
CIFAR100_FINE = [f"fine_{i:02d}" for i in range(100)]
CIFAR100_COARSE = [f"coarse_{i:02d}" for i in range(20)]


def cifar100_pickle_bytes(
    x: np.ndarray, fine, coarse, batch_label: str = "training batch 1 of 1"
) -> bytes:
    """The bytes of an official-style ``cifar-100-python/train`` or ``test`` pickle (Python 2 cPickle)."""
    return py2_pickle(
        {
            b"filenames": [f"img_{i:05d}.png".encode() for i in range(len(x))],
            b"batch_label": batch_label.encode(),
            b"fine_labels": [int(v) for v in fine],
            b"coarse_labels": [int(v) for v in coarse],
            b"data": x.transpose(0, 3, 1, 2).reshape(len(x), 3072),
        }
    )


def write_cifar100(
    folder: str | Path,
    n: int = 30,
    seed: int = 0,
    files: tuple[str, ...] = ("train", "test"),
    meta: bool = True,
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``train``/``test`` pickles (``n`` images each) and ``meta`` in ``folder``; returns (x, fine, coarse)
    per file. Fine labels cycle through 0..99; coarse label = fine // 5."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for i, name in enumerate(files):
        rng = np.random.default_rng(seed + i)
        x = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        fine = rng.permutation(np.arange(n) % 100)
        (folder / name).write_bytes(cifar100_pickle_bytes(x, fine, fine // 5, f"{name} batch"))
        out[name] = (x, fine, fine // 5)
    if meta:
        (folder / "meta").write_bytes(
            py2_pickle(
                {
                    b"fine_label_names": [n.encode() for n in CIFAR100_FINE],
                    b"coarse_label_names": [n.encode() for n in CIFAR100_COARSE],
                }
            )
        )
    (folder / "file.txt~").write_text("")  # the official tarball ships this editor backup too
    return out


def write_cifar100_tarball(path: str | Path, n: int = 30, seed: int = 0) -> dict:
    """``cifar-100-python.tar.gz``-style archive (members under ``cifar-100-python/``)."""
    return _tarball(path, "cifar-100-python", lambda folder: write_cifar100(folder, n, seed))


# ------------------------------------------------------------------------------------------ IDX
_IDX_CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(np.int16): 0x0B,
    np.dtype(np.int32): 0x0C,
    np.dtype(np.float32): 0x0D,
    np.dtype(np.float64): 0x0E,
}


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of ``array`` (uint8/int8/int16/int32/float32/float64)."""
    code = _IDX_CODES[array.dtype]
    head = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return head + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path: str | Path, array: np.ndarray) -> Path:
    """Write ``array`` as IDX, gzip-compressed when ``path`` ends in .gz."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    return path


def mnist_arrays(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.permutation(
        np.arange(n) % 10
    ).astype(np.uint8)


def write_mnist(
    folder: str | Path,
    n_train: int = 30,
    n_test: int = 20,
    seed: int = 0,
    gz: bool = True,
    sets: tuple[str, ...] = ("train", "test"),
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The MNIST-named IDX files of ``sets`` in ``folder``; returns (images N×28×28, labels) per set."""
    out = {}
    for i, key in enumerate(sets):
        x, y = mnist_arrays(n_train if key == "train" else n_test, seed + i)
        ext = ".gz" if gz else ""
        write_idx(Path(folder) / (MNIST_FILES[key][0] + ext), x)
        write_idx(Path(folder) / (MNIST_FILES[key][1] + ext), y)
        out[key] = (x, y)
    return out


def write_kmnist(
    root: str | Path, n_train: int = 30, n_test: int = 20, seed: int = 0
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """KMNIST as torchvision's download leaves it: ``root/KMNIST/raw/`` with each IDX file both
    gzip-compressed (as published) and extracted (what ``torchvision.datasets.KMNIST`` reads)."""
    raw = Path(root) / "KMNIST" / "raw"
    out = write_mnist(raw, n_train, n_test, seed, gz=True)
    write_mnist(raw, n_train, n_test, seed, gz=False)
    return out


def write_svhn_mat(
    folder: str | Path, split: str = "train", n: int = 24, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """SVHN's ``<split>_32x32.mat`` (MATLAB v5, as published): X 32×32×3×N uint8, y N×1 with label 10
    for the digit 0. Returns (images N×32×32×3, digits 0..9)."""
    import scipy.io

    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    digits = rng.permutation(np.arange(n) % 10)
    Path(folder).mkdir(parents=True, exist_ok=True)
    mat = {
        "X": np.ascontiguousarray(x.transpose(1, 2, 3, 0)),
        "y": np.where(digits == 0, 10, digits).astype(np.uint8)[:, None],
    }
    scipy.io.savemat(Path(folder) / f"{split}_32x32.mat", mat)
    return x, digits


# --------------------------------------------------------------------------------- image folder
def write_image_folder(
    root: str | Path,
    classes: tuple[str, ...] = ("cat", "dog", "frog"),
    per_class: int = 4,
    seed: int = 0,
    gray: bool = False,
) -> dict[str, list[Path]]:
    """``root/<class>/*.png|*.jpg`` with mixed sizes (alternating PNG and JPEG); returns files per class."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    out: dict[str, list[Path]] = {}
    for c in classes:
        (Path(root) / c).mkdir(parents=True, exist_ok=True)
        out[c] = []
        for i in range(per_class):
            h, w = int(rng.integers(12, 40)), int(rng.integers(12, 40))
            shape = (h, w) if gray else (h, w, 3)
            img = Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8))
            path = Path(root) / c / f"{c}_{i}.{'png' if i % 2 == 0 else 'jpg'}"
            img.save(path)
            out[c].append(path)
    return out


def write_pngs(folder: Path, n: int, level: int, seed: int = 0) -> None:
    """``n`` 8×8 grey PNGs of brightness about ``level`` in ``folder``."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        pixels = np.clip(rng.integers(0, 60, (8, 8)) + level, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:03d}.png")


# ------------------------------------------------------------------------------------- hostile
class _RunsCommand:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def evil_pickle_bytes(marker: str | Path) -> bytes:
    """A pickle that, when loaded by plain ``pickle.load``, runs ``touch <marker>`` via ``os.system``."""
    import pickle

    return pickle.dumps({b"data": _RunsCommand(f"touch '{marker}'"), b"labels": []}, protocol=2)


def evil_py2_pickle_bytes(marker: str | Path) -> bytes:
    """The same attack written the Python 2 way: ``cos\\nsystem\\n`` (GLOBAL os.system) then REDUCE."""
    return b"\x80\x02}(U\x04datacos\nsystem\n" + _py2_str(f"touch '{marker}'".encode()) + b"\x85Ru."


def write_evil_tarball(
    path: str | Path, kind: str, target: str | Path, outside: str | Path
) -> Path:
    """A .tar.gz whose ``kind`` member tries to escape: 'dotdot', 'absolute', 'symlink', 'symlink-chain',
    'hardlink', 'hardlink-relative' or 'fifo'. It aims at the absolute folder ``outside`` when
    extracted into ``target``."""
    outside = Path(outside)

    def member(
        name: str, data: bytes = b"pwned\n", **attrs
    ) -> tuple[tarfile.TarInfo, io.BytesIO | None]:
        info = tarfile.TarInfo(name)
        info.size = len(data) if attrs.get("type", tarfile.REGTYPE) == tarfile.REGTYPE else 0
        for k, v in attrs.items():
            setattr(info, k, v)
        return info, io.BytesIO(data) if info.isreg() else None

    rel_outside = os.path.relpath(outside, target)
    members = {
        "dotdot": [member("ok.txt"), member(f"{rel_outside}/evil.txt")],
        "absolute": [member("ok.txt"), member(str(outside / "evil.txt"))],
        "symlink": [member("etc", type=tarfile.SYMTYPE, linkname="/etc")],
        "symlink-chain": [
            member("a", type=tarfile.SYMTYPE, linkname="."),
            member("a/b", type=tarfile.SYMTYPE, linkname=rel_outside),
            member("b/evil.txt"),
        ],
        "hardlink": [member("hl", type=tarfile.LNKTYPE, linkname=str(outside / "victim.txt"))],
        "hardlink-relative": [
            member("hl", type=tarfile.LNKTYPE, linkname=f"{rel_outside}/victim.txt")
        ],
        "fifo": [member("pipe", type=tarfile.FIFOTYPE)],
    }[kind]
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, data)
    return Path(path)


# ---------------------------------------------------------------- processes to kill
PY = sys.executable
REPO = Path(__file__).resolve().parents[1]

ZYGOTE = textwrap.dedent(r"""
    import json, os, signal, sys, time, traceback
    import torch  # the heavy imports (and matplotlib's first figure), once: a child then starts in milliseconds
    import kornia, torchvision, sklearn.datasets
    import vislab.cli, vislab.training.trainer, vislab.predict, vislab.data.sources, vislab.data.sources.digits
    from vislab.plotting.runs import plot_confusion
    import numpy as np, tempfile
    plot_confusion(np.eye(2, dtype=int), ["a", "b"], tempfile.mkdtemp() + "/warm.png")

    STOPS = {signal.SIGINT, signal.SIGTERM}

    def child(job):  # SIGINT/SIGTERM arrive blocked (see the loop) and are let in once the log is set up
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a fresh python's dispositions
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        fd = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        code = 1
        try:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPS)  # a signal sent already is delivered here
            exec(job["pre"], {})
            code = vislab.cli.main(job["argv"])
        except KeyboardInterrupt:  # outside main's handlers: die by SIGINT, as python does
            sys.stdout.flush(); sys.stderr.flush()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush(); sys.stderr.flush()
            os._exit(code)

    for line in sys.stdin:
        job = json.loads(line)
        if job["op"] == "run":
            # a signal sent right after the fork must not land before the child's log and handlers exist
            signal.pthread_sigmask(signal.SIG_BLOCK, STOPS)
            pid = os.fork()
            if pid == 0:
                child(job)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPS)
            reply = pid
        else:  # wait: the exit code (-N: killed by signal N), or None while still running after `timeout` s
            deadline = time.monotonic() + job["timeout"]
            while True:
                done, status = os.waitpid(job["pid"], os.WNOHANG)
                if done:
                    reply = os.waitstatus_to_exitcode(status)
                    break
                if time.monotonic() >= deadline:
                    reply = None
                    break
                time.sleep(0.005)
        print(json.dumps(reply), flush=True)
""")


class Zygote:
    """A python process that imported vislab once and forks `vislab ...` children on demand.

    A child is a real process running ``vislab.cli.main(argv)`` with default signal dispositions (what
    ``python -m vislab`` runs), but it starts in milliseconds instead of seconds of imports, which keeps
    a dozen kill/resume cycles affordable. Its stdout+stderr go to a log file.
    """

    def __init__(self, cwd: Path):
        env = dict(
            os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(REPO / "src")
        )
        self.proc = subprocess.Popen(
            [PY, "-c", ZYGOTE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=cwd,
        )
        self.running: set[int] = set()

    def _ask(self, **job):
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "the zygote process died"
        return json.loads(line)

    def start(self, argv: list, log: Path, pre: str = "") -> int:
        pid = self._ask(op="run", argv=[str(a) for a in argv], log=str(log), pre=pre)
        self.running.add(pid)
        return pid

    def wait(self, pid: int, timeout: float) -> int | None:
        code = self._ask(op="wait", pid=pid, timeout=timeout)
        if code is not None:
            self.running.discard(pid)
        return code

    def kill(self, pid: int) -> None:
        """SIGKILL a child if it still runs, and reap it."""
        if pid in self.running:
            os.kill(pid, signal.SIGKILL)
            self.wait(pid, 30)

    def close(self) -> None:
        """Kill and reap the children still running, then the zygote itself: it holds nothing to save, and
        its interpreter's shutdown (torch's) takes seconds."""
        for pid in list(self.running):
            self.kill(pid)
        self.proc.stdin.close()
        self.proc.kill()
        self.proc.wait(30)


# a short run (~1-2 s of training on one thread): dropout, random crops, momentum and a cosine schedule, so that
# a resume must restore the RNG, the optimizer and the position exactly to end with the same numbers
EPOCHS = 3
KILL_ARGS = [
    "train",
    "-q",
    "--set",
    "data.name=digits",
    "--set",
    "model.name=mlp",
    "--set",
    "model.hidden=[32]",
    "--set",
    "model.dropout=0.2",
    "--set",
    "augment.crop.p=0.5",
    "--set",
    "augment.crop.padding=1",
    "--set",
    "optim.name=sgd",
    "--set",
    "optim.lr=0.05",
    "--set",
    "optim.momentum=0.9",
    "--set",
    "schedule.name=cosine",
    "--set",
    f"train.epochs={EPOCHS}",
    "--set",
    "train.batch_size=4",
    "--set",
    "train.seed=11",
    "--set",
    "train.device=cpu",
    "--set",
    "train.threads=1",
]


def made_once(tmp_path_factory, name: str, make: Callable[[Path], dict]) -> tuple[Path, dict]:
    """``make(folder)`` run once for the whole test session: under pytest-xdist the first worker to need it
    makes it while the others wait (a second copy at the same time would only be slower on 2 cores), and
    every worker gets (folder, what ``make`` returned, through JSON). A worker that failed leaves no mark:
    the next one makes it again."""
    from filelock import FileLock

    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        folder = tmp_path_factory.mktemp(name)
        return folder, make(folder)
    shared = tmp_path_factory.getbasetemp().parent  # this session's, common to its workers
    folder, done = shared / name, shared / f"{name}.json"
    with FileLock(shared / f"{name}.lock"):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            done.write_text(json.dumps(make(folder)))
    return folder, json.loads(done.read_text())
