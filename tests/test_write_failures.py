"""Writing failures: an unusable ``--out``, a disk that fills up (before, during or after training), a read-only
file system, read-only datasets. Each gives a message naming the file and never damages what was already written.

Decision documented here: writing failures in the middle of a run (disk full, read-only file system) exit 1
(runtime failure); an unusable --out at the start exits 2 (the user picks another).
"""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
from pathlib import Path

import matplotlib.figure
import pytest
import torch

from conftest import cli, one_line, tiny_sets
from fixtures import write_image_folder, write_mnist
from vislab.training.checkpoint import load_checkpoint


def raw_checkpoint(path):
    """A checkpoint file's contents as saved (the on-disk dict)."""
    return load_checkpoint(path).to_dict()


WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def deny_writes(monkeypatch, root: Path, err: int = errno.EROFS) -> None:
    """Make every write under ``root`` fail with ``err``, as a read-only mount (or chmod a-w) would.

    Used where chmod cannot (tests running as root); patches the calls vislab's writers go through."""
    root = Path(root).resolve()

    def under(path) -> bool:
        try:
            return Path(os.fsdecode(path)).resolve().is_relative_to(root)
        except (TypeError, ValueError):
            return False

    def fail(path):
        raise OSError(err, os.strerror(err), os.fsdecode(path))

    real_open, real_os_open = builtins.open, os.open

    def open_(file, mode="r", *a, **kw):
        if (
            isinstance(file, (str, bytes, os.PathLike))
            and any(c in mode for c in "wax+")
            and under(file)
        ):
            fail(file)
        return real_open(file, mode, *a, **kw)

    def os_open(path, flags, *a, **kw):
        if flags & WRITE_FLAGS and under(path):
            fail(path)
        return real_os_open(path, flags, *a, **kw)

    monkeypatch.setattr(builtins, "open", open_)
    monkeypatch.setattr(io, "open", open_)
    monkeypatch.setattr(os, "open", os_open)
    for name in ("mkdir", "unlink", "remove", "rmdir", "utime", "chmod"):
        real = getattr(os, name)
        monkeypatch.setattr(
            os, name, lambda p, *a, _real=real, **kw: fail(p) if under(p) else _real(p, *a, **kw)
        )
    for name in ("replace", "rename", "link"):
        real = getattr(os, name)
        monkeypatch.setattr(
            os,
            name,
            lambda s, d, *a, _real=real, **kw: (
                fail(d) if under(d) or under(s) else _real(s, d, *a, **kw)
            ),
        )


def make_read_only(monkeypatch, root: Path, err: int = errno.EROFS) -> None:
    """chmod a-w where that stops writes (not root); otherwise simulate a read-only file system. Undone at the
    end of the test (``restore_writable``)."""
    if os.geteuid() != 0:
        for d in [root, *[p for p in root.rglob("*") if p.is_dir()]]:
            d.chmod(0o555)
    else:
        deny_writes(monkeypatch, root, err)


def restore_writable(monkeypatch, *roots: Path) -> None:
    monkeypatch.undo()
    for root in roots:
        for d in [root, *[p for p in root.rglob("*") if p.is_dir()]]:
            d.chmod(0o755)


def test_unwritable_output_locations(capsys, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code, out = cli(capsys, "train", *tiny_sets(), "--out", blocker / "sub", "-q")
    assert code == 2 and f"'{blocker}' is a file, not a folder" in one_line(out), out
    parent = tmp_path / "read-only"
    parent.mkdir()
    make_read_only(monkeypatch, parent, errno.EACCES)
    try:
        code, out = cli(capsys, "train", *tiny_sets(), "--out", parent / "run", "-q")
    finally:
        restore_writable(monkeypatch, parent)
    assert (
        code == 2 and "cannot create run directory" in one_line(out) and "Permission denied" in out
    ), out


def _snapshot(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


def test_full_disk_keeps_what_was_written(capsys, tmp_path, monkeypatch):
    run = tmp_path / "run"
    code, out = cli(capsys, "train", *tiny_sets("train.epochs=2"), "--out", run, "-q")
    assert code == 0
    before = _snapshot(run)

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    # training a finished run on rewrites config/summary/predictions: every write fails, none damages
    code, out = cli(capsys, "train", "--resume", run, "--epochs", "3", "-q")
    assert (
        code == 1 and "the disk is full" in out and "previous file there is intact" in one_line(out)
    ), out
    assert _snapshot(run) == before  # no temp file left, nothing truncated, lock released

    # a figure written by `eval` (matplotlib, not atomic_write) on a full disk: message, exit 1
    def savefig(self, path, *a, **kw):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)
    code, out = cli(capsys, "eval", run, "--out", tmp_path / "figs")
    assert (
        code == 1
        and "No space left on device" in out
        and str(tmp_path / "figs" / "confusion_test.png") in out
    )
    monkeypatch.undo()
    (tmp_path / "a-file").write_text("x")
    # a file where a folder should be
    code, out = cli(capsys, "eval", run, "--out", tmp_path / "a-file" / "figs")
    assert code == 2 and "is a file, not a folder" in out and str(tmp_path / "a-file") in out, out


class _FullDisk:
    """A file on a file system that fills up after 1,000 bytes: later writes fail with ENOSPC (as on a tmpfs)."""

    def __init__(self, f, room: int = 1000):
        self.f, self.room = f, room

    def write(self, data) -> int:
        data = bytes(data)
        self.f.write(data[: self.room])
        if len(data) > self.room:
            self.room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return len(data)

    def __getattr__(self, name):  # flush, fileno, close, ... of the real file
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.f.close()


@pytest.mark.skipif(
    not Path("/proc/self/fd").is_dir(), reason="needs /proc to see which file is written"
)
@pytest.mark.parametrize("fails_in", ["write", "fsync"])
def test_disk_full_in_the_middle_of_training_keeps_the_previous_checkpoint(
    capsys, tmp_path, monkeypatch, fails_in
):
    """The end-of-epoch-2 last.pt cannot be written: in ``write`` (a real full file system; torch.save alone
    would turn that into an opaque RuntimeError) or only when flushed to disk (``fsync``)."""
    real_fsync, real_fdopen, seen = os.fsync, os.fdopen, []

    def second_last_pt(fd) -> bool:
        name = os.readlink(f"/proc/self/fd/{fd}")
        if ".last.pt." in name and name not in seen:
            seen.append(name)
        return seen[1:] == [name]

    def fsync(fd):
        if fails_in == "fsync" and second_last_pt(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    def fdopen(fd, *a, **kw):
        f = real_fdopen(fd, *a, **kw)
        return _FullDisk(f) if fails_in == "write" and second_last_pt(fd) else f

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "fdopen", fdopen)
    run = tmp_path / "run"
    code, out = cli(capsys, "train", *tiny_sets("train.epochs=3"), "--out", run, "-q")
    assert (
        code == 1 and "could not write" in out and "last.pt" in out and "the disk is full" in out
    ), out
    assert "Traceback" not in out
    kept = raw_checkpoint(run / "checkpoints" / "last.pt")
    assert kept["state"]["epoch"] == 1 and all(
        torch.isfinite(v).all() for v in kept["state_dict"].values()
    )
    assert not list(run.rglob(".*.tmp")) and not (run / ".lock").exists()
    # space freed: the run continues from that checkpoint
    monkeypatch.setattr(os, "fsync", real_fsync)
    monkeypatch.setattr(os, "fdopen", real_fdopen)
    code, out = cli(capsys, "train", "--resume", run, "-q")
    assert code == 0 and json.loads((run / "summary.json").read_text())["epochs_run"] == 3


def test_datasets_on_a_read_only_mount(capsys, tmp_path, monkeypatch):
    mnist, images = tmp_path / "mnist", tmp_path / "images"
    write_mnist(mnist, n_train=60, n_test=20)
    write_image_folder(images, per_class=6)
    make_read_only(monkeypatch, tmp_path / "mnist")
    make_read_only(monkeypatch, tmp_path / "images")
    try:
        for sets in (
            ["data.name=mnist", f"data.root={mnist}", "data.download=false"],
            ["data.name=folder", f"data.root={images}", "data.image_size=16"],
        ):
            run = tmp_path / sets[0].split("=")[1]
            args = [
                x
                for s in [
                    *sets,
                    "model.name=mlp",
                    "model.hidden=[16]",
                    "train.epochs=1",
                    "train.batch_size=8",
                    "train.device=cpu",
                ]
                for x in ("--set", s)
            ]
            code, out = cli(capsys, "train", *args, "--out", tmp_path / "runs" / run.name, "-q")
            assert code == 0, out
            assert (
                json.loads((tmp_path / "runs" / run.name / "summary.json").read_text())["status"]
                == "complete"
            )
        # cache skipped
        assert not (images / ".vislab-cache").exists() and not list(images.rglob("*.tmp"))
    finally:
        restore_writable(monkeypatch, mnist, images)
