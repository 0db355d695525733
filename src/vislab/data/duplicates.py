"""Copies among an image folder's images: an image in two sets — the splits as carved, val and test
from train where the folder has no val/ or test/ (a held-out image the model trains on: its score then
counts images it has seen) —, or under two classes. Found in the decoded arrays, with no
extra read of the files (which are not hashed on loading: the cache is keyed by their sizes and times):
each image's checksum, its bytes as 64-bit words summed (one fast pass, as
:mod:`vislab.data.fingerprint`'s), then only the images whose checksums meet hashed whole. Two files are
copies when they decode to the same pixels at the folder's size (data.resize): byte-identical files,
and any other copy of the same picture."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from vislab.data.types import ArraySet
from vislab.words import and_list, counted

Sample = tuple[str, int]  # a set's name and an index in it


def _checksums(x: np.ndarray) -> np.ndarray:
    """Each image's bytes read as 64-bit words and summed (wrapping), one per image."""
    rows = np.ascontiguousarray(x).reshape(len(x), -1).view(np.uint8)
    whole = rows.shape[1] - rows.shape[1] % 8
    sums = rows[:, :whole].view(np.uint64).sum(1)  # a view: no copy of the images
    if whole < rows.shape[1]:  # the bytes past the last whole word, as one word padded with zeros
        shifts = np.arange(rows.shape[1] - whole, dtype=np.uint64) * np.uint64(8)
        sums += (rows[:, whole:].astype(np.uint64) << shifts).sum(1)
    return sums


def copies(sets: dict[str, ArraySet]) -> list[list[Sample]]:
    """The groups of two or more samples of ``sets`` whose images are identical, each sample as its set
    and index there."""
    keys = [k for k in sets if len(sets[k])]  # an empty split (eval's --split all) holds none
    if not keys:
        return []
    sums = np.concatenate([_checksums(sets[k].x) for k in keys])
    starts = np.cumsum([0] + [len(sets[k]) for k in keys])
    _, inverse, counts = np.unique(sums, return_inverse=True, return_counts=True)
    groups: dict[bytes, list[Sample]] = {}
    for j in np.flatnonzero(counts[inverse.ravel()] > 1).tolist():
        s = int(np.searchsorted(starts, j, side="right")) - 1
        key, i = keys[s], j - int(starts[s])
        digest = hashlib.sha256(np.ascontiguousarray(sets[key].x[i]).tobytes()).digest()
        groups.setdefault(digest, []).append((key, i))
    return [g for g in groups.values() if len(g) > 1]


def _named(sets: dict[str, ArraySet], sample: Sample) -> str:
    """A sample as a user finds it: its file, else its set and index (``test[3]``)."""
    key, i = sample
    names = sets[key].names
    return f"'{names[i]}'" if names is not None else f"{key}[{i}]"


def duplicates_note(sets: dict[str, ArraySet], class_names: list[str], root: Path) -> str | None:
    """The note for the copies (:func:`copies`) of folder ``root``'s ``sets`` that are in two sets or
    under two classes: how many of each, an example pair each; None where there are none."""
    groups = copies(sets)
    across = [g for g in groups if len({k for k, _ in g}) > 1]
    classes = [g for g in groups if len({int(sets[k].y[i]) for k, i in g}) > 1]
    if not across and not classes:
        return None
    said = []
    if across:
        g = next((g for g in across if any(k == "train" for k, _ in g)), across[0])
        a, b = g[0], next(s for s in g if s[0] != g[0][0])
        both = and_list([k for k in sets if k in (a[0], b[0])])
        why = ": the held-out score counts images the model trains on" if a[0] == "train" else ""
        said.append(
            f"{counted(len(across), 'image')} in two sets (e.g. {_named(sets, a)} and "
            f"{_named(sets, b)}, in {both}{why})"
        )
    if classes:
        label = {s: class_names[int(sets[s[0]].y[s[1]])] for s in classes[0]}
        a, b = classes[0][0], next(s for s in classes[0] if label[s] != label[classes[0][0]])
        said.append(
            f"{counted(len(classes), 'image')} under two classes (e.g. {_named(sets, a)} as "
            f"{label[a]!r} and {_named(sets, b)} as {label[b]!r})"
        )
    return (
        f"'{root}' holds copies (files that decode to the same pixels): {' and '.join(said)}. Delete "
        f"the copies you did not mean (keep each image in one set, under its one class)."
    )
