"""Report figures that need the trained model itself, chosen by what the model offers (its hooks:
:func:`vislab.models.hooks.hooks_of`), never by its name: a transformer's position embedding and
attention maps, Grad-CAM at a network's Grad-CAM layer (any convolutional network; ``vislab explain``'s,
through captum), and the decision boundary of any model on 2-D feature data (``circles``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from vislab.config import Config
from vislab.data.crop import centre_crop
from vislab.data.input_spec import InputSpec
from vislab.data.loader import DeviceLoader
from vislab.data.types import ArraySet
from vislab.explain_maps import (
    HEAD_UNITS,
    attention_query,
    explain_maps,
    run_probabilities,
    tta_note,
)
from vislab.figure_hooks import (
    attention_layer,
    figure_gradcam_layer,
    figure_position_table,
    figure_tokens,
    ignored_hooks,
    why_no_attention,
)
from vislab.models.hooks import TokenGrid, hooks_of, patch_embedding
from vislab.models.user import is_user_reference, parse_reference
from vislab.plotting.boundary import plot_decision_boundary
from vislab.plotting.explain import head_labels, plot_explanation
from vislab.plotting.vit import plot_attention, plot_pos_embedding
from vislab.predict import load_model
from vislab.report.figure_set import FigureSet, failure_note, install_hint, wide
from vislab.training.record import RunRecord


def model_figures(
    figs: FigureSet,
    name: str,
    run_dir: Path,
    cfg: Config | None,
    trust_code: bool = False,
    label: str | None = None,
) -> list[dict]:
    """The model-specific figures of one run ([] when its model and data have none), captioned with
    ``label`` (default ``name``; a seed run: 'cnn, seed 0 (cnn-s0)'); ``trust_code``: import the run's
    own model file even if it changed since training. ModelNotLoaded when its model cannot be loaded
    (its checkpoint gone or unreadable, its code changed): a run file not read, which a report's and a
    paper's builds say on the terminal too."""
    if cfg is None:
        return []
    model, record = _loaded(name, run_dir, trust_code)
    try:  # the figure hooks of the user's own model may raise, or give what they must not
        hooks = _Hooks(model, record, drawn_from(run_dir, cfg, record))
        looks_inside = _looks_inside(hooks)
    except Exception as e:
        figs.notes.append(failure_note(f"{name}: model figures", e))
        return []
    if note := _no_attention_note(name, model, hooks):
        figs.notes.append(note)
    if not looks_inside and cfg.data.name != "circles":
        return []
    try:
        test, x = _test_batch(figs, cfg, record.inputs, None if looks_inside else 100_000)
        inside = looks_inside and test.is_image
        predicted = _predicted(model, record, x) if inside else None
    except Exception as e:
        figs.notes.append(failure_note(f"{name}: model figures (test data not loaded)", e))
        return []
    if inside:
        titles = _image_titles(predicted, test.y, record.model.class_names)
        batch = (x, test.x, titles, predicted)
        out = _inside_figures(figs, name, label or name, hooks, batch, record.inputs.tta)
    elif x.ndim == 2 and x.shape[1] == 2:
        out = [_boundary(figs, name, label or name, hooks, test)]
    else:
        out = []
    return [f for f in out if f]


def _boundary(figs: FigureSet, name: str, label: str, hooks: _Hooks, test: ArraySet) -> dict | None:
    """The decision boundary of a model on 2-D feature data, over its ``test`` points."""
    return figs.make(
        f"boundary_{figs.file_part(name)}.png",
        f"{label}: decision boundary on the test points",
        _decision_boundary,
        hooks,
        test.x,  # the raw features, as predict takes them
        test.y,
        name,
    )


def _decision_boundary(hooks: _Hooks, x: np.ndarray, y: np.ndarray, title: str, path: Path) -> Path:
    """:func:`plot_decision_boundary` of the run's model over the points ``x`` (raw), labels ``y``."""
    record = hooks.record
    return plot_decision_boundary(
        hooks.model,
        x,
        y,
        class_names=record.model.class_names,
        title=title,
        prepare=record.inputs.prepare,
        path=path,
    )


def drawn_from(run_dir: Path, cfg: Config, record: RunRecord) -> dict:
    """What a run's model stands for in the key of its figures (:meth:`_Hooks.figure_input`), as plain
    values: the size and time of its checkpoints (a run trained again, its best.pt replaced, gets them
    drawn anew; named within the run folder, however the command spelled it), its config (the test
    images shown) and, where its model is the user's code, the record of it and the size and time of
    each file a load may import (:func:`_code_files`: changed, imported again with ``trust_code``)."""
    code = record.model.code or {}
    files = {
        f"checkpoints/{f}": _stamp(run_dir / "checkpoints" / f) for f in ("best.pt", "last.pt")
    }
    # the user's files by their stamps alone: where the command runs from changes no path in the key
    stamps = sorted(s for f in _code_files(record.model.name, code) if (s := _stamp(f)) is not None)
    return dict(files=files, code_files=stamps, config=cfg.model_dump(mode="json"), code=code)


def _code_files(name: str, code: dict) -> list[Path]:
    """The user's files a load of model ``name`` may import (:mod:`vislab.models.trust`): the model file
    its reference names from the current directory (tried first), the one the run recorded, and beside
    each, the modules the run recorded it importing (a sibling ``blocks.py``)."""
    ref = parse_reference(name) if is_user_reference(name) else None  # timm:resnet18.a1_in1k: none
    files = [Path(ref.target).expanduser()] if ref is not None and ref.is_file else []
    files += [Path(code["path"])] if code.get("path") else []
    out: list[Path] = []
    for file in dict.fromkeys(f.resolve() for f in files):
        out += [file, *((file.parent / rel).resolve() for rel in code.get("imports") or {})]
    return list(dict.fromkeys(out))


def _stamp(path: Path) -> list[int] | None:
    """A file's size and modification time (ns), or None where it is missing."""
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


# what each model figure shows, by the start of its file name, in the order the page's heading names them
_SHOWN = {
    "vit_pos_": "positional embeddings",
    "vit_attention_": "attention maps",
    "vit_heads_": "attention maps",
    "gradcam_": "Grad-CAM maps",
    "boundary_": "decision boundaries",
}


def model_heading(sections: list[dict]) -> str:
    """The heading of the page's model figures, naming what its ``sections`` (one per run: its figures)
    hold: "Model figures: Grad-CAM maps"."""
    names = [f["name"] for s in sections for f in s["figures"]]
    shown = [what for start, what in _SHOWN.items() if any(n.startswith(start) for n in names)]
    return "Model figures" + (f": {', '.join(dict.fromkeys(shown))}" if shown else "")


class ModelNotLoaded(Exception):
    """A run's model that its figures cannot be drawn without: the message names the run, what is left
    out, the file and the fix."""


def _loaded(name: str, run_dir: Path, trust_code: bool) -> tuple[torch.nn.Module, RunRecord]:
    """Run ``name``'s model and record (:func:`~vislab.predict.load_model`), else ModelNotLoaded."""
    try:
        return load_model(run_dir, trust_code)
    except Exception as e:
        what = f"{name}: its model figures (Grad-CAM, attention maps) are left out"
        raise ModelNotLoaded(failure_note(what, e)) from e


class _Hooks:
    """A run's model with its figure hooks' answers, asked as ``vislab explain`` asks them
    (:mod:`vislab.figure_hooks`: the user's own model raising in one, or giving what it must not, is a
    UserCodeError naming the hook, which the report notes): the token grid and Grad-CAM layer asked once."""

    def __init__(self, model: torch.nn.Module, record: RunRecord, drawn_from: dict | None = None):
        self.model, self.record, self.drawn_from = model, record, drawn_from
        self.name, self.code = record.model.name, record.model.code
        self.trained_by = hooks_of(model).trained_by
        self.tokens = figure_tokens(model, self.name, self.code)
        self.gradcam = figure_gradcam_layer(model, self.name, self.code)

    def figure_input(self) -> dict:
        """What the model stands for in a figure's key (:func:`~vislab.plotting.canvas.figure_key`): its
        run's files and config (:func:`drawn_from`); TypeError where they are unknown (always drawn)."""
        if self.drawn_from is None:
            raise TypeError("a model whose run is not known")
        return self.drawn_from

    def position_embedding(self) -> torch.Tensor | None:
        """The model's position embedding T × D (:func:`figure_position_table`), or None."""
        if self.tokens is None:
            return None
        return figure_position_table(self.model, self.tokens, self.name, self.code)

    def maps(
        self, x: torch.Tensor, method: str, target: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``vislab explain``'s maps of ``method`` on the normalised batch ``x`` (on the model's device)."""
        device = next(self.model.parameters()).device
        target = None if target is None else target.to(device)
        return explain_maps(self.model, x.to(device), method, -1, target, self.name, self.code)


def _looks_inside(hooks: _Hooks) -> bool:
    """Whether the model offers a look inside on images: attention over a token grid, or a Grad-CAM layer
    (a fitted baseline has no attention or gradients to show)."""
    if hooks.trained_by == "fit_arrays":
        return False
    return hooks.tokens is not None or hooks.gradcam is not None


def _no_attention_note(name: str, model: torch.nn.Module, hooks: _Hooks) -> str | None:
    """The report's note for a model with attention layers, or figure hooks vislab ignores, but no token
    grid (a vision transformer of the user's own without the hooks): why it has no attention figures,
    and how to get them."""
    layer = attention_layer(model)
    if hooks.tokens is not None or hooks.trained_by == "fit_arrays":
        return None
    ignored = ignored_hooks(model)
    if layer is None and not ignored:
        return None
    cut = " nor Grad-CAM (its one convolution only cuts the image into patches)"
    has = "" if ignored else f"its model has attention layers ({layer}) but "
    return (
        f"{name}: no attention figures{cut if patch_embedding(model) is not None else ''}: "
        f"{has}{why_no_attention(model, 'token_grid()')}"
    )


def _inside_figures(
    figs: FigureSet,
    name: str,
    label: str,
    hooks: _Hooks,
    batch: tuple[torch.Tensor, np.ndarray, list[str], torch.Tensor],
    tta: str = "none",
) -> list[dict | None]:
    """The figures the model's hooks offer on the test ``batch`` (the model's input, the images shown,
    their titles: :func:`_image_titles`, the classes the run predicts: :func:`_predicted`): position
    embedding, attention rollout and heads (transformers), Grad-CAM (a Grad-CAM layer); files named by
    the run's ``name``, captions by its ``label``; with test-time augmentation ``tta``, they say the
    maps are of the plain forward pass."""
    safe, tokens = figs.file_part(name), hooks.tokens
    note = f" ({tta_note(tta)})" if tta != "none" else ""
    out = []
    caption = f"{label}: positional embeddings"
    if tokens is not None and (table := _table(figs, hooks, caption)) is not None:
        out.append(figs.make(f"vit_pos_{safe}.png", caption, _positions, table, tokens.grid))
    if tokens is not None:
        caption = f"{label}: attention rollout ({attention_query(tokens)}) on test images{note}"
        out.append(figs.make(f"vit_attention_{safe}.png", caption, _rollout, hooks, *batch))
        caption = f"{label}: {_heads_shown(tokens)} on a test image{note}"
        out.append(figs.make(f"vit_heads_{safe}.png", caption, _heads, hooks, *batch))
    if hooks.gradcam is not None and importlib.util.find_spec("captum") is None:
        # captum is a core dependency: only an environment that lacks it anyway gets the hint
        figs.notes.append(install_hint(f"{name}: Grad-CAM", "captum"))
    elif hooks.gradcam is not None:
        caption = f"{label}: Grad-CAM of the predicted class on test images{note}"
        out.append(figs.make(f"gradcam_{safe}.png", caption, _gradcam, hooks, *batch))
    return [wide(f) for f in out]


def _table(figs: FigureSet, hooks: _Hooks, caption: str) -> torch.Tensor | None:
    """The model's position embedding, or None: none, or its hook's mistake noted under ``caption``."""
    try:
        return hooks.position_embedding()
    except Exception as e:  # one broken figure must not cost the whole report
        figs.notes.append(failure_note(caption, e))
        return None


def _positions(table: torch.Tensor, grid: tuple[int, int], path: Path) -> Path:
    """The position-embedding table and its patch similarities (row 0 the class token's, if it has one)."""
    class_token = len(table) == grid[0] * grid[1] + 1
    return plot_pos_embedding(table, grid, path, class_token=class_token)


def _heads_shown(tokens: TokenGrid) -> str:
    """What the heads figure draws (``vislab explain --method attention``): the class token's attention
    to each patch, or for a model without one the attention each patch gets, averaged over all tokens."""
    if tokens.class_token:
        return "each head's class-token attention (last block)"
    return (
        "each head's attention to each patch, averaged over all tokens (no class token; last block)"
    )


def _predicted(model: torch.nn.Module, record: RunRecord, x: torch.Tensor) -> torch.Tensor:
    """The class the run predicts for each image of the normalised batch ``x``: its test-time
    augmentation included (:func:`vislab.explain_maps.run_probabilities`), as in predictions_test.npz."""
    return run_probabilities(model, record, x.to(next(model.parameters()).device)).argmax(1)


def _image_titles(predicted: torch.Tensor, y: np.ndarray, names: list[str]) -> list[str]:
    """Each image's title: the class the run predicts (the one Grad-CAM explains) and its true class."""
    return [
        f"predicted {names[p]}\ntrue {names[t]}" for p, t in zip(predicted.tolist(), y.tolist())
    ]


def _rollout(hooks: _Hooks, x: torch.Tensor, display, titles, _, path: Path) -> Path:
    """Attention rollout (``vislab explain --method rollout``) on the normalised batch ``x`` over
    ``display``, each image's map scaled to its own min–max."""
    maps = hooks.maps(x, "rollout")[:, 0]
    return plot_attention(maps, x, display, path=path, titles=titles)


def _heads(hooks: _Hooks, x: torch.Tensor, display, titles, _, path: Path) -> Path:
    """``vislab explain --method attention`` on the first image of ``x``: one panel per head (counted
    from 1), all on one colour scale, from their least to their largest weight."""
    maps = hooks.maps(x[:1], "attention")[0]
    title = titles[0].replace("\n", ", ")
    return plot_explanation(display[0], maps, head_labels(len(maps)), path, title, HEAD_UNITS)


def _gradcam(
    hooks: _Hooks, x: torch.Tensor, display, titles, predicted: torch.Tensor, path: Path
) -> Path:
    """Grad-CAM (``vislab explain --method gradcam``) of the ``predicted`` classes on the normalised
    batch ``x`` over ``display``."""
    maps = hooks.maps(x, "gradcam", predicted)[:, 0]
    return plot_attention(maps, x, display, path=path, label="Grad-CAM", titles=titles)


def _test_batch(
    figs: FigureSet, cfg: Config, spec: InputSpec, n: int | None
) -> tuple[ArraySet, torch.Tensor]:
    """(``n`` test samples as an ArraySet, the same as the model's normalised input); n=None: 6, spread
    over the classes (:func:`spread_indices`: the same for every run on the data)."""
    splits = figs.splits(cfg)
    test = splits.test.take(spread_indices(splits.test.y, n or 6))
    size = spec.crop_size  # a model trained on crops sees the centre crop, as in evaluation
    loader = DeviceLoader(test, spec.stats, len(test), torch.device("cpu"), size=size)
    x, _ = next(iter(loader.epoch(0)))
    if size and test.is_image:  # the images shown are the ones the model saw
        shown = centre_crop(torch.from_numpy(test.x).permute(0, 3, 1, 2), size)
        test = ArraySet(np.ascontiguousarray(shown.permute(0, 2, 3, 1).numpy()), test.y)
    return test, x


def spread_indices(y: np.ndarray, n: int) -> np.ndarray:
    """``n`` indices of labels ``y`` (all of them, if fewer) taken in turn from each class: the first
    image of every class (in class order), then the second of every class, ... (a test split sorted by
    class still shows them all)."""
    order = np.argsort(y, kind="stable")
    classes = y[order]
    rank = np.arange(len(y)) - np.searchsorted(classes, classes)  # its place within its class
    return order[np.lexsort((classes, rank))][:n]
