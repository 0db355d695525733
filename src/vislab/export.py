"""Export a finished run's model to ONNX or TorchScript, with a JSON of what inference needs.

``export_run(run, "onnx")`` writes ``run/export/model.onnx`` and ``run/export/model.json`` (TorchScript:
``model.torchscript.pt`` and ``model.torchscript.json``; :func:`spec_path`; last.pt's: ``model_last.*``),
the inference spec, also inside the model file (``export_formats.with_metadata``)
(:mod:`vislab.export_spec`): the input shape, the normalisation (per-channel mean/std, or the ZCA mean
and matrix), the class names, the model name and options, the checkpoint the weights came from (its
file, epoch, step when mid-epoch, and the run's test accuracy where it is theirs), and the exact recipe
from a uint8 H×W×C image to the model's input. Every export is checked before it is written
(``vislab.export_formats``): the exported model must give PyTorch's outputs on batches of other sizes
and values than the one it was traced on; a forward with Python control flow that the tracer or
exporter froze fails that check and is refused (``UserError``, exit 2), as are the fitted baselines
(``majority``, ``svm``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from vislab.data.input_spec import InputSpec
from vislab.errors import UserError
from vislab.export_formats import (
    check_export,
    check_opset,
    to_onnx,
    to_torchscript,
    with_metadata,
)
from vislab.export_spec import ExportCheck, Exported, inference_spec, input_hint, weights_origin
from vislab.files import atomic_write, atomic_write_text
from vislab.models.hooks import hooks_of
from vislab.plotting.files import check_new_files
from vislab.predict import checkpoint_tag, picked_model
from vislab.training.checkpoint import PickedCheckpoint, pick_checkpoint
from vislab.training.rundir import refuse_run_file
from vislab.training.writable import check_writable

FORMATS = {"onnx": "model.onnx", "torchscript": "model.torchscript.pt"}
#: the file suffixes each format's files go by: a model given another format's is refused
_SUFFIXES = {"onnx": (".onnx",), "torchscript": (".pt", ".pth", ".torchscript", ".ts", ".jit")}
_NAMES = {"onnx": "ONNX", "torchscript": "TorchScript"}
_FITTED = {
    "majority": "it ignores its input and returns the train split's class priors",
    "svm": "its forward replays scikit-learn's fitted SVC with Python loops over its classes and "
    "support-vector counts, which tracing freezes",
}


def _checked_request(target: Path, fmt: str, opset: int | None) -> str:
    """``fmt`` in lower case (ONNX is onnx), once it is an export format, ``opset`` fits it and
    ``target`` exists: UserError otherwise."""
    if fmt.lower() not in FORMATS:
        raise UserError(
            f"'{fmt}' is not an export format: use onnx or torchscript (--format; Python: fmt=)."
        )
    check_opset(opset, fmt.lower())
    if not target.exists():
        raise UserError(
            f"run '{target}' does not exist: give a run directory (or its checkpoints/best.pt)."
        )
    return fmt.lower()


def export_run(
    target: str | Path,
    fmt: str,
    out: str | Path | None = None,
    *,
    trust_code: bool = False,
    checkpoint: str = "best",
    force: bool = False,
    opset: int | None = None,
) -> Exported:
    """Export a checkpoint of run ``target`` as ``fmt`` ("onnx" or "torchscript", any case): ``checkpoint``
    "best" (its best.pt; its last.pt, with a ``CheckpointNote`` warning, when it has none yet) or "last";
    a checkpoint file given as ``target`` is exported as it is.

    Writes the model to ``out`` (default ``RUN/export/model.onnx`` or ``model.torchscript.pt``; for
    other weights than the run's best, the checkpoint's stem after ``model_``, as eval's figures:
    ``model_last.onnx``; a folder — one that exists, or a name ending in ``/`` or without a suffix, then
    made — gets that name inside) and the inference spec beside it (:func:`spec_path`: ``X.json`` for
    ONNX, ``X.torchscript.json`` for TorchScript, so both formats can go to one stem ``X``:
    :mod:`vislab.export_spec`), which the model file holds too (ONNX: its ``metadata_props``, a key per
    key of the spec, the value its JSON text; TorchScript: the extra file ``model.json``); returns both
    paths, the spec's ``checkpoint`` and ``check``, and which weights (:class:`~vislab.export_spec.Exported`). A
    TorchScript model refuses inputs of another sample shape (as ONNX runtimes do); ``opset``: ONNX's.
    Outside ``RUN/export/``, a file already at either path is replaced only with ``force``; a run's own
    files (``training.rundir.RUN_OWN``) and the checkpoint exported never are (checked before the export).
    ``trust_code``: as for ``predict.load_model``. ``UserError`` when the run is missing, the format
    unknown, ``out`` not a place the files can be written or named for the other format (checked before
    the export), the ONNX extra absent (``pip install 'vislab[onnx]'``) or the model cannot be exported
    faithfully::

        model_file, spec = export_run("runs/cnn", "onnx")
    """
    fmt = _checked_request(Path(target), fmt, opset)
    chosen = pick_checkpoint(target, checkpoint)  # which file, for the names; handed to the loader
    ckpt_path, tag = chosen.path, _checkpoint_tag(chosen)
    path = _output_path(ckpt_path, fmt, out, tag)
    spec_file = spec_path(path, fmt)
    _check_outputs(ckpt_path, fmt, [path, spec_file], force, tag)
    check_writable(path, "the model", undone="nothing was exported", is_file=True)
    model, picked = picked_model(chosen, trust_code)  # its file read once
    record = picked.load().record
    _refuse_fitted(model, record.model.name)
    own = hooks_of(model)  # what its eval forward does itself: its own TTA, its own weight average
    model = record.inputs.wrap(model)  # the run's test-time augmentation is exported with it
    hint = input_hint(record.inputs, spec_file.name)
    data, check = _exported(model, record.inputs, fmt, record.model.name, (hint, opset))
    origin = weights_origin(picked, own.eval_weight_average)
    spec = inference_spec(record, fmt, path.name, check, origin, own.eval_tta)
    _write(data, fmt, spec, (path, spec_file))
    return Exported(path, spec_file, origin, check, picked.said)


def _write(data: bytes, fmt: str, spec: dict, paths: tuple[Path, Path]) -> None:
    """The exported model, its ``spec`` inside (``with_metadata``), and the spec beside it (``paths``)."""
    path, spec_file = paths
    text = json.dumps(spec, indent=2, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: f.write(with_metadata(data, fmt, spec, text)))
    atomic_write_text(spec_file, text)


def _exported(
    model: torch.nn.Module, inputs: InputSpec, fmt: str, name: str, how: tuple[str, int | None]
) -> tuple[bytes, ExportCheck]:
    """``model`` exported as ``fmt`` (``how``: the TorchScript input check's hint, the ONNX opset), and how
    it was checked against PyTorch on other batches (``UserError`` when it differs)."""
    hint, opset = how
    example, checks = _batches(inputs)
    with torch.inference_mode(False), torch.no_grad():
        if fmt == "onnx":
            data, run = to_onnx(model, example, name, opset)
        else:
            data, run = to_torchscript(model, example, name, hint)
        diff = check_export(model, run, checks, name, fmt)
    return data, ExportCheck(diff, [len(c) for c in checks])


def _checkpoint_tag(picked: PickedCheckpoint) -> str:
    """What the default file names add for the weights exported: '' for the run's best (its best.pt, or
    last.pt's ``train.ema`` average standing in for it), else ``_`` and the checkpoint's stem (``_last``),
    as eval's figures are named (``predict.checkpoint_tag``)."""
    tag = "" if picked.is_runs_best else checkpoint_tag(picked.path)
    return f"_{tag}" if tag else ""


def spec_path(model: Path, fmt: str) -> Path:
    """The inference spec of ``model`` exported as ``fmt``, beside it: its stem and ``.json`` for ONNX
    (model.onnx → model.json), its stem, ``.torchscript`` where the stem does not end so, and ``.json`` for
    TorchScript (model.torchscript.pt → model.torchscript.json, X.pt and X.torchscript →
    X.torchscript.json): an ONNX and a TorchScript export to one stem keep a spec each."""
    stem = model.stem
    if fmt == "torchscript" and not stem.lower().endswith(".torchscript"):
        stem += ".torchscript"
    return model.with_name(f"{stem}.json")


def _refuse_fitted(model: torch.nn.Module, name: str) -> None:
    """UserError for a fitted baseline (trained_by='fit_arrays'): not a network to export."""
    if hooks_of(model).trained_by != "fit_arrays":
        return
    why = _FITTED.get(name, "its forward evaluates a model fitted on arrays, not a network")
    raise UserError(
        f"model '{name}' cannot be exported: it is a fitted baseline (trained_by='fit_arrays') and {why}. "
        f"Export a network trained by gradient steps (mlp, cnn, vit, resnet18, your own nn.Module, ...)."
    )


def _check_outputs(
    ckpt_path: Path, fmt: str, paths: list[Path], force: bool, tag: str = ""
) -> None:
    """Refuse, before any work, to write over a run's own file or the checkpoint, and, outside the
    default folder (``RUN/export/``, vislab's own), over any file without ``force``."""
    for path in paths:
        refuse_run_file(path, "--out", also=ckpt_path)
    if paths[0].resolve() != _default_path(ckpt_path, fmt, tag).resolve():
        if not force:
            _refuse_others_spec(*paths)
        check_new_files(paths, force, "--out (Python: force=True, or another out=)")


def _refuse_others_spec(model: Path, spec: Path) -> None:
    """UserError when ``spec`` is the inference spec of another exported model file than ``model``."""
    try:
        other = json.loads(spec.read_text(encoding="utf-8")).get("model_file")
    except (OSError, ValueError, AttributeError):  # none there, or not a spec: check_new_files says
        return
    if isinstance(other, str) and other != model.name:
        raise UserError(
            f"'{spec}' is the inference spec of the export '{spec.with_name(other)}', and the spec of "
            f"--out '{model}' goes there too: give --out another name (e.g. "
            f"{model.with_stem(model.stem + '-2')}), or --force to replace that spec (Python: force=True, "
            f"or another out=)."
        )


def _default_name(fmt: str, tag: str = "") -> str:
    """``model.onnx`` or ``model.torchscript.pt``, ``tag`` after ``model`` (``model_last.onnx``)."""
    stem, rest = FORMATS[fmt].split(".", 1)
    return f"{stem}{tag}.{rest}"


def _default_path(ckpt_path: Path, fmt: str, tag: str = "") -> Path:
    """``RUN/export/<default name>`` (beside a checkpoint outside a run folder: ``export/`` there)."""
    run = ckpt_path.parent.parent if ckpt_path.parent.name == "checkpoints" else ckpt_path.parent
    return run / "export" / _default_name(fmt, tag)


def _output_path(ckpt_path: Path, fmt: str, out: str | Path | None, tag: str = "") -> Path:
    """``out``, a default name inside the folder ``out`` (an existing folder, or a name that ends in a
    path separator or has no suffix), or ``RUN/export/<default name>``; UserError for a file name ending
    in .json (the spec's) or in the other format's suffix."""
    if out is None:
        return _default_path(ckpt_path, fmt, tag)
    folder = str(out).endswith(("/", os.sep))
    out = Path(out)
    if out.is_dir() or folder or (not out.suffix and not out.exists()):
        return out / _default_name(fmt, tag)
    _refuse_other_suffix(out, fmt)
    if out.suffix.lower() == ".json":
        raise UserError(
            f"'{out}' (--out; Python: out=) is where the model goes, and its inference spec is written "
            f"beside it (its stem and .json; .torchscript.json for TorchScript): give the model's file "
            f"name (e.g. "
            f"{_model_file_like(out, ckpt_path, fmt, tag)})."
        )
    return out


def _refuse_other_suffix(out: Path, fmt: str) -> None:
    """UserError for a model file ``out`` named as the other format's (ONNX into ``X.pt``)."""
    other = next((f for f, suffixes in _SUFFIXES.items() if out.suffix.lower() in suffixes), fmt)
    if other != fmt:
        raise UserError(
            f"--out '{out}' ends in {out.suffix}, the suffix of {_NAMES[other]} files, but --format "
            f"{fmt} writes {_NAMES[fmt]}: give --out {out.with_suffix(_SUFFIXES[fmt][0])} (Python: out=), or "
            f"--format {other} (Python: fmt='{other}')."
        )


def _model_file_like(spec: Path, ckpt_path: Path, fmt: str, tag: str) -> Path:
    """A model file to suggest for ``--out`` given as the spec ``spec``: its stem with the format's
    suffix, unless that, its spec or ``spec`` is a file export refuses (a run's own), then
    ``RUN/export/``'s."""
    model = spec.with_suffix(Path(FORMATS[fmt]).suffix)
    try:
        for path in (model, spec_path(model, fmt), spec):
            refuse_run_file(path, "--out", also=ckpt_path)
    except UserError:
        return _default_path(ckpt_path, fmt, tag)
    return model


def _batches(spec: InputSpec) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The model inputs to export with (2 samples) and to check the export on: other batch sizes and
    values (random, all black and all white images; random, −1 and +1 feature vectors)."""
    g, shape = torch.Generator().manual_seed(0), spec.input_shape
    if len(shape) == 3:
        raw = [
            torch.randint(0, 256, (2, *shape), generator=g),
            torch.randint(0, 256, (3, *shape), generator=g),
            torch.zeros(1, *shape),
            torch.full((4, *shape), 255),
        ]
        inputs = [spec.prepare(r.float().div(255)) for r in raw]
    else:
        inputs = [
            torch.randn(2, *shape, generator=g),
            torch.randn(3, *shape, generator=g),
            -torch.ones(1, *shape),
            torch.ones(4, *shape),
        ]
    return inputs[0], inputs[1:]
