"""Fetch official dataset files and check them against their published MD5.

:func:`download` streams into ``<name>.part`` (resumed with an HTTP Range request when the server
allows it), checks the MD5, then renames: a half-downloaded or corrupt file never has the final name.
:func:`check_official` verifies a file that has an official name and size; MD5s are cached per folder
in a small marker file keyed by size and mtime, so a 30 MB file is hashed once, not on every run.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import http.client
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

from vislab.config import DEFAULT_DATA_ROOT, DataConfig
from vislab.data.cache import user_cache_dir
from vislab.errors import DataError
from vislab.files import try_atomic_write
from vislab.reporting import Advance, display

CHECKSUM_FILE = "md5-{folder}.json"  # in the user's cache folder, one per data folder
CHUNK = 1 << 20


# ------------------------------------------------------------------------------------- checksums
def md5_file(path: str | Path) -> str:
    """Hex MD5 of a file, read in 1 MiB chunks."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _cache_path(path: Path) -> Path:
    """The checksum memo of ``path``'s folder, in the user's cache (never beside the data: a shared or
    system folder)."""
    folder = hashlib.sha256(str(path.resolve().parent).encode()).hexdigest()[:16]
    return user_cache_dir() / CHECKSUM_FILE.format(folder=folder)


def _read_cache(path: Path) -> dict:
    try:
        cache = json.loads(_cache_path(path).read_text())
        return cache if isinstance(cache, dict) else {}
    except (OSError, ValueError):
        return {}


def _remember(path: Path, digest: str) -> None:
    """Store ``digest`` for ``path`` (keyed by size + mtime); silently skipped in read-only folders."""
    st = path.stat()
    cache = _read_cache(path)
    cache[path.name] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "md5": digest}
    try_atomic_write(_cache_path(path), lambda f: f.write(json.dumps(cache, indent=1).encode()))


def cached_md5(path: str | Path) -> str:
    """MD5 of ``path``, reused from the folder's marker file while the size and mtime are unchanged."""
    path = Path(path)
    st = path.stat()
    entry = _read_cache(path).get(path.name)
    if (
        isinstance(entry, dict)
        and entry.get("size") == st.st_size
        and entry.get("mtime_ns") == st.st_mtime_ns
    ):
        return str(entry.get("md5"))
    digest = md5_file(path)
    _remember(path, digest)
    return digest


def check_official(path: str | Path, size: int, md5: str, fix: str = "") -> None:
    """If ``path`` has the official ``size``, its MD5 must be ``md5`` (else DataError naming both).

    A file of another size is not the official file (e.g. a subset, a re-compressed copy or a test
    fixture): it is left to the format reader's structural checks, which catch truncation.
    """
    if Path(path).stat().st_size == size:
        check_md5(path, md5, fix)


def check_md5(path: str | Path, md5: str, fix: str = "") -> None:
    """DataError naming both MD5s unless ``path``'s MD5 (cached, see :func:`cached_md5`) is ``md5``."""
    actual = cached_md5(path)
    if actual != md5:
        raise DataError(
            f"'{path}' is corrupt: its MD5 is {actual} but the official file's MD5 is {md5}. Delete it and "
            f"{fix or 'download it again (data.download=true), or put the official file in its place'}."
        )


# -------------------------------------------------------------------------------------- download
@contextlib.contextmanager
def _progress(name: str, total: int | None, done: int) -> Iterator[Advance]:
    """The entry point's download bar (the ``vislab`` command's, on a terminal); without one, a line on a
    terminal and nothing elsewhere (logs, CI, tests)."""
    shown = display()
    if shown is not None:
        with shown.download_bar(name, total, done) as advance:
            yield advance
        return
    if sys.stderr.isatty():
        size = f" ({total / 1e6:.0f} MB)" if total else ""
        print(f"downloading {name}{size}", file=sys.stderr, flush=True)
    yield lambda n: None


def _fetch_error(url: str, dest: Path, why: object) -> DataError:
    return DataError(
        f"Could not download '{dest.name}' from {url} ({why}). Check the network connection and run again "
        f"(a partial download is resumed), or download the file by hand and place it at '{dest}'"
        + (
            f" ('{os.path.abspath(dest)}': a relative data.root starts at the current folder; the files "
            f"elsewhere, e.g. where a run was trained: --set data.root=DIR)."
            if not dest.is_absolute()
            else "."
        )
    )


def _stream(url: str, dest: Path, part: Path, timeout: float) -> None:
    """Download ``url`` into ``part``, resuming what is already there when the server honours Range."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "vislab"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset:  # the range is past the end: start again from zero
            part.unlink()
            return _stream(url, dest, part, timeout)
        raise
    with resp:
        content_range = resp.headers.get("Content-Range", "") if resp.headers else ""
        resumed = (
            offset > 0
            and getattr(resp, "status", None) == 206
            and content_range.startswith(f"bytes {offset}-")
        )
        start = offset if resumed else 0
        length = resp.headers.get("Content-Length") if resp.headers else None
        total = start + int(length) if length and length.isdigit() else None
        with (
            open(part, "ab" if resumed else "wb") as f,
            _progress(dest.name, total, start) as advance,
        ):
            while chunk := resp.read(CHUNK):
                f.write(chunk)
                advance(len(chunk))
    if total is not None and part.stat().st_size < total:
        raise _fetch_error(
            url, dest, f"the connection ended after {part.stat().st_size} of {total} bytes"
        )


def download(url: str, dest: str | Path, md5: str | None = None, timeout: float = 60.0) -> Path:
    """Fetch ``url`` to ``dest`` via ``dest.part``; check ``md5`` (if given) before the final rename.

    Network failures raise DataError (a ``.part`` file holding bytes is kept so the next run resumes); a
    wrong MD5 deletes the ``.part`` file and raises DataError. A failure that keeps nothing removes the
    folders made for ``dest``. Returns ``dest``.
    """
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    made = _make_folders(dest)
    try:
        _fetch(url, dest, part, md5, timeout)
    except DataError:
        _remove_if_empty(part, made)
        raise
    os.replace(part, dest)
    if md5 is not None:
        _remember(dest, md5)
    return dest


def _make_folders(dest: Path) -> list[Path]:
    """Make ``dest``'s folder; return the folders made, deepest first."""
    made = [p for p in (dest.parent, *dest.parent.parents) if not p.exists()]
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(
            f"Cannot create the folder '{dest.parent}' for {dest.name}: {e.strerror or e}. "
            f"Choose a writable data.root."
        ) from None
    return made


def _fetch(url: str, dest: Path, part: Path, md5: str | None, timeout: float) -> None:
    """``url`` into ``part``, its MD5 checked (``md5`` given): a corrupt download is deleted."""
    try:
        _stream(url, dest, part, timeout)
    except (OSError, http.client.HTTPException, ValueError) as e:
        raise _fetch_error(url, dest, e) from None
    if md5 is not None:
        actual = md5_file(part)
        if actual != md5:
            part.unlink()
            raise DataError(
                f"The download of '{dest.name}' from {url} is corrupt (MD5 {actual}, expected {md5}); nothing "
                f"was kept. Run again, or download the file by hand and place it at '{dest}'."
            )


def _remove_if_empty(part: Path, made: list[Path]) -> None:
    """After a failed download: an empty ``part`` deleted, then each folder of ``made`` left empty."""
    with contextlib.suppress(OSError):
        if part.stat().st_size == 0:
            part.unlink()
    for folder in made:
        try:
            folder.rmdir()  # only an empty one: another file there, or a partial download, stays
        except OSError:
            return


# ------------------------------------------------------------------------------- where to look
def is_default_root(root: str | Path) -> bool:
    """Whether ``root`` is data.root's default folder (``./data``), the one vislab downloads into unasked."""
    return Path(root).expanduser().resolve() == Path(DEFAULT_DATA_ROOT).resolve()


def may_download(cfg: DataConfig) -> bool:
    """Whether missing files may be fetched: data.download=true, or "auto" and data.root is the default."""
    if cfg.download == "auto":
        return is_default_root(cfg.root)
    return bool(cfg.download)


def near_misses(root: Path) -> list[Path]:
    """Up to three folders beside ``root`` that it may have been meant or moved to: those whose names hold
    its name (renamed with a suffix or prefix: imgs → imgs_old), then those close to it (a typo:
    fashion_mnist → fashion-mnist)."""
    try:
        siblings = {p.name.lower(): p for p in root.parent.iterdir() if p.is_dir()}  # MNIST ~ mnist
    except OSError:
        return []
    name = root.name.lower()
    holding = sorted(n for n in siblings if len(name) >= 3 and name in n)  # "a" is in every name
    close = difflib.get_close_matches(name, list(siblings), n=3)
    return [siblings[n] for n in dict.fromkeys([*holding, *close])][:3]


def require_root(root: Path, dataset: str, files: Sequence[str] = (), url: str = "") -> None:
    """DataError unless ``root`` is a folder or the default data folder: vislab never creates a data.root
    that is not there (a typo), nor a folder under it. The message names the closest existing folders."""
    if root.is_dir() or is_default_root(root):
        return
    near = near_misses(root)
    guess = f" Did you mean {' or '.join(repr(str(p)) for p in near)}?" if near else ""
    looked = (
        ""
        if root.is_absolute()
        else f" (looked for '{os.path.abspath(root)}': a relative data.root starts at the current folder)"
    )
    what = f" that holds {', '.join(files)}" if files else f" that holds the {dataset} files"
    source = f" (published at {url})" if url else ""
    raise DataError(
        f"{dataset} data not found: data.root '{root}' does not exist{looked}.{guess} Point data.root at "
        f"the folder{what}{source}: --set data.root=DIR (a trained run too: `vislab eval RUN --set "
        f"data.root=DIR`; for `vislab report`, set data.root in RUN/config.yaml). vislab creates no folder "
        f"there. Leave data.root unset to use the default folder '{DEFAULT_DATA_ROOT}', which "
        f"data.download=auto fills; data.download=true fetches into a "
        f"data.root that exists."
    )


def missing_files(
    dataset: str,
    files: list[str],
    folder: Path,
    url: str,
    searched: Sequence[Path] = (),
    hint: str = "",
) -> DataError:
    """The DataError for absent files: exactly which files, which folder, where they are published
    (``hint``: a sentence on what works without them)."""
    also = [str(p) for p in searched if p != folder]
    where = f"'{folder}'" + (f" (also searched: {', '.join(also)})" if also else "")
    return DataError(
        f"{dataset} data not found: missing {', '.join(files)}. Put these files in {where}, downloaded from "
        f"{url} — or set data.download=true to fetch them (data.download=auto fetches only into the "
        f"default folder '{DEFAULT_DATA_ROOT}'), or point data.root at the folder that holds them."
        + (f" {hint}" if hint else "")
    )


def test_set_only_hint(n_test: int) -> str:
    """How to train on a dataset's test set alone, when only its train files are missing: the two settings
    for ``vislab train`` / :func:`vislab.train`, and where they go in a suite, whose ``--set`` every run of
    it takes."""
    split = [n_test * 8 // 10, n_test // 10, n_test // 10]
    return (
        f"Only the test set is here: train on its {n_test:,} images alone with --set 'data.use=[test]' "
        f"--set 'data.split=[{','.join(map(str, split))}]' / data__use=['test'], data__split={split} (a "
        f"seeded, stratified train/val/test split of them). A suite's --set applies to all of its runs: "
        f"unless they are all on this data, put "
        f"`data.use: [test]` and `data.split: [{', '.join(map(str, split))}]` in the suite file, in the "
        f"runs on this data only (`vislab suite list` names the folder of the built-in suite files, to "
        f"copy one from); another run given them would be refused, or would train on its own test set."
    )
