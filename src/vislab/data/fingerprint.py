"""What a run's splits were drawn from, in a few numbers: a run records it, and evaluating the run later
says when its data changed since (its held-out splits are then not the ones it held out).

A fingerprint is ``{"of": "files" | "samples", "digest": str, "counts": {set: [samples per class]}}``:
for an image folder the digest hashes its files' relative paths and sizes (not their times: a copy of
the folder is the same data); for other sources, each set's shape and labels (cheap: no image is hashed).
"""

from __future__ import annotations

import hashlib

import numpy as np

from vislab.data.types import SourceData


def data_fingerprint(src: SourceData) -> dict:
    """The fingerprint of ``src``'s sets (see the module docstring)."""
    counts = {
        key: np.bincount(s.y, minlength=len(src.class_names)).tolist()
        for key, s in src.sets.items()
    }
    return {
        "of": "files" if src.digest else "samples",
        "digest": src.digest or _labels_digest(src),
        "counts": counts,
    }


def _labels_digest(src: SourceData) -> str:
    """A hash of each set's name, sample shape and labels, and the class names."""
    h = hashlib.sha256("\0".join(src.class_names).encode())
    for key, s in sorted(src.sets.items()):
        h.update(f"\0{key}{s.x.shape}{s.x.dtype}".encode())
        h.update(np.ascontiguousarray(s.y, dtype=np.int64))
    return h.hexdigest()[:16]


def is_fingerprint(value: object) -> bool:
    """Whether ``value`` (read from a checkpoint) has a fingerprint's form."""
    if not isinstance(value, dict) or not isinstance(value.get("digest"), str):
        return False
    counts = value.get("counts")
    return value.get("of") in ("files", "samples") and isinstance(counts, dict)


def data_change(recorded: dict, now: dict) -> str | None:
    """How the data of fingerprint ``now`` differs from ``recorded`` ("2 files added or removed",
    "files renamed, replaced or resized"), or None where it is the same."""
    if recorded["digest"] == now["digest"] and recorded["of"] == now["of"]:
        return None
    unit = now["of"]
    moved = 0
    for key in set(recorded["counts"]) | set(now["counts"]):
        was, got = recorded["counts"].get(key, []), now["counts"].get(key, [])
        width = max(len(was), len(got))
        was, got = (np.pad(np.asarray(c, dtype=np.int64), (0, width - len(c))) for c in (was, got))
        moved += int(np.abs(got - was).sum())
    if moved:
        return f"{moved} {unit[:-1] if moved == 1 else unit} added or removed"
    return "files renamed, replaced or resized" if unit == "files" else "labels changed"
