"""One rule, for training (the ``folder`` source) and ``vislab predict`` alike, for which files under a
folder are pictures (:func:`scan_images`): by extension, hidden and operating-system files left out, a
symlinked folder followed unless it links back up."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from vislab.errors import show_note

#: the file extensions (lower-cased) an image folder's images have, for training and predict alike:
#: torchvision ImageFolder's, and other names of the same formats (.jfif: JPEG; .pbm, .pnm: PPM's family)
IMAGE_EXTS = (
    *(".bmp", ".gif", ".jfif", ".jpeg", ".jpg", ".pbm", ".pgm", ".png", ".pnm", ".ppm"),
    *(".tif", ".tiff", ".webp"),
)
#: files an operating system leaves in image folders (Windows' thumbnails and folder settings, any case):
#: left out of a folder's scan, as hidden files are, not counted as skipped
OS_FILES = ("thumbs.db", "desktop.ini")
#: folders an operating system leaves in image folders (any case): macOS's zip files' ``__MACOSX/``, its
#: files' metadata in ``._`` files; left out of a scan, as hidden folders are
OS_FOLDERS = ("__macosx",)


@dataclass
class FolderScan:
    """What :func:`scan_images` found under a folder: its image files (sorted), the other files it skipped
    counted by kind (their extension, ``without extension``, or ``broken link`` for a link to nothing), and
    the folder links it did not follow (each a link back up to a folder that holds it)."""

    images: list[Path] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    links_up: list[Path] = field(default_factory=list)


def scan_images(folder: Path) -> FolderScan:
    """The image files under ``folder`` (recursively, by :data:`IMAGE_EXTS` in any case) and what was
    skipped; hidden files and folders (``.DS_Store``, ``.vislab-cache``), :data:`OS_FILES` and
    :data:`OS_FOLDERS` are left out, not counted. A symlinked folder is followed (a class folder gathered
    from elsewhere), each real folder once, unless it links back up to ``folder``, the folder holding the
    link, or a folder above them: their other images are not ``folder``'s (``cat/up -> ..`` would add
    every class's images to ``cat``)."""
    scan, seen, top = FolderScan(), set(), os.path.realpath(folder)
    for where, folders, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(where)
        if real in seen:  # reached again through a link
            folders.clear()
            continue
        seen.add(real)
        folders[:] = [f for f in folders if _follows(Path(where, f), (top, real), scan)]
        for path in (Path(where, f) for f in files if not _left_out(f)):
            kind = _skipped_kind(path)
            if kind:
                scan.skipped[kind] += 1
            else:
                scan.images.append(path)
    scan.images.sort()
    return scan


def _left_out(name: str) -> bool:
    """Whether :func:`scan_images` leaves file ``name`` out uncounted: hidden, or one of :data:`OS_FILES`."""
    return name.startswith(".") or name.lower() in OS_FILES


def _follows(path: Path, holders: tuple[str, str], scan: FolderScan) -> bool:
    """Whether :func:`scan_images` walks into the sub-folder ``path``: not hidden nor one of
    :data:`OS_FOLDERS`, and not a link to one of ``holders`` (real paths) or a folder above one
    (recorded in ``scan.links_up``)."""
    if path.name.startswith(".") or path.name.lower() in OS_FOLDERS:
        return False
    if path.is_symlink():
        target = os.path.realpath(path).rstrip(os.sep) + os.sep
        if any(f"{h}{os.sep}".startswith(target) for h in holders):
            scan.links_up.append(path)
            return False
    return True


def _skipped_kind(path: Path) -> str | None:
    """None for an image file; else how :class:`FolderScan` counts it."""
    if not path.exists():  # a symlink to nothing
        return "broken link"
    ext = path.suffix.lower()
    if ext in IMAGE_EXTS and path.is_file():
        return None
    return ext or "without extension"


def scan_notes(scan: FolderScan, folder: Path) -> list[str]:
    """What a user should know of ``scan`` of ``folder``: the files it skipped, the links it did not follow."""
    notes = []
    if scan.skipped:
        n = sum(scan.skipped.values())
        kinds = ", ".join(
            f"{k} {kind}" for kind, k in sorted(scan.skipped.items(), key=_most_first)
        )
        notes.append(f"{n} file{'s' if n > 1 else ''} in '{folder}' skipped (not images): {kinds}.")
    notes += [
        f"'{link}' links back up to '{os.path.realpath(link)}', a folder holding it: not followed, so "
        f"that '{folder}' does not take in the images of the other folders there."
        for link in scan.links_up
    ]
    return notes


def _most_first(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


def image_files(folder: Path) -> list[Path]:
    """:func:`scan_images`'s image files under ``folder``; each of :func:`scan_notes` is warned as a
    :class:`~vislab.errors.Note` (the CLI shows a ``note:`` line; the same note once)."""
    scan = scan_images(folder)
    for note in scan_notes(scan, folder):
        show_note(note)  # a folder scanned twice in one call is noted once
    return scan.images
