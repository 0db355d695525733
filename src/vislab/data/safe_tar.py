"""Extract a downloaded tar archive without letting it write outside the target folder.

A tar member may be named ``/etc/x`` or ``../../x``, be a link to ``/etc``, or be a device file.
:func:`safe_extract` checks every member itself (so it works on Python 3.11 as well) and also
passes ``filter='data'`` where tarfile supports it; a bad member refuses the whole archive.
"""

from __future__ import annotations

import os
import tarfile
import zlib
from pathlib import Path, PurePosixPath

from vislab.errors import DataError

# tarfile's own checks (Python >= 3.11.4 / 3.12): a second line of defence.
_FILTER = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


def _inside(path: str, root: str) -> bool:
    return os.path.commonpath([path, root]) == root


def _refuse(archive: Path, member: tarfile.TarInfo, why: str) -> DataError:
    return DataError(
        f"Refused to extract '{archive}': its member '{member.name}' {why}, which could write outside the "
        f"target folder. The official archive has no such member: delete '{archive}' and download it again."
    )


def check_member(archive: Path, member: tarfile.TarInfo) -> None:
    """Raise DataError for an absolute or '..' name, or a member that is not a file, folder or link."""
    name = member.name.replace("\\", "/")
    if name.startswith("/") or PurePosixPath(name).is_absolute():
        raise _refuse(archive, member, "has an absolute path")
    if ".." in PurePosixPath(name).parts:
        raise _refuse(archive, member, "has a '..' path component")
    if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
        raise _refuse(archive, member, "is a device, fifo or other special file")
    if (member.issym() or member.islnk()) and os.path.isabs(member.linkname):
        raise _refuse(archive, member, f"is a link to the absolute path '{member.linkname}'")


def safe_extract(archive: str | Path, target: str | Path) -> list[Path]:
    """Extract ``archive`` under ``target`` and return the regular files written.

    Every member is checked before anything is written; links must resolve inside ``target`` (checked
    again on disk, member by member, so a chain of links cannot escape either).
    """
    archive, target = Path(archive), Path(target)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for m in members:
                check_member(archive, m)
            target.mkdir(parents=True, exist_ok=True)
            root = os.path.realpath(target)
            written = []
            for m in members:
                path = os.path.join(root, m.name)
                # Resolve links already on disk (earlier members); a new link itself is not followed.
                parent = os.path.realpath(os.path.dirname(path))
                dest = (
                    os.path.join(parent, os.path.basename(path))
                    if m.issym()
                    else os.path.realpath(path)
                )
                if not _inside(dest, root):
                    raise _refuse(archive, m, "resolves outside the target folder")
                if m.issym():
                    link_target = os.path.realpath(os.path.join(os.path.dirname(dest), m.linkname))
                    if not _inside(link_target, root):
                        raise _refuse(archive, m, f"is a link to '{m.linkname}'")
                elif m.islnk() and not _inside(
                    os.path.realpath(os.path.join(root, m.linkname)), root
                ):
                    raise _refuse(archive, m, f"is a hard link to '{m.linkname}'")
                tar.extract(m, root, set_attrs=False, **_FILTER)
                if m.isreg():
                    written.append(Path(root) / m.name)
            return written
    except DataError:
        raise
    except (tarfile.TarError, OSError, EOFError, zlib.error, ValueError) as e:
        raise DataError(
            f"Cannot extract '{archive}' into '{target}': {e}. If the archive is truncated or corrupt, delete it "
            f"and download it again; otherwise check that '{target}' is writable and the disk has space."
        ) from None
