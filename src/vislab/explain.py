"""Why a finished run predicts what it does, image by image: the maps of :mod:`vislab.explain_maps`
(attention, rollout, Grad-CAM, saliency) of a run's model, drawn over its images.

Images go through the run's own preprocessing exactly as ``vislab predict`` (resize, centre crop,
normalisation: :mod:`vislab.predict`) and are titled with the class the run predicts (its test-time
augmentation included, as predict's), the class the gradient methods explain unless one is chosen
(``--class cat / target="cat"``, then named in the title). ``vislab explain`` writes a PNG per image
(:func:`explain_images`), ``Run.explain`` returns one Figure of them all (:func:`explain_figure`); both
take folders as predict does. Mistakes are UserErrors naming each option both ways, command line /
Python: ``--block 3 / block=3``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from vislab.classify import converted_note, image_shape
from vislab.data.crop import centre_crop
from vislab.data.images import (
    ImageLike,
    expand_folders,
    image_array,
    load_image_or_error,
    split_images,
)
from vislab.errors import UserError, show_note
from vislab.explain_maps import (
    HEAD_UNITS,
    check_block,
    check_method,
    class_index,
    default_method,
    map_units,
    maps_and_depth,
    run_probabilities,
    tta_note,
)
from vislab.figure_hooks import hooks_advice
from vislab.models.hooks import patch_embedding
from vislab.plotting.explain import explanation_rows_figure, head_labels, plot_explanation
from vislab.plotting.files import check_new_files
from vislab.predict import checkpoint_tag, load_model
from vislab.training.record import RunRecord
from vislab.training.writable import check_writable


@dataclass
class Explanation:
    """One image's maps: ``maps`` K × h × w, ``labels`` one caption per map, ``top`` (class, prob); for
    ``method`` attention, ``block`` is the block shown (0-based) of the model's ``depth``; ``tta``: the
    run's test-time augmentation (``top`` is its prediction, the maps of the plain forward pass);
    ``units``: what the maps hold, for their colour bar (None: each scaled per image, :func:`map_units`);
    ``of``: the class the maps explain and its probability, when one was chosen (else the predicted);
    ``query``: whose attention the maps of attention and rollout show (:func:`attention_query`)."""

    maps: torch.Tensor
    labels: list[str]
    top: tuple[str, float]
    method: str
    block: int | None = None
    depth: int = 0
    tta: str = "none"
    units: str | None = None
    of: tuple[int, str, float] | None = None  # (index, name, probability) of a chosen class
    query: str | None = None

    def file_name(self, stem: str, checkpoint: str = "") -> str:
        """``<stem>_<method>.png``; attention: ``<stem>_attention_block<b>.png`` (one file per block,
        ``b`` as ``--block`` counts, from 0); a chosen class: ``<stem>_<method>_class<k>.png`` (``k`` its
        index: a class name may not fit a file name); then ``_<checkpoint>`` (:func:`checkpoint_tag`)."""
        block = f"_block{self.block}" if self.block is not None else ""
        of = f"_class{self.of[0]}" if self.of else ""
        tag = f"_{checkpoint}" if checkpoint else ""
        return f"{stem}_{self.method}{block}{of}{tag}.png"

    def shows(self) -> str:
        """What the maps are, for a title: ``attention, block 1 of 2 (--block 0 / block=0)`` (a person
        counts from 1, the option from 0) / ``rollout``."""
        if self.of:
            return f"{self.method} of class {self.of[1]} ({self.of[2]:.2f})"
        if self.block is None:
            return self.method
        b = self.block
        return f"{self.method}, block {b + 1} of {self.depth} (--block {b} / block={b})"


def model_input(record: RunRecord, arrays: Sequence[np.ndarray]) -> torch.Tensor:
    """uint8 H×W×C images (of :func:`vislab.classify.image_shape`) as the normalised batch the model takes."""
    return record.inputs.images(arrays)


def explain_images(
    target: str | Path,
    images: Sequence[Path],
    method: str | None = None,
    out: Path | None = None,
    block: int | None = None,
    trust_code: bool = False,
    force: bool = False,
    target_class: str | int | None = None,
) -> list[tuple[Path, Path | UserError]]:
    """``vislab explain``: for each image in turn (a folder: each image under it, sorted, as predict
    reads it), (image, its PNG: the image, then each map over it) or (image, the UserError it gave:
    missing or unreadable), so a bad image stops none of the others.

    PNGs go into ``out`` (default ``RUN/explain``), named ``<image>_<method>[_block<b>][_class<k>][_last].png``
    (``<image>``: a file's stem, ``img1``; an image in a folder given, its path under that folder,
    ``cat/0.png`` as ``cat_0``, since class folders repeat file names; ``_last``: a checkpoint file other
    than best.pt, by its stem, also in the title);
    ``method`` None: :func:`default_method` (with ``block`` given: attention, for a ViT); ``block``
    (attention only): the block shown, None the last; ``target_class``: the class gradcam and saliency
    explain (``--class``: a class name; :func:`class_index`), None the one predicted. A folder that
    cannot be written (or created) is refused before any image is explained; the readable images are
    explained before any PNG is written, so an error of the run, the method or the names (a
    PNG there without ``force``, two images of one name) stops the command with nothing written. An image
    given twice (a file also under a folder given) is explained once."""
    model, record, method, at, shape, k = _set_up(target, method, block, trust_code, target_class)
    folder = Path(out) if out is not None else _default_folder(Path(target))
    check_writable(folder, "the PNGs", undone="nothing was explained")
    named = _each_once(_named_images(list(images)))
    paths = [Path(p) for p, _ in named]  # type: ignore[arg-type]
    greys: dict[Path, bool] = {}  # the readable files' colours
    arrays = [load_image_or_error(p, shape, greys=greys) for p in paths]
    readable = [i for i, a in enumerate(arrays) if not isinstance(a, UserError)]
    converted_note(greys, shape[0], record.model.name)
    explained = {i: explain_one(model, record, arrays[i], method, at, k) for i in readable}
    tag = checkpoint_tag(target)
    pngs = {i: folder / e.file_name(_stem(named[i][1]), tag) for i, e in explained.items()}
    _check_distinct([paths[i] for i in readable], list(pngs.values()))
    check_new_files(pngs.values(), force)
    results: list[tuple[Path, Path | UserError]] = []
    for i, (path, arr) in enumerate(zip(paths, arrays)):
        if isinstance(arr, UserError):
            results.append((path, arr))
        else:
            title = _title(named[i][1], explained[i], target)
            results.append((path, _draw(arr, explained[i], record, pngs[i], title)))
    return results


def explain_figure(
    target: str | Path,
    images: ImageLike | Sequence[ImageLike],
    method: str | None = None,
    block: int | None = None,
    trust_code: bool = False,
    target_class: str | int | None = None,
) -> Figure:
    """``Run.explain``: one Figure, a row per image (paths, folders, PIL images or arrays, read as
    :meth:`Run.predict <vislab.run.Run.predict>` reads them) with the maps ``vislab explain`` draws for it.

    ``method``, ``block`` and ``target_class`` as for :func:`explain_images`. An image file in a folder
    given that cannot be read is left out, a note naming it and why, so a bad image stops none of the
    others (as ``vislab explain``'s); any other image that cannot be read stops it, named (a UserError,
    as any other mistake), as does a folder with no readable image."""
    model, record, method, at, shape, k = _set_up(target, method, block, trust_code, target_class)
    given = split_images(images, shape[0], shape[1:])  # arrays of several images: each one
    named = _named_images(given)
    if not named:
        raise UserError("no images to explain: give image files, folders, PIL images or arrays.")
    greys: dict[Path, bool] = {}  # the readable files' colours
    arrays, names = _readable(named, [Path(g) for g in given if _is_folder(g)], shape, greys)
    converted_note(greys, shape[0], record.model.name)
    explained = [explain_one(model, record, a, method, at, k) for a in arrays]
    return explanation_rows_figure(
        [_shown(a, record) for a in arrays],
        [e.maps for e in explained],
        explained[0].labels,
        [_title(name, e, target) for name, e in zip(names, explained)],
        explained[0].units,
    )


def _set_up(
    target: str | Path,
    method: str | None,
    block: int | None,
    trust_code: bool,
    target_class: str | int | None = None,
) -> tuple[nn.Module, RunRecord, str, int, tuple[int, int, int], int | None]:
    """What explaining a run's images needs, its mistakes refused first: the model and its record, the
    method (None: :func:`default_method`, but attention for a ViT when a block is given: the one method
    drawn per block), the block shown (-1: the last), the images' shape and the class index to explain
    (None: the predicted; :func:`class_index`)."""
    check_method(method)
    model, record = load_model(target, trust_code)
    found = default_method(model, record.model.name, record.model.code)
    attends = found == "rollout"
    if method is None and found == "saliency" and patch_embedding(model) is not None:
        show_note(_patches_only(record.model.name, model))
    method = method or ("attention" if attends and block is not None else found)
    check_block(block, method, attends=attends)
    names = record.model.class_names
    k = None if target_class is None else class_index(target_class, names, method)
    return model, record, method, -1 if block is None else block, image_shape(record, target), k


def _patches_only(name: str, model: nn.Module) -> str:
    """The note of a model explained by saliency whose one convolution cuts the image into patches (a
    vision transformer without the attention hooks): why not Grad-CAM, and how to get attention maps."""
    return (
        f"model '{name}' is explained by saliency: its one convolution only cuts the image into "
        f"patches (a vision transformer's patch embedding), no feature map for Grad-CAM. For attention "
        f"maps and rollout, {hooks_advice(model)}"
    )


def _is_folder(image: ImageLike) -> bool:
    return isinstance(image, (str, Path)) and Path(image).is_dir()


def _readable(
    named: list[tuple[ImageLike, str]],
    folders: list[Path],
    shape: tuple[int, int, int],
    greys: dict[Path, bool],
) -> tuple[list[np.ndarray], list[str]]:
    """The images of ``named`` as uint8 arrays, with their names (:func:`_named_images`); each file read
    mapped in ``greys`` to whether it holds only greys. A file found under one of ``folders`` that cannot
    be read is left out, a note naming each such file and why; UserError when none of them is left. Any
    other image that cannot be read: its UserError (:func:`_image`)."""
    arrays, names, unread = [], [], []
    for i, (image, name) in enumerate(named):
        found = isinstance(image, (str, Path)) and any(
            Path(image).is_relative_to(f) for f in folders
        )
        arr = (
            load_image_or_error(Path(image), shape, greys=greys)  # type: ignore[arg-type]
            if found
            else _image(image, i, shape, greys)
        )
        if isinstance(arr, UserError):
            unread.append(str(arr))
        else:
            arrays.append(arr)
            names.append(name)
    if unread and not arrays:
        raise UserError(f"no image could be read, nothing to explain: {' '.join(unread)}")
    if unread:
        n = len(unread)
        show_note(
            f"{n} image{'s' if n > 1 else ''} in the folders given could not be read and "
            f"{'are' if n > 1 else 'is'} left out of the figure (the others are explained): "
            f"{' '.join(unread[:3])}{f' ... and {n - 3} more' if n > 3 else ''}"
        )
    return arrays, names


def _named_images(images: Sequence[ImageLike]) -> list[tuple[ImageLike, str]]:
    """Each image (a folder: each image under it, sorted, :func:`expand_folders`) with the name its title
    and PNG take: a file given, its name (``img1.png``); an image in a folder given, its path under that
    folder (``cat/0.png``: class folders repeat file names); any other image, its place (``image 3``)."""
    named: list[tuple[ImageLike, str]] = []
    for image in images:
        if not isinstance(image, (str, Path)):
            named.append((image, f"image {len(named)}"))
        elif Path(image).is_dir():
            found = expand_folders([image])
            named += [(p, Path(p).relative_to(image).as_posix()) for p in found]  # type: ignore[arg-type]
        else:
            named.append((image, Path(image).name))
    return named


def _each_once(named: list[tuple[ImageLike, str]]) -> list[tuple[ImageLike, str]]:
    """The image files of ``named`` each once, as first given (one file by where its path leads)."""
    seen: set[Path] = set()
    once = []
    for image, name in named:
        where = Path(image).resolve()  # type: ignore[arg-type]
        if where not in seen:
            seen.add(where)
            once.append((image, name))
    return once


def _stem(name: str) -> str:
    """An image's name (:func:`_named_images`) as the start of its PNG's: ``cat/0.png`` → ``cat_0``."""
    return PurePosixPath(name).with_suffix("").as_posix().replace("/", "_")


def _image(
    image: ImageLike, index: int, shape: tuple[int, int, int], greys: dict[Path, bool]
) -> np.ndarray:
    """:func:`vislab.data.images.image_array` (a file's colours into ``greys``), its error naming the
    image: a file names itself, any other image by its place in the list."""
    try:
        return image_array(image, shape, greys)
    except UserError as e:
        if isinstance(image, (str, Path)):
            raise
        raise UserError(f"image {index} ({type(image).__name__}): {e}") from None


def _check_distinct(images: Sequence[Path], pngs: Sequence[Path]) -> None:
    """UserError when two images would be written to one PNG (same name, other suffix or folder given)."""
    first: dict[Path, Path] = {}
    for image, png in zip(images, pngs):
        if png in first:
            raise UserError(
                f"'{first[png]}' and '{image}' would both be drawn into '{png}': explain images with "
                f"different names, or each in its own command with its own --out."
            )
        first[png] = image


def _draw(arr: np.ndarray, e: Explanation, record: RunRecord, png: Path, title: str) -> Path:
    """The image as the model saw it (centre-cropped), then each map over it, under ``title``;
    returns ``png``."""
    return plot_explanation(_shown(arr, record), e.maps, e.labels, png, title, units=e.units)


def _shown(arr: np.ndarray, record: RunRecord) -> np.ndarray:
    """The uint8 H×W×C image as the model saw it: centre-cropped to its input."""
    shown = centre_crop(torch.from_numpy(arr).permute(2, 0, 1), record.inputs.crop_size)
    return shown.permute(1, 2, 0).numpy()


def _title(name: str, e: Explanation, target: str | Path) -> str:
    """``name: class (probability) | what the maps are``, then ``| last.pt`` when ``target`` is a
    checkpoint file other than best.pt (:func:`checkpoint_tag`), then, on lines of their own, whose
    attention the maps show (attention, rollout) and a test-time augmentation's note."""
    of = f" | {Path(target).name}" if checkpoint_tag(target) else ""
    query = f"\n{e.query}" if e.query else ""
    note = f"\n{tta_note(e.tta)}" if e.tta != "none" else ""
    return f"{name}: {e.top[0]} ({e.top[1]:.2f}) | {e.shows()}{of}{query}{note}"


def explain_one(
    model: nn.Module,
    record: RunRecord,
    arr: np.ndarray,
    method: str,
    block: int = -1,
    target_class: int | None = None,
) -> Explanation:
    """One uint8 H×W×C image's maps by ``method``, with captions and the class the run predicts
    (:func:`run_probabilities`, test-time augmentation included), the one the gradient methods explain
    unless ``target_class`` (an index) is given."""
    x = model_input(record, [arr])
    probs = run_probabilities(model, record, x)[0]
    p, c = probs.max(0)
    names = record.model.class_names
    top, tta = (str(names[int(c)]), float(p)), record.inputs.tta
    of = None
    if target_class is not None:
        c = torch.tensor(target_class)
        of = (target_class, str(names[target_class]), float(probs[target_class]))
    m = record.model
    maps, depth, query = maps_and_depth(model, x, method, block, c[None], m.name, m.code)
    if method == "attention":  # heads counted from 1, as the title's block; one scale for them all
        labels = head_labels(len(maps[0]))
        b = block % depth
        return Explanation(maps[0], labels, top, method, b, depth, tta, HEAD_UNITS, query=query)
    labels = [{"rollout": "attention rollout", "gradcam": "Grad-CAM"}.get(method, method)]
    units = map_units(method)
    return Explanation(maps[0], labels, top, method, tta=tta, units=units, of=of, query=query)


def _default_folder(target: Path) -> Path:
    run_dir = target if target.is_dir() else target.parent.parent  # RUN/checkpoints/best.pt → RUN
    return run_dir / "explain"
