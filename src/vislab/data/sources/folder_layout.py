"""The layout of an image folder (``data.name=folder``): which of its folders are splits and classes, and
the image files of each — a folder per class, or split folders each holding the class folders. What is
found and left out is said in notes; a layout vislab cannot read is refused, naming the fix."""

from __future__ import annotations

import unicodedata
from pathlib import Path

from vislab.data import download as dl
from vislab.data.image_folders import IMAGE_EXTS, OS_FILES, OS_FOLDERS, image_files
from vislab.errors import DataError, show_note
from vislab.words import counted, first_few

SET_NAMES = ("train", "val", "test")
#: a split folder's name (lower-cased) → its split
SPLIT_FOLDERS = {
    **{s: s for s in SET_NAMES},
    **{"training": "train", "valid": "val", "validation": "val", "testing": "test"},
}
LAYOUTS = (
    "vislab reads two layouts: one folder of images per class (DIR/cat/*.png, DIR/dog/*.jpg), or "
    "split folders only, each holding the class folders (DIR/train/cat/*.png, DIR/test/cat/*.png, "
    "optionally DIR/val/...)"
)

Layout = dict[str, dict[str, list[Path]]]  # set → class → image files
Classes = dict[str, list[Path]]  # class → image files


def _subdirs(d: Path) -> list[Path]:
    """The sub-folders of ``d``, sorted: hidden ones left out, and :data:`OS_FOLDERS` with a note."""
    found = sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))
    for p in found:
        if p.name.lower() in OS_FOLDERS:
            show_note(
                f"'{p}' is left out: macOS adds it to the zip files it makes, with each file's metadata "
                f"('._' files), not images."
            )
    return [p for p in found if p.name.lower() not in OS_FOLDERS]


def _split_of(d: Path) -> str | None:
    """The split a top-level folder stands for: a split name (any case) unless it holds images and no
    sub-folders (then it is a class, e.g. CIFAR-100's 'train'); None for any other name."""
    split = SPLIT_FOLDERS.get(d.name.lower())
    return split if split and (_subdirs(d) or not image_files(d)) else None


def _sets(root: Path) -> dict[str, Path]:
    """Each set's folder, in SET_NAMES order: root's split folders, or root itself as 'train' (flat)."""
    splits = {d: _split_of(d) for d in _subdirs(root)}
    found = ", ".join(f"{d.name}/" for d, split in splits.items() if split)
    if not found:
        return {"train": root}
    others = ", ".join(f"{d.name}/" for d, split in splits.items() if not split)
    flat = [d for d, split in splits.items() if not split and d.name.lower() in SPLIT_FOLDERS]
    if flat:
        raise _flat_split(root, flat[0], next(d for d, split in splits.items() if split))
    if others:
        raise DataError(
            f"data.root '{root}' mixes split folders ({found}) with other folders ({others}). "
            f"{LAYOUTS}. Move the other folders out of '{root}', or point data.root at a folder of "
            f"class folders."
        )
    by_set: dict[str, Path] = {}
    for d, split in splits.items():
        if split in by_set:
            raise DataError(
                f"'{by_set[split]}' and '{d}' both hold the {split} split: merge them into one "
                f"{split}/ folder."
            )
        by_set[str(split)] = d
    if "train" not in by_set:
        raise DataError(
            f"data.root '{root}' has split folders ({found}) but no train/: every class needs "
            f"training images. {LAYOUTS}."
        )
    return {s: by_set[s] for s in SET_NAMES if s in by_set}


def _flat_split(root: Path, flat: Path, split: Path) -> DataError:
    """The error for a split folder that holds its images directly (``test/*.png``) beside split folders
    of class folders: its images have no class."""
    classes = [d.name for d in _subdirs(split)][:2] or ["cat", "dog"]
    eg = ", ".join(f"{flat.name}/{c}/" for c in classes)
    return DataError(
        f"data.root '{root}' has split folders of class folders ({split.name}/), but '{flat}' holds "
        f"its images directly, so they have no class. Put {flat.name}/'s images into one folder per "
        f"class, {flat.name}/<class>/ (e.g. {eg}, as in {split.name}/)."
    )


def scan(root: Path, evaluated: bool = False) -> Layout:
    """Find the class folders and their images (flat layout → a single 'train' set); class names are
    the folders' names in Unicode NFC (a name copied from macOS or a zip file matches the same name
    typed), the files their paths on disk. DataError for fewer than two classes unless ``evaluated`` (a
    trained run scores it: new images of one class); a :class:`~vislab.errors.Note` names the files
    beside the class folders, and the classes a test or val folder lacks. Refused too, naming the fix:
    class folders holding test/ or val/ split folders (laid out class first; not when ``evaluated``),
    and a data.root one level too high (its one folder holds split folders or several folders)."""
    if not root.is_dir():
        near = dl.near_misses(root)
        guess = f" Did you mean {' or '.join(repr(str(p)) for p in near)}?" if near else ""
        raise DataError(
            f"data.root '{root}' is not a folder.{guess} For data.name=folder, point data.root at a folder "
            f"with one sub-folder of images per class (e.g. {root}/cat/*.png, {root}/dog/*.jpg): "
            f"--set data.root=DIR, also with --resume (Python: data__root=DIR)."
        )
    by_set = _sets(root)
    flat = by_set == {"train": root}
    if flat:
        _check_class_first(root, evaluated)
    else:
        _note_loose(root, "the split folders", by_set["train"])
    layout = {key: _classes(d) for key, d in by_set.items()}
    if not evaluated:
        _check_two(by_set["train"], layout["train"], flat)
    for key, classes in layout.items():
        _check_extra(by_set[key], by_set["train"], classes, layout["train"])
        if lacking := sorted(set(layout["train"]) - set(classes)):
            _note_lacking(by_set[key], key, lacking, len(layout["train"]))
    return layout


def _check_class_first(root: Path, evaluated: bool = False) -> None:
    """DataError where a class folder holds held-out split folders (``DIR/cat/train/``,
    ``DIR/cat/test/``): pooled into its class, their images would be trained on — not where a trained
    run scores the folder (``evaluated``: nothing is trained on, pooling is harmless), unless the
    folder is the only one (data.root one level too high)."""
    folders = _subdirs(root)
    for c in folders:
        splits = [d.name for d in _subdirs(c) if d.name.lower() in SPLIT_FOLDERS]
        held = [s for s in splits if SPLIT_FOLDERS[s.lower()] != "train"]
        if not held:
            continue
        listed = ", ".join(f"{s}/" for s in splits)
        if len(folders) == 1:
            raise DataError(_root_too_high(root, c, f"split folders ({listed})"))
        if evaluated:
            return
        raise DataError(
            f"class folder '{c}' holds split folders ({listed}): vislab would pool them into class "
            f"{c.name!r} and carve its own splits, so the images of '{c / held[0]}/' would be trained "
            f"on. Lay '{root}' out split first, each split folder holding the class folders: "
            f"{root / 'train' / c.name}/, {root / held[0] / c.name}/ and so on for each class. "
            f"{LAYOUTS}."
        )


def _root_too_high(root: Path, folder: Path, holds: str) -> str:
    """The message for a data.root whose only folder, ``folder``, holds ``holds``: a data root itself."""
    return (
        f"data.root '{root}' holds a single folder, {folder.name!r}, which holds {holds}: did you "
        f"mean --set data.root={folder} (Python: data__root='{folder}')? data.root is the folder "
        f"that holds the class folders (or the split folders). {LAYOUTS}."
    )


def _check_extra(d: Path, train: Path, classes: Classes, train_classes: Classes) -> None:
    """DataError where set folder ``d`` has class folders that ``train`` lacks, each named; one whose
    name differs from a training class's only in case is to be renamed to it."""
    extra = sorted(set(classes) - set(train_classes))
    if not extra:
        return
    same = {c: t for c in extra for t in train_classes if c.casefold() == t.casefold()}
    renames = "; ".join(f"rename '{d / c}' to '{d / t}'" for c, t in same.items())
    fix = (
        f"Class names are matched exactly, and {first_few([repr(c) for c in same], 5)} differ"
        f"{'s' if len(same) == 1 else ''} from a training class only in case: {renames}."
        if same
        else ""
    )
    other = [c for c in extra if c not in same]
    rest = (
        f"Add {first_few([repr(c) for c in other], 5)} to train/ or remove them." if other else ""
    )
    raise DataError(
        f"'{d}' has class folders {extra} that '{train}' lacks; every class needs training images. "
        f"{' '.join(w for w in (fix, rest) if w)}"
    )


def _classes(d: Path) -> dict[str, list[Path]]:
    """The image files of each class folder of ``d``, by class name (the folder's name in NFC)."""
    if not _subdirs(d):
        raise DataError(f"no class folders in '{d}'. For data.name=folder, {LAYOUTS}.")
    _note_loose(d, "the class folders", d)
    classes: dict[str, list[Path]] = {}
    folders: dict[str, Path] = {}
    for c in _subdirs(d):
        files = image_files(c)
        if not files:
            raise DataError(
                f"class folder '{c}' holds no images ({', '.join(IMAGE_EXTS)}). Add images "
                f"or remove the folder."
            )
        name = unicodedata.normalize("NFC", c.name)
        if name in folders:
            raise DataError(
                f"'{folders[name]}' and '{c}' name the same class {name!r} (its letters encoded two "
                f"ways, as copies from macOS or zip files may be): merge them into one folder."
            )
        classes[name], folders[name] = files, c
    return classes


def _note_loose(d: Path, beside: str, into: Path) -> None:
    """The note naming the files (a few, then how many more) that lie directly in ``d``, beside
    ``beside`` (its sub-folders), which no class holds: they are not used; images go in ``into``'s class
    folders."""
    loose = sorted(
        p.name
        for p in d.iterdir()
        if not p.is_dir() and not p.name.startswith(".") and p.name.lower() not in OS_FILES
    )
    if loose:
        n = len(loose)
        image = next((f for f in loose if Path(f).suffix.lower() in IMAGE_EXTS), "")
        show_note(
            f"{n} file{'s' if n > 1 else ''} in '{d}' lie{'s' if n == 1 else ''} beside {beside} and "
            f"{'are' if n > 1 else 'is'} not used ({first_few(loose, 5)}): an image must be in a "
            f"folder named by its class, to train on it (e.g. '{into / '<class>' / image}')."
        )


def _check_two(d: Path, classes: dict[str, list[Path]], root: bool = False) -> None:
    """DataError where ``d`` holds fewer than two class folders: a classifier of one class learns
    nothing (its loss is 0 from the start, its accuracy 1). ``root``: ``d`` is data.root, which, when its
    one folder holds split folders or several folders, is one level too high."""
    if len(classes) < 2:
        (name,) = classes
        if root:
            _check_nested(d, _subdirs(d)[0])
        raise DataError(
            f"'{d}' holds a single class folder, {name!r} ({counted(len(classes[name]), 'image')}): a classifier "
            f"needs at least two classes (with one, every prediction is right and nothing is "
            f"learnt). Put each class's images in a folder of its own beside it, at least two "
            f"(e.g. '{d}/{name}/', '{d}/other/'). {LAYOUTS}."
        )


def _check_nested(root: Path, folder: Path) -> None:
    """DataError where data.root's one folder, ``folder``, holds split folders or several folders."""
    inner = _subdirs(folder)
    splits = [f"{f.name}/" for f in inner if f.name.lower() in SPLIT_FOLDERS]
    if splits:
        raise DataError(_root_too_high(root, folder, f"split folders ({', '.join(splits)})"))
    if len(inner) > 1:
        named = first_few([f"{f.name}/" for f in inner], 5)
        raise DataError(_root_too_high(root, folder, f"{len(inner)} folders ({named})"))


def _note_lacking(d: Path, key: str, lacking: list[str], n_classes: int) -> None:
    """The note naming the classes of train that the ``key`` set's folder ``d`` has no folder of."""
    n = len(lacking)
    show_note(
        f"'{d}' has no folder for {n} of the {n_classes} classes ({first_few([repr(c) for c in lacking], 5)}): "
        f"the {key} scores (per-class accuracy too) leave {'it' if n == 1 else 'them'} out. Add "
        f"{d.name}/<class>/ images of {'it' if n == 1 else 'them'} to score every class."
    )
